"""`podman exec` argument lists for run and enter. Pure, and light to import."""

from __future__ import annotations

from collections.abc import Mapping

# Passed from the host into every exec session, as Toolbx does.
PASSED_ENV = (
    "COLORTERM", "DBUS_SESSION_BUS_ADDRESS", "DBUS_SYSTEM_BUS_ADDRESS", "DESKTOP_SESSION",
    "DISPLAY", "HISTCONTROL", "HISTFILE", "HISTFILESIZE", "HISTSIZE", "LANG", "LANGUAGE",
    "LC_ADDRESS", "LC_ALL", "LC_COLLATE", "LC_CTYPE", "LC_IDENTIFICATION", "LC_MEASUREMENT",
    "LC_MESSAGES", "LC_MONETARY", "LC_NAME", "LC_NUMERIC", "LC_PAPER", "LC_TELEPHONE",
    "LC_TIME", "NO_COLOR", "SSH_AUTH_SOCK", "TERM", "VTE_VERSION", "WAYLAND_DISPLAY",
    "XAUTHORITY", "XDG_CURRENT_DESKTOP", "XDG_DATA_DIRS", "XDG_MENU_PREFIX",
    "XDG_RUNTIME_DIR", "XDG_SEAT", "XDG_SESSION_DESKTOP", "XDG_SESSION_ID",
    "XDG_SESSION_TYPE", "XDG_VTNR",
)

LOGIN_SHELL_SCRIPT = 'if [ -x "$1" ]; then exec "$1" -l; fi; exec /bin/sh -l'


def passed_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: environ[k] for k in PASSED_ENV if k in environ}


def exec_args(name: str, user: str, workdir: str, command: list[str], *, tty: bool,
              environ: Mapping[str, str]) -> list[str]:
    """`podman exec`: interactive, a TTY only when stdin is one, no detach keys."""
    args = ["podman", "exec", "--interactive", "--detach-keys", ""]
    if tty:
        args.append("--tty")
    args += ["--user", user, "--workdir", workdir]
    for key, value in passed_env(environ).items():
        args += ["--env", f"{key}={value}"]
    args.append(name)
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
