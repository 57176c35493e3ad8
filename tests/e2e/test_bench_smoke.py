"""The benchmark harness works: one pair (round) of every case and peer case, figures positive, JSON written.

A smoke test, not a benchmark: no figure is compared with its target here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bed.bed import Bed

REPO = Path(__file__).resolve().parents[2]


def test_bench_runs_one_pair_of_every_case_and_writes_the_json(bed: Bed, tmp_path: Path) -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import bench

    out = tmp_path / "latest.json"
    opts = bench.Options(pairs=1, warmup=0, list_n=3, data_mb=8, agent_starts=1, emulated_python="no",
                         native_emulated=0)
    bench.run(bed, opts, out, tmp_path / "RESULTS.md")

    data = json.loads(out.read_text())
    assert [c["id"] for c in data["cases"]] == list(bench.ALL_CASES)
    for case in data["cases"]:
        assert case["pairs"] == 1
        for side in ("a", "b"):
            assert case[side]["ms"]["median"] > 0, case
        assert case["ratio"]["median"] > 0, case
    agent = data["agent"]
    assert agent["agent_ms"]["median"] > 0
    assert agent["boot_ms"]["median"] > 0
    assert agent["start_to_ready_ms"] > 0
    assert "| B7 start-up |" in (tmp_path / "RESULTS.md").read_text()
    # Everything the run made is gone: no container of this bed's benchmark is left.
    left = bed.podman(["ps", "--all", "--format", "{{.Names}}"]).stdout.split()
    assert not [n for n in left if n.startswith(f"{bed.name_prefix}bench-")]
    assert not (bed.workdir / "bench").exists()


def test_bench_runs_one_round_of_every_peer_case(bed: Bed, tmp_path: Path) -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import bench

    out = tmp_path / "peers.json"
    bench.run(bed, bench.Options(pairs=1, warmup=0, cases=bench.PEER_CASES), out, tmp_path / "RESULTS.md")
    data = json.loads(out.read_text())
    assert [p["id"] for p in data["peers"]] == list(bench.PEER_CASES)
    for case in data["peers"]:
        assert case["rounds"] == 1 and isinstance(case["first"], bool)
        assert {"crossbox", "toolbox", "distrobox", "podman"} <= {s["key"] for s in case["sides"]}
        assert all(s["ms"]["median"] > 0 for s in case["sides"]), case
    assert "| P1 warm run |" in (tmp_path / "RESULTS.md").read_text()
    assert not (bed.workdir / "bench").exists()
