"""binfmt_misc registration lines and entries, as the kernel reads and prints them.

Stdlib only: the guest imports this inside foreign images.

Kernel rules checked here (fs/binfmt_misc.c, Documentation/admin-guide/binfmt-misc.rst):
the line is ``:name:type:offset:magic:mask:interpreter:flags``, at most 1920 bytes;
no field holds the delimiter or a newline; magic and mask are the same length and
offset + that length stays below 128; the interpreter path is at most 127
characters; flags come from ``POCF`` (``C`` implies ``O``).
"""

from __future__ import annotations

import errno
import os

from crossbox.shared.records import NamedTuple

from .arch import Arch

__all__ = [
    "BINFMT_ROOT",
    "MAX_INTERPRETER",
    "MAX_LINE",
    "BinfmtConflictError",
    "BinfmtError",
    "Entry",
    "InitialNamespaceError",
    "InvalidRegistrationError",
    "Registration",
    "is_initial_user_namespace",
    "parse_entry",
    "parse_registration_line",
    "read_entry",
    "register",
    "registration_for",
    "remove",
    "render_entry",
    "set_enabled",
]

BINFMT_ROOT = "/proc/sys/fs/binfmt_misc"
MAX_LINE = 1920
MAX_INTERPRETER = 127
MAX_MAGIC_END = 128
VALID_FLAGS = "POCF"
# An entry name: one of A-Z a-z 0-9, then up to 63 of those or _ . + - (sets, not a regular
# expression: the agent's start would import re for this one check).
_NAME_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_NAME_REST = _NAME_FIRST | frozenset("_.+-")
_RESERVED_NAMES = frozenset({"register", "status"})
_INITIAL_UID_MAP = ("0", "0", "4294967295")


class BinfmtError(Exception):
    """A binfmt_misc operation that cannot be done as asked."""


class InvalidRegistrationError(BinfmtError, ValueError):
    """A registration the kernel would refuse."""


class BinfmtConflictError(BinfmtError):
    """An entry of that name exists and says something else."""


class InitialNamespaceError(BinfmtError):
    """A write that would reach the host's binfmt_misc."""


def _canonical_flags(flags: str) -> str:
    seen = set(flags)
    if "C" in seen:
        seen.add("O")
    return "".join(f for f in VALID_FLAGS if f in seen)


class _RegistrationFields(NamedTuple):
    name: str
    magic: bytes
    mask: bytes
    interpreter: str
    flags: str = ""
    offset: int = 0


class Registration(_RegistrationFields):
    """What is written to ``register``; type ``M`` (magic) only. Validated when made."""

    __slots__ = ()

    def __new__(cls, name: str, magic: bytes, mask: bytes, interpreter: str, flags: str = "",
                offset: int = 0) -> Registration:
        self = super().__new__(cls, name, magic, mask, interpreter, flags, offset)
        validate(self)
        return self

    def line(self) -> str:
        """The registration line, every magic and mask byte escaped as ``\\xHH``."""
        return ":".join(
            [
                "",
                self.name,
                "M",
                str(self.offset),
                _escape(self.magic),
                _escape(self.mask),
                self.interpreter,
                self.flags,
            ]
        )

    def expected_entry(self) -> Entry:
        """The entry the kernel shows once this registration is accepted."""
        return Entry(
            name=self.name,
            enabled=True,
            interpreter=self.interpreter,
            flags=_canonical_flags(self.flags),
            offset=self.offset,
            magic=self.magic,
            mask=self.mask,
        )


def _escape(data: bytes) -> str:
    return "".join(f"\\x{b:02x}" for b in data)


def validate(reg: Registration) -> None:
    """Raise InvalidRegistrationError for anything the kernel would refuse."""
    name = reg.name
    if not (0 < len(name) <= 64 and name[0] in _NAME_FIRST and _NAME_REST.issuperset(name)) \
            or name in _RESERVED_NAMES:
        raise InvalidRegistrationError(
            f"binfmt_misc entry name {reg.name!r} is not safe: use 1-64 of A-Z a-z 0-9 _ . + -, "
            "not starting with a punctuation mark"
        )
    for label, value in (("interpreter", reg.interpreter), ("flags", reg.flags)):
        if ":" in value or "\n" in value or "\0" in value:
            raise InvalidRegistrationError(
                f"binfmt_misc {label} {value!r} holds ':', a newline or NUL"
            )
    if not reg.interpreter.startswith("/"):
        raise InvalidRegistrationError(
            f"binfmt_misc interpreter {reg.interpreter!r} is not an absolute path"
        )
    if len(reg.interpreter) > MAX_INTERPRETER:
        raise InvalidRegistrationError(
            f"binfmt_misc interpreter path is {len(reg.interpreter)} characters long; "
            f"the kernel takes at most {MAX_INTERPRETER}"
        )
    if not reg.magic:
        raise InvalidRegistrationError("binfmt_misc magic is empty")
    if len(reg.mask) != len(reg.magic):
        raise InvalidRegistrationError(
            f"binfmt_misc mask has {len(reg.mask)} bytes but magic has {len(reg.magic)}"
        )
    if reg.offset < 0 or reg.offset + len(reg.magic) >= MAX_MAGIC_END:
        raise InvalidRegistrationError(
            f"binfmt_misc offset {reg.offset} plus magic length {len(reg.magic)} "
            f"must stay below {MAX_MAGIC_END}"
        )
    bad = set(reg.flags) - set(VALID_FLAGS)
    if bad or len(set(reg.flags)) != len(reg.flags):
        raise InvalidRegistrationError(
            f"binfmt_misc flags {reg.flags!r} must be distinct letters from {VALID_FLAGS}"
        )
    if len(reg.line().encode()) > MAX_LINE:
        raise InvalidRegistrationError(
            f"binfmt_misc registration line is longer than {MAX_LINE} bytes"
        )


def registration_for(arch: Arch, interpreter: str, flags: str = "FPC") -> Registration:
    """The registration crossbox writes for ``arch``: named ``qemu-<arch>``."""
    return Registration(
        name=arch.binfmt_name,
        magic=arch.magic,
        mask=arch.mask,
        interpreter=interpreter,
        flags=flags,
    )


def _unescape_field(text: str) -> bytes:
    """What the kernel's string_unescape(UNESCAPE_HEX) makes of a magic or mask field."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text.startswith("\\x", i) and i + 4 <= len(text):
            try:
                out.append(int(text[i + 2 : i + 4], 16))
                i += 4
                continue
            except ValueError:
                pass
        out += text[i].encode("latin-1")
        i += 1
    return bytes(out)


def parse_registration_line(line: str) -> Registration:
    """Read a registration line back, as the kernel does (type M only)."""
    line = line.rstrip("\n")
    if len(line) < 2:
        raise InvalidRegistrationError("binfmt_misc registration line is empty")
    delim = line[0]
    parts = line[1:].split(delim)
    if len(parts) != 7:
        raise InvalidRegistrationError(
            f"binfmt_misc registration line has {len(parts)} fields, not 7"
        )
    name, kind, offset, magic, mask, interpreter, flags = parts
    if kind != "M":
        raise InvalidRegistrationError(f"binfmt_misc type {kind!r} is not supported, only 'M'")
    try:
        off = int(offset or "0")
    except ValueError:
        raise InvalidRegistrationError(f"binfmt_misc offset {offset!r} is no number") from None
    magic_b = _unescape_field(magic)
    mask_b = _unescape_field(mask) if mask else b"\xff" * len(magic_b)
    return Registration(
        name=name, magic=magic_b, mask=mask_b, interpreter=interpreter, flags=flags, offset=off
    )


class Entry(NamedTuple):
    """An entry file under ``/proc/sys/fs/binfmt_misc/<name>``."""

    name: str
    enabled: bool
    interpreter: str
    flags: str
    offset: int = 0
    magic: bytes = b""
    mask: bytes | None = None
    extension: str | None = None
    extra: tuple[str, ...] = ()

    def same_registration(self, other: Entry) -> bool:
        """Equal in all that a registration decides (enabled state aside)."""
        return (
            self.interpreter == other.interpreter
            and self.flags == other.flags
            and self.offset == other.offset
            and self.magic == other.magic
            and (self.mask or b"\xff" * len(self.magic))
            == (other.mask or b"\xff" * len(other.magic))
            and self.extension == other.extension
        )


def render_entry(entry: Entry) -> str:
    """The entry file text, in the kernel's format (for tests and fakes)."""
    lines = ["enabled" if entry.enabled else "disabled", f"interpreter {entry.interpreter}"]
    lines.append(f"flags: {entry.flags}")
    if entry.extension is not None:
        lines.append(f"extension .{entry.extension}")
    else:
        lines.append(f"offset {entry.offset}")
        lines.append(f"magic {entry.magic.hex()}")
        if entry.mask is not None:
            lines.append(f"mask {entry.mask.hex()}")
    return "\n".join(lines) + "\n"


def parse_entry(name: str, text: str) -> Entry:
    enabled: bool | None = None
    interpreter = ""
    flags = ""
    offset = 0
    magic = b""
    mask: bytes | None = None
    extension: str | None = None
    extra: list[str] = []
    for raw in text.split("\n"):  # not splitlines(): a path may hold \r, \f, \x85 ...
        line = raw.strip()
        if line in ("enabled", "disabled"):
            enabled = line == "enabled"
        elif line.startswith("interpreter "):
            # The kernel prints the path verbatim, trailing blanks included.
            interpreter = raw.split("interpreter ", 1)[1]
        elif line.startswith("flags:"):
            flags = line[len("flags:") :].strip()
        elif line.startswith("offset "):
            offset = int(line.split()[1])
        elif line.startswith("magic "):
            magic = bytes.fromhex(line.split()[1])
        elif line.startswith("mask "):
            mask = bytes.fromhex(line.split()[1])
        elif line.startswith("extension "):
            extension = line.split()[1].lstrip(".")
        elif line:
            extra.append(line)
    if enabled is None:
        raise BinfmtError(f"binfmt_misc entry {name!r} does not say whether it is enabled")
    return Entry(
        name=name,
        enabled=enabled,
        interpreter=interpreter,
        flags=flags,
        offset=offset,
        magic=magic,
        mask=mask,
        extension=extension,
        extra=tuple(extra),
    )


def read_entry(name: str, root: str = BINFMT_ROOT) -> Entry | None:
    try:
        with open(os.path.join(root, name), encoding="utf-8", newline="") as f:
            return parse_entry(name, f.read())
    except FileNotFoundError:
        return None


def is_initial_user_namespace(uid_map: str) -> bool:
    """Whether ``/proc/self/uid_map`` text is that of the initial user namespace."""
    rows = [line.split() for line in uid_map.strip().splitlines()]
    return len(rows) == 1 and tuple(rows[0]) == _INITIAL_UID_MAP


def _refuse_credentials_in_initial_namespace(reg: Registration, uid_map_path: str) -> None:
    if "C" not in reg.flags:
        return
    try:
        with open(uid_map_path, encoding="ascii") as f:
            uid_map = f.read()
    except OSError as exc:
        raise InitialNamespaceError(
            f"cannot read {uid_map_path} to prove this is not the host's user namespace: {exc}"
        ) from None
    if is_initial_user_namespace(uid_map):
        raise InitialNamespaceError(
            "refusing to register with the C flag in the initial user namespace: "
            "it would reach the host's binfmt_misc"
        )


def register(
    reg: Registration, root: str = BINFMT_ROOT, uid_map_path: str = "/proc/self/uid_map"
) -> bool:
    """Write ``reg`` to ``register``; True when written, False when already there.

    An identical entry is accepted (also when another process wins a race and the
    kernel answers EEXIST); an entry of the same name that differs is an error.
    """
    _refuse_credentials_in_initial_namespace(reg, uid_map_path)
    want = reg.expected_entry()
    have = read_entry(reg.name, root)
    if have is None:
        try:
            fd = os.open(os.path.join(root, "register"), os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, reg.line().encode())
            finally:
                os.close(fd)
            return True
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise BinfmtError(
                    f"binfmt_misc refused the registration of {reg.name}: {exc.strerror}"
                ) from exc
        have = read_entry(reg.name, root)
        if have is None:
            raise BinfmtError(f"binfmt_misc said {reg.name} exists but shows no such entry")
    if not have.same_registration(want):
        raise BinfmtConflictError(
            f"binfmt_misc entry {reg.name} already exists with interpreter {have.interpreter} "
            f"and flags {have.flags or '(none)'}, not {want.interpreter} with {want.flags}"
        )
    if not have.enabled:
        set_enabled(reg.name, True, root)
    return False


def set_enabled(name: str, enabled: bool, root: str = BINFMT_ROOT) -> None:
    with open(os.path.join(root, name), "w", encoding="ascii") as f:
        f.write("1" if enabled else "0")


def remove(name: str, root: str = BINFMT_ROOT) -> None:
    with open(os.path.join(root, name), "w", encoding="ascii") as f:
        f.write("-1")
