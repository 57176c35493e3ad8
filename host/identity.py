"""Who crossbox runs for, whether it runs rootless, and what of theirs a container shares.

Light to import: the hot path uses it. Whether crossbox runs rootless is decided
here, once (``rootless()``); everything else asks.
"""

from __future__ import annotations

import os
import pwd

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    from crossbox.shared.contract import User


def rootless() -> bool:
    """Rootless podman (a user's own storage and --userns keep-id), or rootful (root)."""
    return os.geteuid() != 0


class Identity:
    """The invoking user, as the container sees them."""

    __slots__ = ("gid", "home", "home_mount", "name", "rootless", "runtime_dir", "shell", "uid")

    def __init__(self, name: str, uid: int, gid: int, home: str, shell: str, rootless: bool,
                 home_mount: str | None, runtime_dir: str | None) -> None:
        self.name = name
        self.uid = uid
        self.gid = gid
        self.home = home
        self.shell = shell
        self.rootless = rootless
        # Rootful containers run in their own user namespace (--userns=auto), where host
        # root's files, /root included, cannot be read: root's home is not shared.
        self.home_mount = home_mount
        self.runtime_dir = runtime_dir

    @property
    def user(self) -> User:
        from crossbox.shared.contract import User

        return User(name=self.name, uid=self.uid, gid=self.gid, home=self.home, shell=self.shell)

    def shared_dirs(self) -> list[str]:
        """Host directories that have the same path inside every crossbox container."""
        return [d for d in (self.home_mount, self.runtime_dir, "/tmp") if d]

    def default_workdir(self) -> str:
        return self.home if self.home_mount or self.uid != 0 else "/root"


# Directories of the image itself: a home there would be mounted over them.
SYSTEM_DIRS = frozenset({"/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/opt",
                         "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/home",
                         "/media", "/mnt"})


def check_for_container(identity: Identity) -> None:
    """What a container is made from must be usable: a home podman can bind-mount, outside the
    image's system directories, and names without the separators of the agent's contract."""
    from .errors import InvalidInput

    for what, value in (("user name", identity.name), ("HOME", identity.home), ("login shell", identity.shell)):
        if ":" in value or "\n" in value or "\0" in value:
            raise InvalidInput(f"your {what} {value!r} holds ':' or a newline, which podman cannot pass on",
                               "set HOME (or the passwd entry) to a plain path" if what != "user name"
                               else "use an account whose name has no ':'")
    home = identity.home_mount
    if home is not None and (home in SYSTEM_DIRS or home.rstrip("/").count("/") < 1
                             or any(home.startswith(d + "/") for d in ("/usr", "/etc", "/proc", "/sys", "/dev"))):
        raise InvalidInput(f"HOME={home} is a system directory; crossbox will not mount it over the image's own",
                           "set HOME to your own home directory (e.g. /home/NAME)")


def current() -> Identity:
    uid = os.getuid()
    entry = pwd.getpwuid(uid)
    home = os.environ.get("HOME") if uid != 0 else entry.pw_dir
    home = os.path.realpath(home or entry.pw_dir)
    from .settings import current as settings

    runtime = settings().runtime_dir
    runtime_dir = os.path.realpath(runtime) if runtime and os.path.isdir(runtime) else None
    is_rootless = rootless()
    return Identity(
        name=entry.pw_name,
        uid=uid,
        gid=entry.pw_gid,
        home=home,
        shell=entry.pw_shell or "/bin/sh",
        rootless=is_rootless,
        home_mount=home if is_rootless and os.path.isdir(home) else None,
        runtime_dir=runtime_dir,
    )
