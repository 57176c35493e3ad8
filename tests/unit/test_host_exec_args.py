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
    passed_env,
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
    args = exec_args("box", "alice", "/home/alice", ["uname", "-m"], tty=True, environ={})
    assert args == ["podman", "exec", "--interactive", "--detach-keys", "", "--tty",
                    "--user", "alice", "--workdir", "/home/alice", "box", "uname", "-m"]


def test_exec_args_without_a_tty_is_still_interactive() -> None:
    args = exec_args("box", "alice", "/", ["true"], tty=False, environ={})
    assert "--tty" not in args
    assert "--interactive" in args
    assert pairs(args, "--detach-keys") == [""]


def test_exec_args_passes_only_the_listed_environment() -> None:
    args = exec_args("box", "alice", "/", ["env"], tty=False, environ=HOST_ENV)
    passed = dict(v.split("=", 1) for v in pairs(args, "--env"))
    assert passed == {
        "TERM": "xterm-256color",
        "LANG": "en_US.UTF-8",
        "DISPLAY": ":0",
        "XDG_RUNTIME_DIR": "/run/user/1000",
    }
    for name in ("PATH", "PYTHONPATH", "HOME", "LD_PRELOAD", "SHELL"):
        assert not any(v.startswith(f"{name}=") for v in pairs(args, "--env"))


def test_passed_env_list_excludes_variables_that_would_break_the_guest() -> None:
    assert {"PATH", "PYTHONPATH", "PYTHONHOME", "HOME", "LD_LIBRARY_PATH", "LD_PRELOAD",
            "SHELL", "USER"}.isdisjoint(PASSED_ENV)
    assert passed_env(HOST_ENV) == {k: HOST_ENV[k] for k in ("DISPLAY", "LANG", "TERM",
                                                              "XDG_RUNTIME_DIR")}


def test_exec_args_keeps_the_command_after_the_container_name() -> None:
    command = ["sh", "-c", "echo $HOME; ls 'a b'", "--env", "X=1"]
    args = exec_args("box", "alice", "/", command, tty=False, environ={"TERM": "dumb"})
    at = args.index("box")
    assert args[at + 1 :] == command
    assert pairs(args[:at], "--env") == ["TERM=dumb"]


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
