"""A benchmark run's options and context: its install, storages, shared boxes, results, and their removal.

The cases (cases.py, peers.py) and the guest agent's measurement (agent.py) all take
a Bench; none of them is imported here, so dependencies point one way:
cases, peers, agent -> context.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .harness import CaseResult, LineupResult, run, say
from .install import Install, clean_env, install
from .store import Store

STATE_BASE = "/run/crossbox/containers"  # crossbox's state directories, rootful (crossbox.host.state)
# The cases against the raw tools (B1..B7, in the JSON's "cases"), and crossbox beside its
# peers toolbox and distrobox (P1..P3, in the JSON's "peers").
ALL_CASES = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9")
PEER_CASES = ("P1", "P2", "P3")
FAST_CASES = ("B1", "B6", "B7", "P1")  # under a second a round: more rounds cost little
# B1's bound (1.25) is tight for a ratio whose pairs spread from about 0.8 to 1.7 on this kind of
# machine (seen 2026-12-06: two 40-pair runs of one build gave medians 1.39 and 1.23; two 60-pair
# runs of another, 1.20 and 1.21), so it takes 60 pairs, about 20 s.
TIGHT_CASES = ("B1",)
BUILD_CASES = ("B8", "B9")  # real builds, 10 to 40 s a pair


@dataclass
class Options:
    pairs: int | None = None  # counted pairs (rounds) per case; None: 20 for the fast cases, 10 for the others
    warmup: int = 1
    list_n: int = 50  # containers for B6
    data_mb: int = 64  # size of B5's file
    agent_starts: int = 10  # counted starts of the guest agent
    # The image's own Python under emulation needs a Debian arm64 image with python3 (3 to 5 minutes to
    # build once, then cached): "auto" uses it when cached, "yes" builds it if needed, "no" skips.
    emulated_python: str = "auto"
    native_emulated: int = 1  # runs of B8's and B9's fully emulated build (minutes each); 0 skips it
    # `python -m bench` asks for ALL_CASES + PEER_CASES by default; a caller of run() gets the B cases
    # unless it names the peers too.
    cases: Sequence[str] = ALL_CASES

    def pairs_for(self, case_id: str) -> int:
        if self.pairs is not None:
            return self.pairs
        if case_id in TIGHT_CASES:
            return 60
        return 20 if case_id in FAST_CASES else 5 if case_id in BUILD_CASES else 10


@dataclass
class Bench:
    """Everything one benchmark run made, so that all of it is removed again."""

    bed: Any  # tests/bed's Bed, started
    opts: Options
    work: Path = field(init=False)
    prefix: str = field(init=False)
    inst: Install = field(init=False)
    store: Store = field(init=False)
    stores: list[Store] = field(default_factory=list)
    made: list[tuple[Store, str]] = field(default_factory=list)  # crossbox containers, for `crossbox rm`
    results: list[CaseResult] = field(default_factory=list)
    peer_results: list[LineupResult] = field(default_factory=list)
    peer_setup: dict[str, Any] = field(default_factory=dict)  # what the peers' set-up found and did
    agent_report: dict[str, Any] = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)  # run first at teardown, last added first
    _warm_box: str | None = None
    _cold_box: str | None = None

    # -- set-up and tear-down ------------------------------------------------------------------
    def setup(self) -> None:
        self.work = self.bed.workdir / "bench"
        self.work.mkdir(parents=True, exist_ok=True)
        self.work.chmod(0o755)
        self.prefix = f"{self.bed.name_prefix}bench-"
        self.inst = install(self.work / "venv")
        self.store = self.new_store("main")

    def new_store(self, name: str) -> Store:
        base = clean_env(self.bed.root_env())
        store = Store(self.work / f"store-{name}", base, self.bed.containers_conf.read_text())
        self.stores.append(store)
        store.check_isolated()
        return store

    def teardown(self) -> None:
        for cleanup in reversed(self.cleanups):
            with contextlib.suppress(Exception):
                cleanup()
        by_store: dict[int, list[str]] = {}
        for store, name in self.made:
            by_store.setdefault(id(store), []).append(name)
        for store in self.stores:
            with contextlib.suppress(Exception):
                present = set(store.podman("ps", "--all", "--format", "{{.Names}}").stdout.split())
                names = [n for n in dict.fromkeys(by_store.get(id(store), [])) if n in present]
                if names:  # crossbox rm also removes their state directories
                    run([self.inst.crossbox, "rm", "--force", *names], store.env, expect=None, cwd=str(self.work))
            store.destroy()
        for _, name in self.made:  # whatever a failed run left of crossbox's per-container state
            shutil.rmtree(os.path.join(STATE_BASE, name), ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def cwd(self) -> str:
        return str(self.work)

    def xb(self, *args: str) -> list[str]:
        return [self.inst.crossbox, *args]

    def crossbox(self, store: Store, *args: str) -> None:
        run(self.xb(*args), store.env, cwd=self.cwd)

    def create(self, store: Store, name: str, image: str, *, log_level: str | None = None,
               extra: Sequence[str] = ()) -> None:
        self.made.append((store, name))
        level = ["--log-level", log_level] if log_level else []
        self.crossbox(store, *level, "-y", "create", "--arch", "arm64", "--image", image, *extra, name)

    def image(self, key: str) -> str:
        return str(self.bed.images[key])

    def warm_box(self) -> str:
        """A running arm64 crossbox container (B1, B5)."""
        if self._warm_box is None:
            name = f"{self.prefix}warm"
            self.create(self.store, name, self.image("multi"))
            self.crossbox(self.store, "run", "-c", name, "true")
            self._warm_box = name
        return self._warm_box

    def cold_box(self) -> str:
        """An arm64 crossbox container made at log level info, so that its agent logs `ready` (B2)."""
        if self._cold_box is None:
            name = f"{self.prefix}cold"
            self.create(self.store, name, self.image("multi"), log_level="info")
            self._cold_box = name
        return self._cold_box

    def podman_argv_of(self, store: Store, marker: str, *args: str) -> list[str] | None:
        """The podman command line crossbox runs for ``args``, from its debug log (last line with ``marker``)."""
        done = run(self.xb("--log-level", "debug", *args), store.env, cwd=self.cwd)
        lines = [line.split(marker, 1)[1] for line in done.stderr.splitlines() if marker in line]
        if not lines:
            say(f"no `{marker.strip()}` line in crossbox's debug log; that reference is left out")
            return None
        return shlex.split(lines[-1])

    def stop(self, store: Store, name: str) -> Callable[[int], None]:
        def before(_: int) -> None:
            store.podman("stop", "--time", "0", name)
        return before

    def add(self, result: CaseResult) -> None:
        self.results.append(result)
