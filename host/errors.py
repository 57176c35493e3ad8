"""The one exception type for expected failures, the exit statuses, and each message once.

The exit statuses are declared once, in ``EXIT_STATUSES``: the README's table
and crossbox(1) are checked against it by the unit suite (and the man page is
generated from it). ``run`` and ``enter`` follow Toolbx instead (``RUN_STATUSES``).

Messages that several verbs give are written once, as constructors below
(``container_not_found()``, ``doctor_hint()``, ...): toolbox's habit of
"each user-facing message written once".
"""

from __future__ import annotations


class Exit:
    """crossbox's exit statuses: plain ints, not an IntEnum (the enum module and what it
    imports cost every `crossbox run` about 5 ms; this module is on the hot path)."""

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

    @classmethod
    def all(cls) -> dict[str, int]:
        """Every status by name."""
        return {name: value for name, value in vars(cls).items() if name.isupper()}


# (statuses, meaning): the table of the README and of crossbox(1).
EXIT_STATUSES: tuple[tuple[tuple[int, ...], str], ...] = (
    ((Exit.OK,), "success"),
    ((Exit.CHECK_FAILED,), "`doctor`: a check failed"),
    ((Exit.USAGE,), "usage error"),
    ((Exit.INVALID_INPUT,),
     "invalid input (architecture, image reference, container name, authfile, setting, configuration)"),
    ((Exit.HOST_NOT_READY,), "the host lacks something (emulator, kernel, podman, skopeo, ids, space)"),
    ((Exit.NOT_FOUND,), "no such container or image"),
    ((Exit.CONFLICT,), "conflict (already exists, running, in use)"),
    ((Exit.REGISTRY,), "registry or pull failure (missing or wrong architecture, unknown tag, unreachable)"),
    ((Exit.DECLINED,), "declined (answered no, or no terminal to ask on and no `-y`)"),
    ((Exit.GUEST_FAILED,), "the container did not become ready"),
    ((Exit.TOOL_FAILED,), "podman failed in a way crossbox does not know"),
    ((Exit.INTERRUPTED, Exit.TERMINATED), "interrupted by SIGINT, SIGTERM"),
)

# `run` and `enter` (as Toolbx): the command's own status, or one of these.
RUN_STATUSES: tuple[tuple[tuple[int, ...], str], ...] = (
    ((Exit.RUN_FAILED,), "crossbox or podman failed"),
    ((Exit.CANNOT_EXECUTE,), "the command cannot be executed"),
    ((Exit.COMMAND_NOT_FOUND,), "the command is not found"),
)


def exit_table_markdown() -> str:
    """The README's table."""
    rows = ["| status | meaning |", "|---|---|"]
    for statuses, meaning in EXIT_STATUSES:
        rows.append(f"| {', '.join(str(int(s)) for s in statuses)} | {meaning} |")
    return "\n".join(rows)


class CrossboxError(Exception):
    """An expected failure: one sentence, an optional hint, an exit status."""

    status: int = Exit.TOOL_FAILED

    def __init__(self, message: str, hint: str | None = None, status: int | None = None) -> None:
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


class UsageError(CrossboxError):
    """Options that do not go together, found after argparse (which gives the same status)."""

    status = Exit.USAGE


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
        super().__init__(message, hint or f"install {tool}, then {doctor_hint()}")
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


# -- messages written once ------------------------------------------------------------------

def doctor_hint(arch_oci: str | None = None) -> str:
    return f"run `crossbox doctor{f' --arch {arch_oci}' if arch_oci else ''}` for details"


def recreate_hint(name: str) -> str:
    return f"recreate it: crossbox rm {name} && crossbox create ..."


def container_not_found(name: str) -> NotFound:
    return NotFound(f"container {name} not found",
                    f"create it with `crossbox create {name}` or list them with `crossbox list`")


def image_not_found(name: str) -> NotFound:
    return NotFound(f"image {name} not found", "list the images with `crossbox list --images`")


def not_crossbox(name: str, hint: str = "use podman directly for it, or create one with `crossbox create`",
                 ) -> InvalidInput:
    return InvalidInput(f"container {name} was not made by crossbox", hint)


def already_exists(name: str) -> Conflict:
    return Conflict(f"container {name} already exists",
                    f"enter it with `crossbox enter {name}`, or remove it with `crossbox rm {name}`")


def container_running(name: str) -> Conflict:
    return Conflict(f"container {name} is running", "stop it first, or use --force to stop and remove it")


# -- reading tools' error output ------------------------------------------------------------

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
