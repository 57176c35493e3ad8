"""The one exception type for expected failures, and the exit statuses it maps to.

Exit statuses (also in the README and crossbox(1)):

====  ===========================================================
0     success
1     a check failed (``doctor``)
2     usage error (bad option or argument)
3     invalid input (architecture, image reference, container name, file)
4     the host lacks something (emulator, kernel, podman, skopeo, ids)
5     no such container or image
6     conflict (already exists, still running, in use)
7     registry or pull failure (missing architecture, wrong architecture,
      unreachable registry, unknown tag)
8     declined (answered no, or no terminal to ask on and no ``-y``)
9     the container did not become ready (guest agent failed or timed out)
10    podman failed in a way crossbox does not know
130   interrupted (SIGINT); 143 terminated (SIGTERM)
====  ===========================================================

``run`` and ``enter`` follow Toolbx instead: the command's own status, 125
when crossbox or podman failed, 126 when the command cannot be executed, 127
when it is not found.
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    CHECK_FAILED = 1
    USAGE = 2
    INVALID_INPUT = 3
    HOST_NOT_READY = 4
    NOT_FOUND = 5
    CONFLICT = 6
    REGISTRY = 7
    DECLINED = 8
    GUEST_FAILED = 9
    TOOL_FAILED = 10
    RUN_FAILED = 125
    CANNOT_EXECUTE = 126
    COMMAND_NOT_FOUND = 127
    INTERRUPTED = 130
    TERMINATED = 143


class CrossboxError(Exception):
    """An expected failure: one sentence, an optional hint, an exit status."""

    status: Exit = Exit.TOOL_FAILED

    def __init__(self, message: str, hint: str | None = None, status: Exit | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if status is not None:
            self.status = status

    def line(self) -> str:
        text = f"crossbox: error: {self.message}"
        if self.hint:
            text += f"; {self.hint}"
        return text


class InvalidInput(CrossboxError):
    status = Exit.INVALID_INPUT


class HostNotReady(CrossboxError):
    status = Exit.HOST_NOT_READY


class NotFound(CrossboxError):
    status = Exit.NOT_FOUND


class Conflict(CrossboxError):
    status = Exit.CONFLICT


class RegistryError(CrossboxError):
    status = Exit.REGISTRY


class Declined(CrossboxError):
    status = Exit.DECLINED


class GuestFailed(CrossboxError):
    status = Exit.GUEST_FAILED


class Interrupted(CrossboxError):
    status = Exit.INTERRUPTED


class ToolMissing(HostNotReady):
    def __init__(self, tool: str, why: str = "", hint: str | None = None) -> None:
        message = f"{tool} was not found on PATH"
        if why:
            message += f"; it is needed {why}"
        super().__init__(message, hint or f"install {tool}, then run `crossbox doctor` for details")
        self.tool = tool


class ToolError(CrossboxError):
    """An external command failed in a way no domain error describes."""

    status = Exit.TOOL_FAILED

    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
        last = last_error_line(stderr)
        super().__init__(
            f"{argv[0]} {argv[1] if len(argv) > 1 else ''} failed with status {returncode}"
            + (f": {last}" if last else "")
        )


def _logrus_message(line: str) -> str:
    """`time="..." level=fatal msg="Error fetching blob: ..."` -> `Error fetching blob: ...`."""
    start = line.find('msg="')
    if start < 0:
        return line
    out, i = [], start + len('msg="')
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            out.append(line[i + 1])
            i += 2
            continue
        if c == '"':
            break
        out.append(c)
        i += 1
    return "".join(out)


def last_error_line(stderr: str) -> str:
    """The most telling line of a tool's stderr (podman and skopeo print 'Error: ...')."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if "level=fatal" in line or "level=error" in line:
            return _logrus_message(line)
        if line.startswith(("Error:", "error:", "FATA")):
            return line
    return _logrus_message(lines[-1]) if lines else ""
