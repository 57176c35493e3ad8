"""Asking the user, or refusing clearly when nobody can be asked."""

from __future__ import annotations

import sys

from .errors import Declined


def confirm(question: str, assume_yes: bool, *, what: str) -> None:
    """Return when the answer is yes; raise Declined otherwise. ``question`` is one or more
    sentences ending in a question mark; ``what`` completes "to ... without asking"."""
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise Declined(f'crossbox asks "{question}", but there is no terminal to ask on',
                       f"pass -y (--assumeyes) to {what} without asking")
    from .log import json_mode, say

    try:
        if json_mode():
            say(question, "question", answers="y/N")
        else:
            sys.stderr.write(f"{question} [y/N]: ")
            sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
    except (EOFError, OSError):
        answer = ""
    if answer not in ("y", "yes"):
        said = f'you answered "{answer}"' if answer else "no answer was given"
        raise Declined(f"nothing was done: {said}", f"answer y to {what}, or pass -y (--assumeyes)")
