"""Files that follow the host's (/etc/hosts, /etc/resolv.conf, /etc/localtime) and markers."""

from __future__ import annotations

import contextlib
import os

from crossbox.shared.contract import HOST_ROOT, MARKER, TOOLBOX_MARKER

from . import log

FOLLOWED = ("/etc/hosts", "/etc/resolv.conf", "/etc/localtime")
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
        if os.readlink(path) == target:
            return False
    except OSError:
        pass
    tmp = f"{path}.crossbox-new"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        os.unlink(tmp)
        log.warning("cannot replace with a link to the host's file", path=path, error=exc.strerror)
        return False
    log.debug("linked", path=path, target=target)
    return True


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


def write_markers(container: str, arch: str) -> list[str]:
    content = f"container={container}\narch={arch}\n"
    changed = []
    for path, text in ((MARKER, content), (TOOLBOX_MARKER, "")):
        try:
            with open(path, encoding="utf-8") as f:
                if f.read() == text:
                    continue
        except FileNotFoundError:
            pass
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, 0o644)
        changed.append(path)
    return changed
