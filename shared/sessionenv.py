"""The session environment: what the agent works out once per start, and every `run` and
`enter` passes to `podman exec`.

The agent writes two files into the container's state directory (a host
directory): ``session.env``, the variables a login shell of the user sets up in
the image (Toolbx runs every command through a login shell; under emulation
that costs far more than a command, so it is done once) together with the
image's variables that were held back from the agent's own start; and
``locales``, the locales the image has. The host reads them on the hot path:
this module imports nothing.

Both are written by the container and read by the host, so the reader trusts
nothing: a size limit, variable names checked, NUL-separated entries.
"""

from __future__ import annotations

SESSION_ENV = "session.env"
LOCALES = "locales"
MAX_BYTES = 256 * 1024
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")


def valid_name(name: str) -> bool:
    return bool(name) and name[0] in _NAME_START and _NAME_CHARS.issuperset(name)


def encode(env: dict[str, str]) -> bytes:
    return b"".join(f"{k}={v}".encode("utf-8", errors="surrogateescape") + b"\0"
                    for k, v in env.items() if valid_name(k) and "\0" not in v)


def decode(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in data[:MAX_BYTES].split(b"\0"):
        name, sep, value = entry.decode("utf-8", errors="surrogateescape").partition("=")
        if sep and valid_name(name):
            out[name] = value
    return out


def parse_env_output(text: str) -> dict[str, str]:
    """What `env -0` (NUL-separated) or plain `env` (a line each) printed."""
    if "\0" in text:
        return decode(text.encode("utf-8", errors="surrogateescape"))
    out: dict[str, str] = {}
    last = None
    for line in text.split("\n"):
        name, sep, value = line.partition("=")
        if sep and valid_name(name):
            out[name] = value
            last = name
        elif last is not None and line:  # a value with a newline in it
            out[last] += "\n" + line
    return out


def read_file(path: str) -> bytes | None:
    """A file of the state directory, never through a link, at most MAX_BYTES."""
    import os

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return os.read(fd, MAX_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)


def normalize_locale(name: str) -> str:
    """As glibc compares locale names: ``en_US.UTF-8`` and ``en_US.utf8`` are one locale."""
    base, dot, rest = name.partition(".")
    if not dot:
        return name
    codeset, at, modifier = rest.partition("@")
    codeset = "".join(c for c in codeset.lower() if c.isalnum())
    return f"{base}.{codeset}{at}{modifier}"
