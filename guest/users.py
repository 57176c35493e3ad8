"""Make the host user exist in the image, like Toolbx's init-container, natively.

The image may have no useradd (busybox), so /etc/passwd, /etc/group and
/etc/shadow are edited directly, under the same lock file that lckpwdf(3) and
the shadow tools take. Every step is idempotent: a second run writes nothing.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from crossbox.shared import locks
from crossbox.shared.contract import User

from . import log, safefs

ADMIN_GROUPS = ("wheel", "sudo")
SUDO_BINARIES = ("/usr/bin/sudo", "/bin/sudo", "/usr/local/bin/sudo")
SUDOERS_DROPIN = "/etc/sudoers.d/crossbox"
FALLBACK_SHELL = "/bin/sh"


OVERFLOW_UID = 65534  # how the kernel shows an owner that is not mapped into our namespace


def _read(path: str) -> list[str] | None:
    """The file's lines; None when missing. An account file that is a link out of the image
    counts as missing: crossbox writes a file of its own in the link's place."""
    try:
        text = safefs.read_text(path, link_is_absent=True)
    except PermissionError:
        _reclaim(path)
        return None
    return None if text is None else text.splitlines()


def _reclaim(path: str) -> None:
    """Podman 4.3 writes /etc/passwd and /etc/group for `--user 0:0` into images that lack
    them, owned by host root with mode 0600: under --userns=auto nothing inside can read
    them. Its only line is a placeholder for uid 0, so the file is replaced, not lost."""
    st = safefs.stat_of(path)
    if st is None or st.st_uid != OVERFLOW_UID:
        raise PermissionError(13, "Permission denied", path)
    with safefs.parent_dir(path) as (dir_fd, name):
        os.unlink(name, dir_fd=dir_fd)
    log.info("replaced a file podman wrote that this container cannot read", path=path)


def _write_if_changed(path: str, lines: list[str], mode: int) -> bool:
    old = _read(path)
    if old == lines:
        return False
    safefs.write_text(path, "\n".join(lines) + "\n" if lines else "", mode=mode)
    log.debug("wrote", path=path)
    return True


@contextlib.contextmanager
def passwd_lock(etc: str = "/etc") -> Iterator[None]:
    """The lock lckpwdf(3) and the shadow tools take (a POSIX record lock on .pwd.lock)."""
    fd = safefs.open_lock(os.path.join(etc, ".pwd.lock"))
    try:
        locks.lock(fd, posix=True)
        yield
    finally:
        os.close(fd)


def choose_shell(wanted: str) -> str:
    if wanted and os.access(wanted, os.X_OK):
        return wanted
    return FALLBACK_SHELL


def _fields(line: str) -> list[str]:
    return line.split(":")


def _update_passwd(lines: list[str], user: User, shell: str, has_shadow: bool) -> tuple[list[str], list[str]]:
    """Return the new lines and the names of other users removed for holding our uid."""
    entry = ":".join(
        [user.name, "x" if has_shadow else "*", str(user.uid), str(user.gid), user.name,
         user.home, shell]
    )
    out: list[str] = []
    removed: list[str] = []
    placed = False
    for line in lines:
        f = _fields(line)
        if len(f) < 7:
            out.append(line)
            continue
        if f[0] == user.name:
            if not placed:
                # Keep what the image or the user set for the password field.
                keep = entry.split(":")
                keep[1] = f[1]
                out.append(":".join(keep))
                placed = True
            continue
        if f[2] == str(user.uid):
            removed.append(f[0])
            continue
        out.append(line)
    if not placed:
        out.append(entry)
    return out, removed


def _update_group(lines: list[str], user: User) -> tuple[list[str], bool]:
    """Return the new lines and whether a primary group was added."""
    out = [list(_fields(line)) if len(_fields(line)) >= 4 else [line] for line in lines]
    has_gid = any(len(f) >= 4 and f[2] == str(user.gid) for f in out)
    added = False
    if not has_gid:
        for f in out:
            if len(f) >= 4 and f[0] == user.name:
                f[2] = str(user.gid)
                has_gid = True
        if not has_gid:
            out.append([user.name, "x", str(user.gid), ""])
            added = True
    for f in out:
        if len(f) >= 4 and f[0] in ADMIN_GROUPS:
            members = [m for m in f[3].split(",") if m]
            if user.name not in members:
                members.append(user.name)
                f[3] = ",".join(members)
    return [":".join(f) for f in out], added


def _update_shadow(lines: list[str], user: User, removed: list[str]) -> list[str]:
    out = [line for line in lines if _fields(line)[0] not in removed]
    if not any(_fields(line)[0] == user.name for line in out):
        days = int(time.time() // 86400)
        # Locked password: sudo is passwordless through the drop-in; nothing else needs one.
        out.append(f"{user.name}:!:{days}:0:99999:7:::")
    return out


def sudo_present(etc: str = "/etc") -> bool:
    return any(os.path.exists(p) for p in SUDO_BINARIES) or safefs.stat_of(os.path.join(etc, "sudoers.d")) is not None


def setup_user(user: User, etc: str = "/etc") -> list[str]:
    """Create or update the user; return the paths written (empty when nothing changed)."""
    changed: list[str] = []
    if user.uid == 0:
        return ensure_root(etc)
    passwd_path = os.path.join(etc, "passwd")
    group_path = os.path.join(etc, "group")
    shadow_path = os.path.join(etc, "shadow")
    gshadow_path = os.path.join(etc, "gshadow")
    shell = choose_shell(user.shell)
    with passwd_lock(etc):
        shadow = _read(shadow_path)
        passwd, removed = _update_passwd(_read(passwd_path) or [], user, shell, shadow is not None)
        if removed:
            log.info("replaced image users holding the same uid", uid=user.uid, users=",".join(removed))
        if _write_if_changed(passwd_path, passwd, 0o644):
            changed.append(passwd_path)
        group, added = _update_group(_read(group_path) or [], user)
        if _write_if_changed(group_path, group, 0o644):
            changed.append(group_path)
        if shadow is not None and _write_if_changed(shadow_path, _update_shadow(shadow, user, removed), 0o640):
            changed.append(shadow_path)
        gshadow = _read(gshadow_path)
        if (added and gshadow is not None and not any(_fields(g)[0] == user.name for g in gshadow)
                and _write_if_changed(gshadow_path, [*gshadow, f"{user.name}:!::"], 0o640)):
            changed.append(gshadow_path)
    if sudo_present(etc):
        dropin = os.path.join(etc, "sudoers.d", os.path.basename(SUDOERS_DROPIN))
        try:
            safefs.make_dirs(os.path.dirname(dropin), mode=0o750)
            if _write_if_changed(dropin, [f"{user.name} ALL=(ALL:ALL) NOPASSWD: ALL"], 0o440):
                changed.append(dropin)
        except safefs.UnsafePath as exc:
            # The image's own sudo configuration points elsewhere: left alone, sudo may ask.
            log.warning("no passwordless sudo for the user", reason=str(exc))
    if safefs.make_dirs(user.home, mode=0o700, owner=(user.uid, user.gid)):
        changed.append(user.home)
    return changed


def ensure_root(etc: str = "/etc") -> list[str]:
    """Images without /etc/passwd (busybox) still need root to be a name podman can look up."""
    changed = []
    with passwd_lock(etc):
        path = os.path.join(etc, "passwd")
        lines = _read(path) or []
        root_line = f"root:x:0:0:root:/root:{choose_shell('/bin/sh')}"
        if (not any(len(_fields(line)) >= 7 and _fields(line)[2] == "0" for line in lines)
                and _write_if_changed(path, [*lines, root_line], 0o644)):
            changed.append(path)
        gpath = os.path.join(etc, "group")
        glines = _read(gpath) or []
        if (not any(len(_fields(line)) >= 4 and _fields(line)[2] == "0" for line in glines)
                and _write_if_changed(gpath, [*glines, "root:x:0:"], 0o644)):
            changed.append(gpath)
    if safefs.make_dirs("/root", mode=0o700):
        changed.append("/root")
    return changed


def supplementary_groups(user: User, etc: str = "/etc") -> list[int]:
    """The gids of the groups that list the user as a member (for a one-shot hand-off)."""
    gids = {user.gid}
    for line in _read(os.path.join(etc, "group")) or []:
        f = _fields(line)
        if len(f) >= 4 and user.name in f[3].split(","):
            with contextlib.suppress(ValueError):
                gids.add(int(f[2]))
    return sorted(gids)
