"""Files that follow the host's, and the markers that say "inside a box".

- /etc/resolv.conf, /etc/localtime, /etc/host.conf: links to the host's files
  (resolved inside /run/host), as Toolbx makes them;
- /etc/hosts: the host's, plus the box's own name when the host's file does not
  map it (so that sudo never says "unable to resolve host"), rewritten by the
  agent whenever the host's changes;
- /etc/timezone: a link to the host's, or the zone name of its /etc/localtime;
- /run/.crossboxenv, and /run/.toolboxenv and /run/.toolbxenv for the profile
  scripts of toolbox images.

Every write goes through crossbox.guest.safefs: never through the image's links.
"""

from __future__ import annotations

import os

from crossbox.shared.contract import HOST_ROOT, MARKER, TOOLBOX_MARKER

from . import log, safefs

FOLLOWED = ("/etc/resolv.conf", "/etc/localtime", "/etc/host.conf")
HOSTS = "/etc/hosts"
LOCALTIME = "/etc/localtime"
TIMEZONE = "/etc/timezone"
TOOLBOX_MARKERS = (TOOLBOX_MARKER, "/run/.toolbxenv")
HOSTNAME_ADDRESS = "127.0.1.1"  # Debian's convention for the machine's own name
HOSTS_MARK = "# the box's own name, added by crossbox"
MAX_LINKS = 40


def resolve_host_path(path: str, host_root: str = HOST_ROOT) -> str | None:
    """Where the host's ``path`` really is, as seen inside the container.

    Symlinks are followed inside ``host_root``: an absolute target such as
    ``/run/systemd/resolve/stub-resolv.conf`` means the host's file, not ours.
    Returns None when the host has no such file.
    """
    parts = [p for p in path.split("/") if p]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = host_root + "/" + "/".join([*resolved, part])
        try:
            target = os.readlink(candidate)
        except FileNotFoundError:
            return None
        except OSError:  # not a link
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_LINKS:
            return None
        new = [p for p in target.split("/") if p]
        if target.startswith("/"):
            resolved = []
        parts = new + parts
    full = host_root + "/" + "/".join(resolved)
    return full if os.path.exists(full) else None


def _link(path: str, target: str) -> bool:
    try:
        changed = safefs.symlink(target, path)
    except OSError as exc:  # e.g. EBUSY: a file podman bind-mounts
        log.warning("cannot replace with a link to the host's file", path=path, error=exc.strerror)
        return False
    if changed:
        log.debug("linked", path=path, target=target)
    return changed


def follow_host_files(host_root: str = HOST_ROOT, files: tuple[str, ...] = FOLLOWED) -> list[str]:
    changed = []
    for path in files:
        target = resolve_host_path(path, host_root)
        if target is None:
            log.debug("host has no such file", path=path)
            continue
        if _link(path, target):
            changed.append(path)
    return changed


def hosts_text(host_text: str, hostname: str) -> str:
    """The host's /etc/hosts, plus the box's own name when the host's file does not map it
    (so that sudo and others can resolve it, as they do on the host)."""
    names = set()
    for line in host_text.splitlines():
        fields = line.split("#", 1)[0].split()
        names.update(fields[1:])
    text = host_text if not host_text or host_text.endswith("\n") else host_text + "\n"
    if hostname and hostname not in names:
        text += f"{HOSTNAME_ADDRESS}\t{hostname}\t{HOSTS_MARK}\n"
    return text


class HostsFile:
    """/etc/hosts: the host's, followed as it changes, plus the box's name."""

    def __init__(self, host_root: str = HOST_ROOT, hostname: str | None = None) -> None:
        self.host_root = host_root
        self.hostname = hostname if hostname is not None else os.uname().nodename
        self.seen: tuple[int, int, int, str] | None = None

    def _source(self) -> tuple[str | None, tuple[int, int, int, str] | None]:
        source = resolve_host_path(HOSTS, self.host_root)
        if source is None:
            return None, None
        try:
            st = os.stat(source)
        except OSError:
            return None, None
        return source, (st.st_mtime_ns, st.st_size, st.st_ino, source)

    def refresh(self) -> bool:
        """Rewrite /etc/hosts when the host's changed since the last call; True if written."""
        source, stamp = self._source()
        if source is None or stamp == self.seen:
            return False
        try:
            with open(source, encoding="utf-8", errors="surrogateescape") as f:
                host_text = f.read(1 << 20)
        except OSError as exc:
            log.warning("cannot read the host's hosts file", path=source, error=exc.strerror)
            return False
        text = hosts_text(host_text, self.hostname)
        self.seen = stamp
        if safefs.read_text(HOSTS, link_is_absent=True) == text:
            return False
        safefs.write_text(HOSTS, text, mode=0o644, keep_attributes=False)
        log.debug("wrote", path=HOSTS, source=source)
        return True


def timezone_name(localtime_target: str | None) -> str | None:
    """The zone a localtime link names (``.../zoneinfo/Europe/Berlin`` -> ``Europe/Berlin``)."""
    if not localtime_target or "zoneinfo/" not in localtime_target:
        return None
    name = localtime_target.split("zoneinfo/", 1)[1].strip("/")
    return name.removeprefix("posix/").removeprefix("right/") or None


def follow_timezone(host_root: str = HOST_ROOT) -> list[str]:
    """/etc/timezone: a link to the host's when it has one, else (as Toolbx) the zone name that
    the host's /etc/localtime link names."""
    target = resolve_host_path(TIMEZONE, host_root)
    if target is not None:
        return [TIMEZONE] if _link(TIMEZONE, target) else []
    zone = timezone_name(resolve_host_path(LOCALTIME, host_root))
    if zone is None or safefs.read_text(TIMEZONE, link_is_absent=True) == zone + "\n":
        return []
    safefs.write_text(TIMEZONE, zone + "\n", mode=0o644, keep_attributes=False)
    return [TIMEZONE]


def write_markers(container: str, arch: str) -> list[str]:
    content = f"container={container}\narch={arch}\n"
    changed = []
    for path, text in ((MARKER, content), *((m, "") for m in TOOLBOX_MARKERS)):
        if safefs.read_text(path, link_is_absent=True) == text:
            continue
        safefs.write_text(path, text, mode=0o644, keep_attributes=False, create_dirs=True)
        changed.append(path)
    return changed
