"""crossbox run: a command in a container with podman exec, or in a throw-away one.

`enter` is `run` of the user's login shell (as in Toolbx, where enter.go calls
run.go's runCommand): the session code lives here and commands/enter.py calls it.

The hot path (a running, ready container named on the command line) imports
only crossbox.host.state, .identity and .tools.exec_args, takes one flock and
becomes `podman exec`.
"""

from __future__ import annotations

import os
import sys

from .. import identity as identity_mod
from .. import state
from ..tools import exec_args

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    import argparse


class SessionRequest:
    """What `enter` and `run` were asked (a plain class: dataclasses cost import time here)."""

    __slots__ = ("arch", "assume_yes", "command", "container", "distro", "log_level", "release")

    def __init__(self, command: tuple[str, ...] = (), container: str | None = None,
                 arch: str | None = None, distro: str | None = None, release: str | None = None,
                 assume_yes: bool = False, log_level: str = "warning") -> None:
        self.command = command  # empty: the user's login shell (enter)
        self.container = container
        self.arch = arch
        self.distro = distro
        self.release = release
        self.assume_yes = assume_yes
        self.log_level = log_level


def _workdir(identity: identity_mod.Identity, name: str, *, warn: bool = True) -> str:
    """The current directory when the container shares it, else home (said on stderr if warn)."""
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = identity.home
    workdir, kept = exec_args.choose_workdir(cwd, identity.shared_dirs(), identity.default_workdir())
    if warn and not kept and identity.home_mount:
        sys.stderr.write(f"crossbox: {cwd} is not shared with container {name}; starting in {workdir}\n")
    return workdir


def _exec(name: str, command: list[str]) -> None:
    from ..tools.runner import exec_replace

    identity = identity_mod.current()
    args = exec_args.exec_args(name, identity.name, _workdir(identity, name),
                               command or exec_args.shell_command(identity.shell),
                               tty=sys.stdin.isatty(), environ=os.environ)
    exec_replace(args)


def exec_if_ready(name: str, command: list[str]) -> None:
    """The hot path: become `podman exec` if the container is running and ready."""
    if state.is_ready(name):
        try:
            _exec(name, command)
        except Exception:  # e.g. podman missing: the usual path reports it properly
            return


def enter_or_run(req: SessionRequest) -> int:
    if req.container and not (req.arch or req.distro or req.release) and state.is_ready(req.container):
        _exec(req.container, list(req.command))
    return _slow_path(req)


def _slow_path(req: SessionRequest) -> int:
    from .. import images
    from ..errors import InvalidInput, NotFound
    from ..prompt import confirm
    from .create import CreateRequest, create, resolve_target

    target = None
    if req.container:
        if req.arch or req.distro or req.release:
            raise InvalidInput(
                "a container name cannot be combined with --arch, --distro or --release",
                "the container already has its architecture and image",
            )
        name = images.check_container_name(req.container)
    else:
        target = resolve_target(CreateRequest(arch=req.arch, distro=req.distro, release=req.release))
        name = target.container
    try:
        state.ensure_ready(name)
    except NotFound:
        if target is None:
            raise
        only = _the_only_container(req)
        if only is not None:
            # As Toolbx does: no default container, but exactly one exists: use that one.
            sys.stderr.write(f"crossbox: no container {name}; using {only}, the only crossbox container\n")
            name = only
            state.ensure_ready(name)
        else:
            confirm(
                f"No container {name} exists. Create it for {target.arch.oci} from {target.remote}?",
                req.assume_yes,
                what="create it",
            )
            create(CreateRequest(arch=target.arch.name, image=str(target.remote), name=name,
                                 assume_yes=req.assume_yes, log_level=req.log_level))
            state.ensure_ready(name)
    _exec(name, list(req.command))
    raise AssertionError("exec returned")


def _the_only_container(req: SessionRequest) -> str | None:
    """With nothing asked for at all (no name, arch, distribution or release), the one
    crossbox container, if there is exactly one: `crossbox create --arch arm64` followed
    by a bare `crossbox enter` enters it."""
    if req.arch or req.distro or req.release:
        return None
    from ..tools import podman

    containers = podman.list_containers()
    return containers[0].name if len(containers) == 1 else None


def run_oneshot(image: str, arch: str | None, authfile: str | None, command: tuple[str, ...],
                assume_yes: bool, log_level: str) -> int:
    """podman run --rm with the agent in one-shot mode: nothing is kept but the image."""
    import secrets

    from crossbox.shared import contract

    from .. import pull
    from ..tools import create_args
    from ..tools.runner import exec_replace
    from .create import CreateRequest, build_spec, check_authfile, resolve_target

    check_authfile(authfile)
    target = resolve_target(CreateRequest(arch=arch, image=image))
    identity = identity_mod.current()
    name = f"crossbox-run-{secrets.token_hex(4)}"
    spec = build_spec(target, name, identity, log_level, state_dir=None)
    pull.ensure_image(target, authfile=authfile, assume_yes=assume_yes)
    workdir = _workdir(identity, name, warn=False)
    args = ["podman", "run", "--rm", "--interactive", "--detach-keys", ""]
    if sys.stdin.isatty():
        args.append("--tty")
    args += create_args.podman_create_args(spec, contract.MODE_ONESHOT, workdir=workdir,
                                           command=command, oneshot_env=exec_args.passed_env(os.environ))
    exec_replace(args)


def main(args: argparse.Namespace) -> int:
    from ..errors import InvalidInput

    yes = bool(getattr(args, "assumeyes", False))
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise InvalidInput("run needs a command", "e.g. crossbox run uname -m")
    if args.rm or args.image:
        if not (args.rm and args.image):
            raise InvalidInput("--rm and --image go together (one-shot run)",
                               "give both, or use -c CONTAINER")
        if args.container or args.distro or args.release:
            raise InvalidInput("a one-shot run takes --image, not a container or distribution")
        return run_oneshot(args.image, args.arch, args.authfile, tuple(command), yes, args.log_level)
    return enter_or_run(SessionRequest(command=tuple(command), container=args.container,
                                       arch=args.arch, distro=args.distro, release=args.release,
                                       assume_yes=yes, log_level=args.log_level))
