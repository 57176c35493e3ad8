"""Benchmarks of crossbox against the raw tools underneath it (podman, skopeo and qemu) and beside its peers.

`make bench` (python -m bench, with tests/ on PYTHONPATH for the test bed) runs
the cases B1..B7 of the benchmark issue and the guest agent's start-up, B8 and
B9 (builds in a --native-tools box against the host's own), then
P1..P3, crossbox beside toolbox, distrobox and raw podman (rootless); it prints
the tables, writes bench/results/latest.json and bench/RESULTS.md. Benchmarks
are not tests: no figure fails anything.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import agent, cases, native, peers
from .context import ALL_CASES, BUILD_CASES, PEER_CASES, Bench, Options
from .harness import say
from .report import as_json, machine, markdown, write, write_json

__all__ = ["ALL_CASES", "PEER_CASES", "Options", "run"]


def run(bed: Any, opts: Options, json_path: Path, markdown_path: Path | None) -> dict[str, Any]:
    """Run the benchmark on a started test bed; write the JSON (and the Markdown); return the JSON data."""
    started = time.monotonic()
    bench = Bench(bed, opts)
    try:
        bench.setup()
        cases.run_cases(bench)
        native.run_native_cases(bench)
        if any(c in opts.cases for c in ALL_CASES if c not in BUILD_CASES):  # the agent goes with B1..B7
            bench.agent_report = agent.measure(bench)
        bench.results.sort(key=lambda r: r.id)
        peers.run_peers(bench)
        mach = machine(bench.inst.python)
    finally:
        say("removing the benchmark's containers, images and storages")
        bench.teardown()
    data = as_json(bench.results, bench.agent_report, mach, asdict(opts), time.monotonic() - started,
                   bench.peer_results, bench.peer_setup)
    data["markdown"] = markdown(data, bench.results, bench.agent_report, bench.peer_results)
    write_json(json_path, data)
    if markdown_path is not None:
        write(markdown_path, "# Benchmark results\n\n" + data["markdown"])
    return data
