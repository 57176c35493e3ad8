"""The guest agent's start-to-ready time, and what it would be with the image's own Python.

The agent reports ``ready agent_ms=... since_exec_ms=...``: agent_ms from main()
to ready, since_exec_ms from the exec of the interpreter (from /proc, 10 ms
resolution). Interpreter start-up and the agent's imports come before main(),
so they are timed natively the way the container starts them: the host's
loader, Python and BOOT_CODE, with an argument the agent refuses right after
importing crossbox.guest.main (exit status 2). Start-to-ready is then about
boot_ms + agent_ms.

The way it is *not* done, for comparison: a Debian arm64 image with python3,
whose own interpreter runs the same imports under emulation.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

from .context import Bench
from .harness import BenchError, Spread, run, say, time_commands

READY_RE = re.compile(r"\bready\b.*?agent_ms=(?P<agent>[-\d.]+)\s+since_exec_ms=(?P<exec>[-\d.]+)")
LIB_DIR = "/run/crossbox/lib"  # crossbox.shared.contract.LIB_DIR, where the agent's package is inside
GUEST_IMPORTS = "crossbox.guest.main, crossbox.guest.register, crossbox.guest.users, crossbox.guest.hostfiles, ctypes"
IMPORT_CODE = f"import sys; sys.path.insert(0,'{LIB_DIR}'); import {GUEST_IMPORTS}"
EXIT_CONTRACT = 2  # the agent's status for arguments it does not understand

PLAN_CODE = """
import json, os
from crossbox.host.interpreter import plan_cached
from crossbox.shared import contract
p = plan_cached()
print(json.dumps({"argv": p.host_argv(["--bogus"]), "guest": p.guest_package, "shared": p.shared_package,
                  "boot_code": contract.BOOT_CODE, "lib_dir": contract.LIB_DIR}))
"""


def _spread_json(values: list[float], digits: int = 1) -> dict[str, Any]:
    return {"n": len(values), **Spread.of(values).as_json(digits)}


def ready_lines(bench: Bench, box: str) -> list[tuple[float, float]]:
    logs = bench.store.podman("logs", box)
    out = []
    for line in (logs.stdout + logs.stderr).splitlines():
        m = READY_RE.search(line)
        if m:
            out.append((float(m.group("agent")), float(m.group("exec"))))
    return out


def agent_starts(bench: Bench) -> dict[str, Any]:
    """agent_ms and since_exec_ms of the cold box's starts (B2's, topped up to the number asked for).

    The first start of a container also makes the user; it is left out as a warm-up.
    """
    box = bench.cold_box()
    want = bench.opts.agent_starts + 1
    for _ in range(100):
        lines = ready_lines(bench, box)
        if len(lines) >= want:
            break
        bench.store.podman("stop", "--time", "0", box)
        run(bench.xb("run", "-c", box, "true"), bench.store.env, cwd=bench.cwd)
    bench.store.podman("stop", "--time", "0", box)
    counted = ready_lines(bench, box)[1:]
    if not counted:
        raise BenchError(f"the agent of {box} logged no `ready agent_ms=...` line")
    return {"agent_ms": _spread_json([a for a, _ in counted]),
            "since_exec_ms": _spread_json([e for _, e in counted])}


def _native_plan(bench: Bench) -> dict[str, Any]:
    plan: dict[str, Any] = json.loads(run([bench.inst.python, "-c", PLAN_CODE], bench.store.env, cwd=bench.cwd).stdout)
    # Inside, the agent's packages are bind-mounted under LIB_DIR; on the host, a directory of
    # links to them stands in for it (only crossbox/guest and crossbox/shared, as inside).
    lib = bench.work / "agent-lib"
    (lib / "crossbox").mkdir(parents=True, exist_ok=True)
    for name in ("guest", "shared"):
        link = lib / "crossbox" / name
        if not link.exists():
            link.symlink_to(plan[name])
    plan["host_lib"] = str(lib)
    return plan


def _host_code(code: str, plan: dict[str, Any]) -> str:
    """Python code naming LIB_DIR, made to read the host's stand-in for it."""
    return code.replace(repr(plan["lib_dir"]), repr(plan["host_lib"]))


def _time_runs(argv: list[str], bench: Bench, n: int, expect: int) -> list[float]:
    values = []
    for i in range(n + 1):  # one warm-up
        ms = time_commands([argv], bench.store.env, cwd=bench.cwd, expect=expect)
        if i:
            values.append(ms)
    return values


def native_boot(bench: Bench) -> dict[str, Any]:
    plan = _native_plan(bench)
    n = max(bench.opts.agent_starts, 1)
    raw = plan["argv"]
    done = subprocess.run(raw, capture_output=True, text=True, env=bench.store.env, cwd=bench.cwd, check=False)
    code_at = raw.index(plan["boot_code"])
    prefix, guest_args = raw[:code_at], raw[code_at + 1 :]  # loader ... python -I -S -B -c | --bogus
    boot_argv = [*prefix, _host_code(plan["boot_code"], plan), *guest_args]
    boot = _time_runs(boot_argv, bench, n, EXIT_CONTRACT)
    imports_argv = [*prefix, _host_code(IMPORT_CODE, plan)]
    same = _time_runs(imports_argv, bench, n, 0)
    return {
        "boot_ms": {**_spread_json(boot), "argv": shlex.join(boot_argv)},
        "native_imports_ms": {**_spread_json(same), "argv": shlex.join(imports_argv)},
        # host_argv() as it is: BOOT_CODE names the in-container LIB_DIR, absent on the host.
        "host_argv_unchanged_exit": done.returncode,
        "host_argv_unchanged_error": done.stderr.strip().splitlines()[-1:] if done.returncode != EXIT_CONTRACT else [],
    }


def emulated_python(bench: Bench) -> dict[str, Any] | None:
    """The image's own python3 under emulation: boot + the agent's imports, timed inside by bash."""
    from bed import images

    if bench.opts.emulated_python == "no":
        return None
    started = time.monotonic()
    tar = images.debian_arm64_python_rootfs(build=bench.opts.emulated_python == "yes")
    if tar is None:
        say("the Debian arm64 + python3 image is not built yet, so the emulated-Python comparison is left out; "
            "`make bench BENCH_ARGS=--emulated-python=yes` builds it once (3 to 5 minutes), later runs include it")
        return None
    say(f"Debian arm64 + python3 root file system ready in {time.monotonic() - started:.0f} s: {tar}")
    remote = f"localhost/{bench.prefix}debian-python:12"
    bench.store.podman("import", "--quiet", "--arch", "arm64", "--change", "CMD=/bin/bash", str(tar),
                       f"{remote}-arm64")
    box = f"{bench.prefix}python"
    bench.create(bench.store, box, remote)
    n = max(bench.opts.agent_starts, 1)
    script = ('TIMEFORMAT=%3R; python3 -I -S -c "$1" || exit 1; '
              'for i in $(seq "$2"); do time python3 -I -S -c "$1"; done')
    done = run(bench.xb("run", "-c", box, "bash", "-c", script, "bash", IMPORT_CODE, str(n)), bench.store.env,
               cwd=bench.cwd)
    values = [float(x) * 1000 for x in re.findall(r"^(\d+\.\d+)$", done.stderr, re.M)]
    if len(values) != n:
        raise BenchError(f"expected {n} timings from bash, got: {done.stderr[-500:]}")
    version = run(bench.xb("run", "-c", box, "python3", "--version"), bench.store.env, cwd=bench.cwd).stdout.strip()
    bench.store.podman("stop", "--time", "0", box)
    return {"python": version, "image_tar": Path(tar).name, "command": f"python3 -I -S -c {shlex.quote(IMPORT_CODE)}",
            "emulated_ms": _spread_json(values)}


def measure(bench: Bench) -> dict[str, Any]:
    say("guest agent: start-to-ready ...")
    report: dict[str, Any] = {**agent_starts(bench), **native_boot(bench)}
    report["start_to_ready_ms"] = round(report["boot_ms"]["median"] + report["agent_ms"]["median"], 1)
    report["emulated"] = emulated_python(bench)
    if report["emulated"]:
        emu = report["emulated"]["emulated_ms"]["median"]
        report["emulated"]["vs_native_imports"] = round(emu / report["native_imports_ms"]["median"], 2)
        report["emulated"]["vs_boot"] = round(emu / report["boot_ms"]["median"], 2)
    say(f"agent: boot {report['boot_ms']['median']:.0f} ms + agent {report['agent_ms']['median']:.0f} ms "
        f"= {report['start_to_ready_ms']:.0f} ms to ready (median)")
    return report


def agent_text(report: dict[str, Any]) -> str:
    boot, agent_ms, since = report["boot_ms"], report["agent_ms"], report["since_exec_ms"]
    lines = [
        f"- **Guest agent, start to ready (native, as crossbox does it): about {report['start_to_ready_ms']:.0f} ms** "
        f"= boot {boot['median']:.0f} ms (host loader + Python + BOOT_CODE importing crossbox.guest.main, timed "
        f"on the host, median of {boot['n']}; min {boot['min']:.0f}, max {boot['max']:.0f}) + agent "
        f"{agent_ms['median']:.1f} ms (main() to ready, from its `ready` log line, median of {agent_ms['n']} "
        f"container starts; min {agent_ms['min']:.1f}, max {agent_ms['max']:.1f}). The agent's own exec-to-ready "
        f"figure (`since_exec_ms`, 10 ms resolution) has median {since['median']:.0f} ms.",
        f"- Natively, the same boot with the agent's set-up imports "
        f"(`{GUEST_IMPORTS}`): median {report['native_imports_ms']['median']:.0f} ms.",
    ]
    emu = report.get("emulated")
    if emu:
        lines.append(
            f"- **The way it is not done**, the image's own {emu['python']} under emulation (qemu-aarch64, "
            f"Debian arm64 image with python3) running those imports: median {emu['emulated_ms']['median']:.0f} ms "
            f"(min {emu['emulated_ms']['min']:.0f}, max {emu['emulated_ms']['max']:.0f}, n={emu['emulated_ms']['n']}), "
            f"{emu['vs_native_imports']:.1f} x the native run of the same imports and {emu['vs_boot']:.1f} x "
            f"the native boot, before the agent has done any work (and only where the image has a Python).")
    else:
        lines.append("- The emulated comparison (the image's own Python) was not run: its Debian arm64 + python3 image "
                     "is built only on request (`make bench BENCH_ARGS=--emulated-python=yes`, once).")
    return "\n".join(lines)
