"""The few mount system calls the agent makes, through ctypes (only when needed: it costs time).

- mount(2): the container's private binfmt_misc;
- umount2(2): lift the mask crossbox puts over the image's /etc/ld.so.preload while
  the agent starts (see crossbox.host.tools.create_args);
- mount_setattr(2) with AT_RECURSIVE: /run/host read-only all the way down.
"""

from __future__ import annotations

import ctypes
import os

MNT_DETACH = 2
AT_RECURSIVE = 0x8000
AT_SYMLINK_NOFOLLOW = 0x100
MOUNT_ATTR_RDONLY = 0x00000001
SYS_MOUNT_SETATTR = 442  # the same number on every architecture Linux has given it to since 5.12


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


_libc: list[ctypes.CDLL] = []


def _c() -> ctypes.CDLL:
    if not _libc:
        _libc.append(ctypes.CDLL(None, use_errno=True))
    return _libc[0]


def _fail(target: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, os.strerror(err), target)


def mount(source: str, target: str, fstype: str, flags: int = 0) -> None:
    libc = _c()
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    if libc.mount(source.encode(), target.encode(), fstype.encode(), flags, None) != 0:
        raise _fail(target)


def umount(target: str) -> None:
    libc = _c()
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    if libc.umount2(target.encode(), MNT_DETACH) != 0:
        raise _fail(target)


def read_only_recursive(target: str) -> None:
    """Make the mount at ``target`` and every mount below it read-only."""
    libc = _c()
    libc.syscall.restype = ctypes.c_long
    attr = MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    dirfd = ctypes.c_int(-100)  # AT_FDCWD
    done = libc.syscall(ctypes.c_long(SYS_MOUNT_SETATTR), dirfd, ctypes.c_char_p(target.encode()),
                        ctypes.c_uint(AT_RECURSIVE | AT_SYMLINK_NOFOLLOW), ctypes.byref(attr),
                        ctypes.c_size_t(ctypes.sizeof(attr)))
    if done != 0:
        raise _fail(target)
