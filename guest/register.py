"""Mount the container's own binfmt_misc and register QEMU there with the flags FC."""

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


def _libc_mount(source: str, target: str, fstype: str) -> None:
    import ctypes  # only foreign containers pay for it

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                           ctypes.c_void_p]
    if libc.mount(source.encode(), target.encode(), fstype.encode(), 0, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), target)


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
    reg = binfmt.registration_for(arch, emulator, "FC")
    try:
        written = binfmt.register(reg, root)
    except binfmt.BinfmtError as exc:
        raise GuestError(str(exc)) from None
    try:
        entry = binfmt.read_entry(reg.name, root)
    except (OSError, binfmt.BinfmtError) as exc:
        raise GuestError(f"binfmt_misc entry {reg.name} cannot be read back: {exc}") from None
    if entry is None or not entry.enabled or entry.flags != "OCF":
        shown = "missing" if entry is None else f"enabled={entry.enabled} flags={entry.flags}"
        raise GuestError(f"binfmt_misc entry {reg.name} reads back wrong ({shown}); expected flags OCF")
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
        return path
    log.warning("no probe binary of the image's architecture found", tried=[p[0] for p in PROBES])
    return ""
