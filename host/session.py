"""Start a container if needed and wait until its guest agent is ready.

The hot path (a running, ready container) costs one flock and no podman call.
"""

from __future__ import annotations

import os
import time

from crossbox.shared import contract

from . import log, podman, progress, readiness
from .errors import CrossboxError, GuestFailed, InvalidInput, NotFound, ToolError


def _owner(info: podman.ContainerInfo) -> tuple[int, int] | None:
    if not podman.rootless():
        hid = info.host_id_of_root()
        if hid is not None:
            return (hid, hid)
    return None


def _last_logs(name: str) -> str:
    try:
        text = podman.logs_tail(name, 10)
    except CrossboxError:
        return ""
    return text


def check_usable(info: podman.ContainerInfo) -> None:
    if not info.is_crossbox:
        raise InvalidInput(
            f"container {info.name} was not made by crossbox",
            "use podman directly for it, or create one with `crossbox create`",
        )
    made = info.labels.get(contract.LABEL_CONTRACT)
    if made != contract.CONTRACT_VERSION:
        raise InvalidInput(
            f"container {info.name} was made by a crossbox with agent contract {made}, "
            f"this one speaks {contract.CONTRACT_VERSION}",
            f"recreate it: crossbox rm {info.name} && crossbox create ...",
        )
    gone = [src for src in info.mounts if src and not os.path.exists(src)
            and not src.startswith(readiness.base_dir())]
    if gone:
        raise GuestFailed(
            f"container {info.name} bind-mounts {gone[0]}, which no longer exists on the host "
            "(was the host's Python or qemu upgraded?)",
            f"recreate it: crossbox rm {info.name} && crossbox create ...",
        )


def ensure_ready(name: str, timeout: float | None = None) -> bool:
    """Make sure the container runs and its agent is ready. True if crossbox started it."""
    if readiness.is_ready(name):
        return False
    timeout = readiness.ready_timeout() if timeout is None else timeout
    with readiness.start_lock(name, timeout):
        if readiness.is_ready(name):
            return False
        info = podman.inspect_container(name)
        if info is None:
            raise NotFound(f"container {name} not found",
                           f"create it with `crossbox create {name}` or list them with `crossbox list`")
        check_usable(info)
        if info.running:
            # Started outside crossbox just now, or its agent is still setting up.
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if readiness.is_ready(name):
                    return False
                time.sleep(0.05)
            raise GuestFailed(
                f"container {name} is running but its guest agent never reported ready",
                f"see `podman logs {name}`, or restart it with `podman stop {name}`",
            )
        waiter = readiness.ReadyWaiter(name, _owner(info))
        try:
            with progress.Spinner(f"Starting container {name}"):
                try:
                    podman.start(name)
                except ToolError as exc:
                    raise GuestFailed(f"podman could not start container {name}: {exc.message}") from None
                report = waiter.wait(timeout)
        finally:
            waiter.close()
        if report is None:
            logs = _last_logs(name)
            raise GuestFailed(
                f"container {name} did not become ready within {timeout:.0f} s"
                + (f"; its last log lines: {logs}" if logs else ""),
                f"see `podman logs {name}`",
            )
        if not report.ok:
            logs = _last_logs(name)
            detail = report.message
            if logs and detail not in logs:
                detail += f" (last log lines: {logs})"
            raise GuestFailed(f"container {name} failed to start: {detail}",
                              f"see `podman logs {name}`")
        log.debug("container ready", name=name, seconds=round(report.elapsed, 3), agent=report.message)
        return True
