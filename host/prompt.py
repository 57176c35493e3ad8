"""Asking the user, or refusing clearly when nobody can be asked."""

from __future__ import annotations

import sys

from .errors import Declined


def confirm(question: str, assume_yes: bool, *, what: str) -> None:
    """Return when the answer is yes; raise Declined otherwise."""
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise Declined(
            f"{question.rstrip('?')} needs an answer, but there is no terminal to ask on",
            f"pass -y (--assumeyes) to {what} without asking",
        )
    try:
        sys.stderr.write(f"{question} [y/N]: ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
    except (EOFError, OSError):
        answer = ""
    if answer not in ("y", "yes"):
        raise Declined(f"not done: the answer was {'no' if answer else 'empty'}")
