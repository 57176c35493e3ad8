"""crossbox.shared.binfmt: registration lines, entry files, and writes to a (fake) binfmt_misc."""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable

import pytest
from crossbox.shared import binfmt
from crossbox.shared.arch import ARCHITECTURES, parse_arch
from crossbox.shared.binfmt import (
    MAX_INTERPRETER,
    BinfmtConflictError,
    BinfmtError,
    Entry,
    InitialNamespaceError,
    InvalidRegistrationError,
    Registration,
    is_initial_user_namespace,
    parse_entry,
    parse_registration_line,
    read_entry,
    register,
    registration_for,
    remove,
    render_entry,
    set_enabled,
)
from hypothesis import given
from hypothesis import strategies as st
from pyfakefs.fake_filesystem import FakeFilesystem

QEMU = "/run/crossbox/bin/qemu-aarch64-static"
AARCH64 = parse_arch("aarch64")
INITIAL_UID_MAP = "         0          0 4294967295\n"
ROOTLESS_UID_MAP = "0 1000 1\n1 100000 65536\n"

# What `cat /proc/sys/fs/binfmt_misc/qemu-aarch64` prints after crossbox registered it.
KERNEL_AARCH64_ENTRY = """\
enabled
interpreter /run/crossbox/bin/qemu-aarch64-static
flags: POCF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
"""


def reg(**changes: object) -> Registration:
    fields: dict[str, object] = {
        "name": "qemu-test",
        "magic": b"\x7fELF",
        "mask": b"\xff\xff\xff\xff",
        "interpreter": "/usr/bin/qemu-test",
        "flags": "F",
        "offset": 0,
    }
    fields.update(changes)
    return Registration(**fields)  # type: ignore[arg-type]


# --- line() -----------------------------------------------------------------------------------

def test_line_escapes_every_magic_and_mask_byte_as_hex() -> None:
    r = reg(magic=b"\x7fELF:\n\\x", mask=b"\xff\x00\xfe\x01\x3a\x0a\x5c\x78", flags="OCF")
    assert r.line() == (
        r":qemu-test:M:0:\x7f\x45\x4c\x46\x3a\x0a\x5c\x78:\xff\x00\xfe\x01\x3a\x0a\x5c\x78"
        ":/usr/bin/qemu-test:OCF"
    )


def test_line_for_aarch64_is_what_qemu_binfmt_conf_would_write() -> None:
    r = registration_for(AARCH64, QEMU)
    assert r.line() == (
        ":qemu-aarch64:M:0:"
        r"\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:"
        r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:"
        f"{QEMU}:FPC"
    )


def test_line_holds_only_ascii_hex_escapes_in_magic_and_mask_fields() -> None:
    for arch in ARCHITECTURES:
        fields = registration_for(arch, "/q").line().split(":")
        for field_text in (fields[4], fields[5]):
            assert re.fullmatch(r"(\\x[0-9a-f]{2})+", field_text), arch.name


def test_registration_for_names_the_entry_after_qemu_with_flags_fpc() -> None:
    r = registration_for(AARCH64, QEMU)
    assert (r.name, r.flags, r.offset) == ("qemu-aarch64", "FPC", 0)
    assert (r.magic, r.mask) == (AARCH64.magic, AARCH64.mask)


def test_every_architectures_registration_is_valid() -> None:
    for arch in ARCHITECTURES:
        r = registration_for(arch, f"/run/crossbox/bin/qemu-{arch.qemu}-static")
        assert parse_registration_line(r.line()) == r


# --- validation -------------------------------------------------------------------------------

def test_interpreter_of_127_characters_is_accepted() -> None:
    path = "/" + "a" * (MAX_INTERPRETER - 1)
    assert reg(interpreter=path).interpreter == path


def test_interpreter_longer_than_127_characters_is_refused() -> None:
    with pytest.raises(InvalidRegistrationError, match="128 characters long"):
        reg(interpreter="/" + "a" * MAX_INTERPRETER)


@pytest.mark.parametrize("interpreter", ["usr/bin/qemu", "qemu-aarch64", "./qemu", ""])
def test_relative_interpreter_is_refused(interpreter: str) -> None:
    with pytest.raises(InvalidRegistrationError, match="not an absolute path"):
        reg(interpreter=interpreter)


@pytest.mark.parametrize("interpreter", ["/usr/bin/qemu:x", "/usr/bin/qemu\n", "/usr/bin/\nq",
                                         "/usr/bin/qemu\0"])
def test_delimiter_newline_or_nul_in_interpreter_is_refused(interpreter: str) -> None:
    with pytest.raises(InvalidRegistrationError, match="interpreter"):
        reg(interpreter=interpreter)


@pytest.mark.parametrize("flags", ["F:", "F\n", ":", "\n"])
def test_delimiter_or_newline_in_flags_is_refused(flags: str) -> None:
    with pytest.raises(InvalidRegistrationError, match="flags"):
        reg(flags=flags)


@pytest.mark.parametrize("name", ["", "../x", "..", ".", "register", "status", "a/b", "-x", "_x",
                                  "a b", "a:b", "a\nb", "x" * 65, "é"])
def test_unsafe_entry_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidRegistrationError, match="is not safe"):
        reg(name=name)


@pytest.mark.parametrize("name", ["a", "qemu-aarch64", "qemu-x86_64", "Q.1+2-3_4", "x" * 64,
                                  "registers", "status2"])
def test_safe_entry_names_are_accepted(name: str) -> None:
    assert reg(name=name).name == name


@pytest.mark.parametrize("mask", [b"\xff\xff\xff", b"\xff\xff\xff\xff\xff", b""])
def test_mask_of_another_length_than_magic_is_refused(mask: bytes) -> None:
    with pytest.raises(InvalidRegistrationError, match="mask has"):
        reg(mask=mask)


def test_empty_magic_is_refused() -> None:
    with pytest.raises(InvalidRegistrationError, match="magic is empty"):
        reg(magic=b"", mask=b"")


@pytest.mark.parametrize(("offset", "length"), [(0, 128), (124, 4), (127, 1), (100, 40), (-1, 4)])
def test_magic_reaching_byte_128_or_a_negative_offset_is_refused(offset: int, length: int) -> None:
    with pytest.raises(InvalidRegistrationError, match="must stay below 128"):
        reg(offset=offset, magic=b"\x01" * length, mask=b"\xff" * length)


@pytest.mark.parametrize(("offset", "length"), [(0, 127), (123, 4), (126, 1)])
def test_magic_ending_before_byte_128_is_accepted(offset: int, length: int) -> None:
    r = reg(offset=offset, magic=b"\x01" * length, mask=b"\xff" * length)
    assert parse_registration_line(r.line()) == r


@pytest.mark.parametrize("flags", ["X", "p", "FF", "OCFO", "POCFX", " "])
def test_flags_outside_pocf_or_repeated_are_refused(flags: str) -> None:
    with pytest.raises(InvalidRegistrationError, match="distinct letters"):
        reg(flags=flags)


@pytest.mark.parametrize("flags", ["", "P", "O", "C", "F", "FC", "CF", "POCF", "FCOP"])
def test_distinct_flags_from_pocf_in_any_order_are_accepted(flags: str) -> None:
    assert reg(flags=flags).flags == flags


def test_longest_valid_registration_stays_within_1920_bytes() -> None:
    # Every other rule bounds the line: name <= 64, magic + offset < 128, interpreter <= 127
    # characters (at most 4 bytes each in UTF-8), flags <= 4. So MAX_LINE cannot be reached
    # with fields that pass the other checks; the next test proves the check itself exists.
    longest = reg(name="n" * 64, magic=b"\x00" * 127, mask=b"\x00" * 127,
                  interpreter="/" + "\U0001f600" * 126, flags="POCF")
    assert 1200 < len(longest.line().encode()) <= binfmt.MAX_LINE


def test_registration_line_longer_than_max_line_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    line = reg().line()
    monkeypatch.setattr(binfmt, "MAX_LINE", len(line.encode()) - 1)
    with pytest.raises(InvalidRegistrationError, match="longer than"):
        reg()
    monkeypatch.setattr(binfmt, "MAX_LINE", len(line.encode()))
    assert reg().line() == line


def test_line_length_is_measured_in_bytes_not_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    ascii_line = reg(interpreter="/aa").line()
    monkeypatch.setattr(binfmt, "MAX_LINE", len(ascii_line.encode()))
    with pytest.raises(InvalidRegistrationError, match="longer than"):
        reg(interpreter="/\u00e9\u00e9")  # same characters, two bytes each


def test_invalid_registration_error_is_a_binfmt_error_and_a_value_error() -> None:
    assert issubclass(InvalidRegistrationError, BinfmtError)
    assert issubclass(InvalidRegistrationError, ValueError)


# --- parse_registration_line ------------------------------------------------------------------

def test_parse_registration_line_round_trips_a_registration() -> None:
    r = reg(name="qemu-x", magic=b"\x00:\xff", mask=b"\xff\xff\x0f", offset=3, flags="POF")
    assert parse_registration_line(r.line()) == r
    assert parse_registration_line(r.line() + "\n") == r


def test_parse_registration_line_reads_literal_bytes_and_another_delimiter() -> None:
    r = parse_registration_line("|abc|M|2|EL\\x46|\\xff\\xffF|/bin/q|F\n")
    assert r == Registration(name="abc", magic=b"ELF", mask=b"\xff\xffF", interpreter="/bin/q",
                             flags="F", offset=2)


def test_parse_registration_line_without_mask_means_all_bits() -> None:
    r = parse_registration_line(":abc:M::\\x7fELF::/bin/q:")
    assert (r.magic, r.mask, r.offset, r.flags) == (b"\x7fELF", b"\xff" * 4, 0, "")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "empty"),
        (":", "empty"),
        (":a:M:0:\\x00:\\xff:/q", "fields"),
        (":a:M:0:\\x00:\\xff:/q:F:x", "fields"),
        (":a:E::py::/q:", "only 'M'"),
        (":a:M:z:\\x00:\\xff:/q:", "no number"),
    ],
)
def test_parse_registration_line_refuses_malformed_lines(line: str, message: str) -> None:
    with pytest.raises(InvalidRegistrationError, match=message):
        parse_registration_line(line)


# --- entries ----------------------------------------------------------------------------------

def test_parse_entry_reads_real_kernel_text() -> None:
    entry = parse_entry("qemu-aarch64", KERNEL_AARCH64_ENTRY)
    assert entry == Entry(
        name="qemu-aarch64",
        enabled=True,
        interpreter=QEMU,
        flags="POCF",
        offset=0,
        magic=bytes.fromhex("7f454c460201010000000000000000000200b700"),
        mask=bytes.fromhex("ffffffffffffff00fffffffffffffffffeffffff"),
    )


def test_kernel_text_is_the_entry_crossbox_expects_for_its_aarch64_registration() -> None:
    expected = registration_for(AARCH64, QEMU).expected_entry()
    assert parse_entry("qemu-aarch64", KERNEL_AARCH64_ENTRY) == expected
    assert render_entry(expected) == KERNEL_AARCH64_ENTRY


def test_parse_entry_reads_a_disabled_entry_without_flags_or_mask() -> None:
    text = "disabled\ninterpreter /usr/bin/q\nflags: \noffset 4\nmagic 0102\n"
    entry = parse_entry("q", text)
    assert (entry.enabled, entry.flags, entry.offset, entry.magic, entry.mask) == (
        False, "", 4, b"\x01\x02", None)


def test_parse_entry_reads_an_extension_entry_and_keeps_unknown_lines() -> None:
    text = "enabled\ninterpreter /usr/bin/wine\nflags: \nextension .exe\nsomething new\n"
    entry = parse_entry("wine", text)
    assert (entry.extension, entry.extra) == ("exe", ("something new",))
    assert parse_entry("wine", render_entry(entry)) == entry._replace(extra=())


def test_parse_entry_refuses_text_without_the_state_line() -> None:
    with pytest.raises(BinfmtError, match="does not say whether it is enabled"):
        parse_entry("q", "interpreter /q\nflags: F\n")
    with pytest.raises(BinfmtError):
        parse_entry("q", "1")


def test_expected_entry_adds_o_when_c_is_given_and_orders_flags_like_the_kernel() -> None:
    assert reg(flags="FC").expected_entry().flags == "OCF"
    assert reg(flags="CP").expected_entry().flags == "POC"
    assert reg(flags="FOP").expected_entry().flags == "POF"
    assert reg(flags="").expected_entry().flags == ""


def test_same_registration_ignores_the_enabled_state_but_not_the_interpreter() -> None:
    want = reg(flags="FC").expected_entry()
    assert want._replace(enabled=False).same_registration(want)
    assert not want._replace(interpreter="/usr/bin/other").same_registration(want)
    assert not want._replace(flags="F").same_registration(want)
    assert not want._replace(mask=b"\xff\xff\xff\xfe").same_registration(want)
    assert not want._replace(offset=1).same_registration(want)


def test_same_registration_treats_a_missing_mask_as_all_bits() -> None:
    want = reg(mask=b"\xff" * 4).expected_entry()
    assert want._replace(mask=None).same_registration(want)


# --- property: what crossbox writes is what it reads back -------------------------------------

_NAME_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
names = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(_NAME_ALPHABET),
    st.text(alphabet=_NAME_ALPHABET + "_.+-", max_size=63),
).filter(lambda n: n not in ("register", "status"))
interpreters = st.builds(
    lambda rest: "/" + rest,
    st.text(alphabet=st.characters(blacklist_characters=":\n\0", blacklist_categories=("Cs",)),
            max_size=MAX_INTERPRETER - 1),
)
flag_sets = st.permutations("POCF").flatmap(
    lambda letters: st.integers(0, 4).map(lambda n: "".join(letters[:n]))
)


@st.composite
def registrations(draw: st.DrawFn) -> Registration:
    magic = draw(st.binary(min_size=1, max_size=40))
    mask = draw(st.binary(min_size=len(magic), max_size=len(magic)))
    offset = draw(st.integers(0, 127 - len(magic)))
    return Registration(name=draw(names), magic=magic, mask=mask,
                        interpreter=draw(interpreters), flags=draw(flag_sets), offset=offset)


@given(registrations())
def test_any_valid_registration_line_parses_back_to_the_same_registration(r: Registration) -> None:
    assert parse_registration_line(r.line()) == r


@given(registrations())
def test_the_entry_the_kernel_would_print_parses_back_to_the_expected_entry(
    r: Registration,
) -> None:
    want = r.expected_entry()
    assert parse_entry(r.name, render_entry(want)) == want
    assert want.flags == "".join(f for f in "POCF" if f in r.flags or (f == "O" and "C" in r.flags))


# --- the uid map ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("uid_map", "initial"),
    [
        (INITIAL_UID_MAP, True),
        ("0 0 4294967295", True),
        ("\t0\t0\t4294967295\n\n", True),
        (ROOTLESS_UID_MAP, False),
        ("0 100000 65536\n", False),  # podman --userns=auto
        ("0 0 4294967294\n", False),
        ("0 0 65536\n", False),
        ("0 0 4294967295\n1 1 1\n", False),
        ("", False),  # a fresh namespace whose map is not written yet
    ],
)
def test_is_initial_user_namespace_recognises_only_the_identity_map_of_all_ids(
    uid_map: str, initial: bool
) -> None:
    assert is_initial_user_namespace(uid_map) is initial


# --- writes to a fake binfmt_misc -------------------------------------------------------------

ROOT = "/proc/sys/fs/binfmt_misc"
UID_MAP = "/proc/self/uid_map"


@pytest.fixture
def binfmt_fs(fs: FakeFilesystem) -> FakeFilesystem:
    fs.create_file(f"{ROOT}/register", contents="")
    fs.create_file(f"{ROOT}/status", contents="enabled\n")
    fs.create_file(UID_MAP, contents=ROOTLESS_UID_MAP)
    return fs


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_register_writes_exactly_the_line_to_register(binfmt_fs: FakeFilesystem) -> None:
    r = registration_for(AARCH64, QEMU)
    assert register(r, root=ROOT, uid_map_path=UID_MAP) is True
    assert _read(f"{ROOT}/register") == r.line()


def test_register_returns_false_and_writes_nothing_when_the_same_entry_exists(
    binfmt_fs: FakeFilesystem,
) -> None:
    r = registration_for(AARCH64, QEMU)
    binfmt_fs.create_file(f"{ROOT}/qemu-aarch64", contents=KERNEL_AARCH64_ENTRY)
    assert register(r, root=ROOT, uid_map_path=UID_MAP) is False
    assert _read(f"{ROOT}/register") == ""
    assert _read(f"{ROOT}/qemu-aarch64") == KERNEL_AARCH64_ENTRY


@pytest.mark.parametrize(
    "existing",
    [
        KERNEL_AARCH64_ENTRY.replace(QEMU, "/usr/bin/qemu-aarch64-static"),
        KERNEL_AARCH64_ENTRY.replace("flags: POCF", "flags: F"),
        KERNEL_AARCH64_ENTRY.replace("fffeffffff\n", "fffeffff00\n"),
        KERNEL_AARCH64_ENTRY.replace("offset 0", "offset 1"),
    ],
    ids=["interpreter", "flags", "mask", "offset"],
)
def test_register_raises_conflict_when_an_entry_of_that_name_differs(
    binfmt_fs: FakeFilesystem, existing: str
) -> None:
    binfmt_fs.create_file(f"{ROOT}/qemu-aarch64", contents=existing)
    with pytest.raises(BinfmtConflictError, match="qemu-aarch64 already exists"):
        register(registration_for(AARCH64, QEMU), root=ROOT, uid_map_path=UID_MAP)
    assert _read(f"{ROOT}/register") == ""
    assert _read(f"{ROOT}/qemu-aarch64") == existing


def test_register_enables_a_disabled_identical_entry(binfmt_fs: FakeFilesystem) -> None:
    disabled = KERNEL_AARCH64_ENTRY.replace("enabled", "disabled", 1)
    binfmt_fs.create_file(f"{ROOT}/qemu-aarch64", contents=disabled)
    assert register(registration_for(AARCH64, QEMU), root=ROOT, uid_map_path=UID_MAP) is False
    assert _read(f"{ROOT}/qemu-aarch64") == "1"
    assert _read(f"{ROOT}/register") == ""


def test_set_enabled_writes_1_or_0_to_the_entry(binfmt_fs: FakeFilesystem) -> None:
    binfmt_fs.create_file(f"{ROOT}/qemu-aarch64", contents=KERNEL_AARCH64_ENTRY)
    set_enabled("qemu-aarch64", False, root=ROOT)
    assert _read(f"{ROOT}/qemu-aarch64") == "0"
    set_enabled("qemu-aarch64", True, root=ROOT)
    assert _read(f"{ROOT}/qemu-aarch64") == "1"


def test_remove_writes_minus_1_to_the_entry(binfmt_fs: FakeFilesystem) -> None:
    binfmt_fs.create_file(f"{ROOT}/qemu-aarch64", contents=KERNEL_AARCH64_ENTRY)
    remove("qemu-aarch64", root=ROOT)
    assert _read(f"{ROOT}/qemu-aarch64") == "-1"


def test_read_entry_returns_none_for_a_missing_entry_and_parses_a_present_one(
    binfmt_fs: FakeFilesystem,
) -> None:
    assert read_entry("qemu-aarch64", ROOT) is None
    binfmt_fs.create_file(f"{ROOT}/qemu-aarch64", contents=KERNEL_AARCH64_ENTRY)
    entry = read_entry("qemu-aarch64", ROOT)
    assert entry is not None and entry.interpreter == QEMU and entry.flags == "POCF"


def _racing_write(entry_text: str | None, err: int) -> Callable[[int, bytes], int]:
    """An os.write that loses the race: another process registered first."""

    def write(fd: int, data: bytes) -> int:
        if entry_text is not None:
            with open(f"{ROOT}/qemu-aarch64", "w", encoding="utf-8") as f:
                f.write(entry_text)
        raise OSError(err, os.strerror(err))

    return write


def test_register_accepts_losing_a_race_to_an_identical_registration(
    binfmt_fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(binfmt.os, "write", _racing_write(KERNEL_AARCH64_ENTRY, errno.EEXIST))
    assert register(registration_for(AARCH64, QEMU), root=ROOT, uid_map_path=UID_MAP) is False
    assert _read(f"{ROOT}/qemu-aarch64") == KERNEL_AARCH64_ENTRY


def test_register_reports_a_conflict_after_losing_a_race_to_another_registration(
    binfmt_fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = KERNEL_AARCH64_ENTRY.replace(QEMU, "/usr/bin/qemu-aarch64")
    monkeypatch.setattr(binfmt.os, "write", _racing_write(other, errno.EEXIST))
    with pytest.raises(BinfmtConflictError):
        register(registration_for(AARCH64, QEMU), root=ROOT, uid_map_path=UID_MAP)


def test_register_reports_eexist_without_a_visible_entry(
    binfmt_fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(binfmt.os, "write", _racing_write(None, errno.EEXIST))
    with pytest.raises(BinfmtError, match="exists but shows no such entry"):
        register(registration_for(AARCH64, QEMU), root=ROOT, uid_map_path=UID_MAP)


def test_register_turns_other_kernel_refusals_into_binfmt_error(
    binfmt_fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(binfmt.os, "write", _racing_write(None, errno.EINVAL))
    with pytest.raises(BinfmtError, match="refused the registration of qemu-aarch64") as info:
        register(registration_for(AARCH64, QEMU), root=ROOT, uid_map_path=UID_MAP)
    assert not isinstance(info.value, BinfmtConflictError)


def test_register_without_a_mounted_binfmt_misc_is_a_binfmt_error(fs: FakeFilesystem) -> None:
    fs.create_file(UID_MAP, contents=ROOTLESS_UID_MAP)
    fs.create_dir(ROOT)
    with pytest.raises(BinfmtError, match="refused"):
        register(registration_for(AARCH64, QEMU), root=ROOT, uid_map_path=UID_MAP)


@pytest.mark.parametrize("flags", ["FC", "C", "OC", "POCF"])
def test_register_with_c_refuses_in_the_initial_user_namespace_and_writes_nothing(
    binfmt_fs: FakeFilesystem, flags: str
) -> None:
    with open(UID_MAP, "w", encoding="ascii") as f:
        f.write(INITIAL_UID_MAP)
    with pytest.raises(InitialNamespaceError, match="initial user namespace"):
        register(registration_for(AARCH64, QEMU, flags), root=ROOT, uid_map_path=UID_MAP)
    assert _read(f"{ROOT}/register") == ""


def test_register_with_c_refuses_when_the_uid_map_cannot_be_read(fs: FakeFilesystem) -> None:
    fs.create_file(f"{ROOT}/register", contents="")
    with pytest.raises(InitialNamespaceError, match="cannot read"):
        register(registration_for(AARCH64, QEMU), root=ROOT, uid_map_path=UID_MAP)
    assert _read(f"{ROOT}/register") == ""


def test_register_without_c_does_not_need_the_uid_map(fs: FakeFilesystem) -> None:
    fs.create_file(f"{ROOT}/register", contents="")
    r = registration_for(AARCH64, QEMU, "F")
    assert register(r, root=ROOT, uid_map_path=UID_MAP) is True
    assert _read(f"{ROOT}/register") == r.line()


@pytest.mark.parametrize("interpreter",
                         ["/opt/q emu ", "/opt/qemu\r", "/opt/qemu\x0c", "/opt/\u2028q"])
def test_register_recognises_its_own_entry_when_the_interpreter_ends_in_odd_whitespace(
    binfmt_fs: FakeFilesystem, interpreter: str
) -> None:
    # The kernel takes any byte but the delimiter in the path and prints it verbatim.
    r = registration_for(AARCH64, interpreter)
    binfmt_fs.create_file(f"{ROOT}/qemu-aarch64", contents=render_entry(r.expected_entry()))
    assert read_entry("qemu-aarch64", ROOT) == r.expected_entry()
    assert register(r, root=ROOT, uid_map_path=UID_MAP) is False
    assert _read(f"{ROOT}/register") == ""
