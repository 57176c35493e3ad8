"""The cases B1..B7 of the benchmark issue: crossbox against the raw tool underneath, on a test bed."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from .context import Bench
from .harness import BenchError, Side, run, run_pairs, say

# B3: issue 13 set 2.0 for a create with the image local (the first benchmarks' 1.2 asked a
# Python launcher to add 20 % to a 100 ms `podman create`; its interpreter's start alone is ~25 %).
TARGETS: dict[str, float | None] = {"B1": 1.25, "B2": 1.5, "B3": 2.0, "B4": 1.1, "B5": 1.05, "B6": 1.3, "B7": None}


def b1_warm_run(bench: Bench) -> None:
    box = bench.warm_box()
    env = bench.store.env
    refs = []
    execed = bench.podman_argv_of(bench.store, "] session ", "run", "-c", box, "true")
    if execed:
        refs.append((Side("podman exec with the arguments crossbox passes (" + shlex.join(execed[2:-2]) + ")",
                          lambda _: [execed], env),
                     "what crossbox execs: the rest of A is crossbox's own start."))
    # crossbox's own part alone: the same command with a `podman` that does nothing (/bin/true).
    noop = bench.work / "noop-podman"
    noop.mkdir(exist_ok=True)
    (noop / "podman").unlink(missing_ok=True)
    (noop / "podman").symlink_to("/bin/true")
    noop_env = {**env, "PATH": f"{noop}:{env.get('PATH', os.defpath)}"}
    refs.append((Side("crossbox run -c BOX true, podman replaced by /bin/true",
                      lambda _: [bench.xb("run", "-c", box, "true")], noop_env),
                 "crossbox's own part of A (interpreter, imports, the readiness check, the fork), without podman."))
    bench.add(run_pairs(
        "B1", "warm run",
        Side("crossbox run -c BOX true", lambda _: [bench.xb("run", "-c", box, "true")], env),
        Side("podman exec BOX true", lambda _: [["podman", "exec", box, "true"]], env),
        pairs=bench.opts.pairs_for("B1"), warmup=bench.opts.warmup, cwd=bench.cwd, target=TARGETS["B1"],
        note="BOX is a running arm64 crossbox container of the bed's `multi` index.", references=refs))


def b2_cold_enter(bench: Bench) -> None:
    box = bench.cold_box()
    plain = f"{bench.prefix}plain"
    multi = bench.image("multi")
    bench.store.podman("pull", "--quiet", multi)  # the host's (amd64) member of the index
    bench.store.podman("create", "--name", plain, multi, "sleep", "1000000")
    env = bench.store.env
    bench.add(run_pairs(
        "B2", "cold enter",
        Side("crossbox run -c BOX true (BOX stopped)", lambda _: [bench.xb("run", "-c", box, "true")], env,
             before=bench.stop(bench.store, box)),
        Side("podman start CTR && podman exec CTR true (CTR stopped)",
             lambda _: [["podman", "start", plain], ["podman", "exec", plain, "true"]], env,
             before=bench.stop(bench.store, plain)),
        pairs=bench.opts.pairs_for("B2"), warmup=bench.opts.warmup, cwd=bench.cwd, target=TARGETS["B2"],
        note=("BOX: arm64 crossbox container of `multi`, stopped (untimed `podman stop -t 0`) before each run: "
              "start, agent set-up and registration, exec. CTR: a plain `podman create` container of the same "
              "index's native amd64 image running `sleep` (a plain arm64 container cannot run anything here: "
              "the host has no binfmt_misc entry), default podman options, so its start includes the bridge "
              "network's set-up, which crossbox's host-network containers skip.")))
    bench.store.podman("stop", "--time", "0", box)
    bench.store.podman("rm", "--force", "--time", "0", plain)


def b3_create_local(bench: Bench) -> None:
    bench.warm_box()  # the arm64 image is local from here on
    multi = bench.image("multi")
    local = f"{multi}-arm64"
    a_name, b_name = f"{bench.prefix}create-a", f"{bench.prefix}create-b"
    env = bench.store.env
    bench.made.append((bench.store, a_name))

    def rm_a(_: int) -> None:
        run(bench.xb("rm", "--force", a_name), env, cwd=bench.cwd)

    def rm_b(_: int) -> None:
        bench.store.podman("rm", "--force", b_name)

    refs = []
    created = bench.podman_argv_of(bench.store, "] + podman create ", "create", "--arch", "arm64", "--image", multi,
                                   a_name)
    rm_a(0)
    if created:
        c_name = f"{bench.prefix}create-c"
        state = bench.work / "create-c-state"
        state.mkdir(exist_ok=True)
        c_argv = ["podman", "create", *(arg.replace(f"/run/crossbox/containers/{a_name}/box:", f"{state}:")
                                        .replace(a_name, c_name) for arg in created)]

        def rm_c(_: int) -> None:
            bench.store.podman("rm", "--force", c_name)

        refs.append((Side("podman create with every argument crossbox passes", lambda _: [c_argv], env,
                          after=rm_c),
                     "podman's share of A: the rest of A is crossbox's own start, imports and checks."))

    bench.add(run_pairs(
        "B3", "create, image local",
        Side("crossbox create --arch arm64 --image IMAGE NAME",
             lambda _: [bench.xb("create", "--arch", "arm64", "--image", multi, a_name)], env, after=rm_a),
        Side("podman create --name NAME IMAGE-arm64", lambda _: [["podman", "create", "--name", b_name, local]],
             env, after=rm_b),
        pairs=bench.opts.pairs_for("B3"), warmup=bench.opts.warmup, cwd=bench.cwd, target=TARGETS["B3"],
        note=("IMAGE is `multi`; its arm64 image is local under crossbox's name IMAGE-arm64, which podman "
              "creates from. Each container is removed (untimed) after its run."), references=refs))


def b4_pull(bench: Bench) -> None:
    ref = bench.image("debian-arm64")
    local = f"{ref}-arm64"
    name, scratch = f"{bench.prefix}pull", f"{bench.prefix}pull-scratch"
    env = bench.store.env
    conf = env["CONTAINERS_REGISTRIES_CONF"]
    bench.made.append((bench.store, name))

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
            run(bench.xb("rm", "--force", name), env, cwd=bench.cwd)
        else:
            bench.store.podman("create", "--name", scratch, local)
            bench.store.podman("rm", "--force", scratch)
        bench.store.podman("rmi", "--force", local)

    reset(0)
    bench.add(run_pairs(
        "B4", "pull",
        Side("crossbox -y create --arch arm64 --image DEBIAN NAME (image not local)",
             lambda _: [bench.xb("-y", "create", "--arch", "arm64", "--image", ref, name)], env, before=reset),
        Side("skopeo --registries-conf CONF copy --quiet --override-os linux --override-arch arm64 "
             "docker://DEBIAN containers-storage:DEBIAN-arm64",
             lambda _: [["skopeo", "--registries-conf", conf, "copy", "--quiet", "--override-os", "linux",
                         "--override-arch", "arm64", f"docker://{ref}", f"containers-storage:{local}"]],
             env, before=reset),
        pairs=bench.opts.pairs_for("B4"), warmup=bench.opts.warmup, cwd=bench.cwd, target=TARGETS["B4"],
        note=("DEBIAN is the bed's Debian bookworm arm64 image (about 200 MB, served on 127.0.0.1); A also "
              "creates the container (crossbox's `podman create --userns auto` of a fresh 200 MB image). "
              "Before every run, untimed and the same for both sides, a container of the image is removed, "
              "then the image, so each run copies every layer from the same storage history.")))
    reset(0)


def b5_emulated_work(bench: Bench) -> None:
    box = bench.warm_box()
    data = bench.work / f"data-{bench.opts.data_mb}M"
    with open(data, "wb") as f:
        for _ in range(bench.opts.data_mb):
            f.write(os.urandom(1 << 20))
    data.chmod(0o644)
    busybox = bench.work / "busybox-arm64"
    _extract_busybox(busybox)
    qemu = shutil.which("qemu-aarch64-static") or "/usr/bin/qemu-aarch64-static"
    inside = f"/run/host{data}"
    env = bench.store.env
    want = hashlib.sha256(data.read_bytes()).hexdigest()
    for argv in (bench.xb("run", "-c", box, "sha256sum", inside), [qemu, str(busybox), "sha256sum", str(data)]):
        got = run(argv, env, cwd=bench.cwd).stdout.split()[:1]
        if got != [want]:
            raise BenchError(f"{argv} printed {got}, not the file's sha256 {want}")
    bench.add(run_pairs(
        "B5", "emulated work",
        Side(f"crossbox run -c BOX sha256sum /run/host/FILE ({bench.opts.data_mb} MB)",
             lambda _: [bench.xb("run", "-c", box, "sha256sum", inside)], env),
        Side("qemu-aarch64-static ./busybox sha256sum FILE",
             lambda _: [[qemu, str(busybox), "sha256sum", str(data)]], env),
        pairs=bench.opts.pairs_for("B5"), warmup=bench.opts.warmup, cwd=bench.cwd, target=TARGETS["B5"],
        references=[(Side("podman exec BOX sha256sum /run/host/FILE",
                          lambda _: [["podman", "exec", box, "sha256sum", inside]], env),
                     "the same work in the same container without crossbox: what any podman-based launcher "
                     "pays.")],
        note=("The same arm64 busybox (from the bed's busybox-static arm64 image) hashes the same random file; "
              "the container reads it through the host root bind-mounted at /run/host. A includes `crossbox "
              "run`'s own start (see B1).")))
    data.unlink()


def _extract_busybox(out: Path) -> None:
    from bed import images

    tar_path = images.busybox_rootfses()["arm64"]
    with tarfile.open(tar_path) as tar:
        member = tar.extractfile("./bin/busybox")
        if member is None:
            raise BenchError(f"{tar_path} has no ./bin/busybox")
        out.write_bytes(member.read())
    out.chmod(0o755)


def b6_list_scaling(bench: Bench) -> None:
    n = bench.opts.list_n
    many, one = bench.new_store("list-many"), bench.new_store("list-one")
    multi = bench.image("multi")
    started = time.monotonic()
    bench.create(many, f"{bench.prefix}list-{0:02d}", multi)  # pulls the image into that storage
    bench.create(one, f"{bench.prefix}list-one", multi)
    # One at a time: concurrent `podman create --userns auto` in one storage can deadlock podman 4.3
    # (seen here: three creates stuck for minutes on c/storage's userns, layers and images locks).
    for i in range(1, n):
        bench.create(many, f"{bench.prefix}list-{i:02d}", multi)
    counted = run(["podman", "ps", "--all", "--quiet"], many.env).stdout.split()
    if len(counted) != n:
        raise BenchError(f"the list storage holds {len(counted)} containers, not {n}")
    say(f"B6: {n} containers created in {time.monotonic() - started:.0f} s")
    bench.add(run_pairs(
        "B6", "list scaling",
        Side(f"crossbox list ({n} containers)", lambda _: [bench.xb("list")], many.env),
        Side("crossbox list (1 container)", lambda _: [bench.xb("list")], one.env),
        pairs=bench.opts.pairs_for("B6"), warmup=bench.opts.warmup, cwd=bench.cwd, target=TARGETS["B6"],
        note=(f"Two storages of the benchmark's own, one with {n} arm64 crossbox containers of `multi`, one with "
              "1; both hold the one image. `crossbox list` shows containers and images.")))


def b7_startup(bench: Bench) -> None:
    env = bench.store.env
    bench.add(run_pairs(
        "B7", "start-up",
        Side("crossbox --version", lambda _: [bench.xb("--version")], env),
        Side("python -c pass (the same interpreter)", lambda _: [[bench.inst.python, "-c", "pass"]], env),
        pairs=bench.opts.pairs_for("B7"), warmup=bench.opts.warmup, cwd=bench.cwd, target=TARGETS["B7"],
        note=("`crossbox` is the launcher of a real install (bytecode compiled); the baseline is its "
              "interpreter doing nothing.")))


def run_cases(bench: Bench) -> None:
    """The B cases that bench.opts.cases names, in an order that reuses the boxes made early."""
    steps: list[tuple[str, Callable[[Bench], None]]] = [
        ("B7", b7_startup), ("B1", b1_warm_run), ("B5", b5_emulated_work),
        ("B2", b2_cold_enter), ("B3", b3_create_local), ("B4", b4_pull),
        ("B6", b6_list_scaling),
    ]
    for case_id, step in steps:
        if case_id in bench.opts.cases:
            say(f"{case_id} ...")
            step(bench)
