"""crossbox doctor: every host check, with a fix for each failure."""

from __future__ import annotations

import argparse
import json
import sys

from crossbox.shared.arch import Arch, UnknownArchError, host_arch, parse_arch

from .. import checks
from ..errors import Exit, InvalidInput
from ..log import use_colour

SCHEMA_VERSION = 1
MARKS = {checks.OK: "ok", checks.FAIL: "FAIL", checks.WARN: "warn", checks.INFO: "info"}
COLOURS = {checks.OK: "\033[32m", checks.FAIL: "\033[31m", checks.WARN: "\033[33m", checks.INFO: "\033[2m"}


def doctor(arches: list[Arch], fmt: str, out_isatty: bool) -> tuple[str, int]:
    results = checks.run_all(arches)
    failed = checks.failing(results, arches)
    status = Exit.OK if not failed else Exit.CHECK_FAILED
    if fmt == "json":
        payload = {
            "schema": SCHEMA_VERSION,
            "host_arch": host_arch().name,
            "asked": [a.name for a in arches],
            "ok": not failed,
            "checks": [c.as_dict() for c in results],
        }
        return json.dumps(payload, indent=2), int(status)
    colour = out_isatty and use_colour(sys.stdout)
    lines = []
    for c in results:
        mark = f"{MARKS[c.status]:>4}"  # padded before colouring: the escapes have no width
        if colour:
            mark = f"{COLOURS[c.status]}{mark}\033[0m"
        lines.append(f"[{mark}] {c.name}: {c.message}")
        if c.status in (checks.FAIL, checks.WARN) and c.hint:
            lines.append(f"       fix: {c.hint}")
    asked = ", ".join(a.name for a in arches) or host_arch().name
    lines.append(
        f"crossbox is ready for {asked}" if not failed
        else f"crossbox is not ready for {asked}: {len(failed)} check(s) failed"
    )
    return "\n".join(lines), int(status)


def main(args: argparse.Namespace) -> int:
    try:
        arches = [parse_arch(a) for a in args.arch] or [host_arch()]
    except UnknownArchError as exc:
        raise InvalidInput(str(exc)) from None
    text, status = doctor(arches, args.format, sys.stdout.isatty())
    print(text)
    return status
