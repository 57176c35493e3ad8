"""B8 and B9: real builds in a `--native-tools` arm64 box against the same build on the host.

Each pair builds from a fresh copy of the source (unpacked untimed before each run) in a
directory of the host's /tmp, which the box shares. The fully emulated build of the same
source (the same box, CROSSBOX_NATIVE_TOOLS=0) runs after the rounds, `native_emulated`
times (once by default: it takes minutes), and is reported beside the pairs.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

from .context import Bench
from .harness import BenchError, Reference, Side, Spread, run_pairs, say, time_commands

TARGETS = {"B8": 1.5, "B9": 1.3}
EM_AARCH64 = 0xB7
HOST_CROSS_CC = "aarch64-linux-gnu-gcc"


def native_box(bench: Bench) -> str:
    """A --native-tools arm64 box of the bed's Debian image with gcc, libc6-dev and make, running."""
    name = f"{bench.prefix}native"
    if (bench.store, name) not in bench.made:
        bench.create(bench.store, name, bench.image("debian-arm64-build"), extra=("--native-tools",))
        bench.crossbox(bench.store, "run", "-c", name, "true")
    return name


def _fresh_tree(tarball: Path, where: Path) -> Callable[[int], None]:
    """Before each run (untimed): ``where`` holds a fresh copy of the source, writable by the box's user
    (a rootful box's root is an unprivileged id of the host's)."""
    def before(_: int) -> None:
        shutil.rmtree(where, ignore_errors=True)
        where.mkdir(mode=0o777)
        where.chmod(0o777)
        with tarfile.open(tarball) as tar:
            tar.extractall(where, filter="tar")
        for root, dirs, files in os.walk(where):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o777)
            for f in files:
                path = os.path.join(root, f)
                os.chmod(path, 0o777 if os.access(path, os.X_OK) else 0o666)
    return before


def _top(where: Path) -> Path:
    (top,) = [p for p in where.iterdir() if p.is_dir()]
    return top


def _check_program(where: Path, relative: str, machine: int | None) -> Callable[[int], None]:
    """After a run (untimed): the build made the program, for ``machine`` (an ELF e_machine; None: any)."""
    def after(_: int) -> None:
        program = _top(where) / relative
        try:
            head = program.read_bytes()[:20]
        except OSError:
            raise BenchError(f"the build in {where} made no {relative}") from None
        got = int.from_bytes(head[18:20], "little")
        if machine is not None and got != machine:
            raise BenchError(f"{program} is for ELF machine {got:#x}, not {machine:#x}")
    return after


def _build_case(bench: Bench, case_id: str, title: str, package: str, script: str, host_script: str,
                program: str, note: str) -> None:
    from bed import images

    box = native_box(bench)
    tarball = images.source_tarball(package)
    env = bench.store.env
    base = Path("/tmp") / f"{bench.prefix}{case_id.lower()}"
    dirs = {side: base.with_name(f"{base.name}-{side}") for side in ("box", "host", "emulated")}

    def remove_dirs() -> None:
        for d in dirs.values():
            shutil.rmtree(d, ignore_errors=True)

    bench.cleanups.append(remove_dirs)

    def in_box(where: Path, *, native: bool = True) -> list[str]:
        command = f"cd {shlex.quote(str(where))}/* && {script}"
        argv = bench.xb("run", "-c", box, "sh", "-c", command)
        return argv if native else ["env", "CROSSBOX_NATIVE_TOOLS=0", *argv]

    host = ["sh", "-c", f"cd {shlex.quote(str(dirs['host']))}/* && {host_script}"]
    result = run_pairs(
        case_id, title,
        Side(f"crossbox run -c BOX sh -c '{script}' (--native-tools)", lambda _: [in_box(dirs["box"])], env,
             before=_fresh_tree(tarball, dirs["box"]), after=_check_program(dirs["box"], program, EM_AARCH64)),
        Side(f"sh -c '{host_script}' on the host", lambda _: [host], env,
             before=_fresh_tree(tarball, dirs["host"]), after=_check_program(dirs["host"], program, None)),
        pairs=bench.opts.pairs_for(case_id), warmup=bench.opts.warmup, cwd=bench.cwd, target=TARGETS[case_id],
        note=note)
    runs = bench.opts.native_emulated
    if runs > 0:
        say(f"{case_id}: the same build fully emulated, {runs} run(s) (minutes each)")
        emulated = []
        for i in range(runs):
            _fresh_tree(tarball, dirs["emulated"])(i)
            emulated.append(time_commands([in_box(dirs["emulated"], native=False)], env, cwd=bench.cwd,
                                          timeout=3600))
            _check_program(dirs["emulated"], program, EM_AARCH64)(i)
        ms = Spread.of(emulated)
        ref = Reference(f"CROSSBOX_NATIVE_TOOLS=0 crossbox run -c BOX sh -c '{script}'", ms,
                        Spread.of([m / result.b.median for m in emulated]),
                        "the same build in the same box with the native tools off: everything emulated.",
                        rounds=f"{runs} run(s) after the pairs, to B's median")
        result = result.with_references((*result.references, ref))
    bench.add(result)
    remove_dirs()


def b8_hello(bench: Bench) -> None:
    _build_case(
        bench, "B8", "native-tools build (GNU hello)", "hello", "./configure && make", "./configure && make",
        "hello",
        "GNU hello 2.10 from the upstream tarball of Debian's source package, unpacked afresh (untimed) before "
        "every run; BOX is a `--native-tools` arm64 box of the bed's Debian bookworm image with gcc, libc6-dev "
        "and make. B builds the same source on the host with the host's own gcc. Each run's program is checked "
        "(untimed): aarch64 for A.")


def b9_lua(bench: Bench) -> None:
    _build_case(
        bench, "B9", "native-tools build (Lua make)", "lua5.4", "make",
        f"make CC={HOST_CROSS_CC} AR='{HOST_CROSS_CC[:-3]}ar rcu' RANLIB={HOST_CROSS_CC[:-3]}ranlib", "src/lua",
        "Lua 5.4.4 (a Makefile-only C project, 33 files) from the upstream tarball of Debian's source package, "
        f"unpacked afresh before every run. B builds it on the host with the host's `{HOST_CROSS_CC}` and its "
        "`ar` and `ranlib` (what the box's `cc`, `ar` and `ranlib` run): the same work, so A/B is what crossbox "
        "and the box add.")


def run_native_cases(bench: Bench) -> None:
    for case_id, step in (("B8", b8_hello), ("B9", b9_lua)):
        if case_id in bench.opts.cases:
            if shutil.which(HOST_CROSS_CC) is None:
                raise BenchError(f"{case_id} needs the host's {HOST_CROSS_CC} (apt-get install gcc-aarch64-linux-gnu)")
            say(f"{case_id} ...")
            step(bench)
