"""Every external command goes through here: logged, typed errors, no shell ever."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from . import log
from .errors import ToolError, ToolMissing

WHY = {
    "podman": "to run containers",
    "skopeo": "to pull an image of a foreign architecture",
}


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def _check_argv(argv: Sequence[str]) -> list[str]:
    out = list(argv)
    for item in out:
        if not isinstance(item, str):
            raise TypeError(f"argv element {item!r} is not a string")
    return out


def doctor_hint(arch_oci: str | None = None) -> str:
    return f"run `crossbox doctor{f' --arch {arch_oci}' if arch_oci else ''}` for details"


def missing(tool: str, arch_oci: str | None = None) -> ToolMissing:
    """A tool not on PATH: what it is needed for, how to install it, and where to look next."""
    from .osrelease import package_install_hint, read_os_release

    hint = f"{package_install_hint(tool, read_os_release())}; {doctor_hint(arch_oci)}"
    return ToolMissing(tool, WHY.get(tool, ""), hint)


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    capture: bool = True,
    stdin: int | None = subprocess.DEVNULL,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    new_session: bool = False,
) -> Completed:
    """Run to completion. new_session: a terminal's Ctrl-C reaches crossbox, not the tool."""
    args = _check_argv(argv)
    log.debug("+ " + shlex.join(args))
    try:
        done = subprocess.run(
            args,
            stdin=stdin,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            timeout=timeout,
            start_new_session=new_session,
            text=True,
            errors="replace",
            check=False,
        )
    except FileNotFoundError:
        raise missing(args[0]) from None
    result = Completed(tuple(args), done.returncode, done.stdout or "", done.stderr or "")
    if check and done.returncode != 0:
        raise ToolError(args, done.returncode, result.stderr)
    return result


def spawn(argv: Sequence[str], **kwargs: object) -> subprocess.Popen[str]:
    args = _check_argv(argv)
    log.debug("+ " + shlex.join(args))
    try:
        return subprocess.Popen(args, text=True, errors="replace", **kwargs)  # type: ignore[call-overload,no-any-return]
    except FileNotFoundError:
        raise missing(args[0]) from None


def exec_replace(argv: Sequence[str], env: Mapping[str, str] | None = None) -> NoReturn:
    """Become the command (the hot path of `run` and `enter`)."""
    args = _check_argv(argv)
    log.debug("exec " + shlex.join(args))
    try:
        if env is None:
            os.execvp(args[0], args)
        else:
            os.execvpe(args[0], args, dict(env))
    except FileNotFoundError:
        raise missing(args[0]) from None
