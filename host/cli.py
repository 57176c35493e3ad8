"""The crossbox command line: one argparse definition, one error boundary.

Kept light: the verbs' modules are imported only when their verb runs, so that
`crossbox run` on a running container spends its time in podman, not here.
"""

from __future__ import annotations

import argparse
import os
import sys

from crossbox.shared.version import VERSION

from . import log
from .errors import CrossboxError, Exit

PROG = "crossbox"
DESCRIPTION = (
    "Foreign-architecture toolbox containers: an interactive aarch64, ppc64le, s390x, riscv64 ... "
    "userland with your home, your user and a working sudo, through podman and QEMU user-mode "
    "emulation registered in each container's own binfmt_misc."
)
ARCH_HELP = "architecture, in any spelling (arm64, aarch64, ppc64le, s390x, riscv64, armv7, ...)"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(int(Exit.USAGE))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=DESCRIPTION)
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"],
                   help="how much to log on stderr (default: warning)")
    p.add_argument("--log-format", default="console", choices=["console", "json"],
                   help="log lines for people (console) or for machines (json)")
    p.add_argument("-y", "--assumeyes", action="store_true",
                   help="answer yes to every question (downloads, creating a missing container)")
    p.add_argument("--version", action="version", version=f"{PROG} {VERSION}")
    sub = p.add_subparsers(dest="verb", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def yes(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("-y", "--assumeyes", action="store_true", default=argparse.SUPPRESS,
                        help="answer yes to every question")

    c = sub.add_parser("create", help="create a container", description=(
        "Create a toolbox container for an architecture. A foreign image is pulled with skopeo "
        "under an architecture-suffixed local name, so the native image is never replaced."))
    c.add_argument("-a", "--arch", help=ARCH_HELP)
    c.add_argument("-d", "--distro", help="distribution (fedora, ubuntu, debian, arch, rhel)")
    c.add_argument("-r", "--release", help="release of the distribution, e.g. 42 or 24.04")
    c.add_argument("-i", "--image", help="image to use instead of a distribution's toolbox image")
    c.add_argument("--authfile", help="registry credentials file (as for podman and skopeo)")
    c.add_argument("container", nargs="?", metavar="CONTAINER",
                   help="name of the container (default: IMAGE-TAG[-ARCH])")
    yes(c)

    e = sub.add_parser("enter", help="enter a container with an interactive shell", description=(
        "Start the container if needed, wait for it to be ready, and run your login shell in it."))
    e.add_argument("-a", "--arch", help=ARCH_HELP)
    e.add_argument("-d", "--distro", help="distribution of the default container")
    e.add_argument("-r", "--release", help="release of the default container")
    e.add_argument("container", nargs="?", metavar="CONTAINER", help="name of the container")
    yes(e)

    r = sub.add_parser("run", help="run a command in a container", description=(
        "Run COMMAND in a container, starting it if needed. With --rm and --image, run it in a "
        "throw-away container that is removed afterwards. The exit status is the command's; "
        "125 when crossbox or podman failed, 126 when the command cannot be executed, 127 when "
        "it is not found."))
    r.add_argument("-a", "--arch", help=ARCH_HELP)
    r.add_argument("-d", "--distro", help="distribution of the default container")
    r.add_argument("-r", "--release", help="release of the default container")
    r.add_argument("-c", "--container", help="name of the container")
    r.add_argument("--rm", action="store_true", help="one-shot: a throw-away container (needs --image)")
    r.add_argument("-i", "--image", help="image for a one-shot run (with --rm)")
    r.add_argument("--authfile", help="registry credentials file (one-shot only)")
    r.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]",
                   help="the command and its arguments")
    yes(r)

    ls = sub.add_parser("list", help="list crossbox containers and images", description=(
        "List crossbox containers and the images they use or that crossbox pulled, with their "
        "architectures."))
    ls.add_argument("-c", "--containers", action="store_true", help="only containers")
    ls.add_argument("-i", "--images", action="store_true", help="only images")
    ls.add_argument("--format", default="table", choices=["table", "json"], help="output format")
    # Hidden: one name a line, for the shell completion scripts (see completion.py).
    ls.add_argument("--names", choices=["containers", "images"], help=argparse.SUPPRESS)

    rm = sub.add_parser("rm", help="remove containers", description="Remove crossbox containers.")
    rm.add_argument("-f", "--force", action="store_true", help="remove running containers too")
    rm.add_argument("-a", "--all", action="store_true", help="remove every crossbox container")
    rm.add_argument("containers", nargs="*", metavar="CONTAINER", help="containers to remove")

    rmi = sub.add_parser("rmi", help="remove images", description="Remove images.")
    rmi.add_argument("-f", "--force", action="store_true", help="also remove containers using them")
    rmi.add_argument("-a", "--all", action="store_true", help="remove every image crossbox lists")
    rmi.add_argument("images", nargs="*", metavar="IMAGE", help="images to remove")

    d = sub.add_parser("doctor", help="check the host and name the fix for each problem",
                       description=(
                           "Check everything crossbox needs on this host: kernel, binfmt_misc, "
                           "user namespaces, subordinate ids, podman, skopeo and a static QEMU "
                           "for each architecture asked for. Exits 0 only when all pass."))
    d.add_argument("-a", "--arch", action="append", default=[], help=ARCH_HELP + "; repeatable")
    d.add_argument("--format", default="table", choices=["table", "json"], help="output format")

    comp = sub.add_parser("completion", help="print a shell completion script", description=(
        "Print the completion script for bash, zsh or fish. It completes commands, options, "
        "architectures, and the names of existing containers and images."))
    comp.add_argument("shell", choices=["bash", "zsh", "fish"], help="the shell")
    return p


def _dispatch(args: argparse.Namespace) -> int:
    verb = args.verb
    yes = bool(getattr(args, "assumeyes", False))
    if verb == "create":
        from .create import CreateRequest, create

        name = create(CreateRequest(arch=args.arch, distro=args.distro, release=args.release,
                                    image=args.image, authfile=args.authfile, name=args.container,
                                    assume_yes=yes, log_level=args.log_level))
        print(f"Created container {name}")
        print(f"Enter it with: crossbox enter {name}")
        return 0
    if verb in ("enter", "run"):
        from .enter import SessionRequest, enter_or_run, run_oneshot

        if verb == "run":
            command = list(args.command)
            if command and command[0] == "--":
                command = command[1:]
            if not command:
                from .errors import InvalidInput

                raise InvalidInput("run needs a command", "e.g. crossbox run uname -m")
            if args.rm or args.image:
                if not (args.rm and args.image):
                    from .errors import InvalidInput

                    raise InvalidInput("--rm and --image go together (one-shot run)",
                                       "give both, or use -c CONTAINER")
                if args.container or args.distro or args.release:
                    from .errors import InvalidInput

                    raise InvalidInput("a one-shot run takes --image, not a container or distribution")
                return run_oneshot(args.image, args.arch, args.authfile, tuple(command), yes,
                                   args.log_level)
            container = args.container
        else:
            command = []
            container = args.container
        return enter_or_run(SessionRequest(command=tuple(command), container=container,
                                           arch=args.arch, distro=args.distro,
                                           release=args.release, assume_yes=yes,
                                           log_level=args.log_level))
    if verb == "list" and args.names:
        from .completion import names

        sys.stdout.write("".join(f"{name}\n" for name in names(args.names)))
        return 0
    if verb == "list":
        from .listing import run_list

        print(run_list(args.containers, args.images, args.format))
        return 0
    if verb == "rm":
        from .remove import rm

        for name in rm(args.containers, args.force, args.all):
            print(name)
        return 0
    if verb == "rmi":
        from .remove import rmi

        for name in rmi(args.images, args.force, args.all):
            print(name)
        return 0
    if verb == "doctor":
        from crossbox.shared.arch import UnknownArchError, host_arch, parse_arch

        from .doctor import doctor
        from .errors import InvalidInput

        try:
            arches = [parse_arch(a) for a in args.arch] or [host_arch()]
        except UnknownArchError as exc:
            raise InvalidInput(str(exc)) from None
        text, status = doctor(arches, args.format, sys.stdout.isatty())
        print(text)
        return status
    if verb == "completion":
        from .completion import script

        sys.stdout.write(script(args.shell))
        return 0
    raise AssertionError(verb)


def _run_status(verb: str, status: int) -> int:
    """run and enter keep Toolbx's statuses: crossbox's own failures are 125."""
    if verb in ("run", "enter") and status not in (Exit.INTERRUPTED, Exit.TERMINATED):
        return int(Exit.RUN_FAILED)
    return status


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
    elif len(argv) == 2 and argv[0] == "enter":
        name, command = argv[1], []
    else:
        return None
    if not name or not name[0].isalnum() or not _NAME_CHARS.issuperset(name) or (argv[0] == "run" and not command):
        return None
    return name, command


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given == ["--version"]:  # what argparse would print, without building the parser
        sys.stdout.write(f"{PROG} {VERSION}\n")
        return 0
    hot = hot_session(given)
    if hot is not None:
        from .enter import exec_if_ready

        exec_if_ready(*hot)  # returns only when the container is not ready: the usual path then
    parser = build_parser()
    args = parser.parse_args(given)
    log.configure(args.log_level, args.log_format)
    from . import signals

    signals.install()
    try:
        return _dispatch(args)
    except CrossboxError as exc:
        if log.enabled("debug"):
            import traceback

            traceback.print_exc()
        sys.stderr.write(exc.line() + "\n")
        return _run_status(args.verb, int(exc.status))
    except KeyboardInterrupt:
        sys.stderr.write("crossbox: interrupted\n")
        return int(Exit.INTERRUPTED)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
