"""Usage errors argparse words poorly: a bare `crossbox`, an unknown option or command
(named, with a "did you mean" for a near miss), and words left over after a verb's own.

Imported by cli.main with the parser's module (whose option names it checks against).
"""

from __future__ import annotations

from .errors import UsageError
from .parser import GLOBAL_FLAGS, GLOBAL_WITH_VALUE


def short_usage(verbs: tuple[str, ...]) -> str:
    return (f"usage: crossbox [OPTIONS] COMMAND [ARG...]\n"
            f"commands: {', '.join(verbs)}\n"
            "Run 'crossbox help' for the options and what each command does, "
            "or 'crossbox help COMMAND' for one.\n")


def suggestion(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_command(word: str, verbs: tuple[str, ...]) -> UsageError:
    near = suggestion(word, verbs)
    hint = f"did you mean 'crossbox {near}'?" if near else "'crossbox help' lists the commands"
    return UsageError(f"unknown command '{word}'", hint)


def unknown_option(option: str, known: list[str], where: str) -> UsageError:
    near = suggestion(option.split("=", 1)[0], known)
    hint = f"did you mean '{near}'?" if near else f"'crossbox help{where.removeprefix('crossbox')}' lists them"
    return UsageError(f"unknown option '{option}' for {where}", hint)


def precheck(argv: list[str], verbs: tuple[str, ...]) -> UsageError | None:
    """What is wrong before the verb: an unknown global option, an unknown command."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in GLOBAL_WITH_VALUE:
            skip = True
        elif arg.startswith("--") and arg.split("=", 1)[0] in GLOBAL_WITH_VALUE:
            continue
        elif arg in GLOBAL_FLAGS or arg == "--":
            if arg in ("-h", "--help", "--version", "--"):
                return None
        elif arg.startswith("-") and len(arg) > 1:
            if len(arg) > 2 and arg[1] != "-" and all(f"-{c}" in GLOBAL_FLAGS for c in arg[1:]):
                continue  # -yv
            return unknown_option(arg, [*GLOBAL_WITH_VALUE, *GLOBAL_FLAGS], "crossbox")
        else:
            return None if arg in verbs else unknown_command(arg, verbs)
    return None


def leftover(extras: list[str], verb: str, known: list[str]) -> UsageError:
    """Words a verb did not take (argparse's "unrecognized arguments")."""
    first = extras[0]
    if first.startswith("-") and len(first) > 1:
        return unknown_option(first, known, f"crossbox {verb}")
    return UsageError(f"crossbox {verb} takes no argument '{first}' here",
                      f"'crossbox help {verb}' shows what it takes")
