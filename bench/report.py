"""The machine the figures came from, and the figures as JSON and as a Markdown table."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import agent
from .harness import CaseResult, LineupResult, cases_table, lineup_table, sides_list

SCHEMA = 1
RERUN = "sudo make bench"


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False).stdout
    except OSError:
        return "(missing)"
    return (out.strip().splitlines() or ["?"])[0]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _os_name() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "?"


def machine(python: str) -> dict[str, Any]:
    return {
        "os": _os_name(),
        "kernel": platform.release(),
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "podman": _first_line(["podman", "--version"]),
        "skopeo": _first_line(["skopeo", "--version"]),
        "qemu": _first_line(["qemu-aarch64-static", "--version"]),
        "python": _first_line([python, "--version"]),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def as_json(cases: Sequence[CaseResult], agent_report: dict[str, Any], mach: dict[str, Any],
            options: dict[str, Any], seconds: float, peers: Sequence[LineupResult] = (),
            peer_setup: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": RERUN,
        "machine": mach,
        "options": options,
        "seconds": round(seconds, 1),
        "cases": [c.as_json() for c in cases],
        "agent": agent_report,
        "peers": [p.as_json() for p in peers],
        "peer_setup": peer_setup or {},
    }


def machine_line(m: dict[str, Any]) -> str:
    return (f"{m['os']}, Linux {m['kernel']} ({m['arch']}), {m['cores']} cores ({m['cpu']}), "
            f"{m['memory_gib']} GiB; {m['podman']}, {m['skopeo']}, {m['qemu']}; {m['python']}; "
            f"load average at the end {' / '.join(str(x) for x in m['loadavg'])}")


def peers_text(data: dict[str, Any], peers: Sequence[LineupResult]) -> list[str]:
    """The peers' table (P1..P3) and its explanations."""
    setup = data.get("peer_setup") or {}
    opts = data["options"]
    storage = setup.get("storage") or {}
    firsts = [p.id for p in peers if p.first]
    verdict = ("crossbox is first on every row" if len(firsts) == len(peers)
               else f"crossbox is first on {', '.join(firsts) or 'no row'}, not on "
                    f"{', '.join(p.id for p in peers if not p.first)}")
    machine_setup: list[str] = []
    if setup.get("made_dbus_socket"):
        machine_setup.append("a socket file at /run/dbus/system_bus_socket that nothing listens on (toolbox "
                             "resolves and bind-mounts that path; no D-Bus runs here), removed at the end")
    else:
        machine_setup.append("/run/dbus/system_bus_socket was there already (toolbox resolves and bind-mounts it)")
    machine_setup.append("SHELL set in the user's environment (toolbox needs it)")
    if setup.get("podman_shim_drops_ulimit_host"):
        machine_setup.append("`podman run --ulimit host` failed here (podman cannot raise rlimits), so "
                             "`toolbox create` and `distrobox create` ran with a `podman` shim first on PATH that "
                             "drops `--ulimit host`")
    elif "ulimit_host_works" in setup:
        machine_setup.append("`podman run --ulimit host` worked here (probed), so no `podman` shim was needed")
    image = setup.get("image") or {}
    return [
        "## Peers",
        "",
        f"crossbox beside its peers, toolbox {setup.get('toolbox', '?')} and distrobox {setup.get('distrobox', '?')} "
        "(Debian's packages), and raw podman, doing the same thing in the same rounds: rootless as the user "
        f"`{setup.get('user', '?')}`, in a podman storage of the benchmark's own ({storage.get('driver', '?')}), with "
        "the test bed's containers.conf for every side, on native boxes of one image "
        f"(`{image.get('tar', '?')}`). Every round runs each side in turn (A B C D ...), after "
        f"{opts['warmup']} warm-up round(s) and an untimed first create and run of each box; times are "
        "wall-clock milliseconds of the whole command; x raw is each side's time over raw podman's in the same "
        "round. crossbox is a real install of the working tree (its launcher, on the Debian python3). "
        f"Target: crossbox first among the launchers on every row: **{verdict}**.",
        "",
        lineup_table(peers),
        "",
        *(f"- **{p.id}** {p.note}" for p in peers),
        *([f"- {setup['boxes']}"] if setup.get("boxes") else []),
        f"- This machine's set-up for toolbox and distrobox (the benchmark's, not crossbox's): "
        f"{'; '.join(machine_setup)}.",
        "",
    ]


def markdown(data: dict[str, Any], cases: Sequence[CaseResult], agent_report: dict[str, Any],
             peers: Sequence[LineupResult] = ()) -> str:
    """The tables and their explanations: what `make bench` prints and bench/RESULTS.md holds."""
    opts = data["options"]
    parts = [
        f"Measured {data['when']} in {data['seconds']:.0f} s on: {machine_line(data['machine'])}.",
        "",
    ]
    if cases:
        parts += [
            f"Each case interleaves A and B (A B A B ...) after {opts['warmup']} warm-up pair(s); "
            "times are wall-clock milliseconds of the whole command; A/B is taken pair by pair and its median is "
            "what the target bounds. Rootful, with the test bed's registry on 127.0.0.1 and its containers.conf, "
            "in a podman storage of the benchmark's own; crossbox is a real (non-editable) install with compiled "
            "bytecode.",
            "",
            cases_table(cases),
            "",
            sides_list(cases),
            "",
            agent.agent_text(agent_report) if agent_report else "- The guest agent was not measured.",
            "",
        ]
    if peers:
        parts += peers_text(data, peers)
    parts.append(f"Rerun with `{data['command']}` (JSON in bench/results/latest.json).")
    return "\n".join(parts) + "\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_json(path: Path, data: dict[str, Any]) -> None:
    write(path, json.dumps(data, indent=1) + "\n")
