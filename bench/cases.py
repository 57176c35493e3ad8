"""The cases B1..B7 of the benchmark issue, and the guest agent's start-up, on a test bed."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import shutil
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import agent
from .harness import BenchError, CaseResult, Side, run, run_pairs, say
from .install import Install, clean_env, install
from .store import Store

STATE_BASE = "/run/crossbox/containers"  # crossbox's state directories, rootful (crossbox.host.state)
ALL_CASES = ("B1", "B2", "B3", "B4", "B5", "B6", "B7")
FAST_CASES = ("B1", "B6", "B7")  # under a second a pair: more pairs cost little
TARGETS: dict[str, float | None] = {"B1": 1.25, "B2": 1.5, "B3": 1.2, "B4": 1.1, "B5": 1.05, "B6": 1.3, "B7": None}


@dataclass
class Options:
    pairs: int | None = None  # counted pairs per case; None: 20 for the fast cases, 10 for the others
    warmup: int = 1
    list_n: int = 50  # containers for B6
    data_mb: int = 64  # size of B5's file
    agent_starts: int = 10  # counted starts of the guest agent
    # The image's own Python under emulation needs a Debian arm64 image with python3 (3 to 5 minutes to
    # build once, then cached): "auto" uses it when cached, "yes" builds it if needed, "no" skips.
    emulated_python: str = "auto"
    cases: Sequence[str] = ALL_CASES

    def pairs_for(self, case_id: str) -> int:
        if self.pairs is not None:
            return self.pairs
        return 20 if case_id in FAST_CASES else 10


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
    agent_report: dict[str, Any] = field(default_factory=dict)
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

    def create(self, store: Store, name: str, image: str, *, log_level: str | None = None) -> None:
        self.made.append((store, name))
        level = ["--log-level", log_level] if log_level else []
        self.crossbox(store, *level, "-y", "create", "--arch", "arm64", "--image", image, name)

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

    # -- the cases -------------------------------------------------------------------------------
    def b1_warm_run(self) -> None:
        box = self.warm_box()
        env = self.store.env
        refs = []
        execed = self.podman_argv_of(self.store, "] exec ", "run", "-c", box, "true")
        if execed:
            refs.append((Side("podman exec with the arguments crossbox passes (" + shlex.join(execed[2:-2]) + ")",
                              lambda _: [execed], env),
                         "what crossbox execs: the rest of A is crossbox's own start."))
        self.add(run_pairs(
            "B1", "warm run",
            Side("crossbox run -c BOX true", lambda _: [self.xb("run", "-c", box, "true")], env),
            Side("podman exec BOX true", lambda _: [["podman", "exec", box, "true"]], env),
            pairs=self.opts.pairs_for("B1"), warmup=self.opts.warmup, cwd=self.cwd, target=TARGETS["B1"],
            note="BOX is a running arm64 crossbox container of the bed's `multi` index.", references=refs))

    def b2_cold_enter(self) -> None:
        box = self.cold_box()
        plain = f"{self.prefix}plain"
        multi = self.image("multi")
        self.store.podman("pull", "--quiet", multi)  # the host's (amd64) member of the index
        self.store.podman("create", "--name", plain, multi, "sleep", "1000000")
        env = self.store.env
        self.add(run_pairs(
            "B2", "cold enter",
            Side("crossbox run -c BOX true (BOX stopped)", lambda _: [self.xb("run", "-c", box, "true")], env,
                 before=self.stop(self.store, box)),
            Side("podman start CTR && podman exec CTR true (CTR stopped)",
                 lambda _: [["podman", "start", plain], ["podman", "exec", plain, "true"]], env,
                 before=self.stop(self.store, plain)),
            pairs=self.opts.pairs_for("B2"), warmup=self.opts.warmup, cwd=self.cwd, target=TARGETS["B2"],
            note=("BOX: arm64 crossbox container of `multi`, stopped (untimed `podman stop -t 0`) before each run: "
                  "start, agent set-up and registration, exec. CTR: a plain `podman create` container of the same "
                  "index's native amd64 image running `sleep` (a plain arm64 container cannot run anything here: "
                  "the host has no binfmt_misc entry), default podman options, so its start includes the bridge "
                  "network's set-up, which crossbox's host-network containers skip.")))
        self.store.podman("stop", "--time", "0", box)
        self.store.podman("rm", "--force", "--time", "0", plain)

    def b3_create_local(self) -> None:
        self.warm_box()  # the arm64 image is local from here on
        multi = self.image("multi")
        local = f"{multi}-arm64"
        a_name, b_name = f"{self.prefix}create-a", f"{self.prefix}create-b"
        env = self.store.env
        self.made.append((self.store, a_name))

        def rm_a(_: int) -> None:
            run(self.xb("rm", "--force", a_name), env, cwd=self.cwd)

        def rm_b(_: int) -> None:
            self.store.podman("rm", "--force", b_name)

        refs = []
        created = self.podman_argv_of(self.store, "] + podman create ", "create", "--arch", "arm64", "--image", multi,
                                      a_name)
        rm_a(0)
        if created:
            c_name = f"{self.prefix}create-c"
            state = self.work / "create-c-state"
            state.mkdir(exist_ok=True)
            c_argv = ["podman", "create", *(arg.replace(f"/run/crossbox/containers/{a_name}/box:", f"{state}:")
                                            .replace(a_name, c_name) for arg in created)]

            def rm_c(_: int) -> None:
                self.store.podman("rm", "--force", c_name)

            refs.append((Side("podman create with every argument crossbox passes", lambda _: [c_argv], env,
                              after=rm_c),
                         "podman's share of A: the rest of A is crossbox's own start, imports and checks."))

        self.add(run_pairs(
            "B3", "create, image local",
            Side("crossbox create --arch arm64 --image IMAGE NAME",
                 lambda _: [self.xb("create", "--arch", "arm64", "--image", multi, a_name)], env, after=rm_a),
            Side("podman create --name NAME IMAGE-arm64", lambda _: [["podman", "create", "--name", b_name, local]],
                 env, after=rm_b),
            pairs=self.opts.pairs_for("B3"), warmup=self.opts.warmup, cwd=self.cwd, target=TARGETS["B3"],
            note=("IMAGE is `multi`; its arm64 image is local under crossbox's name IMAGE-arm64, which podman "
                  "creates from. Each container is removed (untimed) after its run."), references=refs))

    def b4_pull(self) -> None:
        ref = self.image("debian-arm64")
        local = f"{ref}-arm64"
        name, scratch = f"{self.prefix}pull", f"{self.prefix}pull-scratch"
        env = self.store.env
        conf = env["CONTAINERS_REGISTRIES_CONF"]
        self.made.append((self.store, name))

        def reset(_: int) -> None:
            """The same clean-up before either side: a container of the image is removed, then the image.

            On this machine a copy that follows the removal of an image nothing was ever created
            from spends two to three times the kernel time of one that follows a container's
            removal (measured; outside crossbox). A leaves a container and B does not, so B's
            image gets a scratch container too, and both sides start from the same history.
            """
            if run(["podman", "image", "exists", local], env, expect=None).returncode != 0:
                return
            if run(["podman", "container", "exists", name], env, expect=None).returncode == 0:
                run(self.xb("rm", "--force", name), env, cwd=self.cwd)
            else:
                self.store.podman("create", "--name", scratch, local)
                self.store.podman("rm", "--force", scratch)
            self.store.podman("rmi", "--force", local)

        reset(0)
        self.add(run_pairs(
            "B4", "pull",
            Side("crossbox -y create --arch arm64 --image DEBIAN NAME (image not local)",
                 lambda _: [self.xb("-y", "create", "--arch", "arm64", "--image", ref, name)], env, before=reset),
            Side("skopeo --registries-conf CONF copy --quiet --override-os linux --override-arch arm64 "
                 "docker://DEBIAN containers-storage:DEBIAN-arm64",
                 lambda _: [["skopeo", "--registries-conf", conf, "copy", "--quiet", "--override-os", "linux",
                             "--override-arch", "arm64", f"docker://{ref}", f"containers-storage:{local}"]],
                 env, before=reset),
            pairs=self.opts.pairs_for("B4"), warmup=self.opts.warmup, cwd=self.cwd, target=TARGETS["B4"],
            note=("DEBIAN is the bed's Debian bookworm arm64 image (about 200 MB, served on 127.0.0.1); A also "
                  "creates the container (crossbox's `podman create --userns auto` of a fresh 200 MB image). "
                  "Before every run, untimed and the same for both sides, a container of the image is removed, "
                  "then the image, so each run copies every layer from the same storage history.")))
        reset(0)

    def b5_emulated_work(self) -> None:
        box = self.warm_box()
        data = self.work / f"data-{self.opts.data_mb}M"
        with open(data, "wb") as f:
            for _ in range(self.opts.data_mb):
                f.write(os.urandom(1 << 20))
        data.chmod(0o644)
        busybox = self.work / "busybox-arm64"
        self._extract_busybox(busybox)
        qemu = shutil.which("qemu-aarch64-static") or "/usr/bin/qemu-aarch64-static"
        inside = f"/run/host{data}"
        env = self.store.env
        want = hashlib.sha256(data.read_bytes()).hexdigest()
        for argv in (self.xb("run", "-c", box, "sha256sum", inside), [qemu, str(busybox), "sha256sum", str(data)]):
            got = run(argv, env, cwd=self.cwd).stdout.split()[:1]
            if got != [want]:
                raise BenchError(f"{argv} printed {got}, not the file's sha256 {want}")
        self.add(run_pairs(
            "B5", "emulated work",
            Side(f"crossbox run -c BOX sha256sum /run/host/FILE ({self.opts.data_mb} MB)",
                 lambda _: [self.xb("run", "-c", box, "sha256sum", inside)], env),
            Side("qemu-aarch64-static ./busybox sha256sum FILE",
                 lambda _: [[qemu, str(busybox), "sha256sum", str(data)]], env),
            pairs=self.opts.pairs_for("B5"), warmup=self.opts.warmup, cwd=self.cwd, target=TARGETS["B5"],
            references=[(Side("podman exec BOX sha256sum /run/host/FILE",
                              lambda _: [["podman", "exec", box, "sha256sum", inside]], env),
                         "the same work in the same container without crossbox: what any podman-based launcher "
                         "pays.")],
            note=("The same arm64 busybox (from the bed's busybox-static arm64 image) hashes the same random file; "
                  "the container reads it through the host root bind-mounted at /run/host. A includes `crossbox "
                  "run`'s own start (see B1).")))
        data.unlink()

    def _extract_busybox(self, out: Path) -> None:
        from bed import images

        tar_path = images.busybox_rootfses()["arm64"]
        with tarfile.open(tar_path) as tar:
            member = tar.extractfile("./bin/busybox")
            if member is None:
                raise BenchError(f"{tar_path} has no ./bin/busybox")
            out.write_bytes(member.read())
        out.chmod(0o755)

    def b6_list_scaling(self) -> None:
        n = self.opts.list_n
        many, one = self.new_store("list-many"), self.new_store("list-one")
        multi = self.image("multi")
        started = time.monotonic()
        self.create(many, f"{self.prefix}list-{0:02d}", multi)  # pulls the image into that storage
        self.create(one, f"{self.prefix}list-one", multi)
        # One at a time: concurrent `podman create --userns auto` in one storage can deadlock podman 4.3
        # (seen here: three creates stuck for minutes on c/storage's userns, layers and images locks).
        for i in range(1, n):
            self.create(many, f"{self.prefix}list-{i:02d}", multi)
        counted = run(["podman", "ps", "--all", "--quiet"], many.env).stdout.split()
        if len(counted) != n:
            raise BenchError(f"the list storage holds {len(counted)} containers, not {n}")
        say(f"B6: {n} containers created in {time.monotonic() - started:.0f} s")
        self.add(run_pairs(
            "B6", "list scaling",
            Side(f"crossbox list ({n} containers)", lambda _: [self.xb("list")], many.env),
            Side("crossbox list (1 container)", lambda _: [self.xb("list")], one.env),
            pairs=self.opts.pairs_for("B6"), warmup=self.opts.warmup, cwd=self.cwd, target=TARGETS["B6"],
            note=(f"Two storages of the benchmark's own, one with {n} arm64 crossbox containers of `multi`, one with "
                  "1; both hold the one image. `crossbox list` shows containers and images.")))

    def b7_startup(self) -> None:
        env = self.store.env
        self.add(run_pairs(
            "B7", "start-up",
            Side("crossbox --version", lambda _: [self.xb("--version")], env),
            Side("python -c pass (the same interpreter)", lambda _: [[self.inst.python, "-c", "pass"]], env),
            pairs=self.opts.pairs_for("B7"), warmup=self.opts.warmup, cwd=self.cwd, target=TARGETS["B7"],
            note=("`crossbox` is the console script of a real install (bytecode compiled); the baseline is its "
                  "interpreter doing nothing.")))

    # -- the guest agent ---------------------------------------------------------------------------
    def agent(self) -> None:
        self.agent_report = agent.measure(self)

    def run_all(self) -> None:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("B7", self.b7_startup), ("B1", self.b1_warm_run), ("B5", self.b5_emulated_work),
            ("B2", self.b2_cold_enter), ("B3", self.b3_create_local), ("B4", self.b4_pull),
            ("B6", self.b6_list_scaling),
        ]
        for case_id, step in steps:
            if case_id in self.opts.cases:
                say(f"{case_id} ...")
                step()
        self.agent()
        self.results.sort(key=lambda r: r.id)
