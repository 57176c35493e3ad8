"""crossbox.conf: the user's defaults for create, enter and run, in Toolbx's shape and places.

Files, the user's over the system's, key by key (as Toolbx reads toolbox.conf):
``$XDG_CONFIG_HOME/containers/crossbox.conf`` (``~/.config/...`` when the variable is
unset; a relative one is refused, as every path setting), then ``/etc/containers/crossbox.conf``. TOML (tomllib), one
table::

    [general]
    arch = "arm64"        # any spelling crossbox takes for --arch
    distro = "debian"     # as --distro
    release = "12"        # as --release
    image = "quay.io/toolbx-images/debian-toolbox:12"   # as --image; wins over distro/release

Options on the command line win over the files (see ``apply``). A file that is not
valid TOML, an unknown table or key, a value that is not a string or that crossbox
refuses as an option: one line naming the file and the line (invalid input, status 3).
A missing file is no file; nothing is read unless a command needs a default.
"""

from __future__ import annotations

import os
import re

from crossbox.shared.records import NamedTuple

from .errors import InvalidInput

SYSTEM_FILE = "/etc/containers/crossbox.conf"
KEYS = ("arch", "distro", "release", "image")


class Defaults(NamedTuple):
    arch: str | None = None
    distro: str | None = None
    release: str | None = None
    image: str | None = None
    sources: tuple[str, ...] = ()  # the files read, the system's first


def user_file() -> str:
    from .settings import current

    base = current().config_home or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "containers", "crossbox.conf")


def files() -> list[str]:
    """Where crossbox looks, in the order read (later wins)."""
    return [SYSTEM_FILE, user_file()]


def _line_of(text: str, key: str, table: str | None = None) -> int | None:
    """The line (1-based) where ``key`` is set or table ``[key]`` opens; None if not found."""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if table == "table" and re.match(rf"\[\[?\s*{re.escape(key)}\s*[\].]", stripped):
            return number
        if table is None and re.match(rf"(\"{re.escape(key)}\"|'{re.escape(key)}'|{re.escape(key)})\s*[=.]",
                                      stripped):
            return number
    return None


def _where(path: str, text: str, key: str, table: str | None = None) -> str:
    line = _line_of(text, key, table)
    return f"{path}, line {line}" if line else path


def _bad(path: str, text: str, key: str, problem: str, table: str | None = None) -> InvalidInput:
    return InvalidInput(f"the configuration file {_where(path, text, key, table)}: {problem}",
                        f"fix it or remove it (crossbox.conf takes [general] with {', '.join(KEYS)})")


def parse(path: str, text: str) -> dict[str, str]:
    """The [general] values of one file's text; InvalidInput naming the file and line."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(r"\(at line (\d+), column \d+\)$", message)
        where = f"{path}, line {found.group(1)}" if found else path
        problem = message[: found.start()].rstrip() if found else message
        raise InvalidInput(f"the configuration file {where} is not valid TOML: {problem}",
                           "fix it or remove it") from None
    for table in data:
        if table != "general":
            raise _bad(path, text, table, f"unknown table or key {table!r} (only [general] is known)",
                       "table" if isinstance(data[table], dict) else None)
    general = data.get("general", {})
    if not isinstance(general, dict):
        raise _bad(path, text, "general", "general must be a table, [general]")
    out: dict[str, str] = {}
    for key, value in general.items():
        if key not in KEYS:
            raise _bad(path, text, key, f"unknown key {key!r} in [general]")
        if not isinstance(value, str):
            raise _bad(path, text, key, f"{key} must be a string, as {key} = \"...\"")
        if value.strip():
            out[key] = value.strip()
    _check(path, text, out)
    return out


def _check(path: str, text: str, values: dict[str, str]) -> None:
    """The values crossbox would refuse as options, refused here with the file's name."""
    from crossbox.shared.arch import UnknownArchError, parse_arch

    from . import images

    if "arch" in values:
        try:
            parse_arch(values["arch"])
        except UnknownArchError as exc:
            raise _bad(path, text, "arch", str(exc)) from None
    try:
        if "image" in values:
            images.parse_image(values["image"])
        distro = images.parse_distro(values["distro"]) if "distro" in values else None
        if distro is not None and "release" in values:
            images.check_release(distro, values["release"])
    except InvalidInput as exc:
        key = "image" if "image" in values and "image" in exc.message else (
            "release" if "release" in values and "release" in exc.message else "distro")
        raise _bad(path, text, key, exc.message) from None


def read(path: str) -> dict[str, str]:
    """One file's values; {} when it does not exist."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise InvalidInput(f"the configuration file {path} is a directory", "remove it or make it a file") from None
    except OSError as exc:
        raise InvalidInput(f"the configuration file {path} cannot be read ({exc.strerror})",
                           "check its permissions, or remove it") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"the configuration file {path} is not UTF-8 text", "fix it or remove it") from None
    return parse(path, text)


def load() -> Defaults:
    merged: dict[str, str] = {}
    sources = []
    for path in files():
        values = read(path)
        if values or os.path.exists(path):
            sources.append(path)
        merged.update(values)
    return Defaults(**merged, sources=tuple(sources))


class Asked(NamedTuple):
    arch: str | None
    distro: str | None
    release: str | None
    image: str | None


def apply(arch: str | None, distro: str | None, release: str | None, image: str | None,
          conf: Defaults) -> Asked:
    """The command line over the files.

    - ``--arch`` wins; else the file's arch (the caller drops it for an image whose tag
      names an architecture, see ``commands/create.resolve_target``).
    - ``--image`` wins over everything but arch; ``--distro``/``--release`` over the
      file's image. With none of the three, the file's image if it has one, else its
      distro and release.
    - ``--distro`` alone takes the file's release only for the file's own distro;
      ``--release`` alone takes the file's distro.
    """
    if arch is None:  # an empty --arch '' is the user's (and refused as such), not unset
        arch = conf.arch
    if image:  # with --distro or --release too, images.resolve refuses the pair
        return Asked(arch, distro, release, image)
    if distro or release:
        if distro and not release and conf.release and conf.distro and _same_distro(distro, conf.distro):
            release = conf.release
        if release and not distro:
            distro = conf.distro
        return Asked(arch, distro, release, None)
    if conf.image:
        return Asked(arch, None, None, conf.image)
    return Asked(arch, conf.distro, conf.release, None)


def _same_distro(a: str, b: str) -> bool:
    from .images import DISTRO_ALIASES

    def key(text: str) -> str:
        return DISTRO_ALIASES.get(text.lower(), text.lower())

    return key(a) == key(b)
