"""Timing: a crossbox command and its raw baseline, interleaved in pairs, and the table.

Each case runs A (crossbox) and B (the raw tool underneath) alternately,
A B A B ..., after a warm-up pair that is not counted, so that a noisy, shared
machine slows both sides alike. The ratio is taken pair by pair. A line-up
(crossbox beside its peers) runs any number of sides the same way, round-robin
(A B C D, A B C D, ...), each side's ratio to the raw one taken round by round.
"""

from __future__ import annotations

import dataclasses
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class BenchError(RuntimeError):
    """A command of the benchmark failed: the figures would mean nothing."""


@dataclass(frozen=True)
class RunAs:
    """An ordinary user to run a command as (the benchmark runs as root).

    The child takes the ids itself before its exec (no PAM session, no extra program
    in the timed span), with no supplementary groups, as `runuser -u USER` leaves it.
    """

    uid: int
    gid: int

    def popen_args(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _as(user: RunAs | None) -> dict[str, Any]:
    return user.popen_args() if user is not None else {}


def say(text: str) -> None:
    sys.stderr.write(f"bench: {text}\n")
    sys.stderr.flush()


def run(argv: Sequence[str], env: Mapping[str, str], *, cwd: str | None = None, expect: int | None = 0,
        timeout: float = 600, user: RunAs | None = None) -> subprocess.CompletedProcess[str]:
    """An untimed helper command, output captured; a failure (or a hang) is a BenchError."""
    try:
        done = subprocess.run(list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, check=False, **_as(user))
    except subprocess.TimeoutExpired:
        raise BenchError(f"{shlex.join(argv)} did not finish within {timeout:.0f} s") from None
    if expect is not None and done.returncode != expect:
        raise BenchError(f"{shlex.join(argv)} exited {done.returncode} (expected {expect}): "
                         f"{(done.stderr or done.stdout).strip()[-1500:]}")
    return done


def time_commands(commands: Sequence[Sequence[str]], env: Mapping[str, str], *, cwd: str | None,
                  expect: int = 0, timeout: float = 300, user: RunAs | None = None) -> float:
    """Milliseconds of wall-clock time the commands take, run one after the other.

    stdout goes to /dev/null (as a script would discard it); stderr is kept to explain
    a failure. Nothing but the child itself is inside the timed span.
    """
    total = 0
    for argv in commands:
        args = list(argv)
        started = time.perf_counter_ns()
        try:
            done = subprocess.run(args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, check=False, timeout=timeout, **_as(user))
        except subprocess.TimeoutExpired:
            raise BenchError(f"{shlex.join(args)} did not finish within {timeout:.0f} s") from None
        total += time.perf_counter_ns() - started
        if done.returncode != expect:
            err = done.stderr.decode(errors="replace").strip()[-1500:]
            raise BenchError(f"{shlex.join(args)} exited {done.returncode} (expected {expect}): {err}")
    return total / 1e6


@dataclass(frozen=True)
class Spread:
    min: float
    median: float
    max: float
    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise BenchError("no values to summarise")
        return cls(min(values), statistics.median(values), max(values), tuple(values))

    def as_json(self, digits: int) -> dict[str, Any]:
        return {"min": round(self.min, digits), "median": round(self.median, digits),
                "max": round(self.max, digits), "values": [round(v, digits) for v in self.values]}


@dataclass(frozen=True)
class Side:
    """One side of a pair: what it is called, the commands timed together, untimed set-up."""

    label: str
    commands: Callable[[int], list[list[str]]]  # by round number (warm-up rounds included)
    env: Mapping[str, str]
    before: Callable[[int], None] | None = None  # untimed, before each timed run
    after: Callable[[int], None] | None = None  # untimed, after each timed run
    user: RunAs | None = None  # run as this user (None: as the benchmark, root)
    cwd: str | None = None  # None: the case's


@dataclass(frozen=True)
class CaseResult:
    id: str
    title: str
    a_label: str
    b_label: str
    a: Spread
    b: Spread
    ratio: Spread
    target: float | None  # median A/B at most this; None: report only
    warmup: int
    note: str = ""
    references: tuple[Reference, ...] = ()

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio.median <= self.target

    def with_references(self, references: tuple[Reference, ...]) -> CaseResult:
        return dataclasses.replace(self, references=references)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "pairs": len(self.ratio.values), "warmup": self.warmup,
            "a": {"label": self.a_label, "ms": self.a.as_json(1)},
            "b": {"label": self.b_label, "ms": self.b.as_json(1)},
            "ratio": self.ratio.as_json(3),
            "target": self.target, "met": self.met, "note": self.note,
            "references": [r.as_json() for r in self.references],
        }


@dataclass(frozen=True)
class Reference:
    """A third command timed in the same rounds, to show where A's time goes (no target)."""

    label: str
    ms: Spread
    to_b: Spread  # its ratio to B, pair by pair
    why: str
    rounds: str = "same rounds"  # when it was timed, if not in the pairs' rounds

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "ms": self.ms.as_json(1), "ratio_to_b": self.to_b.as_json(3), "why": self.why,
                "rounds": self.rounds}


LAUNCHER, RAW, REFERENCE = "launcher", "raw", "reference"  # the roles of a line-up's sides


@dataclass(frozen=True)
class Entry:
    """One side of a line-up: a launcher (ranked), the raw baseline, or a reference (shown, not ranked)."""

    key: str  # short name: crossbox, toolbox, distrobox, podman, ...
    label: str  # the command, as the table shows it
    role: str  # LAUNCHER, RAW or REFERENCE
    ms: Spread
    to_raw: Spread  # its ratio to the raw side, round by round

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "role": self.role, "ms": self.ms.as_json(1),
                "ratio_to_raw": self.to_raw.as_json(3)}


@dataclass(frozen=True)
class LineupResult:
    """Several launchers doing the same thing, and the raw tool under them all, in the same rounds."""

    id: str
    title: str
    entries: tuple[Entry, ...]
    warmup: int
    subject: str  # the launcher whose place is the target: first
    note: str = ""

    @property
    def rounds(self) -> int:
        return len(self.entries[0].ms.values)

    @property
    def raw(self) -> Entry:
        return next(e for e in self.entries if e.role == RAW)

    def launchers(self) -> list[Entry]:
        """Fastest first, by median (a tie keeps the order of the entries)."""
        return sorted((e for e in self.entries if e.role == LAUNCHER), key=lambda e: e.ms.median)

    @property
    def place(self) -> int:
        """The subject's place among the launchers, 1 for the fastest."""
        return 1 + [e.key for e in self.launchers()].index(self.subject)

    @property
    def first(self) -> bool:
        return self.place == 1

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "rounds": self.rounds, "warmup": self.warmup,
            "raw": self.raw.key, "subject": self.subject, "place": self.place, "of": len(self.launchers()),
            "first": self.first, "order": [e.key for e in self.launchers()],
            "sides": [e.as_json() for e in self.entries], "note": self.note,
        }


def run_rounds(sides: Sequence[Side], *, rounds: int, warmup: int, cwd: str) -> list[list[float]]:
    """Every side in turn, round after round: ``warmup`` rounds first (not counted), then ``rounds``.

    Returns the counted milliseconds, one list per side, in the order of ``sides``.
    """
    times: list[list[float]] = [[] for _ in sides]
    for round_no in range(warmup + rounds):
        timings = []
        for side in sides:
            if side.before:
                side.before(round_no)
            timings.append(time_commands(side.commands(round_no), side.env, cwd=side.cwd or cwd, user=side.user))
            if side.after:
                side.after(round_no)
        if round_no >= warmup:
            for column, ms in zip(times, timings, strict=True):
                column.append(ms)
    return times


def run_pairs(case_id: str, title: str, a: Side, b: Side, *, pairs: int, warmup: int, cwd: str,
              target: float | None, note: str = "",
              references: Sequence[tuple[Side, str]] = ()) -> CaseResult:
    """A B A B ...: warm-up rounds first (not counted), then ``pairs`` counted rounds.

    Reference commands, if any, run after B in each round (A B C A B C ...): they
    explain A's time and are reported beside the pair, never instead of it.
    """
    if pairs < 1:
        raise BenchError("at least one counted pair is needed")
    started = time.monotonic()
    times = run_rounds([a, b, *(side for side, _ in references)], rounds=pairs, warmup=warmup, cwd=cwd)
    a_ms, b_ms = times[0], times[1]
    refs = tuple(
        Reference(side.label, Spread.of(ms), Spread.of([x / y for x, y in zip(ms, b_ms, strict=True)]), why)
        for (side, why), ms in zip(references, times[2:], strict=True)
    )
    result = CaseResult(
        id=case_id, title=title, a_label=a.label, b_label=b.label,
        a=Spread.of(a_ms), b=Spread.of(b_ms),
        ratio=Spread.of([x / y for x, y in zip(a_ms, b_ms, strict=True)]),
        target=target, warmup=warmup, note=note, references=refs,
    )
    say(f"{case_id} {title}: {pairs} pairs in {time.monotonic() - started:.0f} s, median A {result.a.median:.0f} ms, "
        f"B {result.b.median:.0f} ms, A/B {result.ratio.median:.2f}")
    return result


def run_lineup(case_id: str, title: str, sides: Sequence[tuple[str, str, Side]], *, subject: str, rounds: int,
               warmup: int, cwd: str, note: str = "") -> LineupResult:
    """Every side in turn, round-robin (A B C D, A B C D, ...), after ``warmup`` rounds not counted.

    ``sides`` are (key, role, side); exactly one has the role RAW, and each side's ratio to it
    is taken round by round.
    """
    if rounds < 1:
        raise BenchError("at least one counted round is needed")
    raws = [i for i, (_, role, _) in enumerate(sides) if role == RAW]
    if len(raws) != 1:
        raise BenchError(f"{case_id}: a line-up needs exactly one raw side")
    started = time.monotonic()
    times = run_rounds([side for _, _, side in sides], rounds=rounds, warmup=warmup, cwd=cwd)
    raw_ms = times[raws[0]]
    entries = tuple(
        Entry(key, side.label, role, Spread.of(ms), Spread.of([x / y for x, y in zip(ms, raw_ms, strict=True)]))
        for (key, role, side), ms in zip(sides, times, strict=True)
    )
    result = LineupResult(case_id, title, entries, warmup, subject, note)
    medians = ", ".join(f"{e.key} {e.ms.median:.0f}" for e in entries)
    say(f"{case_id} {title}: {rounds} rounds in {time.monotonic() - started:.0f} s, median ms: {medians}; "
        f"{subject} {'first' if result.first else 'not first'}")
    return result


# -- the table -------------------------------------------------------------------------------

def _ms(s: Spread) -> str:
    return f"{s.min:.0f} / {s.median:.0f} / {s.max:.0f}"


def _ratio(s: Spread) -> str:
    return f"{s.min:.2f} / **{s.median:.2f}** / {s.max:.2f}"


def _verdict(c: CaseResult) -> str:
    if c.met is None:
        return "report"
    return "met" if c.met else "**missed**"


def cases_table(cases: Sequence[CaseResult]) -> str:
    lines = [
        "| case | A: crossbox, ms (min / median / max) | B: raw baseline, ms | A/B (min / **median** / max) "
        "| target (median A/B) | |",
        "|---|---|---|---|---|---|",
    ]
    for c in cases:
        target = f"<= {c.target:g}" if c.target is not None else "report"
        lines.append(f"| {c.id} {c.title} | {_ms(c.a)} | {_ms(c.b)} | {_ratio(c.ratio)} | {target} | {_verdict(c)} |")
    return "\n".join(lines)


def sides_list(cases: Sequence[CaseResult]) -> str:
    out = []
    for c in cases:
        line = f"- **{c.id}** A: `{c.a_label}`; B: `{c.b_label}`."
        if c.note:
            line += f" {c.note}"
        for r in c.references:
            line += (f" Reference, {r.rounds} (no target): `{r.label}` {_ms(r.ms)} ms, "
                     f"{r.to_b.median:.2f} x B (median); {r.why}")
        out.append(line)
    return "\n".join(out)


_PLACES = {1: "1st", 2: "2nd", 3: "3rd"}


def _place(n: int) -> str:
    return _PLACES.get(n, f"{n}th")


def lineup_table(lineups: Sequence[LineupResult]) -> str:
    """A row per side; the subject's row says whether it is first among the launchers."""
    lines = [
        "| case | side | ms (min / median / max) | x raw (min / **median** / max) | place among the launchers |",
        "|---|---|---|---|---|",
    ]
    for c in lineups:
        order = [e.key for e in c.launchers()]
        for i, e in enumerate(c.entries):
            case = f"{c.id} {c.title}" if i == 0 else ""
            if e.role == RAW:
                place = "raw baseline"
            elif e.role == REFERENCE:
                place = "reference, not ranked"
            else:
                place = f"{_place(order.index(e.key) + 1)} of {len(order)}"
                if e.key == c.subject:
                    place = f"**{place}: {'first' if c.first else 'not first'}**"
            label = f"**{e.key}**: `{e.label}`" if e.key == c.subject else f"{e.key}: `{e.label}`"
            lines.append(f"| {case} | {label} | {_ms(e.ms)} | {_ratio(e.to_raw)} | {place} |")
    return "\n".join(lines)
