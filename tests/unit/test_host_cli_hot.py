"""The hot-path recogniser: only unambiguous `run -c NAME CMD...` and `enter NAME`."""

from __future__ import annotations

import pytest
from crossbox.host.cli import hot_session
from crossbox.host.parser import build_parser


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "-c", "box", "uname", "-m"], ("box", ["uname", "-m"])),
    (["run", "--container", "box", "true"], ("box", ["true"])),
    (["run", "-c", "box", "--", "ls", "-l"], ("box", ["ls", "-l"])),
    (["run", "-c", "box", "ls", "--help"], ("box", ["ls", "--help"])),
    (["enter", "box"], ("box", [])),
])
def test_recognised_forms_match_what_argparse_makes_of_them(argv: list[str], expected: tuple[str, list[str]]) -> None:
    assert hot_session(argv) == expected
    args = build_parser().parse_args(argv)
    name = args.container
    command = [] if args.verb == "enter" else [a for a in args.command if a != "--"][: len(expected[1])]
    assert (name, command) == expected


@pytest.mark.parametrize("argv", [
    ["run", "-c", "box"],  # no command
    ["run", "-c", "box", "--rm", "x"],  # an option after the name: argparse decides
    ["run", "-c", "../etc", "true"],  # not a container name
    ["run", "-c", "-x", "true"],
    ["run", "-c", "", "true"],
    ["-y", "run", "-c", "box", "true"],  # global options: argparse
    ["run", "-a", "arm64", "true"],
    ["enter"],
    ["enter", "box", "extra"],
    ["enter", "--help"],
    ["create", "box"],
    [],
])
def test_anything_else_goes_through_argparse(argv: list[str]) -> None:
    assert hot_session(argv) is None
