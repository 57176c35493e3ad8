"""crossbox.host.tools.ocierror: podman's OCI text for a command that cannot start, as one sentence.

The runc lines were captured from podman 4.3.1 with runc on the development machine
(`podman exec CTR COMMAND`, with and without --tty); the crun lines are crun's wording
(libcrun's "executable file `%s` not found in $PATH" and "open executable") as podman
reports it, with and without the runtime's name in front.
"""

from __future__ import annotations

import json

import pytest
from crossbox.host import log
from crossbox.host.tools import ocierror

RUNC = "Error: runc: exec failed: unable to start container process: exec: "
MEASURED = [
    (RUNC + '"nosuch": executable file not found in $PATH: '
     "OCI runtime attempted to invoke a command that was not found", 127),
    (RUNC + '"/bin/nosuch": stat /bin/nosuch: no such file or directory: '
     "OCI runtime attempted to invoke a command that was not found", 127),
    (RUNC + '"nosuch/x": stat nosuch/x: no such file or directory: '
     "OCI runtime attempted to invoke a command that was not found", 127),
    (RUNC + '"/bin/noexec": permission denied: OCI permission denied', 126),
    (RUNC + '"/bin/adir": permission denied: OCI permission denied', 126),
    (RUNC + '"/tmp": permission denied: OCI permission denied', 126),
]
OTHER_RUNTIMES = [
    ("Error: crun: executable file `nonexistent` not found in $PATH: No such file or directory: "
     "OCI runtime attempted to invoke a command that was not found", 127),
    ("Error: executable file `/no/such/command` not found in $PATH: No such file or directory: "
     "OCI runtime command not found error", 127),
    ("Error: crun: open executable: Permission denied: OCI permission denied", 126),
    ("Error: open executable: Operation not permitted: OCI permission denied", 126),
    ("Error: open executable: Operation not permitted: OCI runtime permission denied error", 126),
    ("Error: runc: runc create failed: unable to start container process: error during container init: "
     'exec: "nonexistent": executable file not found in $PATH: '
     "OCI runtime attempted to invoke a command that was not found", 127),
]


@pytest.mark.parametrize(("line", "status"), MEASURED + OTHER_RUNTIMES)
def test_the_runtimes_texts_are_recognised_with_their_status(line: str, status: int) -> None:
    assert ocierror.kind(line) == status
    assert ocierror.kind(line + "\n") == status
    assert ocierror.kind(line + "\r\n") == status


@pytest.mark.parametrize("line", [
    # another failure that also ends with podman's "not found" words (crun's state file)
    "Error: crun: error opening file `/run/user/1002/crun/eb6c/status`: No such file or directory: "
    "OCI runtime attempted to invoke a command that was not found",
    # runc's init, after the look-up: a script whose interpreter is missing (status 1)
    "exec /bin/badinterp: no such file or directory",
    # podman's other errors
    "Error: no container with name or ID \"box\" found: no such container",
    "Error: can only create exec sessions on running containers: container state improper",
    # a program's own words, or the text inside a longer line
    "Error: nosuch: command not found",
    "Error: something: OCI permission denied",
    "  " + MEASURED[0][0],
    MEASURED[0][0] + " (and more)",
    MEASURED[0][0] + "\nsecond line",
    "",
])
def test_anything_else_is_not(line: str) -> None:
    assert ocierror.kind(line) is None


def test_the_sentences() -> None:
    assert ocierror.sentence("nosuch", "box", 127) == "crossbox: nosuch: command not found in box"
    assert ocierror.sentence("/bin/noexec", "box", 126) == "crossbox: /bin/noexec: permission denied in box"


def test_candidate_gives_the_status_and_the_replacement_line() -> None:
    line = (MEASURED[0][0] + "\n").encode()
    assert ocierror.candidate("nosuch", "box", line) == (127, b"crossbox: nosuch: command not found in box\n")
    assert ocierror.candidate("nosuch", "box", b"Error: other\n") is None
    assert ocierror.candidate("nosuch", "box", b"Error: \xff\xfe\n") is None


def test_json_mode_says_it_as_one_json_object() -> None:
    log.configure(fmt="json")
    try:
        text = ocierror.sentence("nosuch", "box", 127)
    finally:
        log.configure()
    data = json.loads(text)
    assert data["event"] == "nosuch: command not found in box"
    assert data["level"] == "error" and data["exit_status"] == 127
