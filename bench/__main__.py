"""python -m bench [options]: start a test bed, run the benchmark, print the table."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import ALL_CASES, PEER_CASES, Options, run
from .harness import say

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--pairs", type=int, default=None,
                   help="counted pairs (rounds, for the peers) per case (default: 60 for B1, 20 for B6, B7, "
                        "P1; 5 for B8, B9; 10 for the others)")
    p.add_argument("--warmup", type=int, default=1,
                   help="warm-up pairs (rounds) per case, not counted (default 1)")
    p.add_argument("--list-n", type=int, default=50, help="containers for B6 (default 50)")
    p.add_argument("--data-mb", type=int, default=64, help="size of B5's file in MB (default 64)")
    p.add_argument("--agent-starts", type=int, default=10, help="counted starts of the guest agent (default 10)")
    p.add_argument("--emulated-python", choices=["auto", "yes", "no"], default="auto",
                   help="the image's-own-Python comparison needs a Debian arm64 + python3 image, 3 to 5 minutes "
                        "to build once (cached afterwards): auto (default) runs it when the image is cached, yes "
                        "builds it first if needed, no skips it")
    p.add_argument("--native-emulated", type=int, default=1,
                   help="runs of B8's and B9's fully emulated build, reported beside them (minutes each; default 1, "
                        "0 skips it)")
    p.add_argument("--no-emulated-python", dest="emulated_python", action="store_const", const="no",
                   help="the same as --emulated-python=no")
    p.add_argument("--cases", default=",".join(ALL_CASES + PEER_CASES),
                   help="comma-separated subset of B1..B9 (against the raw tools and the host) and P1..P3 (beside "
                        "toolbox and distrobox, rootless as the test user); default: all")
    p.add_argument("--json", type=Path, default=HERE / "results" / "latest.json", help="where to write the JSON")
    p.add_argument("--markdown", type=Path, default=HERE / "RESULTS.md", help="where to write the Markdown table")
    args = p.parse_args(argv)
    cases = tuple(c.strip().upper() for c in args.cases.split(",") if c.strip())
    unknown = [c for c in cases if c not in ALL_CASES + PEER_CASES]
    if unknown:
        p.error(f"unknown case(s): {', '.join(unknown)}")
    if os.geteuid() != 0:
        p.error("the benchmark runs rootful containers: run it as root")
    opts = Options(pairs=args.pairs, warmup=args.warmup, list_n=args.list_n, data_mb=args.data_mb,
                   agent_starts=args.agent_starts, emulated_python=args.emulated_python,
                   native_emulated=args.native_emulated, cases=cases)

    from bed.bed import Bed, new_workdir

    started = time.monotonic()
    bed = Bed(new_workdir())
    try:
        say("starting the test bed (registry on 127.0.0.1, images from the cache)")
        bed.start(with_debian=True, with_tester=False)
        data = run(bed, opts, args.json, args.markdown)
    finally:
        bed.stop()
    print(data["markdown"])
    say(f"done in {time.monotonic() - started:.0f} s; wrote {args.json} and {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
