"""After set-up: stay as the container's init, or hand off to the user's command."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys

from crossbox.shared.contract import GuestSpec

from . import log
from .users import choose_shell, supplementary_groups

INIT_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD}


def block_init_signals() -> None:
    """Queue the signals an init cares about until serve() waits for them.

    PID 1 of a PID namespace ignores signals it has no handler for, so without
    this a `podman stop` during set-up would wait for its kill timeout.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, INIT_SIGNALS)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve() -> int:
    """Reap orphans until asked to stop; exit promptly and cleanly on SIGTERM."""
    block_init_signals()
    while True:
        info = signal.sigwaitinfo(INIT_SIGNALS)
        if info.si_signo == signal.SIGCHLD:
            _reap()
            continue
        log.debug("stopping", signal=signal.Signals(info.si_signo).name)
        return 0


def handoff(spec: GuestSpec) -> int:
    """exec the one-shot command as the user, in the user's working directory."""
    user = spec.user
    shell = choose_shell(user.shell)
    env = dict(os.environ)
    env.update(HOME=user.home, USER=user.name, LOGNAME=user.name, SHELL=shell)
    if user.uid != 0:
        os.setgroups(supplementary_groups(user))
        os.setgid(user.gid)
        os.setuid(user.uid)
    for directory in (spec.workdir, user.home, "/"):
        if directory:
            with contextlib.suppress(OSError):
                os.chdir(directory)
                break
    if spec.workdir and os.getcwd() != spec.workdir:
        log.warning("working directory does not exist in the container", wanted=spec.workdir,
                    using=os.getcwd())
    command = list(spec.command)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            sys.stderr.write(f"crossbox: {command[0]}: command not found\n")
            return 127
        sys.stderr.write(f"crossbox: {command[0]}: {exc.strerror}\n")
        return 126
    return 126  # not reached: execvpe returns only by raising
