"""Work out, once per start, what a login shell of the user sets up in the image, and which
locales the image has; write both into the state directory for `run` and `enter`.

Toolbx runs every `run` through `bash --login`. Under emulation a login shell
costs hundreds of milliseconds (the profile scripts run emulated programs), more
than a whole warm `run` may take, so the agent runs the user's login shell once,
as the user, in the user's home, and records the variables it set or changed.
"""

from __future__ import annotations

import contextlib
import os
import subprocess

from crossbox.shared import sessionenv
from crossbox.shared.contract import STATE_DIR, User

from . import log, safefs
from .users import choose_shell, supplementary_groups

TIMEOUT_SECONDS = 10.0
MARK = "@@crossbox-env@@"
# locale -a first (if the image has it), then the environment, NUL-separated where env can.
SCRIPT = (f'if command -v locale >/dev/null 2>&1; then locale -a 2>/dev/null; fi; printf "\\n%s\\n" "{MARK}"; '
          "env -0 2>/dev/null || env")


def base_environment(user: User, shell: str, image_env: dict[str, str]) -> dict[str, str]:
    """What the login shell starts from: the image's variables and the user's identity."""
    env = dict(image_env)
    env.update(HOME=user.home, USER=user.name, LOGNAME=user.name, SHELL=shell, TERM="dumb")
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return env


def parse_output(text: str) -> tuple[list[str] | None, dict[str, str]]:
    """The locales (None when the image has no `locale` to ask) and the environment."""
    head, mark, tail = text.partition(f"\n{MARK}\n")
    if not mark:
        return None, {}
    locales = [line.strip() for line in head.splitlines() if line.strip()]
    return (locales or None), sessionenv.parse_env_output(tail)


def changed_by_login(base: dict[str, str], after: dict[str, str]) -> dict[str, str]:
    """The variables the login shell set or changed (not the ones it only inherited)."""
    skip = {"_", "SHLVL", "PWD", "OLDPWD", "TERM"}
    return {k: v for k, v in after.items() if k not in skip and base.get(k) != v}


def run_login_shell(user: User, image_env: dict[str, str]) -> tuple[list[str] | None, dict[str, str]]:
    shell = choose_shell(user.shell)
    base = base_environment(user, shell, image_env)
    kwargs: dict[str, object] = {}
    if user.uid != 0:
        kwargs = {"user": user.uid, "group": user.gid, "extra_groups": supplementary_groups(user)}
    cwd = user.home if os.path.isdir(user.home) else "/"
    try:
        done = subprocess.run([shell, "-l", "-c", SCRIPT], env=base, cwd=cwd, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=TIMEOUT_SECONDS, check=False,
                              **kwargs)  # type: ignore[call-overload]
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("no login environment: the login shell did not run", shell=shell, error=str(exc))
        return None, {}
    locales, after = parse_output(done.stdout.decode("utf-8", errors="surrogateescape"))
    if not after:
        log.warning("no login environment: the login shell printed none", shell=shell,
                    status=done.returncode)
    return locales, changed_by_login(base, after)


def write(held: dict[str, str], login: dict[str, str], locales: list[str] | None,
          state_dir: str = STATE_DIR) -> None:
    """session.env: the held image variables, then the login shell's; locales: one a line."""
    env = dict(held)
    env.update(login)
    safefs.write_bytes("/" + sessionenv.SESSION_ENV, sessionenv.encode(env), mode=0o644, root=state_dir,
                       keep_attributes=False)
    if locales is not None:
        text = "".join(f"{name}\n" for name in locales)
        safefs.write_text("/" + sessionenv.LOCALES, text, mode=0o644, root=state_dir, keep_attributes=False)
    else:
        with safefs.parent_dir("/" + sessionenv.LOCALES, root=state_dir) as (dir_fd, name), \
                contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dir_fd)
