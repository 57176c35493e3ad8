"""Entry point of the guest agent (PID 1 of every crossbox container).

Started natively through the host's own dynamic loader and Python (see
crossbox.host.interpreter), so it needs nothing from the image: before QEMU is
registered nothing foreign can run, and the agent runs nothing foreign until then.
"""

from __future__ import annotations

import os
import sys
import time

from crossbox.shared.arch import UnknownArchError, host_arch, parse_arch
from crossbox.shared.contract import MODE_INIT, ContractError, GuestSpec

from . import log
from .safety import GuestError, check_in_container

EXIT_CONTRACT = 2
EXIT_SETUP = 1
EXIT_BUG = 70


def _since_exec_ms() -> float:
    """Milliseconds since this process was exec'd (10 ms resolution, from /proc)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        now = time.clock_gettime(time.CLOCK_BOOTTIME)
        return (now - start_ticks / os.sysconf("SC_CLK_TCK")) * 1000
    except (OSError, ValueError, IndexError):
        return -1.0


def setup(spec: GuestSpec) -> None:
    from . import hostfiles, users

    check_in_container()
    try:
        arch = parse_arch(spec.arch)
    except UnknownArchError as exc:
        raise GuestError(str(exc)) from None
    if arch != host_arch():
        from . import register

        if not spec.emulator:
            raise GuestError(f"no emulator was given for the {arch.name} image; recreate the container")
        register.mount_private_binfmt()
        register.register_emulator(arch, spec.emulator)
        register.prove_emulation(arch)
    else:
        log.debug("native container: no emulation needed", arch=arch.name)
    users.setup_user(spec.user)
    hostfiles.follow_host_files()
    hostfiles.write_markers(spec.container, arch.name)


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
    if spec.mode == MODE_INIT:
        life.block_init_signals()
        readiness.open()
    try:
        setup(spec)
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
        return life.handoff(spec)
    readiness.ready(agent_ms=agent_ms, since_exec_ms=since_exec_ms)
    return life.serve()
