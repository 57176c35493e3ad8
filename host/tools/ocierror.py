"""podman's OCI-runtime text for a command that a session cannot start, as one sentence.

When the command given to `podman exec` does not exist in the container, or is not an
executable file, the runtime (runc or crun) fails to start it and podman prints the
runtime's raw text on its stderr and exits 127 or 126. Measured with podman 4.3.1 and runc:

    Error: runc: exec failed: unable to start container process: exec: "nosuch": executable
    file not found in $PATH: OCI runtime attempted to invoke a command that was not found   (127)
    Error: runc: exec failed: unable to start container process: exec: "/bin/nosuch": stat
    /bin/nosuch: no such file or directory: OCI runtime attempted to invoke a command that was
    not found                                                                                (127)
    Error: runc: exec failed: unable to start container process: exec: "/bin/noexec":
    permission denied: OCI permission denied                                                 (126)

(each on one line). crun says ``executable file `nosuch` not found in $PATH: No such file or
directory`` and ``open executable: Permission denied`` (``Operation not permitted`` for a
directory); older podman ends with ``OCI runtime command not found error`` and ``OCI runtime
permission denied error``. The patterns are strict: the whole line, the runtime's own wording
and podman's own ending, so that any other error (crun's ``error opening file ... status``
also ends with "a command that was not found") passes through as podman printed it.

``candidate()`` is what crossbox.host.tools.runner.run_session() asks of each line of
podman's stderr that begins with ``Error: ``; the runner replaces the line only when podman
then exits with the status the text goes with. ``re`` is imported on the first such line,
never on the hot path of a session that goes well.
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    import re

NOT_FOUND = 127
DENIED = 126

_NOT_FOUND_END = r": OCI runtime (?:attempted to invoke a command that was not found|command not found error)"
_DENIED_END = r": OCI (?:runtime )?permission denied(?: error)?"
# runc: `runc: exec failed: unable to start container process: exec: "X": ...` (podman exec),
# `runc: runc create failed: unable to start container process: error during container init:
# exec: "X": ...` (podman run); runc 1.0: `container_linux.go:380: starting container process
# caused: exec: "X": ...`.
_RUNC_START = (r"Error: (?:runc: )?(?:[\w.]+\.go:\d+: )?(?:exec failed: |runc create failed: )?"
               r"(?:unable to start container process: (?:error during container init: )?"
               r"|starting container process caused:? )"
               r'exec: "(?:[^"\\]|\\.)*": ')
_PATTERNS = (
    (NOT_FOUND, _RUNC_START + r"(?:executable file not found in \$PATH|stat .+: no such file or directory)"
                + _NOT_FOUND_END),
    (NOT_FOUND, r"Error: (?:crun: )?executable file `.*` not found(?: in \$PATH)?: No such file or directory"
                + _NOT_FOUND_END),
    (DENIED, _RUNC_START + r"(?:permission denied|is a directory)" + _DENIED_END),
    (DENIED, r"Error: (?:crun: )?open executable: (?:Permission denied|Operation not permitted)" + _DENIED_END),
)
_compiled: list[tuple[int, re.Pattern[str]]] = []


def kind(line: str) -> int | None:
    """The status podman exits with after this line (NOT_FOUND, DENIED), or None: not the text."""
    import re

    if not _compiled:
        _compiled.extend((status, re.compile(pattern)) for status, pattern in _PATTERNS)
    text = line.removesuffix("\n").removesuffix("\r")
    for status, regex in _compiled:
        if regex.fullmatch(text):
            return status
    return None


def sentence(command: str, box: str, status: int) -> str:
    """The one line that says it: `crossbox: nosuch: command not found in BOX`."""
    what = "command not found" if status == NOT_FOUND else "permission denied"
    text = f"{command}: {what} in {box}"
    from .. import log

    if log.json_mode():
        return log._json_line("error", text, {"exit_status": status})
    return f"crossbox: {text}"


def candidate(command: str, box: str, line: bytes) -> tuple[int, bytes] | None:
    """For the runner: (the status that confirms it, the replacement line), or None."""
    status = kind(line.decode("utf-8", errors="replace"))
    if status is None:
        return None
    return status, (sentence(command, box, status) + "\n").encode("utf-8", errors="replace")
