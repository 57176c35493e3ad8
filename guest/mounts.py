"""The few mount system calls the agent makes, through ctypes (only when needed: it costs time).

- mount(2): the container's private binfmt_misc;
- umount2(2): lift the mask crossbox puts over the image's /etc/ld.so.preload while
  the agent starts (see crossbox.host.tools.create_args);
- mount_setattr(2) with AT_RECURSIVE: /run/host read-only all the way down;
- unshare(2), open_tree(2) and move_mount(2): that tree replaced by a copy whose flags the
  kernel has locked, so that root in the container cannot make it writable again.
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


CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
SYS_OPEN_TREE = 428  # open_tree(2) and move_mount(2): the same numbers on every architecture
SYS_MOVE_MOUNT = 429
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = 0o2000000
MOVE_MOUNT_F_EMPTY_PATH = 0x4


def _clone_in_child_namespace(target: str, channel: object) -> None:
    """In a forked child: enter a new user and mount namespace (its copies of the mounts get
    their flags locked by the kernel), clone the tree at ``target`` and send it back."""
    import socket

    status = 1
    try:
        libc = _c()
        libc.syscall.restype = ctypes.c_long
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0:
            fd = libc.syscall(ctypes.c_long(SYS_OPEN_TREE), ctypes.c_int(-100), target.encode(),
                              ctypes.c_uint(OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC))
            if fd >= 0:
                socket.send_fds(channel, [b"t"], [fd])  # type: ignore[arg-type]
                status = 0
    finally:
        os._exit(status)


def lock_read_only(target: str) -> None:
    """Replace the (read-only) tree at ``target`` by a copy whose flags the kernel has locked,
    so that nobody in the container, root included, can make it writable again.

    The kernel locks the flags of mounts it copies into a mount namespace of a less privileged
    user namespace. A child process makes such a namespace, clones the tree there
    (open_tree(2)) and hands it back; the agent mounts it in the container's own namespace in
    place of the old one (move_mount(2)): sessions keep joining the container's namespaces.
    """
    import socket

    parent_end, child_end = socket.socketpair()
    child = os.fork()
    if child == 0:
        parent_end.close()
        _clone_in_child_namespace(target, child_end)
    child_end.close()
    try:
        _, fds, _, _ = socket.recv_fds(parent_end, 1, 1)
    finally:
        parent_end.close()
        _, status = os.waitpid(child, 0)
    if status != 0 or not fds:
        raise OSError(1, "a locked copy of the tree could not be made", target)
    tree = fds[0]
    try:
        umount(target)
        libc = _c()
        libc.syscall.restype = ctypes.c_long
        done = libc.syscall(ctypes.c_long(SYS_MOVE_MOUNT), ctypes.c_int(tree), b"", ctypes.c_int(-100),
                            target.encode(), ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH))
        if done != 0:
            raise _fail(target)
    finally:
        os.close(tree)

