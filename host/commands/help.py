"""crossbox help [COMMAND]: the help of crossbox, or of one command (as `crossbox COMMAND --help`)."""

from __future__ import annotations

import argparse
import sys


def help_text(topic: str | None) -> str:
    from ..cli import VERBS
    from ..parser import build_parser
    from ..usage import unknown_command

    if topic is None:
        return build_parser().format_help()
    if topic not in VERBS:
        raise unknown_command(topic, tuple(VERBS))
    parser = build_parser(topic)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return str(action.choices[topic].format_help())
    raise AssertionError("the parser has no commands")


def main(args: argparse.Namespace) -> int:
    sys.stdout.write(help_text(args.topic))
    return 0
