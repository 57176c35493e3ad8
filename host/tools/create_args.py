"""Pure builders of podman argument lists (unit-tested without podman)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from crossbox.shared import contract
from crossbox.shared.arch import Arch
from crossbox.shared.contract import GuestSpec, User

from ..interpreter import GuestLaunch


@dataclass(frozen=True)
class CreateSpec:
    name: str
    image: str  # local image name
    remote: str  # what the user asked for (label only)
    arch: Arch
    native: bool
    rootless: bool
    user: User
    launch: GuestLaunch
    state_dir: str  # host path
    emulator: str | None = None  # host path of the static qemu, symlinks resolved
    emulator_name: str | None = None  # its file name, e.g. qemu-aarch64-static
    home_mount: str | None = None  # host home to share; None for rootful root
    runtime_dir: str | None = None  # XDG_RUNTIME_DIR to share
    log_level: str = "warning"


def emulator_in_container(spec: CreateSpec) -> str | None:
    if spec.native or not spec.emulator_name:
        return None
    return contract.emulator_path(spec.emulator_name)


def guest_spec(spec: CreateSpec, mode: str = contract.MODE_INIT, workdir: str | None = None,
               command: tuple[str, ...] = ()) -> GuestSpec:
    return GuestSpec(
        mode=mode,
        container=spec.name,
        arch=spec.arch.name,
        emulator=emulator_in_container(spec),
        user=spec.user,
        workdir=workdir,
        command=command,
        log_level=spec.log_level,
    )


def _volumes(spec: CreateSpec) -> list[str]:
    vols = [
        "/:" + contract.HOST_ROOT + ":ro,rslave",
        "/dev:/dev:rslave",
        "/sys:/sys:rslave",  # sysfs cannot be mounted afresh in a user namespace on the host network
    ]
    if spec.state_dir:
        vols.append(f"{spec.state_dir}:{contract.STATE_DIR}:rw")
    vols += [f"{src}:{dst}:ro" for src, dst in spec.launch.mounts()]
    if not spec.native and spec.emulator and spec.emulator_name:
        vols.append(f"{spec.emulator}:{contract.emulator_path(spec.emulator_name)}:ro")
    if spec.home_mount:
        vols.append(f"{spec.home_mount}:{spec.home_mount}:rslave")
    if spec.runtime_dir:
        vols.append(f"{spec.runtime_dir}:{spec.runtime_dir}:rslave")
    return vols


def podman_create_args(spec: CreateSpec, mode: str = contract.MODE_INIT, *,
                       workdir: str | None = None, command: tuple[str, ...] = (),
                       oneshot_env: Mapping[str, str] | None = None) -> list[str]:
    """`podman create` (or, for one-shot, `podman run --rm`) arguments after the verb."""
    labels = {
        contract.LABEL_CONTAINER: "true",
        contract.LABEL_ARCH: spec.arch.oci,
        contract.LABEL_CONTRACT: contract.CONTRACT_VERSION,
        contract.LABEL_IMAGE: spec.remote,
        contract.LABEL_USER: spec.user.name,
    }
    args = [
        "--name", spec.name,
        "--hostname", _hostname(spec.name),
        "--privileged",
        "--security-opt", "label=disable",
        "--userns", "keep-id" if spec.rootless else "auto",
        "--network", "host",
        "--ipc", "host",
        "--no-hosts",
        "--dns", "none",
        "--user", "0:0",
        "--workdir", "/",
        "--pull", "never",
        "--arch", spec.arch.oci,
    ]
    if spec.arch.variant:
        args += ["--variant", spec.arch.variant]
    for key, value in labels.items():
        args += ["--label", f"{key}={value}"]
    for vol in _volumes(spec):
        args += ["--volume", vol]
    for key, value in (oneshot_env or {}).items():
        args += ["--env", f"{key}={value}"]
    args += ["--entrypoint", spec.launch.entrypoint()]
    args.append(spec.image)
    args += spec.launch.command(guest_spec(spec, mode, workdir, command).to_argv())
    return args


def _hostname(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in name.lower()).strip("-")
    return cleaned[:63].strip("-") or "crossbox"
