"""The output and command-line conventions of issue 14, end to end with real podman, skopeo and
registry, rootful and rootless: stdout is data only (a pull's progress on the terminal, never
in a redirected stdout), --log-format json says everything on stderr as JSON objects with UTC
ISO 8601 times, list's JSON schema 2, the help verb and the usage errors, and the stop verb."""

from __future__ import annotations

import datetime
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bed.bed import Bed
from bed.terminal import Terminal

UTC = datetime.UTC
PROGRESS = ("Copying blob", "Copying config", "Storing signatures", "Writing manifest", "Pulling")
# skopeo's informational log lines: `INFO[0000] ...` on a terminal, `time=... level=info msg=...` in
# a pipe (crossbox reads its stderr through one). Rootful, skopeo says this one on every copy into
# the storage podman already set up; rootless (vfs) it says nothing.
SKOPEO_INFO = ("INFO[", "level=info", "[graphdriver]")
GRAPHDRIVER = "[graphdriver] using prior storage driver"


# -- helpers --------------------------------------------------------------------------------

def now() -> datetime.datetime:
    return datetime.datetime.now(UTC)


def parse_utc(stamp: object) -> datetime.datetime:
    """An ISO 8601 time that names UTC (Z or +00:00)."""
    assert isinstance(stamp, str), stamp
    when = datetime.datetime.fromisoformat(stamp)
    assert when.tzinfo is not None and when.utcoffset() == datetime.timedelta(0), stamp
    return when


def json_objects(stderr: str) -> list[dict[str, Any]]:
    """Every non-empty line of stderr, each one JSON object with an event, a level and a UTC
    timestamp of about now."""
    objects = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            pytest.fail(f"a stderr line is not JSON: {line!r}\nall of stderr:\n{stderr}")
        assert isinstance(obj, dict), line
        assert isinstance(obj.get("event"), str) and isinstance(obj.get("level"), str), line
        assert abs(now() - parse_utc(obj.get("timestamp"))) < datetime.timedelta(minutes=5), line
        objects.append(obj)
    assert objects, "nothing on stderr"
    return objects


def created_lines(name: str) -> str:
    """What create prints on stdout: its data, and nothing else."""
    return f"Created container {name}\nEnter it with: crossbox enter {name}\n"


def state_of(bed: Bed, name: str, rootless: bool) -> tuple[str, str]:
    done = bed.podman(["container", "inspect", "--format", "{{.State.Running}} {{.State.Status}}", name],
                      rootless=rootless)
    assert done.returncode == 0, done.stderr
    running, status = done.stdout.split()
    return running, status


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("crossbox: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


class Shared:
    """Boxes made once per module and mode (and a plain podman container per mode), removed at
    the module's end."""

    def __init__(self, bed: Bed) -> None:
        self.bed = bed
        self.boxes: dict[bool, str] = {}
        self.made_at: dict[bool, datetime.datetime] = {}
        self.plains: dict[bool, str] = {}

    def box(self, rootless: bool) -> str:
        if rootless not in self.boxes:
            name = f"{self.bed.name_prefix}conv-{uuid.uuid4().hex[:6]}"
            self.made_at[rootless] = now()
            made = self.bed.crossbox(["-y", "create", "--arch", "arm64", "-i", self.bed.images["bb-arm64"], name],
                                     rootless=rootless)
            assert made.returncode == 0, made.stderr
            self.boxes[rootless] = name
        return self.boxes[rootless]

    def running_box(self, rootless: bool) -> str:
        name = self.box(rootless)
        ran = self.bed.crossbox(["run", "-c", name, "true"], rootless=rootless)
        assert ran.returncode == 0, ran.stderr
        return name

    def plain(self, rootless: bool) -> str:
        """A running container podman made without crossbox (a native busybox sleeping)."""
        if rootless not in self.plains:
            name = f"{self.bed.name_prefix}plain-{uuid.uuid4().hex[:6]}"
            ran = self.bed.podman(["run", "-d", "--network", "host", "--name", name, self.bed.images["bb-amd64"],
                                   "sleep", "3600"], rootless=rootless)
            assert ran.returncode == 0, ran.stderr
            self.plains[rootless] = name
        name = self.plains[rootless]
        if state_of(self.bed, name, rootless)[0] != "true":
            assert self.bed.podman(["start", name], rootless=rootless).returncode == 0
        return name

    def close(self) -> None:
        for rootless, name in self.boxes.items():
            self.bed.crossbox(["rm", "--force", name], rootless=rootless)
        for rootless, name in self.plains.items():
            self.bed.podman(["rm", "--force", "--time", "0", name], rootless=rootless)


@pytest.fixture(scope="module")
def shared(bed: Bed) -> Iterator[Shared]:
    s = Shared(bed)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def fresh(bed: Bed, rootless: bool, box: str) -> Iterator[str]:
    """A single-arch arm64 image no storage has, in the registry: a create of it must pull.
    Afterwards the box made from it goes first (by crossbox, with its records), then the image."""
    ref = f"{bed.registry.address}/{bed.unique_image()}"
    yield ref
    bed.crossbox(["rm", "--force", box], rootless=rootless)
    bed.podman(["rmi", f"{ref}-arm64"], rootless=rootless)


@pytest.fixture(scope="module")
def unpulled(bed: Bed) -> str:
    """A single-arch arm64 image in the registry that no test pulls (for refusals)."""
    return f"{bed.registry.address}/{bed.unique_image()}"


def pull_on_terminal(bed: Bed, args: list[str], rootless: bool, stdout_file: Path) -> Terminal:
    """crossbox with stdin and stderr on a pseudo-terminal and stdout redirected to a file."""
    argv = ["sh", "-c", 'exec "$@" >"$0"', str(stdout_file), *bed.crossbox_argv(args, rootless=rootless)]
    if rootless:
        assert bed.tester is not None
        return Terminal(argv, None, bed.tester.home)
    return Terminal(argv, bed.root_env())


# -- 1. a pull's progress: on the terminal, never on stdout ---------------------------------

def test_pull_progress_goes_to_the_terminal_and_stdout_keeps_only_data(bed: Bed, rootless: bool, box: str,
                                                                        fresh: str, tmp_path: Path) -> None:
    out = tmp_path / "stdout"
    term = pull_on_terminal(bed, ["-y", "create", "--arch", "arm64", "-i", fresh, box], rootless, out)
    try:
        status = term.wait(300)
    finally:
        term.close()
    assert status == 0, term.text
    data = out.read_text()
    assert data == created_lines(box), data
    for word in PROGRESS:
        assert word not in data
    assert "Copying blob" in term.text, term.text  # skopeo's own progress, on the terminal
    assert "Created container" not in term.text
    for noise in SKOPEO_INFO:
        assert noise not in term.text + data
    assert bed.podman(["image", "exists", f"{fresh}-arm64"], rootless=rootless).returncode == 0


def test_pull_into_pipes_prints_data_on_stdout_and_one_plain_line_on_stderr(bed: Bed, rootless: bool, box: str,
                                                                            fresh: str) -> None:
    made = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", fresh, box], rootless=rootless)
    assert made.returncode == 0, made.stderr
    assert made.stdout == created_lines(box)
    assert made.stderr == f"Pulling {fresh} for arm64 into {fresh}-arm64\n"
    for noise in SKOPEO_INFO:
        assert noise not in made.stdout + made.stderr


def test_skopeo_info_lines_show_only_at_debug_level_and_never_on_stdout(bed: Bed, rootless: bool, box: str,
                                                                       fresh: str) -> None:
    made = bed.crossbox(["--log-level", "debug", "-y", "create", "--arch", "arm64", "-i", fresh, box],
                        rootless=rootless)
    assert made.returncode == 0, made.stderr
    assert made.stdout == created_lines(box)
    assert f"Pulling {fresh} for arm64 into {fresh}-arm64" in made.stderr
    assert "+ skopeo" in made.stderr and "copy" in made.stderr  # debug: the commands run are logged
    assert "Copying blob" not in made.stdout + made.stderr  # skopeo was --quiet: no terminal
    for noise in SKOPEO_INFO:
        assert noise not in made.stdout
    if not rootless:  # what skopeo says at its info level is shown at crossbox's debug level
        assert GRAPHDRIVER in made.stderr, made.stderr


# -- 2. --log-format json: stderr is JSON objects, one a line -------------------------------

@pytest.mark.parametrize("level", ["warning", "debug"])
def test_json_pull_and_create_say_everything_as_json(bed: Bed, rootless: bool, box: str, fresh: str,
                                                     level: str) -> None:
    made = bed.crossbox(["--log-format", "json", "--log-level", level, "-y", "create", "--arch", "arm64",
                         "-i", fresh, box], rootless=rootless)
    assert made.returncode == 0, made.stderr
    assert made.stdout == created_lines(box)
    objects = json_objects(made.stderr)
    assert any(o["event"] == f"Pulling {fresh} for arm64 into {fresh}-arm64" for o in objects), objects
    if level == "debug":
        assert any(o["event"].startswith("+ skopeo") for o in objects), objects
        assert any(o["event"] == "created container" and o.get("name") == box for o in objects), objects
        if not rootless:
            assert any(GRAPHDRIVER in o["event"] for o in objects), objects
    else:
        assert all(o["level"] in ("info", "warning") for o in objects), objects
        assert not any(noise in o["event"] for o in objects for noise in SKOPEO_INFO), objects


def test_json_errors_are_json_objects_with_the_exit_status(bed: Bed, rootless: bool, name: str) -> None:
    ran = bed.crossbox(["--log-format", "json", "run", "-c", name, "true"], rootless=rootless)
    assert ran.returncode == 125, ran.stderr
    assert ran.stdout == ""
    (error,) = json_objects(ran.stderr)
    assert error["level"] == "error" and error["event"] == f"container {name} not found", error
    assert error["exit_status"] == 5 and "crossbox create" in error["hint"]

    for args, words in ((["--foo", "list"], "unknown option '--foo' for crossbox"),
                        (["list", "--bogus"], "unknown option '--bogus' for crossbox list"),
                        (["list", "--format", "xml"], "invalid choice: 'xml'"),
                        (["creat"], "unknown command 'creat'")):
        done = bed.crossbox(["--log-format", "json", *args], rootless=rootless)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stdout == ""
        (error,) = json_objects(done.stderr)
        assert error["level"] == "error" and words in error["event"] and error["exit_status"] == 2, error


def test_json_refused_prompt_is_one_json_error(bed: Bed, rootless: bool, name: str, unpulled: str) -> None:
    done = bed.crossbox(["--log-format", "json", "create", "--arch", "arm64", "-i", unpulled, name],
                        rootless=rootless, input="")
    assert done.returncode == 8, done.stderr
    assert done.stdout == ""
    objects = json_objects(done.stderr)
    error = objects[-1]
    assert error["level"] == "error" and error["exit_status"] == 8, objects
    assert "there is no terminal to ask on" in error["event"] and "pass -y" in error["hint"], error
    assert bed.podman(["image", "exists", f"{unpulled}-arm64"], rootless=rootless).returncode == 1
    assert bed.podman(["container", "exists", name], rootless=rootless).returncode == 1


# -- 3. list --format json: schema 2, ISO 8601 UTC creation times ---------------------------

def test_list_json_is_schema_2_with_iso_utc_creation_times(bed: Bed, rootless: bool, shared: Shared) -> None:
    box = shared.box(rootless)
    listed = bed.crossbox(["list", "--format", "json"], rootless=rootless)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["schema"] == 2
    for row in data["containers"]:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["created"]), row
        assert parse_utc(row["created"]) <= now() + datetime.timedelta(minutes=1), row
    row = next(c for c in data["containers"] if c["name"] == box)
    created = parse_utc(row["created"])
    # podman's creation time has whole seconds here: allow for that and for clock rounding.
    assert shared.made_at[rootless] - datetime.timedelta(seconds=5) <= created <= now(), (row, shared.made_at)
    assert abs(now() - created) < datetime.timedelta(minutes=10)
    assert row["arch"] == "arm64" and row["image"] == f"{bed.images['bb-arm64']}-arm64"


# -- 4. command-line habits ----------------------------------------------------------------

def test_help_verb_prints_the_usage_on_stdout(bed: Bed) -> None:
    whole = bed.crossbox(["help"])
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.startswith("usage: crossbox") and "create" in whole.stdout and "stop" in whole.stdout
    assert whole.stderr == ""
    one = bed.crossbox(["help", "create"])
    assert one.returncode == 0, one.stderr
    assert one.stdout.startswith("usage: crossbox create") and "--arch" in one.stdout and "--image" in one.stdout
    assert one.stdout == bed.crossbox(["create", "--help"]).stdout


def test_help_of_an_unknown_command_is_a_usage_error_with_a_suggestion(bed: Bed) -> None:
    unknown = bed.crossbox(["help", "nosuch"])
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert "unknown command 'nosuch'" in one_error_line(unknown.stderr)
    near = bed.crossbox(["help", "crete"])
    assert near.returncode == 2 and near.stdout == ""
    assert "unknown command 'crete'; did you mean 'crossbox create'?" in one_error_line(near.stderr)


def test_bare_crossbox_prints_a_short_usage_on_stderr(bed: Bed) -> None:
    bare = bed.crossbox([])
    assert bare.returncode == 2
    assert bare.stdout == ""
    assert bare.stderr.startswith("usage: crossbox")
    assert "crossbox help" in bare.stderr and "create" in bare.stderr
    assert len(bare.stderr.splitlines()) <= 5, bare.stderr


@pytest.mark.parametrize(("args", "words"), [
    (["--foo"], "unknown option '--foo' for crossbox"),
    (["--foo", "list"], "unknown option '--foo' for crossbox"),
    (["creat"], "unknown command 'creat'; did you mean 'crossbox create'?"),
    (["rm", "--forse", "x"], "unknown option '--forse' for crossbox rm; did you mean '--force'?"),
])
def test_unknown_options_and_commands_are_named_with_a_suggestion(bed: Bed, args: list[str], words: str) -> None:
    done = bed.crossbox(args)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert words in one_error_line(done.stderr)


def test_log_levels_of_toolbx_and_verbose_are_taken_by_a_real_list(bed: Bed, rootless: bool,
                                                                  shared: Shared) -> None:
    box = shared.box(rootless)
    quiet = bed.crossbox(["--log-level", "warn", "list"], rootless=rootless)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.startswith("CONTAINER") and box in quiet.stdout
    assert quiet.stderr == ""
    for args in (["--log-level", "trace", "list"], ["-v", "list"], ["list", "-v"], ["--verbose", "list"]):
        loud = bed.crossbox(args, rootless=rootless)
        assert loud.returncode == 0, (args, loud.stderr)
        assert loud.stdout.startswith("CONTAINER") and box in loud.stdout, args
        assert "+ podman ps" in loud.stderr, (args, loud.stderr)  # debug: the commands run are logged


def test_enter_with_dash_c_enters_the_box(bed: Bed, rootless: bool, shared: Shared) -> None:
    box = shared.box(rootless)
    bed.podman(["stop", "--time", "10", box], rootless=rootless)
    for attempt in ("stopped", "running"):  # the parsed path (it starts the box), then the fast one
        term = bed.terminal(["enter", "-c", box], rootless=rootless, env={"TERM": "dumb"})
        try:
            term.expect(r"[$#] ", timeout=120)
            term.send("uname -m; exit\n")
            status = term.wait()
        finally:
            term.close()
        assert status == 0, (attempt, term.text)
        assert "aarch64" in term.text, (attempt, term.text)
        assert state_of(bed, box, rootless)[0] == "true"


# -- 5. stop ------------------------------------------------------------------------------

def test_stop_stops_a_running_box_and_run_starts_it_again(bed: Bed, rootless: bool, shared: Shared) -> None:
    box = shared.running_box(rootless)
    assert state_of(bed, box, rootless) == ("true", "running")
    stopped = bed.crossbox(["stop", box], rootless=rootless)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == f"{box}\n"
    assert state_of(bed, box, rootless) == ("false", "exited")
    again = bed.crossbox(["stop", box], rootless=rootless)  # a stopped box: nothing to do
    assert again.returncode == 0 and again.stdout == f"{box}\n", again.stderr
    ran = bed.crossbox(["run", "-c", box, "uname", "-m"], rootless=rootless)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "aarch64\n"
    assert state_of(bed, box, rootless) == ("true", "running")


def test_stop_all_stops_every_crossbox_box_and_no_other_container(bed: Bed, rootless: bool, shared: Shared,
                                                                 box: str) -> None:
    first = shared.running_box(rootless)
    made = bed.crossbox(["-y", "create", "--arch", "arm64", "-i", bed.images["bb-arm64"], box], rootless=rootless)
    assert made.returncode == 0, made.stderr
    assert bed.crossbox(["run", "-c", box, "true"], rootless=rootless).returncode == 0
    plain = shared.plain(rootless)
    stopped = bed.crossbox(["stop", "--all"], rootless=rootless)
    assert stopped.returncode == 0, stopped.stderr
    assert {first, box} <= set(stopped.stdout.split()), stopped.stdout
    assert plain not in stopped.stdout
    assert state_of(bed, first, rootless) == ("false", "exited")
    assert state_of(bed, box, rootless) == ("false", "exited")
    assert state_of(bed, plain, rootless) == ("true", "running")
    listed = json.loads(bed.crossbox(["list", "-c", "--format", "json"], rootless=rootless).stdout)
    assert {c["status"] for c in listed["containers"] if c["name"] in (first, box)} == {"exited"}
    ran = bed.crossbox(["run", "-c", box, "uname", "-m"], rootless=rootless)
    assert (ran.returncode, ran.stdout) == (0, "aarch64\n"), ran.stderr


def test_stop_of_a_missing_container_fails_clearly(bed: Bed, rootless: bool, name: str) -> None:
    done = bed.crossbox(["stop", name], rootless=rootless)
    assert done.returncode == 5, done.stderr
    assert done.stdout == ""
    assert one_error_line(done.stderr).startswith(f"crossbox: error: container {name} not found")


def test_stop_refuses_a_container_crossbox_did_not_make(bed: Bed, rootless: bool, shared: Shared) -> None:
    plain = shared.plain(rootless)
    box = shared.running_box(rootless)
    for args in ([plain], [box, plain]):  # nothing is stopped when one name is not crossbox's
        done = bed.crossbox(["stop", *args], rootless=rootless)
        assert done.returncode == 3, done.stderr
        assert done.stdout == ""
        line = one_error_line(done.stderr)
        assert f"container {plain} was not made by crossbox" in line and "use podman directly" in line
        assert state_of(bed, plain, rootless) == ("true", "running")
        assert state_of(bed, box, rootless) == ("true", "running")
