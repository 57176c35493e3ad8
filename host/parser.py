"""The one argparse definition of the crossbox command line.

Data only: it imports no verb. The verbs (crossbox.host.commands.*) check what
argparse cannot and act; the man pages and the completion scripts are generated
from this same definition (packaging/generate.py, commands/completion.py).
"""

from __future__ import annotations

import argparse

from crossbox.shared.version import VERSION

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import NoReturn as typing_NoReturn

PROG = "crossbox"
DESCRIPTION = (
    "Foreign-architecture toolbox containers: an interactive aarch64, ppc64le, s390x, riscv64 ... "
    "userland with your home, your user and a working sudo, through podman and QEMU user-mode "
    "emulation registered in each container's own binfmt_misc."
)
ARCH_HELP = "architecture, in any spelling (arm64, aarch64, ppc64le, s390x, riscv64, armv7, ...)"


def _columns() -> int:
    """shutil.get_terminal_size().columns, without importing shutil (and bz2, lzma with it):
    argparse makes a formatter for every add_argument."""
    import os
    import sys

    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


class _Formatter(argparse.HelpFormatter):
    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> typing_NoReturn:
        """argparse's error(), or in --log-format json mode its one JSON object."""
        from .log import json_mode, say

        if not json_mode():
            super().error(message)
        say(message, "error", exit_status=2)
        self.exit(2)


class _Skipped(argparse.ArgumentParser):
    """A verb's parser that is not built: its arguments are dropped unseen (see build_parser)."""

    def __init__(self) -> None:  # no super().__init__: building one is what is saved
        pass

    def add_argument(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        return None


GLOBAL_WITH_VALUE = ("--log-level", "--log-format")
GLOBAL_FLAGS = ("-y", "--assumeyes", "-v", "--verbose", "--log-podman", "-h", "--help", "--version")
# Toolbx's names (logrus's); crossbox.host.log maps them to its own levels.
LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "fatal", "panic")


def verb_of(argv: list[str], verbs: tuple[str, ...]) -> str | None:
    """The verb of a command line when it can be told without argparse (else None: build all)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in GLOBAL_WITH_VALUE:
            skip = True
        elif arg in ("-h", "--help"):
            return None
        elif not arg.startswith("-"):
            return arg if arg in verbs else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``only``, the parser of that one verb and the global options (a
    command line needs no other, and building them all costs a command as much as its work)."""
    p = _Parser(prog=PROG, description=DESCRIPTION)
    p.add_argument("--log-level", default="warning", choices=LOG_LEVELS, metavar="LEVEL", type=str.lower,
                   help="how much to log on stderr: trace or debug, info, warn or warning, error, fatal or "
                        "panic (Toolbx's names, in any case; default: warning)")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="log everything (the same as --log-level debug); -vv also shows podman's own log lines "
                        "(--log-podman), as Toolbx")
    p.add_argument("--log-podman", action="store_true",
                   help="show podman's own log lines too, at the same level (podman --log-level), as Toolbx does")
    p.add_argument("--log-format", default="console", choices=["console", "json"],
                   help="log lines for people (console) or for machines (json)")
    p.add_argument("-y", "--assumeyes", action="store_true",
                   help="answer yes to every question (downloads, creating a missing container)")
    p.add_argument("--version", action="version", version=f"{PROG} {VERSION}")
    sub = p.add_subparsers(dest="verb", metavar="COMMAND")
    sub.required = True

    def verb(name: str, **kwargs: str) -> argparse.ArgumentParser:
        if only is not None and name != only:
            return _Skipped()
        sp = sub.add_parser(name, **kwargs)  # type: ignore[arg-type]
        sp.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="log everything (--log-level debug); -vv also podman's log lines")
        return sp

    def yes(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("-y", "--assumeyes", action="store_true", default=argparse.SUPPRESS,
                        help="answer yes to every question")

    c = verb("create", help="create a container", description=(
        "Create a toolbox container for an architecture. A foreign image is pulled with skopeo "
        "under an architecture-suffixed local name, so the native image is never replaced."))
    c.add_argument("-a", "--arch", help=ARCH_HELP)
    c.add_argument("-d", "--distro", help="distribution (fedora, ubuntu, debian, arch, rhel)")
    c.add_argument("-r", "--release", help="release of the distribution, e.g. 42 or 24.04")
    c.add_argument("-i", "--image", help="image to use instead of a distribution's toolbox image")
    c.add_argument("--authfile", help="registry credentials file (as for podman and skopeo)")
    c.add_argument("--native-tools", action="store_true",
                   help="foreign boxes: run the compilers (the host's cross compiler, with the box as sysroot), "
                        "binutils, make, a shell for configure and machine-neutral tools natively; "
                        "CROSSBOX_NATIVE_TOOLS=0 turns them off for a session"),
    c.add_argument("-c", "--container", dest="container_option", metavar="CONTAINER",
                   help="name of the container (as the CONTAINER argument)")
    c.add_argument("container", nargs="?", metavar="CONTAINER",
                   help="name of the container (default: IMAGE-TAG[-ARCH])")
    yes(c)

    e = verb("enter", help="enter a container with an interactive shell", description=(
        "Start the container if needed, wait for it to be ready, and run your login shell in it."))
    e.add_argument("-a", "--arch", help=ARCH_HELP)
    e.add_argument("-d", "--distro", help="distribution of the default container")
    e.add_argument("-r", "--release", help="release of the default container")
    e.add_argument("-c", "--container", dest="container_option", metavar="CONTAINER",
                   help="name of the container (as the CONTAINER argument)")
    e.add_argument("container", nargs="?", metavar="CONTAINER", help="name of the container")
    yes(e)

    r = verb("run", help="run a command in a container", description=(
        "Run COMMAND in a container, starting it if needed. With --rm and --image, run it in a "
        "throw-away container that is removed afterwards. The exit status is the command's; "
        "125 when crossbox or podman failed, 126 when the command cannot be executed, 127 when "
        "it is not found. A matrix run, --rm --image IMAGE --arch with a comma-separated list "
        "(arm64,ppc64le,s390x), runs COMMAND once per architecture, a few at once, with stdin "
        "closed and no terminal; each output line is prefixed with its architecture, a table of "
        "the statuses ends it on stderr, and the exit status is 0 when every run succeeded, "
        "otherwise the first failing run's status in the order given."))
    r.add_argument("-a", "--arch", help=ARCH_HELP + "; with --rm --image, a comma-separated list "
                   "runs COMMAND once per architecture (a matrix run)")
    r.add_argument("-d", "--distro", help="distribution of the default container")
    r.add_argument("-r", "--release", help="release of the default container")
    r.add_argument("-c", "--container", help="name of the container")
    r.add_argument("--rm", action="store_true", help="one-shot: a throw-away container (needs --image)")
    r.add_argument("-i", "--image", help="image for a one-shot run (with --rm)")
    r.add_argument("--authfile", help="registry credentials file (one-shot only)")
    r.add_argument("--preserve-fds", type=int, default=0, metavar="N",
                   help="pass N more open file descriptors (3 to N+2) to the command, as Toolbx does")
    r.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]",
                   help="the command and its arguments")
    yes(r)

    ls = verb("list", help="list crossbox containers and images", description=(
        "List crossbox containers and the images they use or that crossbox pulled, with their "
        "architectures."))
    ls.add_argument("-c", "--containers", action="store_true", help="only containers")
    ls.add_argument("-i", "--images", action="store_true", help="only images")
    ls.add_argument("--format", default="table", choices=["table", "json"], help="output format")
    # Hidden: one name a line, for the shell completion scripts (see commands/completion.py).
    ls.add_argument("--names", choices=["containers", "images"], help=argparse.SUPPRESS)

    st = verb("stop", help="stop containers", description=(
        "Stop running crossbox containers (their sessions end). A stopped container starts again "
        "at the next enter or run."))
    st.add_argument("-a", "--all", action="store_true", help="stop every running crossbox container")
    st.add_argument("containers", nargs="*", metavar="CONTAINER", help="containers to stop")

    rm = verb("rm", help="remove containers", description="Remove crossbox containers.")
    rm.add_argument("-f", "--force", action="store_true", help="remove running containers too")
    rm.add_argument("-a", "--all", action="store_true", help="remove every crossbox container")
    rm.add_argument("containers", nargs="*", metavar="CONTAINER", help="containers to remove")

    rmi = verb("rmi", help="remove images", description=(
        "Remove images by name (an image with other names keeps them). Only crossbox's own containers "
        "are ever removed with an image; a container crossbox did not make blocks the removal."))
    rmi.add_argument("-f", "--force", action="store_true",
                     help="also remove the crossbox containers that use them")
    rmi.add_argument("-a", "--all", action="store_true",
                     help="remove every image crossbox pulled (still under the name it pulled it to)")
    rmi.add_argument("images", nargs="*", metavar="IMAGE", help="images to remove")

    d = verb("doctor", help="check the host and name the fix for each problem",
                       description=(
                           "Check everything crossbox needs on this host: kernel, binfmt_misc, "
                           "user namespaces, subordinate ids, podman, skopeo and a static QEMU "
                           "for each architecture asked for. Exits 0 only when all pass."))
    d.add_argument("-a", "--arch", action="append", default=[], help=ARCH_HELP + "; repeatable")
    d.add_argument("--format", default="table", choices=["table", "json"], help="output format")

    comp = verb("completion", help="print a shell completion script", description=(
        "Print the completion script for bash, zsh or fish. It completes commands, options, "
        "architectures, and the names of existing containers and images."))
    comp.add_argument("shell", choices=["bash", "zsh", "fish"], help="the shell")

    h = verb("help", help="show the help of crossbox or of one command", description=(
        "Show what crossbox's commands do and take: the options of crossbox, or of COMMAND."))
    h.add_argument("topic", nargs="?", metavar="COMMAND", help="the command to show the help of")
    return p
