"""A thin typed facade over podman: JSON into typed named tuples, failures into domain errors.

podman documents exit statuses for some verbs (podman-rm(1), podman-rmi(1),
podman-container-exists(1)): 1 for no such object, 2 for one in use or running,
125 for anything else. Those are mapped by status; the verbs that document none
(inspect, create, start) are read from their error text, as toolbox does.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType

from crossbox.shared import contract
from crossbox.shared.records import NamedTuple

from ..errors import (
    Conflict,
    CrossboxError,
    HostNotReady,
    NotFound,
    ToolError,
    already_exists,
    container_not_found,
    container_running,
    doctor_hint,
    image_not_found,
    last_error_line,
)
from ..identity import rootless
from .runner import Completed, run

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    from typing import Any

PODMAN = "podman"
# podman-rm(1), podman-rmi(1), podman-container-exists(1)
STATUS_NO_SUCH_OBJECT = 1
STATUS_IN_USE = 2
NO_LABELS: Mapping[str, str] = MappingProxyType({})


class ContainerInfo(NamedTuple):
    """From `podman ps --format json` or `podman inspect`."""

    id: str
    name: str
    image: str
    state: str  # running, exited, created, ...
    created: str  # as podman says it ("2 minutes ago")
    labels: Mapping[str, str] = NO_LABELS
    uid_map: tuple[str, ...] = ()  # "container:host:size" rows, from inspect only
    gid_map: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    mounts: tuple[str, ...] = ()  # host sources of bind mounts, from inspect only
    mount_pairs: tuple[tuple[str, str], ...] = ()  # (host source, container destination), inspect only
    image_id: str = ""
    created_epoch: int | None = None  # seconds since the epoch, from `podman ps` only

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


class ImageInfo(NamedTuple):
    id: str
    names: tuple[str, ...]
    architecture: str
    variant: str
    size: int
    created: str
    labels: Mapping[str, str] = NO_LABELS
    env: tuple[str, ...] = ()  # the image's configured environment, NAME=VALUE
    user: str = ""  # the image's configured USER ("" when it runs as root)


def _labels(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def parse_ps(text: str) -> list[ContainerInfo]:
    rows = json.loads(text or "[]") or []
    out = []
    for r in rows:
        names = r.get("Names") or [r.get("Name", "")]
        created = r.get("CreatedAt") or str(r.get("Created", ""))
        epoch = r.get("Created")
        out.append(
            ContainerInfo(
                id=r.get("Id", ""),
                name=names[0] if names else "",
                image=r.get("Image", ""),
                state=str(r.get("State", "")).lower(),
                created=created,
                labels=_labels(r.get("Labels")),
                image_id=str(r.get("ImageID", "")),
                created_epoch=epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None,
            )
        )
    return out


def _words(value: Any) -> tuple[str, ...]:
    """An entrypoint or command: podman 4.3 prints a string or a list."""
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return (str(value),) if value else ()


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
                image_id=str(r.get("Image", "")),
                state=str(state.get("Status", "")).lower(),
                created=str(r.get("Created", "")),
                labels=_labels(config.get("Labels")),
                uid_map=tuple(mappings.get("UidMap") or ()),
                gid_map=tuple(mappings.get("GidMap") or ()),
                command=(*_words(config.get("Entrypoint")), *_words(config.get("Cmd"))),
                mounts=tuple(m.get("Source", "") for m in r.get("Mounts") or ()),
                mount_pairs=tuple((m.get("Source", ""), m.get("Destination", "")) for m in r.get("Mounts") or ()),
            )
        )
    return out


# What of an inspection stays true for the container's life (podman cannot change a container's
# labels, id maps, command or mounts): kept by crossbox after a start, to check the next one.
_CONFIG_FIELDS = ("id", "name", "image", "image_id", "labels", "uid_map", "gid_map", "command", "mounts",
                  "mount_pairs")


def config_to_json(info: ContainerInfo) -> str:
    """The container's configuration (not its state) from an inspection, as JSON."""
    return json.dumps({field: getattr(info, field) for field in _CONFIG_FIELDS}, default=dict)


def config_from_json(text: str) -> ContainerInfo | None:
    """What config_to_json wrote (its state unknown: ""), or None if it is not that."""
    try:
        data = json.loads(text)
        strings = ("id", "name", "image", "image_id")
        lists = ("uid_map", "gid_map", "command", "mounts")
        if not (isinstance(data, dict) and all(isinstance(data.get(k), str) for k in strings)
                and all(isinstance(data.get(k), list) and all(isinstance(v, str) for v in data[k]) for k in lists)
                and isinstance(data.get("labels"), dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in data["labels"].items())
                and isinstance(data.get("mount_pairs"), list)
                and all(isinstance(p, list) and len(p) == 2 and all(isinstance(v, str) for v in p)
                        for p in data["mount_pairs"])):
            return None
    except ValueError:
        return None
    return ContainerInfo(
        id=data["id"], name=data["name"], image=data["image"], image_id=data["image_id"], state="", created="",
        labels=MappingProxyType(dict(data["labels"])), uid_map=tuple(data["uid_map"]),
        gid_map=tuple(data["gid_map"]), command=tuple(data["command"]), mounts=tuple(data["mounts"]),
        mount_pairs=tuple((source, destination) for source, destination in data["mount_pairs"]),
    )


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
                env=tuple(str(e) for e in (r.get("Config") or {}).get("Env") or ()),
                user=str((r.get("Config") or {}).get("User") or ""),
            )
        )
    return out


def _podman(*args: str, check: bool = True) -> Completed:
    return run([PODMAN, *args], check=check)


def _podman_change(*args: str) -> Completed:
    """A podman call that changes state: never interrupted half-way (see host.signals)."""
    from ..signals import deferred

    with deferred():
        return run([PODMAN, *args], check=False, new_session=True)


def container_exists(name: str) -> bool:
    done = _podman("container", "exists", name, check=False)
    if done.returncode in (0, STATUS_NO_SUCH_OBJECT):
        return done.returncode == 0
    raise ToolError(list(done.argv), done.returncode, done.stderr)


def inspect_containers(names: list[str]) -> list[ContainerInfo]:
    """Inspect containers that exist (one podman call); unknown names are left out."""
    if not names:
        return []
    done = _podman("container", "inspect", "--format", "json", *names, check=False)
    return parse_container_inspect(done.stdout) if done.stdout.strip() else []


def all_container_ids() -> list[str]:
    return _podman("ps", "--all", "--quiet", "--no-trunc").stdout.split()


def remove_by_id(container_id: str) -> None:
    """Remove a container crossbox itself just created (never started), by its id."""
    _podman_change("rm", "--force", container_id)


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


@contextlib.contextmanager
def inspecting_image(name: str) -> Iterator[Callable[[], ImageInfo | None]]:
    """`podman image inspect` of one name, started now and answered when asked: the caller's
    own work runs meanwhile (create does its checks while podman looks at the image)."""
    from .runner import PIPE, spawn

    args = [PODMAN, "image", "inspect", "--format", "json", name]
    with spawn(args, stdout=PIPE, stderr=PIPE) as proc:
        answer: list[ImageInfo | None] = []

        def result() -> ImageInfo | None:
            if not answer:
                out, err = proc.communicate()
                if proc.returncode != 0 and "image not known" not in err and "no such image" not in err.lower():
                    raise ToolError(args, proc.returncode or 0, err)
                found = parse_image_inspect(out) if out.strip() else []
                answer.append(found[0] if found else None)
            return answer[0]

        yield result


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
        f"add one to /etc/subuid and /etc/subgid; {doctor_hint()}",
    )


def _created(argv: list[str], status: int, out: str, err: str, name: str) -> str:
    if status != 0:
        if "already in use" in err:
            raise already_exists(name)
        if "image not known" in err:
            raise ImageNotLocal(f"image for container {name} is not in local storage")
        if subordinate_ids_missing(err):
            raise no_subordinate_ids()
        raise ToolError(argv, status, err)
    return out.strip()


class ImageNotLocal(NotFound):
    """`podman create --pull never` found no image under the name."""


def create(argv: list[str], name: str) -> str:
    """`podman create`; the new container's id."""
    done = _podman_change(*argv)
    return _created(list(done.argv), done.returncode, done.stdout, done.stderr, name)


@contextlib.contextmanager
def creating(argv: list[str], name: str) -> Iterator[Callable[[], str]]:
    """`podman create`, started now; the new container's id when asked. The caller's own
    work runs meanwhile; the caller holds signals (host.signals.deferred) around the block,
    and podman runs in its own session, so that a Ctrl-C never cuts it half-way."""
    from .runner import PIPE, spawn

    args = [PODMAN, *argv]
    with spawn(args, stdout=PIPE, stderr=PIPE, new_session=True) as proc:

        def result() -> str:
            out, err = proc.communicate()
            return _created(args, proc.returncode or 0, out, err, name)

        yield result


# The states a stopped box can be in that `podman start --filter status=` names (a box in
# another one, "configured" say, is started by name after an inspection).
STOPPED_STATES = ("exited", "stopped")


def start(name: str, only_id: str | None = None) -> bool:
    """Start the container NAME. only_id: only if NAME is still the container with that id and
    it is stopped (podman's filters, checked by podman as it starts it); whether it started."""
    if only_id is None:
        done = _podman_change("start", name)
    else:
        filters = [f"--filter=id={only_id}", *(f"--filter=status={s}" for s in STOPPED_STATES)]
        done = _podman_change("start", *filters, name)
    if done.returncode != 0:
        if subordinate_ids_missing(done.stderr):
            raise no_subordinate_ids()
        if "no such container" in done.stderr.lower():
            raise container_not_found(name)
        raise CrossboxError(f"podman could not start container {name}: {last_error_line(done.stderr)}")
    return only_id is None or bool(done.stdout.strip())  # filtered, podman names what it started


def _named(names: list[str], err: str) -> str | None:
    """The name podman's message is about; None when it cannot be told (podman names a
    running container by its id, not by the name it was given)."""
    return next((n for n in names if n in err), names[0] if len(names) == 1 else None)


def stop_containers(names: list[str]) -> None:
    """podman stop: the agent ends on SIGTERM at once, and the container with it."""
    done = _podman_change("stop", *names)
    if done.returncode == 0:
        return
    if done.returncode == STATUS_NO_SUCH_OBJECT:
        raise container_not_found(_named(names, done.stderr) or ", ".join(names))
    raise ToolError(list(done.argv), done.returncode, done.stderr)


def remove_containers(names: list[str], force: bool) -> None:
    args = ["rm", *(["--force"] if force else []), *names]
    done = _podman_change(*args)
    if done.returncode == 0:
        return
    named = _named(names, done.stderr)
    if done.returncode == STATUS_NO_SUCH_OBJECT:
        raise container_not_found(named or ", ".join(names))
    if done.returncode == STATUS_IN_USE:
        if named is None:
            raise Conflict("a container is running", "stop it first, or use --force to stop and remove it")
        raise container_running(named)
    raise ToolError(list(done.argv), done.returncode, done.stderr)


def remove_images(names: list[str], force: bool) -> None:
    args = ["rmi", *(["--force"] if force else []), *names]
    done = _podman_change(*args)
    if done.returncode == 0:
        return
    if done.returncode == STATUS_NO_SUCH_OBJECT:
        raise image_not_found(_named(names, done.stderr) or ", ".join(names))
    if done.returncode == STATUS_IN_USE:
        raise Conflict(
            f"image {names[0] if len(names) == 1 else ', '.join(names)} is used by a container",
            "remove the container first, or use --force to remove both",
        )
    raise ToolError(list(done.argv), done.returncode, done.stderr)


def pull(ref: str, arch_oci: str, variant: str | None, quiet: bool,
         authfile: str | None = None) -> None:
    """podman pull of a native image; its progress goes to a terminal as podman prints it."""
    from .runner import DEVNULL, PIPE, spawn

    args = [PODMAN, "pull", "--arch", arch_oci, *(["--variant", variant] if variant else []),
            *(["--authfile", authfile] if authfile else []), *(["--quiet"] if quiet else []), ref]
    with spawn(args, stdout=DEVNULL, stderr=PIPE if quiet else None, pdeathsig=True) as proc:
        _, err = proc.communicate()
    if proc.returncode != 0:
        raise ToolError(args, proc.returncode, err or "")


@contextlib.contextmanager
def waiting_for_exit(container_id: str) -> Iterator[int]:
    """A descriptor that becomes readable when the container stops (`podman wait` answers)."""
    from .runner import DEVNULL, PIPE, spawn

    with spawn([PODMAN, "wait", container_id], stdout=PIPE, stderr=DEVNULL, pdeathsig=True) as proc:
        assert proc.stdout is not None
        try:
            yield proc.stdout.fileno()
        finally:
            if proc.poll() is None:
                proc.terminate()


def logs_tail(name: str, lines: int = 10) -> str:
    done = _podman("logs", "--tail", str(lines), name, check=False)
    return (done.stdout + done.stderr).strip()
