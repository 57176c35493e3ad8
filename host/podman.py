"""A thin typed facade over podman: JSON into frozen dataclasses, exit codes into domain errors."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from crossbox.shared import contract

from .errors import Conflict, CrossboxError, HostNotReady, NotFound, ToolError, last_error_line
from .run import Completed, run

PODMAN = "podman"


def rootless() -> bool:
    return os.geteuid() != 0


@dataclass(frozen=True)
class ContainerInfo:
    """From `podman ps --format json` or `podman inspect`."""

    id: str
    name: str
    image: str
    state: str  # running, exited, created, ...
    created: str
    labels: dict[str, str] = field(default_factory=dict)
    uid_map: tuple[str, ...] = ()  # "container:host:size" rows, from inspect only
    command: tuple[str, ...] = ()
    mounts: tuple[str, ...] = ()  # host sources of bind mounts, from inspect only

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def is_crossbox(self) -> bool:
        return self.labels.get(contract.LABEL_CONTAINER) == "true"

    @property
    def arch(self) -> str:
        return self.labels.get(contract.LABEL_ARCH, "")

    def host_id_of_root(self) -> int | None:
        """The host uid that container root maps to (for a rootful --userns=auto container)."""
        for row in self.uid_map:
            parts = row.split(":")
            if len(parts) == 3 and parts[0] == "0":
                return int(parts[1])
        return None


@dataclass(frozen=True)
class ImageInfo:
    id: str
    names: tuple[str, ...]
    architecture: str
    variant: str
    size: int
    created: str
    labels: dict[str, str] = field(default_factory=dict)


def _labels(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def parse_ps(text: str) -> list[ContainerInfo]:
    rows = json.loads(text or "[]") or []
    out = []
    for r in rows:
        names = r.get("Names") or [r.get("Name", "")]
        created = r.get("CreatedAt") or str(r.get("Created", ""))
        out.append(
            ContainerInfo(
                id=r.get("Id", ""),
                name=names[0] if names else "",
                image=r.get("Image", ""),
                state=str(r.get("State", "")).lower(),
                created=created,
                labels=_labels(r.get("Labels")),
            )
        )
    return out


def parse_container_inspect(text: str) -> list[ContainerInfo]:
    out = []
    for r in json.loads(text or "[]") or []:
        config = r.get("Config") or {}
        state = r.get("State") or {}
        mappings = (r.get("HostConfig") or {}).get("IDMappings") or {}
        out.append(
            ContainerInfo(
                id=r.get("Id", ""),
                name=r.get("Name", ""),
                image=r.get("ImageName", "") or config.get("Image", ""),
                state=str(state.get("Status", "")).lower(),
                created=str(r.get("Created", "")),
                labels=_labels(config.get("Labels")),
                uid_map=tuple(mappings.get("UidMap") or ()),
                command=tuple(config.get("Cmd") or ()),
                mounts=tuple(m.get("Source", "") for m in r.get("Mounts") or ()),
            )
        )
    return out


def parse_image_inspect(text: str) -> list[ImageInfo]:
    out = []
    for r in json.loads(text or "[]") or []:
        out.append(
            ImageInfo(
                id=r.get("Id", ""),
                names=tuple(r.get("RepoTags") or ()),
                architecture=r.get("Architecture", ""),
                variant=r.get("Variant", "") or "",
                size=int(r.get("Size") or 0),
                created=str(r.get("Created", "")),
                labels=_labels((r.get("Config") or {}).get("Labels") or r.get("Labels")),
            )
        )
    return out


def _podman(*args: str, check: bool = True) -> Completed:
    return run([PODMAN, *args], check=check)


def _podman_change(*args: str) -> Completed:
    """A podman call that changes state: never interrupted half-way (see host.signals)."""
    from .signals import deferred

    with deferred():
        return run([PODMAN, *args], check=False, new_session=True)


def container_exists(name: str) -> bool:
    done = _podman("container", "exists", name, check=False)
    if done.returncode in (0, 1):
        return done.returncode == 0
    raise ToolError(list(done.argv), done.returncode, done.stderr)


def inspect_container(name: str) -> ContainerInfo | None:
    done = _podman("container", "inspect", "--format", "json", name, check=False)
    if done.returncode != 0:
        if "no such container" in done.stderr.lower():
            return None
        raise ToolError(list(done.argv), done.returncode, done.stderr)
    found = parse_container_inspect(done.stdout)
    return found[0] if found else None


def inspect_images(names: list[str]) -> list[ImageInfo]:
    """Inspect images that exist; unknown names are left out, not an error."""
    if not names:
        return []
    done = _podman("image", "inspect", "--format", "json", *names, check=False)
    if done.returncode != 0 and "image not known" not in done.stderr and "no such image" not in done.stderr.lower():
        raise ToolError(list(done.argv), done.returncode, done.stderr)
    return parse_image_inspect(done.stdout) if done.stdout.strip() else []


def inspect_image(name: str) -> ImageInfo | None:
    found = inspect_images([name])
    return found[0] if found else None


def list_containers(crossbox_only: bool = True) -> list[ContainerInfo]:
    args = ["ps", "--all", "--format", "json"]
    if crossbox_only:
        args += ["--filter", f"label={contract.LABEL_CONTAINER}=true"]
    return parse_ps(_podman(*args).stdout)


def list_image_names() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(_podman("images", "--format", "json").stdout or "[]") or []
    return rows


def subordinate_ids_missing(stderr: str) -> bool:
    low = stderr.lower()
    return ("no subuid ranges" in low or "no subgid ranges" in low
            or "could not find enough available ids" in low or "cannot find uid/gid for user" in low)


def no_subordinate_ids() -> HostNotReady:
    who = "containers" if not rootless() else "your user"
    return HostNotReady(
        f"podman found no subordinate id range for {who}, which its own user namespace needs",
        "add one to /etc/subuid and /etc/subgid; run `crossbox doctor` for details",
    )


def already_exists(name: str) -> Conflict:
    return Conflict(f"container {name} already exists",
                    f"enter it with `crossbox enter {name}`, or remove it with `crossbox rm {name}`")


def create(argv: list[str], name: str) -> str:
    from .state import user_lock

    # podman 4.3 can deadlock when several `create --userns auto` run at once: crossbox's
    # own creates go one at a time (each takes about 0.1 s).
    with user_lock("create.lock"):
        done = _podman_change(*argv)
    if done.returncode != 0:
        err = done.stderr
        if "already in use" in err:
            raise already_exists(name)
        if "image not known" in err:
            raise NotFound(f"image for container {name} is not in local storage")
        if subordinate_ids_missing(err):
            raise no_subordinate_ids()
        raise ToolError(list(done.argv), done.returncode, err)
    return done.stdout.strip()


def start(name: str) -> None:
    done = _podman_change("start", name)
    if done.returncode != 0:
        if subordinate_ids_missing(done.stderr):
            raise no_subordinate_ids()
        if "no such container" in done.stderr.lower():
            raise NotFound(f"container {name} not found")
        raise CrossboxError(f"podman could not start container {name}: {last_error_line(done.stderr)}")


def remove_containers(names: list[str], force: bool) -> None:
    args = ["rm", *(["--force"] if force else []), *names]
    done = _podman_change(*args)
    if done.returncode == 0:
        return
    err = done.stderr
    for name in names:
        # podman names a running container by its id, not by the name it was given.
        about = name in err or len(names) == 1
        if about and "running" in err and "cannot remove" in err.lower():
            raise Conflict(f"container {name} is running", "stop it first or use --force")
        if name in err and "no such container" in err.lower():
            raise NotFound(f"container {name} not found")
    if "running" in err:
        raise Conflict("a container is running", "stop it first or use --force")
    raise ToolError(list(done.argv), done.returncode, err)


def remove_images(names: list[str], force: bool) -> None:
    args = ["rmi", *(["--force"] if force else []), *names]
    done = _podman_change(*args)
    if done.returncode == 0:
        return
    err = done.stderr
    if "image not known" in err or "image is not known" in err:
        missing = next((n for n in names if n in err), names[0])
        raise NotFound(f"image {missing} not found")
    if "in use" in err or "being used" in err:
        raise Conflict(
            f"image {names[0] if len(names) == 1 else ', '.join(names)} is used by a container",
            "remove the container first, or use --force to remove both",
        )
    raise ToolError(list(done.argv), done.returncode, err)


def pull(ref: str, arch_oci: str, variant: str | None, quiet: bool,
         authfile: str | None = None) -> None:
    """podman pull of a native image; its progress goes to a terminal as podman prints it."""
    import subprocess

    from .run import spawn

    args = [PODMAN, "pull", "--arch", arch_oci, *(["--variant", variant] if variant else []),
            *(["--authfile", authfile] if authfile else []), *(["--quiet"] if quiet else []), ref]
    proc = spawn(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                 stderr=subprocess.PIPE if quiet else None)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise ToolError(args, proc.returncode, err or "")


def logs_tail(name: str, lines: int = 10) -> str:
    done = _podman("logs", "--tail", str(lines), name, check=False)
    return (done.stdout + done.stderr).strip()
