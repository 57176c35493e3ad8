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
from ..log import notice
from ..tools import exec_args

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    import argparse


class SessionRequest:
    """What `enter` and `run` were asked (a plain class: dataclasses cost import time here)."""

    __slots__ = ("arch", "assume_yes", "command", "container", "distro", "log_level", "preserve_fds",
                 "release")

    def __init__(self, command: tuple[str, ...] = (), container: str | None = None,
                 arch: str | None = None, distro: str | None = None, release: str | None = None,
                 assume_yes: bool = False, log_level: str = "warning", preserve_fds: int = 0) -> None:
        self.command = command  # empty: the user's login shell (enter)
        self.container = container
        self.arch = arch
        self.distro = distro
        self.release = release
        self.assume_yes = assume_yes
        self.log_level = log_level
        self.preserve_fds = preserve_fds


def _workdir(identity: identity_mod.Identity, name: str, *, warn: bool = True) -> str:
    """The current directory when the container shares it, else home (said on stderr if warn)."""
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    workdir, kept = exec_args.choose_workdir(cwd or identity.home, identity.shared_dirs(),
                                             identity.default_workdir())
    if warn and cwd is None:
        notice(f"the current directory no longer exists; starting in {workdir}")
    elif warn and not kept and identity.home_mount:
        notice(f"{cwd} is not shared with container {name}; starting in {workdir}")
    return workdir


def _session_files(name: str) -> tuple[dict[str, str], list[str] | None]:
    """What the agent worked out at start: the login environment (with the native tools' PATH
    and libraries, unless CROSSBOX_NATIVE_TOOLS=0) and the image's locales."""
    from crossbox.shared import sessionenv

    shared = state.shared_dir(name)
    data = sessionenv.read_file(os.path.join(shared, sessionenv.SESSION_ENV))
    login = sessionenv.decode(data) if data else {}
    from ..settings import current as settings

    if settings().native_tools:
        from crossbox.shared import nativetools

        native = sessionenv.read_file(os.path.join(shared, nativetools.NATIVE_ENV))
        if native:
            login.update(sessionenv.decode(native))
    text = sessionenv.read_file(os.path.join(shared, sessionenv.LOCALES))
    locales = text.decode("utf-8", errors="replace").split() if text is not None else None
    return login, locales


def _say_locale_once(name: str, replaced: list[str], fallback: str) -> None:
    """One line per box (and per locale): a host locale the image lacks."""
    marker = os.path.join(state.state_dir(name), "locale-said")
    said = ",".join(replaced)
    try:
        with open(marker, encoding="utf-8") as f:
            if f.read() == said:
                return
    except OSError:
        pass
    notice(f"container {name} has no locale {' or '.join(replaced)}; using {fallback} "
           "in it (install the locale in the container to use it)")
    try:
        with open(marker, "w", encoding="utf-8") as f:
            f.write(said)
    except OSError:
        pass


def _signal_session(name: str, token: str, signum: int) -> None:
    """Ask the container's agent to signal this session's processes (the control FIFO)."""
    from crossbox.shared.paths import CONTROL_FIFO

    fd = os.open(os.path.join(state.shared_dir(name), CONTROL_FIFO),
                 os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.write(fd, f"{token} {signum}\n".encode())
    finally:
        os.close(fd)


NOT_RUNNING = b"Error: can only create exec sessions on running containers"
NOT_RUNNING_STATUS = 255  # podman exec's own failure


class StoppedMeanwhile(Exception):
    """podman refused the exec because the container is not running (nothing ran): the box
    looked ready from a lock a stopping container's last process still held."""


def session(name: str, container_id: str, command: list[str], preserve_fds: int = 0,
            retry_if_stopped: bool = False) -> int:
    """`podman exec` into the ready container; crossbox waits for it and passes signals on.
    retry_if_stopped: raise StoppedMeanwhile (podman's line held back) when podman says the
    container is not running, so that the caller starts it and runs the command then."""
    from crossbox.shared.paths import SESSION_VAR

    from ..tools.runner import run_session

    identity = identity_mod.current()
    login, locales = _session_files(name)
    env, replaced = exec_args.session_env(os.environ, user=identity.name, home=identity.home,
                                          login=login, locales=locales)
    if replaced:
        _say_locale_once(name, replaced, env.get("LANG") or env.get("LC_ALL") or "C")
    token = os.urandom(8).hex()
    env[SESSION_VAR] = token
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    command = command or exec_args.shell_command(identity.shell)
    args = exec_args.exec_args(container_id, identity.name, _workdir(identity, name), command,
                               tty=tty, env=env, preserve_fds=preserve_fds)

    stopped: list[bool] = []

    def cannot_start(line: bytes) -> tuple[int, bytes] | None:
        """podman's OCI text for a command missing or not executable in the box: one sentence."""
        if retry_if_stopped and line.startswith(NOT_RUNNING):
            stopped.append(True)
            return NOT_RUNNING_STATUS, b""
        from ..tools import ocierror

        return ocierror.candidate(command[0], name, line)

    status = run_session(args, lambda signum: _signal_session(name, token, signum), own_group=not tty,
                         stderr_filter=cannot_start)
    if stopped and status == NOT_RUNNING_STATUS:
        raise StoppedMeanwhile(name)
    return status


def run_if_ready(name: str, command: list[str]) -> int | None:
    """The hot path: when the container is running and ready, run the session; its status,
    or None when the usual path must do it (not ready, or anything went wrong before)."""
    container_id = state.ready_id(name)
    if container_id is None:
        return None
    try:
        return session(name, container_id, command, retry_if_stopped=True)
    except Exception:  # e.g. podman missing, or the box stopping: the usual path does it properly
        return None


def enter_or_run(req: SessionRequest) -> int:
    if req.container and not (req.arch or req.distro or req.release):
        container_id = state.ready_id(req.container)
        if container_id is not None and not req.preserve_fds:
            try:
                return session(req.container, container_id, list(req.command), retry_if_stopped=True)
            except StoppedMeanwhile:
                pass  # started below
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
        container_id = state.ensure_ready(name)
    except NotFound:
        if target is None:
            raise
        only = _the_only_container(req)
        if only is not None:
            # As Toolbx does: no default container, but exactly one exists: use that one.
            notice(f"no container {name}; using {only}, the only crossbox container")
            name = only
            container_id = state.ensure_ready(name)
        else:
            confirm(
                f"No container {name} exists. Create it for {target.arch.oci} from {target.remote}?",
                req.assume_yes,
                what="create it",
            )
            create(CreateRequest(arch=target.arch.name, image=str(target.remote), name=name,
                                 assume_yes=req.assume_yes, log_level=req.log_level))
            container_id = state.ensure_ready(name)
    try:
        return session(name, container_id, list(req.command), req.preserve_fds, retry_if_stopped=True)
    except StoppedMeanwhile:  # stopped between its start and the exec: once more
        return session(name, state.ensure_ready(name), list(req.command), req.preserve_fds)


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
    """podman run --rm with the agent in one-shot mode: nothing is kept but the image.

    The agent stays PID 1 and passes signals on to the command; podman run's signal proxy
    brings SIGINT and SIGTERM that reach crossbox (which becomes podman run) to the agent.
    """
    from crossbox.shared import contract

    from .. import pull
    from ..tools import create_args
    from ..tools.runner import exec_replace
    from .create import CreateRequest, build_spec, check_authfile, host_emulator, resolve_target

    check_authfile(authfile)
    target = resolve_target(CreateRequest(arch=arch, image=image))
    identity = identity_mod.current()
    name = f"crossbox-run-{os.urandom(4).hex()}"
    emu = host_emulator(target)
    info = pull.ensure_image(target, authfile=authfile, assume_yes=assume_yes)
    spec = build_spec(target, name, identity, log_level, None, info, emu)
    workdir = _workdir(identity, name, warn=False)
    env, _ = exec_args.session_env(os.environ, user=identity.name, home=identity.home, login={}, locales=None)
    args = ["podman", "run", "--rm", "--interactive", "--detach-keys", ""]
    if sys.stdin.isatty() and sys.stdout.isatty():
        args.append("--tty")
    args += create_args.podman_create_args(spec, contract.MODE_ONESHOT, workdir=workdir,
                                           command=command, oneshot_env=env)
    exec_replace(args)


def main(args: argparse.Namespace) -> int:
    from ..errors import InvalidInput

    yes = bool(getattr(args, "assumeyes", False))
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise InvalidInput("run needs a command", "e.g. crossbox run uname -m")
    if args.arch and "," in args.arch:  # a list: one one-shot run per architecture
        from . import matrix

        matrix.check_matrix_options(rm=args.rm, image=args.image, container=args.container,
                                    distro=args.distro, release=args.release)
        return matrix.run_matrix(args.image, args.arch, args.authfile, command, assume_yes=yes,
                                 log_level=args.log_level, log_format=args.log_format)
    if args.rm or args.image:
        if not (args.rm and args.image):
            raise InvalidInput("--rm and --image go together (one-shot run)",
                               "give both, or use -c CONTAINER")
        if args.container or args.distro or args.release:
            raise InvalidInput("a one-shot run takes --image, not a container or distribution")
        return run_oneshot(args.image, args.arch, args.authfile, tuple(command), yes, args.log_level)
    preserve = args.preserve_fds
    if preserve < 0:
        raise InvalidInput(f"--preserve-fds {preserve} is negative", "give the number of extra descriptors, e.g. 1")
    for fd in range(3, 3 + preserve):
        try:
            os.fstat(fd)
        except OSError:
            raise InvalidInput(f"--preserve-fds {preserve} passes descriptor {fd}, which is not open",
                               f"open descriptors 3 to {2 + preserve} for crossbox (e.g. `3<file`)") from None
    return enter_or_run(SessionRequest(command=tuple(command), container=args.container,
                                       arch=args.arch, distro=args.distro, release=args.release,
                                       assume_yes=yes, log_level=args.log_level, preserve_fds=preserve))
