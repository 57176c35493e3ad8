"""crossbox.host.tools.create_args: the `podman create` / one-shot `podman run` argument lists."""

from __future__ import annotations

import pytest
from crossbox.host.interpreter import GuestLaunch
from crossbox.host.tools.create_args import (
    CreateSpec,
    dbus_system_socket,
    guest_spec,
    held_env,
    podman_create_args,
)
from crossbox.shared import contract
from crossbox.shared.arch import parse_arch
from crossbox.shared.contract import GuestSpec, User
from hypothesis import given
from hypothesis import strategies as st

LAUNCH = GuestLaunch(
    prefix="/opt/python3.11",
    python="/opt/python3.11/bin/python3.11",
    loader="/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    library_dirs=("/opt/python3.11/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib"),
    guest_package="/srv/crossbox/guest",
    shared_package="/srv/crossbox/shared",
)
ALICE = User(name="alice", uid=1000, gid=1000, home="/home/alice", shell="/bin/bash")
ROOT = User(name="root", uid=0, gid=0, home="/root", shell="/bin/bash")
SHELLS = {"sh", "bash", "dash", "zsh", "ash", "ksh", "fish"}
LOADER_ARGS = 9  # --inhibit-cache --library-path DIRS PYTHON -I -S -B -c BOOT_CODE


def make_spec(arch: str = "aarch64", *, native: bool = False, rootless: bool = True,
              user: User = ALICE, **changes: object) -> CreateSpec:
    a = parse_arch(arch)
    spec = CreateSpec(
        name=f"fedora-toolbox-42-{a.suffix}" if not native else "fedora-toolbox-42",
        image=f"registry.fedoraproject.org/fedora-toolbox:42-{a.suffix}",
        remote="registry.fedoraproject.org/fedora-toolbox:42",
        arch=a,
        native=native,
        rootless=rootless,
        user=user,
        launch=LAUNCH,
        state_dir=("/run/user/1000/crossbox/containers/" if rootless
                   else "/run/crossbox/containers/") + "fedora-toolbox-42",
        emulator=None if native else f"/usr/bin/qemu-{a.qemu}-static",
        emulator_name=None if native else f"qemu-{a.qemu}-static",
        home_mount=user.home if rootless else None,
        runtime_dir="/run/user/1000" if rootless else None,
        agent_lib="/home/alice/.local/share/crossbox/agent/0123456789abcdef" if rootless
        else "/var/lib/crossbox/agent/0123456789abcdef",
    )
    return spec._replace(**changes)


def values_of(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == flag]


def only(args: list[str], flag: str) -> str:
    found = values_of(args, flag)
    assert len(found) == 1, (flag, found)
    return found[0]


def split(args: list[str]) -> tuple[list[str], str, list[str], list[str]]:
    """(podman options, image, loader arguments, agent argv)."""
    at = args.index("--entrypoint") + 2
    return args[:at], args[at], args[at + 1 : at + 1 + LOADER_ARGS], args[at + 1 + LOADER_ARGS :]


def test_rootless_container_keeps_the_user_id() -> None:
    opts, *_ = split(podman_create_args(make_spec(rootless=True)))
    assert only(opts, "--userns") == "keep-id"


def test_rootful_container_gets_its_own_user_namespace_never_the_host_one() -> None:
    args = podman_create_args(make_spec(rootless=False, user=ROOT))
    opts, *_ = split(args)
    # 65536 ids, so that nogroup (65534), the group of apt's sandbox user, is mapped.
    assert only(opts, "--userns") == "auto:size=65536"
    assert "host" not in values_of(opts, "--userns")
    assert not any(a.startswith("--userns=") for a in args)


@pytest.mark.parametrize("rootless", [True, False])
@pytest.mark.parametrize("arch", ["aarch64", "x86_64", "s390x"])
def test_fixed_options_are_always_there(rootless: bool, arch: str) -> None:
    spec = make_spec(arch, native=arch == "x86_64", rootless=rootless)
    opts, image, _, _ = split(podman_create_args(spec))
    assert image == spec.image
    assert "--privileged" in opts
    assert "--no-hosts" in opts
    assert only(opts, "--network") == "host"
    assert only(opts, "--dns") == "none"
    assert only(opts, "--pull") == "never"
    assert only(opts, "--arch") == spec.arch.oci
    # Rootless, keep-id would start the agent as the user; rootful, root is the default and podman
    # then leaves the image's /etc/passwd alone.
    assert values_of(opts, "--user") == (["0:0"] if rootless else [])
    assert only(opts, "--name") == spec.name
    assert "--variant" not in opts


@pytest.mark.parametrize(("image_user", "forced"), [("", False), ("root", False), ("0", False),
                                                    ("1000", True), ("app:app", True)])
def test_root_is_forced_rootful_only_over_an_images_other_user(image_user: str, forced: bool) -> None:
    opts, *_ = split(podman_create_args(make_spec(image_user=image_user, rootless=False, user=ROOT)))
    assert (values_of(opts, "--user") == ["0:0"]) is forced


def test_arm_gets_oci_arch_and_variant_v7() -> None:
    opts, *_ = split(podman_create_args(make_spec("armv7hl")))
    assert only(opts, "--arch") == "arm"
    assert only(opts, "--variant") == "v7"


def test_foreign_container_volumes() -> None:
    spec = make_spec("aarch64")
    opts, *_ = split(podman_create_args(spec))
    vols = values_of(opts, "--volume")
    assert vols[0] == "/:/run/host:ro,rslave"
    assert "/usr/bin/qemu-aarch64-static:/run/crossbox/bin/qemu-aarch64-static:ro" in vols
    assert f"{spec.state_dir}:{contract.STATE_DIR}:rw" in vols
    assert "/opt/python3.11:/run/crossbox/python:ro" in vols
    # The whole of /run/crossbox/lib is crossbox's: nothing of the image's can be imported.
    assert f"{spec.agent_lib}:/run/crossbox/lib:ro" in vols
    assert not any(v.split(":")[1].startswith("/run/crossbox/lib/") for v in vols)
    assert "/home/alice:/home/alice:rslave" in vols
    assert "/run/user/1000:/run/user/1000:rslave" in vols
    assert "/tmp:/tmp:rslave" in vols  # as Toolbx: X11 and ssh-agent sockets
    assert "/dev/null:/etc/ld.so.preload:ro" in vols  # the image's preload never reaches the agent
    assert "/dev:/dev:rslave" in vols


def test_native_container_mounts_no_emulator() -> None:
    spec = make_spec("x86_64", native=True)
    args = podman_create_args(spec)
    opts, _, _, agent = split(args)
    assert not any("qemu" in v for v in values_of(opts, "--volume"))
    assert "--emulator" not in agent
    assert GuestSpec.from_argv(agent).emulator is None


def test_emulator_not_mounted_when_its_name_is_unknown() -> None:
    spec = make_spec("aarch64", emulator_name=None)
    opts, _, _, agent = split(podman_create_args(spec))
    assert not any(contract.EMULATOR_DIR in v for v in values_of(opts, "--volume"))
    assert "--emulator" not in agent


def test_home_and_runtime_dir_are_mounted_only_when_given() -> None:
    opts, *_ = split(podman_create_args(make_spec(rootless=False, user=ROOT)))
    vols = values_of(opts, "--volume")
    assert not any(v.startswith(("/root:", "/run/user/")) for v in vols)


@pytest.mark.parametrize(("arch", "native", "oci"),
                         [("aarch64", False, "arm64"), ("x86_64", True, "amd64"),
                          ("armv7", False, "arm")])
def test_labels_name_the_container_arch_and_contract(arch: str, native: bool, oci: str) -> None:
    spec = make_spec(arch, native=native)
    opts, *_ = split(podman_create_args(spec))
    labels = dict(v.split("=", 1) for v in values_of(opts, "--label"))
    assert labels == {
        "dev.crossbox.container": "true",
        "dev.crossbox.arch": oci,
        "dev.crossbox.contract": contract.CONTRACT_VERSION,
        "dev.crossbox.image": "registry.fedoraproject.org/fedora-toolbox:42",
        "dev.crossbox.user": "alice",
    }


def test_entrypoint_is_the_host_loader_seen_under_run_host() -> None:
    opts, *_ = split(podman_create_args(make_spec()))
    assert only(opts, "--entrypoint") == "/run/host/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"


def test_entrypoint_inside_the_python_prefix_is_seen_under_run_crossbox_python() -> None:
    launch = LAUNCH._replace(loader="/opt/python3.11/lib/ld-linux-x86-64.so.2")
    opts, *_ = split(podman_create_args(make_spec(launch=launch)))
    assert only(opts, "--entrypoint") == "/run/crossbox/python/lib/ld-linux-x86-64.so.2"


def test_loader_arguments_start_the_host_python_isolated() -> None:
    _, _, loader, _ = split(podman_create_args(make_spec()))
    assert loader == [
        "--inhibit-cache",
        "--library-path",
        "/run/crossbox/python/lib:/run/host/usr/lib/x86_64-linux-gnu:/run/host/usr/lib",
        "/run/crossbox/python/bin/python3.11",
        "-I", "-S", "-B", "-c", contract.BOOT_CODE,
    ]


def test_agent_argv_round_trips_to_the_init_spec() -> None:
    spec = make_spec("aarch64")
    _, _, _, agent = split(podman_create_args(spec))
    parsed = GuestSpec.from_argv(agent)
    assert parsed == guest_spec(spec)
    assert parsed.mode == contract.MODE_INIT
    assert parsed.arch == "aarch64"
    assert parsed.emulator == "/run/crossbox/bin/qemu-aarch64-static"
    assert parsed.user == ALICE
    assert parsed.container == spec.name


def test_oneshot_carries_workdir_command_and_environment() -> None:
    spec = make_spec("s390x")
    command = ("uname", "-m")
    args = podman_create_args(spec, contract.MODE_ONESHOT, workdir="/home/alice/src",
                              command=command, oneshot_env={"TERM": "xterm", "LANG": "C.UTF-8"})
    opts, _, _, agent = split(args)
    assert values_of(opts, "--env") == ["TERM=xterm", "LANG=C.UTF-8"]
    parsed = GuestSpec.from_argv(agent)
    assert parsed.mode == contract.MODE_ONESHOT
    assert parsed.workdir == "/home/alice/src"
    assert parsed.command == command
    assert parsed.image == "registry.fedoraproject.org/fedora-toolbox:42"  # named in its messages
    assert args[-3:] == ["--", "uname", "-m"]
    # A one-shot run gets podman's own /dev: on a terminal runc binds it at /dev/console.
    assert not any(v.startswith("/dev:") for v in values_of(opts, "--volume"))


def test_the_images_loader_variables_are_unset_for_the_agent_and_handed_to_it() -> None:
    held = held_env(("PATH=/usr/bin", "LD_PRELOAD=/usr/lib/libjemalloc.so", "PYTHONPATH=/opt/py",
                     "GLIBC_TUNABLES=glibc.malloc.check=3", "LANG=C.UTF-8", "MALLOC_ARENA_MAX=2"))
    assert held == (("LD_PRELOAD", "/usr/lib/libjemalloc.so"), ("PYTHONPATH", "/opt/py"),
                    ("GLIBC_TUNABLES", "glibc.malloc.check=3"), ("MALLOC_ARENA_MAX", "2"))
    spec = make_spec(held_env=held)
    opts, _, _, agent = split(podman_create_args(spec))
    assert values_of(opts, "--unsetenv") == ["LD_PRELOAD", "PYTHONPATH", "GLIBC_TUNABLES", "MALLOC_ARENA_MAX"]
    assert GuestSpec.from_argv(agent).held_env == held


def test_toolbx_optional_volumes_come_after_crossboxs_own() -> None:
    spec = make_spec(host_volumes=("/media:/media:rslave", "/etc/machine-id:/etc/machine-id:ro"))
    vols = values_of(split(podman_create_args(spec))[0], "--volume")
    assert vols[-2:] == ["/media:/media:rslave", "/etc/machine-id:/etc/machine-id:ro"]


@pytest.mark.parametrize(("address", "socket"), [
    ("", "/run/dbus/system_bus_socket"),
    ("unix:path=/var/run/dbus/system_bus_socket", "/var/run/dbus/system_bus_socket"),
    ("tcp:host=x;unix:path=/tmp/dbus-sys,guid=1", "/tmp/dbus-sys"),
])
def test_dbus_system_socket_follows_the_address(address: str, socket: str) -> None:
    assert dbus_system_socket({"DBUS_SYSTEM_BUS_ADDRESS": address} if address else {}) == socket


def test_hostname_is_derived_from_the_container_name() -> None:
    opts, *_ = split(podman_create_args(make_spec(name="My_Box.42")))
    assert only(opts, "--hostname") == "my-box-42"


FIELD = st.text().filter(lambda s: ":" not in s and "\n" not in s)


@given(name=FIELD, home=FIELD.filter(bool), shell=FIELD,
       command=st.lists(st.text(), min_size=1, max_size=6).map(tuple),
       workdir=st.text(min_size=1))
def test_user_supplied_text_always_stays_one_argv_element_and_no_shell_is_built(
        name: str, home: str, shell: str, command: tuple[str, ...], workdir: str) -> None:
    user = User(name=name, uid=1000, gid=1000, home=home, shell=shell)
    spec = make_spec("aarch64", user=user, home_mount=home)
    args = podman_create_args(spec, contract.MODE_ONESHOT, workdir=workdir, command=command)
    opts, image, loader, agent = split(args)
    # The command is the verbatim tail, each argument one element.
    assert tuple(args[-len(command):]) == command
    assert args[-len(command) - 1] == "--"
    # Everything the agent is told comes back unchanged.
    parsed = GuestSpec.from_argv(agent)
    assert parsed == guest_spec(spec, contract.MODE_ONESHOT, workdir, command)
    assert parsed.user == user
    assert f"dev.crossbox.user={name}" in values_of(opts, "--label")
    assert f"{home}:{home}:rslave" in values_of(opts, "--volume")
    assert image == spec.image
    # No shell anywhere in what the builder itself produced: the only -c is python's.
    built = [*opts, image, *loader]
    assert not any(a.rsplit("/", 1)[-1] in SHELLS for a in built)
    assert [i for i, a in enumerate(built) if a == "-c"] == [len(built) - 2]
    assert built[-3:] == ["-B", "-c", contract.BOOT_CODE]


def test_the_preload_mask_is_said_to_the_agent() -> None:
    _, _, _, agent = split(podman_create_args(make_spec()))
    assert GuestSpec.from_argv(agent).masked_preload
    _, _, _, agent = split(podman_create_args(make_spec(mask_preload=False)))
    assert not GuestSpec.from_argv(agent).masked_preload


def test_free_id_range_finds_the_first_gap_that_fits() -> None:
    from crossbox.host.tools.create_args import free_id_range

    base = 2147483647
    used = [f"0:{base}:65536", f"0:{base + 65536 + 1024}:65536", f"0:{base + 65536 + 1024}:65536"]
    # A 1024-id hole after the first range does not fit: the range after the second one does.
    assert free_id_range(used, (base, 2147483648)) == base + 2 * 65536 + 1024
    assert free_id_range([], (base, 2147483648)) == base
    assert free_id_range(["0:x:1", "garbage"], (base, 2147483648)) == base


def test_free_id_range_refuses_a_full_range() -> None:
    from crossbox.host.errors import HostNotReady
    from crossbox.host.tools.create_args import free_id_range

    with pytest.raises(HostNotReady):
        free_id_range(["0:100:65536"], (100, 65536 + 100))


def test_with_id_map_replaces_auto_by_an_explicit_contiguous_map() -> None:
    from crossbox.host.tools.create_args import with_id_map

    args = podman_create_args(make_spec(rootless=False, user=ROOT))
    mapped = with_id_map(args, 3000000000)
    assert "--userns" not in mapped
    assert values_of(mapped, "--uidmap") == ["0:3000000000:65536"]
    assert values_of(mapped, "--gidmap") == ["0:3000000000:65536"]
    assert len(mapped) == len(args) + 2
