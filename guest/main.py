"""Entry point of the guest agent (PID 1 of every crossbox container).

Started natively through the host's own dynamic loader and Python (see
crossbox.host.interpreter), so it needs nothing from the image: before QEMU is
registered nothing foreign can run, and the agent runs nothing foreign until then.
It imports only from crossbox's own mount (nothing of the image's), starts with an
environment from which crossbox removed the image's loader variables, and the
image's /etc/ld.so.preload is masked until its own loader no longer matters.
"""

from __future__ import annotations

import os
import sys
import time

from crossbox.shared.arch import UnknownArchError, host_arch, parse_arch
from crossbox.shared.contract import HOST_ROOT, MODE_INIT, PRELOAD_FILE, STATE_DIR, ContractError, GuestSpec

from . import log
from .safety import GuestError, check_in_container

EXIT_CONTRACT = 2
EXIT_SETUP = 1
EXIT_BUG = 70

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .hostfiles import HostsFile


def _since_exec_ms() -> float:
    """Milliseconds since this process was exec'd (10 ms resolution, from /proc)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        now = time.clock_gettime(time.CLOCK_BOOTTIME)
        return (now - start_ticks / os.sysconf("SC_CLK_TCK")) * 1000
    except (OSError, ValueError, IndexError):
        return -1.0


def _unmask_preload() -> None:
    """Give the image its own /etc/ld.so.preload back (for its own programs)."""
    from . import mounts

    try:
        mounts.umount(PRELOAD_FILE)
    except OSError as exc:
        log.debug("ld.so.preload mask not lifted", error=exc.strerror)


def protect_host_root() -> None:
    """/run/host read-only all the way down (podman's `ro` makes only its top read-only), and
    locked so: not even the container's root can make it writable again."""
    from . import mounts

    try:
        mounts.read_only_recursive(HOST_ROOT)
        mounts.lock_read_only(HOST_ROOT)
    except OSError as exc:
        raise GuestError(f"cannot make {HOST_ROOT} read-only all the way down: {exc.strerror}") from None



class Session:
    """What set-up leaves for the agent's life: the hosts file to follow, the session environment."""

    def __init__(self, hosts: HostsFile, env: dict[str, str]) -> None:
        self.hosts = hosts
        self.env = env


def setup(spec: GuestSpec) -> Session:
    from . import hostfiles, loginenv, users

    check_in_container()
    try:
        arch = parse_arch(spec.arch)
    except UnknownArchError as exc:
        raise GuestError(str(exc)) from None
    foreign = arch != host_arch()
    if foreign:
        from . import register

        if not spec.emulator:
            raise GuestError(f"no emulator was given for the {arch.name} image; recreate the container")
        register.mount_private_binfmt()
        register.register_emulator(arch, spec.emulator)
    if spec.masked_preload:
        _unmask_preload()  # from here on, the image's own programs only
    if foreign:
        register.prove_emulation(arch)
    else:
        log.debug("native container: no emulation needed", arch=arch.name)
    protect_host_root()
    users.setup_user(spec.user)
    hostfiles.follow_host_files()
    hosts = hostfiles.HostsFile()
    hosts.refresh()
    hostfiles.follow_timezone()
    hostfiles.write_markers(spec.container, arch.name)
    held = dict(spec.held_env)
    locales, login = loginenv.run_login_shell(spec.user, {**os.environ, **held})
    if os.path.isdir(STATE_DIR):
        loginenv.write(held, login, locales)
        if spec.native_libpath and foreign:
            from . import native

            base_path = login.get("PATH") or os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
            native.build(arch, spec.native_libpath, base_path)
    return Session(hosts, {**held, **login})


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = sys.argv[1:] if argv is None else argv
    try:
        spec = GuestSpec.from_argv(args)
    except ContractError as exc:
        sys.stderr.write(f"crossbox-guest: {exc}\n")
        return EXIT_CONTRACT
    log.configure(spec.log_level)

    from . import life
    from .ready import Readiness

    readiness = Readiness()
    life.block_init_signals()
    if spec.mode == MODE_INIT:
        readiness.open()
    try:
        session = setup(spec)
    except GuestError as exc:
        message = str(exc)
        log.debug("set-up failed", error=message)
        sys.stderr.write(f"crossbox-guest: {message}\n")
        readiness.failed(message)
        return EXIT_SETUP
    except Exception as exc:
        import traceback  # only for bugs: importing it costs the agent's start-up 20 ms

        traceback.print_exc()
        message = f"internal error in the guest agent: {exc!r}"
        sys.stderr.write(f"crossbox-guest: {message}\n")
        readiness.failed(message)
        return EXIT_BUG
    agent_ms = (time.perf_counter() - started) * 1000
    since_exec_ms = _since_exec_ms()
    log.info("ready", agent_ms=round(agent_ms, 1), since_exec_ms=round(since_exec_ms, 1))
    if spec.mode != MODE_INIT:
        return life.handoff(spec, session.env)
    life.start_control(STATE_DIR, (spec.user.uid, spec.user.gid))
    readiness.ready(agent_ms=agent_ms, since_exec_ms=since_exec_ms)
    status = life.serve(session.hosts)
    readiness.release()
    return status
