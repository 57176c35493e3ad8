"""crossbox.host.tools.exec_args: `podman exec` argument lists for run and enter."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from crossbox.host.tools.exec_args import (
    LOGIN_SHELL_SCRIPT,
    PASSED_ENV,
    choose_workdir,
    exec_args,
    session_env,
    shell_command,
)
from hypothesis import given
from hypothesis import strategies as st

HOST_ENV = {
    "TERM": "xterm-256color",
    "LANG": "en_US.UTF-8",
    "DISPLAY": ":0",
    "XDG_RUNTIME_DIR": "/run/user/1000",
    "PATH": "/home/alice/.local/bin:/usr/bin",
    "PYTHONPATH": "/home/alice/lib",
    "HOME": "/home/alice",
    "LD_PRELOAD": "/tmp/evil.so",
    "SHELL": "/bin/zsh",
}


def pairs(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == flag]


def test_exec_args_with_a_tty() -> None:
    args = exec_args("box", "alice", "/home/alice", ["uname", "-m"], tty=True, env={})
    assert args == ["podman", "exec", "--interactive", "--detach-keys", "", "--tty",
                    "--user", "alice", "--workdir", "/home/alice", "box", "uname", "-m"]


def test_exec_args_without_a_tty_is_still_interactive() -> None:
    args = exec_args("box", "alice", "/", ["true"], tty=False, env={})
    assert "--tty" not in args
    assert "--interactive" in args
    assert pairs(args, "--detach-keys") == [""]


def test_exec_args_preserves_file_descriptors_as_toolbx_does() -> None:
    args = exec_args("box", "alice", "/", ["true"], tty=False, env={}, preserve_fds=2)
    assert pairs(args, "--preserve-fds") == ["2"]
    assert "--preserve-fds" not in exec_args("box", "alice", "/", ["true"], tty=False, env={})


def session(environ: dict[str, str], login: dict[str, str] | None = None,
            locales: list[str] | None = None) -> tuple[dict[str, str], list[str]]:
    return session_env(environ, user="alice", home="/home/alice", login=login or {}, locales=locales)


def test_the_session_passes_only_the_listed_host_environment_and_the_users_identity() -> None:
    env, replaced = session(HOST_ENV)
    assert env == {
        "TERM": "xterm-256color",
        "LANG": "en_US.UTF-8",
        "DISPLAY": ":0",
        "XDG_RUNTIME_DIR": "/run/user/1000",
        "SHELL": "/bin/zsh",
        "USER": "alice",
        "LOGNAME": "alice",
        "HOME": "/home/alice",
    }
    assert replaced == []
    for name in ("PATH", "PYTHONPATH", "LD_PRELOAD"):
        assert name not in env


def test_passed_env_is_toolbxs_list_and_never_the_loaders_variables() -> None:
    assert {"PATH", "PYTHONPATH", "PYTHONHOME", "LD_LIBRARY_PATH", "LD_PRELOAD"}.isdisjoint(PASSED_ENV)
    toolbx = {"COLORTERM", "DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "HISTFILESIZE", "HISTSIZE", "HISTIGNORE",
              "HISTTIMEFORMAT", "KONSOLE_VERSION", "KDE_FULL_SESSION", "XTERM_VERSION", "VTE_VERSION",
              "XDG_SESSION_CLASS", "XDG_STATE_HOME", "SSH_AUTH_SOCK", "WAYLAND_DISPLAY", "XAUTHORITY", "SHELL"}
    assert toolbx <= set(PASSED_ENV)


def test_the_login_environment_comes_first_and_the_hosts_variables_win() -> None:
    login = {"PATH": "/home/alice/.local/bin:/usr/bin", "EDITOR": "vim", "LANG": "C.UTF-8",
             "LD_PRELOAD": "/usr/lib/libjemalloc.so"}
    env, _ = session({"LANG": "en_US.UTF-8", "TERM": "xterm"}, login)
    assert env["PATH"] == "/home/alice/.local/bin:/usr/bin"
    assert env["EDITOR"] == "vim"
    assert env["LD_PRELOAD"] == "/usr/lib/libjemalloc.so"  # the image's own, given back
    assert env["LANG"] == "en_US.UTF-8"


@pytest.mark.parametrize(("locales", "expected", "replaced"), [
    (["C", "C.utf8", "POSIX"], "C.UTF-8", ["en_US.UTF-8"]),
    (["C", "POSIX"], "C", ["en_US.UTF-8"]),
    (["C", "C.utf8", "en_US.utf8"], "en_US.UTF-8", []),
    (None, "en_US.UTF-8", []),  # no `locale` in the image (musl): nothing to fall back from
])
def test_a_locale_the_image_lacks_falls_back_to_c_utf8(locales: list[str] | None, expected: str,
                                                      replaced: list[str]) -> None:
    env, said = session({"LANG": "en_US.UTF-8", "LC_TIME": "C"}, locales=locales)
    assert env["LANG"] == expected
    assert env["LC_TIME"] == "C"
    assert said == replaced


def test_exec_args_keeps_the_command_after_the_container_and_one_element_per_value() -> None:
    command = ["sh", "-c", "echo $HOME; ls 'a b'", "--env", "X=1"]
    args = exec_args("box", "alice", "/", command, tty=False, env={"TERM": "dumb", "A": "x y --env Z=1"})
    at = args.index("box")
    assert args[at + 1 :] == command
    assert pairs(args[:at], "--env") == ["TERM=dumb", "A=x y --env Z=1"]


def test_shell_command_passes_the_users_shell_as_an_argument() -> None:
    argv = shell_command("/bin/zsh")
    assert argv == ["/bin/sh", "-c", LOGIN_SHELL_SCRIPT, "sh", "/bin/zsh"]
    assert "zsh" not in LOGIN_SHELL_SCRIPT


@given(st.text())
def test_shell_command_script_is_constant_whatever_the_shell(host_shell: str) -> None:
    argv = shell_command(host_shell)
    assert argv[:4] == ["/bin/sh", "-c", LOGIN_SHELL_SCRIPT, "sh"]
    assert argv[4] == host_shell
    assert len(argv) == 5


def test_shell_command_runs_a_strangely_named_shell_as_a_file_not_as_code(
        tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    shell = tmp_path / "my shell; touch pwned $(touch pwned)"
    shell.write_text('#!/bin/sh\necho "login:$*"\n')
    shell.chmod(0o755)
    done = subprocess.run(shell_command(str(shell)), text=True, capture_output=True,
                          stdin=subprocess.DEVNULL, cwd=tmp_path, timeout=20, check=False)
    assert done.stdout == "login:-l\n"
    assert not marker.exists()


def test_shell_command_falls_back_to_sh_when_the_shell_is_missing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    missing = "/nonexistent/zsh; touch pwned; exit 9"
    done = subprocess.run(shell_command(missing), input="exit 7\n", text=True,
                          capture_output=True, cwd=tmp_path, timeout=20, check=False)
    assert done.returncode == 7
    assert not marker.exists()


@pytest.mark.parametrize(
    ("cwd", "shared", "home", "expected"),
    [
        ("/home/alice/src/crossbox", ["/home/alice", "/run/user/1000"], "/home/alice",
         ("/home/alice/src/crossbox", True)),
        ("/home/alice", ["/home/alice"], "/home/alice", ("/home/alice", True)),
        ("/run/user/1000/tmp", ["/home/alice", "/run/user/1000"], "/home/alice",
         ("/run/user/1000/tmp", True)),
        ("/home/alice/x", ["/home/alice/"], "/home/alice", ("/home/alice/x", True)),
        ("/etc", ["/home/alice"], "/home/alice", ("/home/alice", False)),
        ("/home/alice2/src", ["/home/alice"], "/home/alice", ("/home/alice", False)),
        ("/home/alicex", ["/home/alice"], "/home/alice", ("/home/alice", False)),
        ("/home", ["/home/alice"], "/home/alice", ("/home/alice", False)),
        ("/tmp", [], "/root", ("/root", False)),
    ],
    ids=["inside-home", "home-itself", "inside-runtime-dir", "shared-with-slash", "outside",
         "prefix-only-match", "prefix-no-slash", "parent", "nothing-shared"],
)
def test_choose_workdir(cwd: str, shared: list[str], home: str,
                        expected: tuple[str, bool]) -> None:
    assert choose_workdir(cwd, shared, home) == expected
