"""`podman exec` argument lists and the session environment for run and enter. Pure, light.

The environment of a session, as Toolbx gives it and then some:
1. what a login shell of the user sets up in the image (the agent works it out once
   per start: crossbox.shared.sessionenv), with the image's variables crossbox kept
   from the agent's own start;
2. the host's variables of Toolbx's list (``PASSED_ENV``), which win over 1;
3. USER, LOGNAME and HOME of the user; SHELL as the host has it;
4. a host locale the image lacks is replaced by C.UTF-8 (else C) for the session.
"""

from __future__ import annotations

from crossbox.shared.sessionenv import normalize_locale

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    from collections.abc import Mapping

# Toolbx's list (src/pkg/utils/utils.go, preservedEnvironmentVariables, 0.3), without
# TOOLBOX_PATH (toolbox's own binary), with the locale variables and NO_COLOR added.
PASSED_ENV = (
    "COLORTERM", "CONTAINERS_STORAGE_CONF", "DBUS_SESSION_BUS_ADDRESS", "DBUS_SYSTEM_BUS_ADDRESS",
    "DESKTOP_SESSION", "DISPLAY", "HISTCONTROL", "HISTFILE", "HISTFILESIZE", "HISTIGNORE", "HISTSIZE",
    "HISTTIMEFORMAT", "KDE_FULL_SESSION", "KDE_SESSION_VERSION", "KONSOLE_DBUS_SESSION",
    "KONSOLE_DBUS_WINDOW", "KONSOLE_PROFILE_NAME", "KONSOLE_VERSION", "LANG", "LANGUAGE",
    "LC_ADDRESS", "LC_ALL", "LC_COLLATE", "LC_CTYPE", "LC_IDENTIFICATION", "LC_MEASUREMENT",
    "LC_MESSAGES", "LC_MONETARY", "LC_NAME", "LC_NUMERIC", "LC_PAPER", "LC_TELEPHONE", "LC_TIME",
    "NO_COLOR", "SHELL", "SSH_AUTH_SOCK", "TERM", "VTE_VERSION", "WAYLAND_DISPLAY", "XAUTHORITY",
    "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_CURRENT_DESKTOP", "XDG_DATA_DIRS", "XDG_DATA_HOME",
    "XDG_MENU_PREFIX", "XDG_RUNTIME_DIR", "XDG_SEAT", "XDG_SESSION_CLASS", "XDG_SESSION_DESKTOP",
    "XDG_SESSION_ID", "XDG_SESSION_TYPE", "XDG_STATE_HOME", "XDG_VTNR", "XTERM_VERSION",
)
LOCALE_VARIABLES = ("LANG", "LC_ALL", "LC_ADDRESS", "LC_COLLATE", "LC_CTYPE", "LC_IDENTIFICATION",
                    "LC_MEASUREMENT", "LC_MESSAGES", "LC_MONETARY", "LC_NAME", "LC_NUMERIC", "LC_PAPER",
                    "LC_TELEPHONE", "LC_TIME")
BUILTIN_LOCALES = frozenset({"C", "POSIX"})

LOGIN_SHELL_SCRIPT = 'if [ -x "$1" ]; then exec "$1" -l; fi; exec /bin/sh -l'


def passed_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: environ[k] for k in PASSED_ENV if k in environ}


def locale_fallback(env: dict[str, str], locales: list[str] | None) -> tuple[dict[str, str], list[str]]:
    """Replace locales the image lacks; return the new environment and the names replaced.

    ``locales`` is what `locale -a` printed in the image; None when it has no `locale`
    (musl images, which need no locale files): then nothing is replaced.
    """
    if locales is None:
        return env, []
    have = {normalize_locale(name) for name in locales} | BUILTIN_LOCALES
    fallback = "C.UTF-8" if normalize_locale("C.UTF-8") in have else "C"
    out = dict(env)
    missing = []
    for var in LOCALE_VARIABLES:
        value = out.get(var)
        if value and normalize_locale(value) not in have:
            missing.append(value)
            out[var] = fallback
    return out, list(dict.fromkeys(missing))


def session_env(environ: Mapping[str, str], *, user: str, home: str, login: Mapping[str, str],
                locales: list[str] | None) -> tuple[dict[str, str], list[str]]:
    """The whole environment of a session (see the module's docstring); the locales replaced."""
    env = dict(login)
    env.update(passed_env(environ))
    env.update(USER=user, LOGNAME=user, HOME=home)
    return locale_fallback(env, locales)


def exec_args(target: str, user: str, workdir: str, command: list[str], *, tty: bool,
              env: Mapping[str, str], preserve_fds: int = 0) -> list[str]:
    """`podman exec`: interactive, a terminal only when given one, no detach keys."""
    args = ["podman", "exec", "--interactive", "--detach-keys", ""]
    if tty:
        args.append("--tty")
    if preserve_fds:
        args += ["--preserve-fds", str(preserve_fds)]
    args += ["--user", user, "--workdir", workdir]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    args.append(target)
    args += command
    return args


def shell_command(host_shell: str) -> list[str]:
    """Start the user's shell if the image has it, else /bin/sh, as a login shell."""
    return ["/bin/sh", "-c", LOGIN_SHELL_SCRIPT, "sh", host_shell]


def choose_workdir(cwd: str, shared: list[str], home: str) -> tuple[str, bool]:
    """cwd when it lies in a directory shared at the same path, else home. Second: kept?"""
    for root in shared:
        if cwd == root or cwd.startswith(root.rstrip("/") + "/"):
            return cwd, True
    return home, False
