"""File operations inside the image that never follow the image's symbolic links.

An image is someone else's file system: ``/run/.toolboxenv`` may be a link to a
file in the user's home, ``/etc/sudoers.d`` a link to a directory of the host.
Every path the agent writes is walked from the root one component at a time
with ``O_NOFOLLOW`` on each (each step opens the next directory relative to the
one before, so nothing can be swapped in between), stays on the root's file
system (a bind mount such as the user's home is never written through), and
the last step is done relative to the parent directory's descriptor:

- a symbolic link where a directory should be is refused (``UnsafePath``), with
  the path and where the link points;
- a symbolic link where crossbox writes a file of its own is replaced by the
  file (rename(2) replaces the link itself, never its target);
- files are written to a temporary name in the same directory and renamed over
  the old one, so a reader sees the old or the new file, never a part.

Stdlib only, and no openat2(2): the same walk works under pyfakefs in the unit
suite, which is how the /etc writes are tested.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

from .safety import GuestError

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
ROOT = "/"
MAX_READ = 64 * 1024 * 1024


class UnsafePath(GuestError):
    """A path of the image that crossbox will not write through."""


def _parts(path: str) -> list[str]:
    if not path.startswith("/"):
        raise UnsafePath(f"{path} is not an absolute path")
    parts = [p for p in path.split("/") if p and p != "."]
    if ".." in parts or not parts:
        raise UnsafePath(f"{path} is not a plain path inside the image")
    return parts


def _link_text(dir_fd: int, name: str) -> str:
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError:
        return "?"


@contextlib.contextmanager
def parent_dir(path: str, *, root: str = ROOT, create: bool = False, mode: int = 0o755) -> Iterator[tuple[int, str]]:
    """A descriptor of the directory that holds ``path``, and the last component's name.

    With ``create``, missing directories are made (``mode``). Refuses links and other
    file systems on the way.
    """
    parts = _parts(path)
    fd = os.open(root, DIR_FLAGS)
    try:
        device = os.fstat(fd).st_dev
        walked = ""
        for part in parts[:-1]:
            walked += "/" + part
            try:
                next_fd = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, mode, dir_fd=fd)
                next_fd = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    if _lstat_is_link(fd, part):
                        raise UnsafePath(
                            f"the image's {walked} is a symbolic link (to {_link_text(fd, part)}); crossbox "
                            "does not write through links in an image"
                        ) from None
                    raise UnsafePath(f"the image's {walked} is not a directory") from None
                raise
            os.close(fd)
            fd = next_fd
            if os.fstat(fd).st_dev != device:
                raise UnsafePath(f"{walked} is another file system mounted into the image; crossbox does not "
                                 "write there")
        yield fd, parts[-1]
    finally:
        os.close(fd)


def _own_mode(dir_fd: int, name: str, default: int = 0o600) -> int:
    """The file's own permission bits, as the mode argument of an open that may not create it.

    The kernel ignores that argument for an existing file; pyfakefs (the unit suite's
    file system) applies it, so passing the file's own bits keeps the fake faithful.
    """
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode & 0o7777
    except OSError:
        return default


def _lstat_is_link(dir_fd: int, name: str) -> bool:
    import stat

    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def read_bytes(path: str, *, root: str = ROOT, link_is_absent: bool = False) -> bytes | None:
    """The file's content, or None when it does not exist. A link there is refused, or
    (link_is_absent, for crossbox's own files, which a write then replaces) read as None."""
    try:
        with parent_dir(path, root=root) as (dir_fd, name):
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, _own_mode(dir_fd, name),
                             dir_fd=dir_fd)
            except FileNotFoundError:
                return None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    if link_is_absent:
                        return None
                    raise UnsafePath(f"the image's {path} is a symbolic link (to {_link_text(dir_fd, name)}); "
                                     "crossbox does not read or write through links in an image") from None
                raise
            try:
                chunks = []
                total = 0
                while chunk := os.read(fd, 1 << 20):
                    chunks.append(chunk)
                    total += len(chunk)
                    if total > MAX_READ:
                        raise UnsafePath(f"the image's {path} is larger than {MAX_READ} bytes")
                return b"".join(chunks)
            finally:
                os.close(fd)
    except FileNotFoundError:
        return None


def read_text(path: str, *, root: str = ROOT, link_is_absent: bool = False) -> str | None:
    """As read_bytes, decoded as UTF-8; bytes that are not survive a read-write round trip."""
    data = read_bytes(path, root=root, link_is_absent=link_is_absent)
    return None if data is None else data.decode("utf-8", errors="surrogateescape")


def stat_of(path: str, *, root: str = ROOT) -> os.stat_result | None:
    """lstat(2) of the path, walked safely; None when it does not exist."""
    try:
        with parent_dir(path, root=root) as (dir_fd, name):
            return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def write_bytes(path: str, data: bytes, *, mode: int = 0o644, owner: tuple[int, int] | None = None,
                root: str = ROOT, keep_attributes: bool = True, create_dirs: bool = False) -> None:
    """Write atomically (a temporary file in the same directory, renamed over the old one).

    keep_attributes: an existing regular file keeps its mode and owner. A symbolic link
    at ``path`` is replaced, never followed; a directory there is refused.
    """
    import stat

    with parent_dir(path, root=root, create=create_dirs) as (dir_fd, name):
        uid, gid = owner if owner is not None else (0, 0)
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise UnsafePath(f"the image's {path} is a directory where crossbox writes a file")
        if st is not None and stat.S_ISREG(st.st_mode) and keep_attributes:
            mode, uid, gid = st.st_mode & 0o7777, st.st_uid, st.st_gid
        tmp = f".{name}.crossbox-{os.urandom(4).hex()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=dir_fd)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
            with contextlib.suppress(OSError):  # an unprivileged test run, or an id this namespace lacks
                os.chown(tmp, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise


def write_text(path: str, text: str, **kwargs: object) -> None:
    write_bytes(path, text.encode("utf-8", errors="surrogateescape"), **kwargs)  # type: ignore[arg-type]


def symlink(target: str, path: str, *, root: str = ROOT) -> bool:
    """Make ``path`` a link to ``target`` (atomically replacing what is there); False if it already is."""
    with parent_dir(path, root=root) as (dir_fd, name):
        with contextlib.suppress(OSError):
            if os.readlink(name, dir_fd=dir_fd) == target:
                return False
        tmp = f".{name}.crossbox-{os.urandom(4).hex()}"
        os.symlink(target, tmp, dir_fd=dir_fd)
        try:
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            if exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
                raise UnsafePath(f"the image's {path} is a directory where crossbox makes a link") from None
            raise
        return True


def make_dirs(path: str, *, mode: int = 0o755, owner: tuple[int, int] | None = None, root: str = ROOT) -> bool:
    """Make the directory and its parents (no links on the way); True if it was made."""
    with parent_dir(path, root=root, create=True) as (dir_fd, name):
        try:
            os.mkdir(name, mode, dir_fd=dir_fd)
        except FileExistsError:
            try:
                os.close(os.open(name, DIR_FLAGS, dir_fd=dir_fd))
            except OSError:
                raise UnsafePath(f"the image's {path} is not a directory (or is a symbolic link)") from None
            return False
        if owner is not None:
            os.chown(name, *owner, dir_fd=dir_fd, follow_symlinks=False)
        return True


def open_lock(path: str, *, root: str = ROOT) -> int:
    """Open (creating) a lock file in the image, never through a link (a link there is removed:
    a lock file holds nothing)."""
    with parent_dir(path, root=root) as (dir_fd, name):
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            return os.open(name, flags, _own_mode(dir_fd, name, 0o600), dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
        os.unlink(name, dir_fd=dir_fd)
        return os.open(name, flags | os.O_EXCL, 0o600, dir_fd=dir_fd)
