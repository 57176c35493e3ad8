"""crossbox's entry point: the hot path, the parser, dispatch to a verb, one error boundary.

Kept light: a verb's module (crossbox.host.commands.VERB) is imported only when
that verb runs, and `run -c NAME CMD` / `enter NAME` on a running container skip
even the parser (``hot_session``), so that their time is spent in podman.
"""

from __future__ import annotations

import os
import sys

from .errors import CrossboxError, Exit

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (the hot path is timed)

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

PROG = "crossbox"

# Each verb's module under crossbox.host.commands; it has main(args) -> exit status.
VERBS = {
    "create": "create",
    "enter": "enter",
    "run": "run",
    "list": "list",
    "stop": "stop",
    "rm": "rm",
    "rmi": "rmi",
    "doctor": "doctor",
    "completion": "completion",
    "help": "help",
}
SESSION_VERBS = ("run", "enter")


def _run_status(verb: str, status: int) -> int:
    """run and enter keep Toolbx's statuses: crossbox's own failures are 125 (a usage error
    stays 2, as argparse's own are)."""
    if verb in SESSION_VERBS and status not in (Exit.USAGE, Exit.INTERRUPTED, Exit.TERMINATED):
        return int(Exit.RUN_FAILED)
    return status


def _environment_failure(exc: OSError) -> str | None:
    """One line for a file system that is full, read-only or closed to crossbox."""
    import errno

    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"crossbox: error: no space left on the device{where}; free some space and retry"
    if exc.errno == errno.EROFS:
        return (f"crossbox: error: a file system crossbox writes to is read-only{where}; "
                "see XDG_RUNTIME_DIR and XDG_DATA_HOME in crossbox(1)")
    if exc.errno in (errno.EACCES, errno.EPERM) and exc.filename:
        return (f"crossbox: error: permission denied{where}; crossbox keeps its files in your runtime "
                "and data directories, see crossbox(1)")
    return None


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def hot_session(argv: list[str]) -> tuple[str, list[str]] | None:
    """Recognise the two commonest forms, `run -c NAME CMD...` and `enter NAME`.

    They are what `crossbox run` on a running container is, and building the whole
    parser costs more than the rest of crossbox's part of it. Anything else, or any
    doubt, returns None and goes through argparse, which then decides alone.
    """
    if len(argv) >= 4 and argv[0] == "run" and argv[1] in ("-c", "--container"):
        name, command = argv[2], argv[3:]
        if command[0] == "--":
            command = command[1:]
        elif command[0].startswith("-"):
            return None
    elif argv[0:1] == ["enter"] and (len(argv) == 2 or (len(argv) == 3 and argv[1] in ("-c", "--container"))):
        name, command = argv[-1], []
    else:
        return None
    if not name or not name[0].isalnum() or not _NAME_CHARS.issuperset(name) or (argv[0] == "run" and not command):
        return None
    return name, command


def _json_asked(argv: list[str]) -> bool:
    for i, arg in enumerate(argv):
        if arg == "--log-format=json" or (arg == "--log-format" and argv[i + 1:i + 2] == ["json"]):
            return True
        if not arg.startswith("-") and (i == 0 or argv[i - 1] not in ("--log-format", "--log-level")):
            return False  # the verb: what follows is its own
    return False


def _say_error(exc: CrossboxError, prefix: str | None = None) -> None:
    """The one line of an expected failure on stderr, or its JSON object."""
    from . import log

    if log.json_mode():
        log.say(exc.message, "error", hint=exc.hint, exit_status=int(exc.status))
    elif prefix is not None:
        sys.stderr.write(f"{prefix}{exc.message}\n")
    else:
        sys.stderr.write(exc.line() + "\n")


def _say_traceback() -> None:
    import traceback

    from . import log

    if log.json_mode():
        log.say("traceback", "debug", exception=traceback.format_exc())
    else:
        traceback.print_exc()


def _option_strings(parser: object, verb: str) -> list[str]:
    """The options a verb takes (for "did you mean")."""
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and verb in action.choices:
            return [o for a in action.choices[verb]._actions for o in a.option_strings]
    return []


def dispatch(verb: str, args: object) -> int:
    import importlib

    module = importlib.import_module(f"crossbox.host.commands.{VERBS[verb]}")
    return int(module.main(args))


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given == ["--version"]:  # what argparse would print, without building the parser
        from crossbox.shared.version import VERSION

        sys.stdout.write(f"{PROG} {VERSION}\n")
        return 0
    hot = hot_session(given)
    if hot is not None:
        from .commands.run import run_if_ready

        status = run_if_ready(*hot)
        if status is not None:
            return status
        # Not ready (or not a box): start it and run the session, or say what is wrong, still
        # without the parser: hot_session took only forms whose parse is known.
        return _boundary(given[0], lambda: _cold_session(*hot))
    from . import log

    if _json_asked(given):  # before anything is said, usage errors included
        log.configure(fmt="json")
    from . import usage

    if not given:
        sys.stderr.write(usage.short_usage(tuple(VERBS)))
        return int(Exit.USAGE)
    problem = usage.precheck(given, tuple(VERBS))
    if problem is not None:
        _say_error(problem)
        return int(problem.status)
    from .parser import build_parser, verb_of

    verb = verb_of(given, tuple(VERBS))
    parser = build_parser(verb)
    args, extras = parser.parse_known_args(given)
    if extras:
        problem = usage.leftover(extras, args.verb, _option_strings(parser, args.verb))
        _say_error(problem)
        return int(problem.status)
    args.log_level = log.LEVEL_NAMES["debug" if getattr(args, "verbose", False) else args.log_level]
    log.configure(args.log_level, args.log_format)
    if args.log_podman or getattr(args, "verbose", 0) >= 2:  # -vv: as Toolbx, podman's own lines too
        from .tools import runner

        runner.log_podman(log.PODMAN_LEVELS[args.log_level])
    return _boundary(args.verb, lambda: dispatch(args.verb, args))


def _cold_session(name: str, command: list[str]) -> int:
    """`run -c NAME CMD` or `enter NAME` when the box is not ready: as the verbs do it."""
    from .commands.run import SessionRequest, enter_or_run

    return enter_or_run(SessionRequest(command=tuple(command), container=name))


def _boundary(verb: str, call: Callable[[], int]) -> int:
    """Run a verb: expected failures become their one line and status, never a traceback."""
    from . import log, signals

    signals.install()
    try:
        return call()
    except CrossboxError as exc:
        if log.enabled("debug"):
            _say_traceback()
        _say_error(exc)
        return _run_status(verb, int(exc.status))
    except KeyboardInterrupt:
        _say_error(CrossboxError("interrupted", status=Exit.INTERRUPTED), prefix="crossbox: ")
        return int(Exit.INTERRUPTED)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        line = _environment_failure(exc)
        if line is None:
            raise  # not the environment's doing: a bug, with its traceback
        if log.json_mode():
            log.say(line.removeprefix("crossbox: error: "), "error", exit_status=int(Exit.HOST_NOT_READY))
        else:
            sys.stderr.write(line + "\n")
        return _run_status(verb, int(Exit.HOST_NOT_READY))


def entry() -> NoReturn:
    """The console script: main(), then a quick exit.

    Python's finalization (tearing down every imported module) costs about 10 ms after a
    session, a tenth of a warm `run`. With its status in hand and nothing left to do, crossbox
    flushes its output and leaves with os._exit. Anything unusual (another thread still
    running, an output that cannot be flushed) takes Python's own way out instead.
    """
    status = main()
    threading = sys.modules.get("threading")
    if threading is not None and any(t.is_alive() and not t.daemon and t is not threading.main_thread()
                                     for t in threading.enumerate()):
        sys.exit(status)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)  # Python reports it (a closed pipe: status 120), as without the quick exit
    os._exit(status)


if __name__ == "__main__":
    entry()
