"""Mount the container's own binfmt_misc and register QEMU there with the flags FPC.

F: the kernel opens the emulator at registration (it works in any root file system);
P: the program's own argv[0] is kept (busybox dispatches its applets on it, sudo -i
and many others print or use it); C: credentials come from the program, so setuid
sudo works. QEMU >= 6.0 reads the kernel's AT_FLAGS to know that P was given; the
agent proves it with a probe in the image rather than trusting a version.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable

from crossbox.shared import binfmt
from crossbox.shared.arch import Arch

from . import log
from .safety import GuestError, check_own_user_namespace

# Binaries of the image tried, in order, to prove that emulation works.
PROBES: tuple[tuple[str, ...], ...] = (("/usr/bin/true",), ("/bin/true",), ("/bin/sh", "-c", "true"))


FLAGS = "FPC"
ENTRY_FLAGS = "POCF"  # how the kernel shows FPC (C implies O)
ARGV0_PROBE = "sh"  # run /bin/sh as "sh": it prints the argv[0] it was given


def _libc_mount(source: str, target: str, fstype: str) -> None:
    from . import mounts  # only foreign containers pay for ctypes

    mounts.mount(source, target, fstype)


def mount_private_binfmt(
    root: str = binfmt.BINFMT_ROOT, mount: Callable[[str, str, str], None] = _libc_mount
) -> None:
    """Mount a fresh binfmt_misc instance, which the kernel ties to our user namespace.

    Never unmounted: the instance dies with the namespace, and unmounting would
    leave the container with no entries at all.
    """
    check_own_user_namespace()
    try:
        mount("binfmt_misc", root, "binfmt_misc")
    except OSError as exc:
        release = os.uname().release
        if exc.errno in (errno.EPERM, errno.ENODEV, errno.EINVAL, errno.EACCES):
            raise GuestError(
                f"mounting a private binfmt_misc failed ({errno.errorcode.get(exc.errno or 0, exc.errno)}); "
                f"this needs Linux >= 6.7 and a privileged container, and this kernel is {release}"
            ) from None
        raise GuestError(f"mounting binfmt_misc at {root} failed: {exc.strerror}") from None
    log.debug("mounted private binfmt_misc", path=root)


def register_emulator(arch: Arch, emulator: str, root: str = binfmt.BINFMT_ROOT) -> binfmt.Entry:
    if not os.path.exists(emulator):
        raise GuestError(f"the emulator {emulator} is missing inside the container; recreate it")
    reg = binfmt.registration_for(arch, emulator, FLAGS)
    try:
        written = binfmt.register(reg, root)
    except binfmt.BinfmtError as exc:
        raise GuestError(str(exc)) from None
    try:
        entry = binfmt.read_entry(reg.name, root)
    except (OSError, binfmt.BinfmtError) as exc:
        raise GuestError(f"binfmt_misc entry {reg.name} cannot be read back: {exc}") from None
    if entry is None or not entry.enabled or entry.flags != ENTRY_FLAGS:
        shown = "missing" if entry is None else f"enabled={entry.enabled} flags={entry.flags}"
        raise GuestError(f"binfmt_misc entry {reg.name} reads back wrong ({shown}); expected flags {ENTRY_FLAGS}")
    log.debug("registered binfmt entry", name=reg.name, written=written, flags=entry.flags)
    return entry


def prove_emulation(arch: Arch) -> str:
    """Run one binary of the image; return what ran."""
    for argv in PROBES:
        path = argv[0]
        try:
            with open(path, "rb") as f:
                header = f.read(64)
        except OSError:
            continue
        if not arch.matches_elf(header):
            continue
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, check=False)
        except OSError as exc:
            raise GuestError(
                f"running the image's {path} failed after registration: {exc.strerror}"
            ) from None
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip().splitlines()
            raise GuestError(
                f"the image's {path} exited with {done.returncode} under emulation"
                + (f": {err[-1]}" if err else "")
            )
        log.debug("emulation works", probe=path)
        prove_argv0_kept(arch)
        return path
    log.warning("no probe binary of the image's architecture found", tried=[p[0] for p in PROBES])
    return ""


def prove_argv0_kept(arch: Arch, shell: str = "/bin/sh") -> bool:
    """Run the image's /bin/sh with argv[0] "sh": it must print "sh", not its path.

    Without the P flag (or with an emulator that ignores it) the kernel hands the
    program's path over as argv[0]: busybox's applets, `sudo -i` and every program
    that looks at its own name then go wrong. False when the image has no shell of
    its architecture to ask.
    """
    try:
        with open(shell, "rb") as f:
            if not arch.matches_elf(f.read(64)):
                return False
    except OSError:
        return False
    done = subprocess.run([ARGV0_PROBE, "-c", 'echo "$0"'], executable=shell, stdin=subprocess.DEVNULL,
                          capture_output=True, check=False)
    said = done.stdout.decode(errors="replace").strip()
    if done.returncode != 0 or said != ARGV0_PROBE:
        raise GuestError(
            f"the emulator does not keep argv[0] (the image's {shell} run as {ARGV0_PROBE!r} saw "
            f"{said or done.stderr.decode(errors='replace').strip()!r}), so busybox applets and sudo -i "
            "would fail; use QEMU 6.0 or newer (it reads the kernel's preserve-argv0 flag)"
        )
    log.debug("argv[0] is kept", probe=shell)
    return True
