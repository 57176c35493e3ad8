"""crossbox.shared.contract: the agent's argv, which the host writes and the guest reads."""

from __future__ import annotations

import pytest
from crossbox.shared.contract import (
    CONTRACT_VERSION,
    EMULATOR_DIR,
    MODE_INIT,
    MODE_ONESHOT,
    ContractError,
    GuestSpec,
    User,
    emulator_path,
)
from hypothesis import given
from hypothesis import strategies as st

ALICE = User(name="alice", uid=1000, gid=1000, home="/home/alice", shell="/bin/bash")


def spec(**changes: object) -> GuestSpec:
    base = GuestSpec(
        mode=MODE_INIT,
        container="crossbox-debian-arm64",
        arch="aarch64",
        emulator=emulator_path("qemu-aarch64-static"),
        user=ALICE,
    )
    return base.replace(**changes)


def test_emulator_path_is_inside_the_emulator_directory() -> None:
    assert emulator_path("qemu-aarch64-static") == f"{EMULATOR_DIR}/qemu-aarch64-static"
    assert emulator_path("qemu-arm") == "/run/crossbox/bin/qemu-arm"


def test_to_argv_of_an_init_spec_lists_every_field_and_no_command() -> None:
    assert spec().to_argv() == [
        "init",
        "--contract", CONTRACT_VERSION,
        "--container", "crossbox-debian-arm64",
        "--arch", "aarch64",
        "--user", "alice:1000:1000:/home/alice:/bin/bash",
        "--log-level", "warning",
        "--emulator", "/run/crossbox/bin/qemu-aarch64-static",
    ]


def test_to_argv_of_a_native_oneshot_spec_omits_the_emulator_and_ends_with_the_command() -> None:
    argv = spec(mode=MODE_ONESHOT, emulator=None, workdir="/home/alice/src",
                command=("make", "-j", "4")).to_argv()
    assert "--emulator" not in argv
    assert argv[0] == "oneshot"
    assert argv[-5:] == ["/home/alice/src", "--", "make", "-j", "4"]


@pytest.mark.parametrize(
    "s",
    [
        spec(),
        spec(emulator=None),
        spec(log_level="debug"),
        spec(mode=MODE_ONESHOT, command=("sh", "-c", "echo 'a b' \"c\" -- --arch x\n")),
        spec(mode=MODE_ONESHOT, workdir="/w d", command=("--",)),
        spec(mode=MODE_ONESHOT, command=("--contract", "0", "--", "")),
        spec(user=User("root", 0, 0, "/root", "/bin/sh")),
        spec(container="--", arch="--workdir"),
        spec(mode=MODE_ONESHOT, command=("nosuch",), image="127.0.0.1:5000/bb:arm64"),
    ],
)
def test_from_argv_reads_back_what_to_argv_wrote(s: GuestSpec) -> None:
    assert GuestSpec.from_argv(s.to_argv()) == s


texts = st.text()
nonempty = st.text(min_size=1)
user_fields = st.text(alphabet=st.characters(blacklist_characters=":\n"))
users = st.builds(User, name=user_fields, uid=st.integers(0, 2**32 - 1),
                  gid=st.integers(0, 2**32 - 1), home=user_fields, shell=user_fields)
env_names = st.text(alphabet=st.characters(blacklist_characters="="), min_size=1)
held = st.lists(st.tuples(env_names, texts)).map(tuple)
specs = st.one_of(
    st.builds(GuestSpec, mode=st.just(MODE_INIT), container=texts, arch=texts,
              emulator=st.none() | nonempty, user=users, log_level=texts, contract=st.just(CONTRACT_VERSION),
              workdir=st.none(), command=st.just(()),
              held_env=held, masked_preload=st.booleans(), native_libpath=texts),
    st.builds(GuestSpec, mode=st.just(MODE_ONESHOT), container=texts, arch=texts,
              emulator=st.none() | nonempty, user=users, workdir=st.none() | nonempty,
              command=st.lists(texts, min_size=1).map(tuple), log_level=texts, contract=st.just(CONTRACT_VERSION),
              held_env=held, masked_preload=st.booleans(), native_libpath=texts, image=texts),
)


@given(specs)
def test_any_spec_survives_the_argv_round_trip(s: GuestSpec) -> None:
    assert GuestSpec.from_argv(s.to_argv()) == s


@given(st.lists(st.text(), min_size=1))
def test_command_arguments_stay_one_element_each_whatever_they_hold(command: list[str]) -> None:
    s = spec(mode=MODE_ONESHOT, command=tuple(command))
    argv = s.to_argv()
    assert argv[-len(command):] == command
    assert list(GuestSpec.from_argv(argv).command) == command


def test_wrong_contract_version_asks_to_recreate_the_container() -> None:
    argv = spec(contract="0").to_argv()
    with pytest.raises(ContractError, match="recreate the container") as info:
        GuestSpec.from_argv(argv)
    assert f"made for agent contract 0, but this crossbox speaks {CONTRACT_VERSION}" in str(
        info.value
    )


@pytest.mark.parametrize("field", ["--contract", "--container", "--arch", "--user"])
def test_missing_required_field_is_named(field: str) -> None:
    argv = spec().to_argv()
    i = argv.index(field)
    del argv[i : i + 2]
    with pytest.raises(ContractError, match=f"lack {field}"):
        GuestSpec.from_argv(argv)


def test_all_missing_fields_are_named_at_once() -> None:
    with pytest.raises(ContractError) as info:
        GuestSpec.from_argv(["init"])
    assert str(info.value) == "agent arguments lack --contract, --container, --arch, --user"


@pytest.mark.parametrize("extra", [["--verbose", "1"], ["--Arch", "x"], ["-a", "x"], ["stray"]])
def test_unknown_flags_are_refused(extra: list[str]) -> None:
    argv = spec().to_argv() + extra
    with pytest.raises(ContractError, match=f"unexpected agent argument {extra[0]!r}"):
        GuestSpec.from_argv(argv)


def test_a_flag_without_its_value_is_refused() -> None:
    with pytest.raises(ContractError, match="unexpected agent argument '--workdir'"):
        GuestSpec.from_argv([*spec().to_argv(), "--workdir"])


@pytest.mark.parametrize("argv", [[], ["run"], ["INIT"], ["--contract", "1"]])
def test_the_first_argument_must_be_a_mode(argv: list[str]) -> None:
    with pytest.raises(ContractError, match="first argument must be init or oneshot"):
        GuestSpec.from_argv(argv)


def test_oneshot_without_a_command_is_refused() -> None:
    argv = spec(mode=MODE_ONESHOT).to_argv()
    with pytest.raises(ContractError, match="needs a command after --"):
        GuestSpec.from_argv(argv)
    with pytest.raises(ContractError, match="needs a command after --"):
        GuestSpec.from_argv([*argv, "--"])


@pytest.mark.parametrize(
    "user",
    [
        User("al:ice", 1000, 1000, "/home/alice", "/bin/bash"),
        User("alice", 1000, 1000, "/home/a:b", "/bin/bash"),
        User("alice", 1000, 1000, "/home/alice", "/bin/ba:sh"),
        User("alice\n", 1000, 1000, "/home/alice", "/bin/bash"),
    ],
)
def test_user_fields_with_a_colon_or_newline_cannot_be_encoded(user: User) -> None:
    with pytest.raises(ContractError, match="holds ':' or a newline"):
        spec(user=user).to_argv()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alice:1000:1000:/home/a:b:/bin/bash", "is not name:uid:gid:home:shell"),
        ("alice:1000:1000:/home/alice", "is not name:uid:gid:home:shell"),
        ("alice", "is not name:uid:gid:home:shell"),
        ("alice:x:1000:/home/alice:/bin/bash", "no number"),
        ("alice:1000::/home/alice:/bin/bash", "no number"),
    ],
)
def test_malformed_user_field_in_argv_is_refused(text: str, message: str) -> None:
    argv = spec().to_argv()
    argv[argv.index("--user") + 1] = text
    with pytest.raises(ContractError, match=message):
        GuestSpec.from_argv(argv)


def test_user_encoding_round_trips() -> None:
    assert User.decode(ALICE.encode()) == ALICE
    assert ALICE.encode() == "alice:1000:1000:/home/alice:/bin/bash"


def test_contract_error_is_a_value_error() -> None:
    assert issubclass(ContractError, ValueError)


def test_replace_returns_a_changed_copy() -> None:
    s = spec()
    changed = s.replace(container="other")
    assert changed.container == "other"
    assert s.container == "crossbox-debian-arm64"
