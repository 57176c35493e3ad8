"""Where crossbox's time goes: the measurements behind bench/ANALYSIS.md.

    PYTHONPATH=tests .venv/bin/python -m bench.analyse [--rounds N]

On a test bed and in the benchmark's own storage, like `make bench`, it times
(interleaved, medians of N rounds) the pieces of the missed cases: the launcher's
start-up and imports, crossbox's hot path for `crossbox run` (cli.hot_session,
which skips argparse) piece by piece, the guest agent's boot imports, the podman and skopeo calls inside
`crossbox create` (through PATH shims that log each call's wall time), and
`podman start` of a crossbox container against a plain one. Nothing here
changes crossbox; it only runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import stat
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .context import Bench, Options
from .harness import run, say, time_commands

SHIM = """#!/bin/sh
start=$(date +%s%N)
"{real}" "$@"
rc=$?
end=$(date +%s%N)
printf '%s %s %s\\n' "$(( (end - start) / 1000 ))" "{tool}" "$*" >> "{log}"
exit $rc
"""


def interleaved(commands: dict[str, list[str]], env: dict[str, str], cwd: str, rounds: int,
                expect: dict[str, int] | None = None) -> dict[str, float]:
    """Median wall ms of each command, run in turn each round after one warm-up round."""
    times: dict[str, list[float]] = {k: [] for k in commands}
    for i in range(rounds + 1):
        for key, argv in commands.items():
            ms = time_commands([argv], env, cwd=cwd, expect=(expect or {}).get(key, 0))
            if i:
                times[key].append(ms)
    return {k: round(statistics.median(v), 1) for k, v in times.items()}


def show(title: str, medians: dict[str, float], base: str | None = None) -> None:
    print(f"\n## {title}")
    ref = medians.get(base) if base else None
    for key, ms in medians.items():
        extra = f"  (+{ms - ref:.1f})" if ref is not None and key != base else ""
        print(f"  {ms:8.1f} ms  {key}{extra}")


def launcher(bench: Bench, rounds: int, box: str) -> None:
    py, xb = bench.inst.python, bench.inst.crossbox
    env = bench.store.env
    stmts = {
        "python -c pass": "pass",
        "+ import re (pip's console-script wrapper does)": "import re",
        "+ import argparse": "import argparse",
        "+ import dataclasses": "import dataclasses",
        "+ import typing": "import typing",
        "+ import subprocess": "import subprocess",
        "+ import crossbox.host.cli": "import crossbox.host.cli",
        "+ parser.build_parser()": "from crossbox.host.parser import build_parser; build_parser()",
        "+ import cli, commands.run (the hot path)": "import crossbox.host.cli, crossbox.host.commands.run",
        "+ import cli, commands.create": "import crossbox.host.cli, crossbox.host.commands.create",
        "+ import cli, commands.list": "import crossbox.host.cli, crossbox.host.commands.list",
        "+ import elftools.elf.elffile": "import elftools.elf.elffile",
        "+ import structlog": "import structlog",
    }
    cmds = {k: [py, "-c", v] for k, v in stmts.items()}
    cmds["crossbox --version (the launcher)"] = [xb, "--version"]
    show("launcher start-up and imports (python of the real install)", interleaved(cmds, env, bench.cwd, rounds),
         "python -c pass")

    # crossbox's own hot path (cli.hot_session -> commands.run.run_if_ready) with less and less around it.
    hot = f"from crossbox.host.commands.run import run_if_ready; run_if_ready({box!r}, ['true'])"
    cmds = {
        "podman exec BOX true": ["podman", "exec", box, "true"],
        "podman exec, crossbox's arguments": [*(bench.podman_argv_of(bench.store, "] session ", "run", "-c", box,
                                                                     "true") or ["podman", "exec", box, "true"])],
        "crossbox run -c BOX true (the launcher)": [xb, "run", "-c", box, "true"],
        "python -c: import crossbox.host.cli, then the hot path": [py, "-c", "import crossbox.host.cli;" + hot],
        "python -c: import re (as pip's wrapper), then the hot path": [py, "-c", "import re;" + hot],
        "python -c: the hot path alone (the floor of a Python launcher)": [py, "-c", hot],
    }
    show("B1's hot path: crossbox run on a running container", interleaved(cmds, env, bench.cwd, rounds),
         "podman exec BOX true")


def guest_boot(bench: Bench, rounds: int) -> None:
    from . import agent

    plan = agent._native_plan(bench)
    raw = plan["argv"]
    prefix = raw[: raw.index(plan["boot_code"])]
    lib = plan["host_lib"]
    code = {
        "loader + python -I -S -B -c pass": "pass",
        "+ import dataclasses": "import dataclasses",
        "+ import traceback": "import traceback",
        "+ import crossbox.shared.arch": f"import sys;sys.path.insert(0,{lib!r});import crossbox.shared.arch",
        "+ import crossbox.shared.contract": f"import sys;sys.path.insert(0,{lib!r});import crossbox.shared.contract",
        "BOOT_CODE (imports crossbox.guest.main)": agent._host_code(plan["boot_code"], plan),
        "+ set-up imports (register, users, hostfiles, ctypes)": agent._host_code(agent.IMPORT_CODE, plan),
    }
    cmds = {k: [*prefix, v, *(["--bogus"] if k.startswith("BOOT") else [])] for k, v in code.items()}
    show("guest agent boot, natively (as in the container, on the host)",
         interleaved(cmds, bench.store.env, bench.cwd, rounds, {"BOOT_CODE (imports crossbox.guest.main)": 2}),
         "loader + python -I -S -B -c pass")


def shims(bench: Bench) -> tuple[dict[str, str], Path]:
    """An environment whose podman and skopeo log each call's wall time."""
    d = bench.work / "shims"
    d.mkdir(exist_ok=True)
    log = bench.work / "shims.log"
    for tool in ("podman", "skopeo"):
        real = next(p for p in ("/usr/bin/" + tool, "/bin/" + tool) if os.path.exists(p))
        path = d / tool
        path.write_text(SHIM.format(real=real, tool=tool, log=log))
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    env = {**bench.store.env, "PATH": f"{d}:{bench.store.env.get('PATH', '/usr/bin:/bin')}"}
    return env, log


def calls(bench: Bench, title: str, argv: list[str], env: dict[str, str], log: Path,
          after: Sequence[list[str]] = ()) -> None:
    log.write_text("")
    started = time.perf_counter()
    run(argv, env, cwd=bench.cwd)
    total = (time.perf_counter() - started) * 1000
    rows = [line.split(" ", 2) for line in log.read_text().splitlines()]
    tools = sum(int(us) for us, _, _ in rows) / 1000
    print(f"\n## {title}: {total:.0f} ms in all, {tools:.0f} ms in podman/skopeo, {total - tools:.0f} ms in crossbox")
    for us, tool, args in rows:
        print(f"  {int(us) / 1000:8.1f} ms  {tool} {args[:110]}")
    for cmd in after:
        run(cmd, bench.store.env, cwd=bench.cwd, expect=None)


def create_calls(bench: Bench, pull_rounds: int) -> None:
    env, log = shims(bench)
    multi = bench.image("multi")
    name = f"{bench.prefix}analyse"
    bench.made.append((bench.store, name))
    calls(bench, "crossbox create, image local (B3)", bench.xb("create", "--arch", "arm64", "--image", multi, name),
          env, log, [bench.xb("rm", "--force", name)])
    debian = bench.image("debian-arm64")
    local = f"{debian}-arm64"
    conf = bench.store.env["CONTAINERS_REGISTRIES_CONF"]
    scratch = f"{bench.prefix}analyse-scratch"
    # As in B4: the same removal (a container of the image, then the image) before either side.
    reset = [["podman", "create", "--name", scratch, local], ["podman", "rm", "--force", scratch],
             ["podman", "rmi", "--force", local]]
    run(["podman", "rmi", "--force", local], bench.store.env, expect=None)
    for i in range(pull_rounds):
        calls(bench, f"B4's baseline, round {i + 1}",
              ["skopeo", "--registries-conf", conf, "copy", "--quiet", "--override-os", "linux", "--override-arch",
               "arm64", f"docker://{debian}", f"containers-storage:{local}"], env, log, reset)
        calls(bench, f"crossbox -y create, image not local (B4), round {i + 1}",
              bench.xb("-y", "create", "--arch", "arm64", "--image", debian, name), env, log,
              [bench.xb("rm", "--force", name), ["podman", "rmi", "--force", local]])
    box = bench.warm_box()
    calls(bench, "crossbox run -c BOX true, running (B1)", bench.xb("run", "-c", box, "true"), env, log)
    cold = bench.cold_box()
    run(["podman", "stop", "--time", "0", cold], bench.store.env)
    calls(bench, "crossbox run -c BOX true, stopped (B2)", bench.xb("run", "-c", cold, "true"), env, log)


def cold_start(bench: Bench, rounds: int) -> None:
    """podman start alone: a crossbox container (agent starts in the background) against a plain one."""
    cold = bench.cold_box()
    plain = f"{bench.prefix}plain-analyse"
    multi = bench.image("multi")
    bench.store.podman("pull", "--quiet", multi)
    bench.store.podman("create", "--name", plain, multi, "sleep", "1000000")
    plain_auto = f"{bench.prefix}plain-auto"
    # (sysfs cannot be mounted afresh in a user namespace on the host network: crossbox binds it too)
    bench.store.podman("create", "--name", plain_auto, "--userns", "auto", "--privileged", "--network", "host",
                       "--volume", "/sys:/sys:rslave", multi, "sleep", "1000000")
    times: dict[str, list[float]] = {"podman start BOX (crossbox's container)": [],
                                     "podman start CTR (plain)": [],
                                     "podman start CTR (--userns auto --privileged --network host -v /sys)": []}
    names = [cold, plain, plain_auto]
    for i in range(rounds + 1):
        for key, name in zip(times, names, strict=True):
            bench.store.podman("stop", "--time", "0", name)
            ms = time_commands([["podman", "start", name]], bench.store.env, cwd=bench.cwd)
            if i:
                times[key].append(ms)
    for name in names:
        bench.store.podman("stop", "--time", "0", name)
    bench.store.podman("rm", "--force", plain, plain_auto)
    show("B2's podman start", {k: round(statistics.median(v), 1) for k, v in times.items()},
         "podman start CTR (plain)")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.analyse", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--pull-rounds", type=int, default=3, help="rounds of B4's decomposition (about 20 s each)")
    args = p.parse_args(argv)
    from bed.bed import Bed, new_workdir

    bed = Bed(new_workdir())
    try:
        bed.start(with_debian=True, with_tester=False)
        bench = Bench(bed, Options(emulated_python="no"))
        try:
            bench.setup()
            box = bench.warm_box()
            print(f"# crossbox analysis, {time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f}, "
                  f"medians of {args.rounds} interleaved rounds")
            launcher(bench, args.rounds, box)
            guest_boot(bench, args.rounds)
            cold_start(bench, args.rounds)
            create_calls(bench, args.pull_rounds)
            print(f"\n(load average at the end {os.getloadavg()[0]:.2f}; installed crossbox: "
                  f"{shlex.quote(bench.inst.crossbox)}; {json.dumps(sys.version.split()[0])})")
        finally:
            bench.teardown()
    finally:
        bed.stop()
    return 0


if __name__ == "__main__":
    say("analysis: starting a test bed")
    sys.exit(main(sys.argv[1:]))
