"""crossbox.host.interpreter: how the host's own Python starts the guest agent."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from crossbox.host import interpreter
from crossbox.host.errors import HostNotReady
from crossbox.host.interpreter import GuestLaunch, plan, read_elf_deps
from crossbox.shared import contract
from hypothesis import given
from hypothesis import strategies as st

HAND_MADE = GuestLaunch(
    prefix="/opt/python3.11",
    python="/opt/python3.11/bin/python3.11",
    loader="/usr/lib64/ld-linux-x86-64.so.2",
    library_dirs=("/opt/python3.11/lib", "/usr/lib64"),
    guest_package="/usr/lib/python3/site-packages/crossbox/guest",
    shared_package="/usr/lib/python3/site-packages/crossbox/shared",
)


@pytest.fixture(scope="module")
def launch() -> GuestLaunch:
    return plan()


def test_plan_loader_is_an_existing_resolved_file(launch: GuestLaunch) -> None:
    assert os.path.isfile(launch.loader)
    assert os.path.realpath(launch.loader) == launch.loader


def test_plan_library_dirs_exist_resolved_and_unique(launch: GuestLaunch) -> None:
    assert launch.library_dirs
    for d in launch.library_dirs:
        assert os.path.isdir(d)
        assert os.path.realpath(d) == d
    assert len(set(launch.library_dirs)) == len(launch.library_dirs)


def test_plan_library_dirs_include_the_loaders_directory(launch: GuestLaunch) -> None:
    assert os.path.dirname(launch.loader) in launch.library_dirs


def test_plan_prefix_contains_python_and_its_standard_library(launch: GuestLaunch) -> None:
    assert os.path.isfile(launch.python)
    assert launch.python.startswith(launch.prefix.rstrip("/") + "/")
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    stdlib = os.path.join(launch.prefix, "lib", version)
    assert os.path.isdir(stdlib)


def test_plan_packages_are_crossboxs_own(launch: GuestLaunch) -> None:
    assert os.path.isfile(os.path.join(launch.guest_package, "main.py"))
    assert os.path.isfile(os.path.join(launch.shared_package, "contract.py"))


def test_plan_refuses_a_python_outside_its_prefix(tmp_path) -> None:
    with pytest.raises(HostNotReady) as err:
        plan(sys.executable, str(tmp_path))
    assert "not inside its prefix" in err.value.message
    assert interpreter.GUEST_PYTHON_ENV in (err.value.hint or "")


def test_read_elf_deps_of_the_running_python_finds_its_loader() -> None:
    deps = read_elf_deps(os.path.realpath(sys.executable))
    assert deps.interp is not None
    assert os.path.exists(deps.interp)
    assert "libc.so.6" in deps.needed or any(n.startswith("libpython") for n in deps.needed)
    assert all("$ORIGIN" not in d for d in deps.runpath)


def test_inside_maps_the_prefix_to_run_crossbox_python() -> None:
    assert HAND_MADE.inside("/opt/python3.11") == "/run/crossbox/python"
    assert HAND_MADE.inside("/opt/python3.11/bin/python3.11") == \
        "/run/crossbox/python/bin/python3.11"
    assert HAND_MADE.inside("/opt/python3.11/lib") == "/run/crossbox/python/lib"


def test_inside_maps_other_paths_under_run_host() -> None:
    assert HAND_MADE.inside("/usr/lib64") == "/run/host/usr/lib64"
    assert HAND_MADE.inside("/opt") == "/run/host/opt"
    assert HAND_MADE.inside("/opt/python3.11-debug/lib") == "/run/host/opt/python3.11-debug/lib"
    assert HAND_MADE.inside("/") == "/run/host/"


def test_inside_keeps_a_dot_dot_named_entry_inside_the_prefix() -> None:
    assert HAND_MADE.inside("/opt/python3.11/..data/x") == "/run/crossbox/python/..data/x"


@given(st.lists(st.text(alphabet="ab.-_ ", min_size=1, max_size=6)
                .filter(lambda s: s not in (".", "..")), min_size=1, max_size=4))
def test_inside_any_path_under_the_prefix_lands_under_run_crossbox_python(parts: list[str]) -> None:
    rel = "/".join(parts)
    assert HAND_MADE.inside(f"/opt/python3.11/{rel}") == f"/run/crossbox/python/{rel}"


def test_the_agent_library_holds_only_crossboxs_guest_and_shared(tmp_path: Path) -> None:
    launch = interpreter.plan()
    made = interpreter.agent_lib_dir(launch, base=str(tmp_path))
    assert os.listdir(made) == ["crossbox"]
    assert sorted(os.listdir(os.path.join(made, "crossbox"))) == ["guest", "shared"]
    assert "main.py" in os.listdir(os.path.join(made, "crossbox", "guest"))
    assert not [n for n in os.listdir(os.path.join(made, "crossbox", "guest"))
                if not n.endswith(".py") and n != "__pycache__"]
    assert interpreter.agent_lib_dir(launch, base=str(tmp_path)) == made  # made once, by content
    assert os.stat(made).st_mode & 0o777 == 0o755  # a rootful container's root reads it


def test_the_agent_library_holds_each_modules_bytecode_checked_against_its_source(tmp_path: Path) -> None:
    import importlib.util
    import marshal

    made = interpreter.agent_lib_dir(interpreter.plan(), base=str(tmp_path))
    for package in ("guest", "shared"):
        directory = os.path.join(made, "crossbox", package)
        cache = os.path.join(directory, "__pycache__")
        assert os.stat(cache).st_mode & 0o777 == 0o755
        for name in (n for n in os.listdir(directory) if n.endswith(".py")):
            pyc = importlib.util.cache_from_source(os.path.join(directory, name))
            with open(pyc, "rb") as f:
                header = f.read(16)
                code = marshal.loads(f.read())
            assert header[:4] == importlib.util.MAGIC_NUMBER
            assert int.from_bytes(header[4:8], "little") == 0b11  # hash-based, checked
            assert code.co_filename == f"/run/crossbox/lib/crossbox/{package}/{name}"  # as the agent sees it
            assert os.stat(pyc).st_mode & 0o777 == 0o644


def test_a_version_independent_name_is_taken_only_as_a_relative_link(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    real = tmp_path / "bin" / "python3.11"
    real.write_text("")
    (tmp_path / "bin" / "python3").symlink_to("python3.11")
    assert interpreter.version_independent(str(real), str(tmp_path)) == str(tmp_path / "bin" / "python3")
    (tmp_path / "bin" / "python3").unlink()
    (tmp_path / "bin" / "python3").symlink_to(str(real))  # absolute: it would point into the image
    assert interpreter.version_independent(str(real), str(tmp_path)) == str(real)


def test_entrypoint_is_the_loader_inside() -> None:
    assert HAND_MADE.entrypoint() == "/run/host/usr/lib64/ld-linux-x86-64.so.2"


def test_command_starts_python_isolated_with_the_boot_code() -> None:
    cmd = HAND_MADE.command(["init", "--contract", "1"])
    assert cmd == [
        "--inhibit-cache", "--library-path", "/run/crossbox/python/lib:/run/host/usr/lib64",
        "/run/crossbox/python/bin/python3.11", "-I", "-S", "-B", "-c", contract.BOOT_CODE,
        "init", "--contract", "1",
    ]


def test_host_argv_uses_host_paths() -> None:
    argv = HAND_MADE.host_argv(["oneshot"])
    assert argv == [
        "/usr/lib64/ld-linux-x86-64.so.2", "--inhibit-cache", "--library-path", "/opt/python3.11/lib:/usr/lib64",
        "/opt/python3.11/bin/python3.11", "-I", "-S", "-B", "-c", contract.BOOT_CODE, "oneshot",
    ]


def test_planned_command_mentions_only_paths_seen_inside(launch: GuestLaunch) -> None:
    cmd = launch.command([])
    assert cmd[:2] == ["--inhibit-cache", "--library-path"]
    for d in cmd[2].split(":"):
        assert d.startswith(("/run/crossbox/python", "/run/host/"))
    assert cmd[3].startswith("/run/crossbox/python/")
    assert "-I" in cmd
    assert "-S" in cmd
    assert contract.BOOT_CODE in cmd
