"""Find the static QEMU user-mode emulator for an architecture and prove it fit.

The emulator is bind-mounted into a foreign root filesystem and opened by the
kernel at registration (flag F), so it must be a statically linked ELF
executable for the host's machine: a dynamically linked one would look for
its libraries in the foreign image, and a script has no interpreter there.
"""

from __future__ import annotations

import os

from crossbox.shared.arch import Arch, host_arch
from crossbox.shared.records import NamedTuple

USUAL_DIRS = ("/usr/bin", "/usr/local/bin", "/bin", "/usr/libexec/qemu", "/usr/lib/qemu")


class EmulatorProblem(Exception):
    """Why a candidate emulator cannot be used; the message is one sentence."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class Emulator(NamedTuple):
    arch: Arch
    path: str  # as found
    real_path: str  # symlinks resolved: what is bind-mounted

    @property
    def file_name(self) -> str:
        return os.path.basename(self.path)


def candidates(arch: Arch, path_env: str | None = None) -> list[str]:
    dirs = [d for d in (path_env if path_env is not None else os.environ.get("PATH", "")).split(":") if d]
    dirs += [d for d in USUAL_DIRS if d not in dirs]
    return [os.path.join(d, name) for name in arch.emulator_names for d in dirs]


def find(arch: Arch, path_env: str | None = None) -> str | None:
    """The first candidate that exists: PATH before the usual directories, -static first."""
    for candidate in candidates(arch, path_env):
        if os.path.isfile(candidate):
            return candidate
    return None


MIN_VERSION = (6, 0)  # the first QEMU that reads the kernel's preserve-argv0 flag (binfmt_misc P)


def parse_version(text: str) -> tuple[int, int] | None:
    """`qemu-aarch64 version 7.2.22 (Debian ...)` -> (7, 2)."""
    import re

    m = re.search(r"version (\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def check_version(path: str) -> None:
    """Raise EmulatorProblem unless the emulator keeps argv[0] under binfmt_misc's P flag.

    Runs `qemu-ARCH --version` (a static binary of the host's: it runs natively). The agent
    also proves it in every container (the image's /bin/sh must see argv[0] "sh").
    """
    import subprocess

    from .errors import ToolMissing
    from .tools import runner

    name = os.path.basename(path)
    try:
        done = runner.run([path, "--version"], check=False, timeout=10)
    except ToolMissing:
        raise EmulatorProblem(f"{name} at {path} does not run: no such file", path) from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmulatorProblem(f"{name} at {path} does not run: {exc}", path) from None
    version = parse_version(done.stdout)
    if version is None:
        raise EmulatorProblem(f"{name} at {path} did not say its version", path)
    if version < MIN_VERSION:
        raise EmulatorProblem(
            f"{name} at {path} is QEMU {version[0]}.{version[1]}, which ignores the kernel's preserve-argv0 "
            f"flag (busybox applets and sudo -i would fail); QEMU {MIN_VERSION[0]}.{MIN_VERSION[1]} or newer is needed",
            path)


def check_file(path: str, arch: Arch, host: Arch | None = None) -> Emulator:
    """Raise EmulatorProblem unless ``path`` is a static ELF executable for this host."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSegment
    from elftools.elf.elffile import ELFFile
    from elftools.elf.segments import InterpSegment

    host = host or host_arch()
    name = os.path.basename(path)
    real = os.path.realpath(path)
    if not os.access(real, os.X_OK):
        raise EmulatorProblem(f"{name} at {path} is not executable", path)
    try:
        with open(real, "rb") as f:
            head = f.read(4)
            f.seek(0)
            if head.startswith(b"#!"):
                raise EmulatorProblem(
                    f"{name} at {path} is not a statically linked ELF executable: it is a script", path
                )
            if head != b"\x7fELF":
                raise EmulatorProblem(
                    f"{name} at {path} is not a statically linked ELF executable: it is not ELF at all",
                    path,
                )
            elf = ELFFile(f)
            machine_ok = (
                elf.header["e_machine"] == host.elf_machine
                and elf.elfclass == host.elf_class
                and elf.little_endian == (host.byteorder == "little")
            )
            if not machine_ok:
                raise EmulatorProblem(
                    f"{name} at {path} is built for {elf.header['e_machine']} "
                    f"({elf.elfclass}-bit), not for this {host.name} host",
                    path,
                )
            if elf.header["e_type"] not in ("ET_EXEC", "ET_DYN"):
                raise EmulatorProblem(f"{name} at {path} is not an executable", path)
            for segment in elf.iter_segments():
                if isinstance(segment, InterpSegment):
                    raise EmulatorProblem(
                        f"{name} at {path} is not a statically linked ELF executable: "
                        f"it is dynamically linked (it asks for {segment.get_interp_name()})",
                        path,
                    )
                if isinstance(segment, DynamicSegment):
                    needed = [t.needed for t in segment.iter_tags() if t.entry.d_tag == "DT_NEEDED"]  # type: ignore[attr-defined]
                    if needed:
                        raise EmulatorProblem(
                            f"{name} at {path} is not a statically linked ELF executable: "
                            f"it needs {', '.join(needed)}",
                            path,
                        )
    except ELFError as exc:
        raise EmulatorProblem(f"{name} at {path} is not a readable ELF file: {exc}", path) from None
    except OSError as exc:
        raise EmulatorProblem(f"{name} at {path} cannot be read: {exc.strerror}", path) from None
    return Emulator(arch=arch, path=path, real_path=real)


def locate(arch: Arch, path_env: str | None = None) -> Emulator:
    """Find and check (the ELF file and the version); raise EmulatorProblem with the reason."""
    path = find(arch, path_env)
    if path is None:
        names = " or ".join(arch.emulator_names)
        raise EmulatorProblem(f"no {names} was found on PATH or in {', '.join(USUAL_DIRS)}")
    emu = check_file(path, arch)
    check_version(emu.real_path)
    return emu


def locate_cached(arch: Arch, path_env: str | None = None) -> Emulator:
    """locate(), with the ELF check cached while the file is unchanged."""
    from .cache import cached

    path = find(arch, path_env)
    if path is None:
        return locate(arch, path_env)
    real = os.path.realpath(path)

    def compute() -> dict[str, object]:
        try:
            check_file(path, arch)
            check_version(real)
        except EmulatorProblem as exc:
            return {"ok": False, "message": str(exc)}
        return {"ok": True}

    result = cached(f"emulator:{arch.name}:{path}", [path, real], compute)
    if not result.get("ok"):
        raise EmulatorProblem(str(result.get("message")), path)
    if not os.access(real, os.X_OK):
        raise EmulatorProblem(f"{os.path.basename(path)} at {path} is not executable", path)
    return Emulator(arch=arch, path=path, real_path=real)
