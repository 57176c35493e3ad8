"""Pure builders of podman argument lists (unit-tested without podman)."""

from __future__ import annotations

from collections.abc import Mapping

from crossbox.shared import contract
from crossbox.shared.arch import Arch
from crossbox.shared.contract import GuestSpec, User
from crossbox.shared.records import NamedTuple

from ..interpreter import GuestLaunch

ROOTFUL_USERNS_SIZE = 65536


class CreateSpec(NamedTuple):
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
    agent_lib: str = ""  # host directory holding only crossbox/guest and crossbox/shared
    host_volumes: tuple[str, ...] = ()  # Toolbx's optional mounts the host has (host_volumes())
    held_env: tuple[tuple[str, str], ...] = ()  # image variables kept from the agent's start
    mask_preload: bool = True  # hide the image's /etc/ld.so.preload from the agent's loader
    image_user: str = ""  # the image's USER: crossbox's agent runs as root whatever it says
    native_loader: tuple[str, str] | None = None  # --native-tools: (host loader, its PT_INTERP path)
    native_libpath: str = ""  # --native-tools: the host's library directories, seen inside


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
        held_env=spec.held_env,
        masked_preload=spec.mask_preload,
        native_libpath=spec.native_libpath,
        image=spec.remote if mode == contract.MODE_ONESHOT else "",
    )


# Toolbx's optional mounts (its create.go), each where the host has it: (host path, options).
# /media and /mnt only when they are directories of their own, not links (Toolbx then links
# them inside instead; crossbox leaves the image's own).
OPTIONAL_VOLUMES = (("/media", "rslave"), ("/mnt", "rslave"), ("/run/media", "rslave"),
                    ("/etc/machine-id", "ro"))
DBUS_SYSTEM_SOCKET = "/run/dbus/system_bus_socket"


def dbus_system_socket(environ: Mapping[str, str]) -> str:
    """The D-Bus system bus socket: $DBUS_SYSTEM_BUS_ADDRESS's unix:path, else the usual one."""
    for part in environ.get("DBUS_SYSTEM_BUS_ADDRESS", "").split(";"):
        if part.startswith("unix:"):
            for kv in part[len("unix:"):].split(","):
                if kv.startswith("path="):
                    return kv[len("path="):]
    return DBUS_SYSTEM_SOCKET


def host_volumes(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The `--volume` values of Toolbx's optional mounts that this host can give."""
    import os

    out = []
    for path, options in OPTIONAL_VOLUMES:
        if os.path.lexists(path) and not os.path.islink(path):
            out.append(f"{path}:{path}:{options}")
    socket = dbus_system_socket(environ)
    real = os.path.realpath(socket)
    if os.path.exists(real):
        out.append(f"{real}:{socket}")
    return tuple(out)


# glibc's list of variables its loader ignores for setuid programs (unsecvars.h), plus every
# LD_* and PYTHON* one: from the image's configuration, none may reach the agent's start.
LOADER_VARIABLES = frozenset({
    "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH",
    "MALLOC_TRACE", "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR",
})


def held_env(image_env: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The image's variables to unset for the agent's start (and give back to sessions)."""
    out = []
    for entry in image_env:
        name, sep, value = entry.partition("=")
        if sep and (name in LOADER_VARIABLES or name.startswith(("LD_", "PYTHON", "MALLOC_"))):
            out.append((name, value))
    return tuple(out)


def _volumes(spec: CreateSpec, oneshot: bool) -> list[str]:
    vols = ["/:" + contract.HOST_ROOT + ":ro,rslave"]
    if not oneshot:
        # A one-shot run on a terminal gets podman's own /dev instead: runc binds the terminal
        # at /dev/console, which the host's /dev refuses (--privileged brings the devices).
        vols.append("/dev:/dev:rslave")
    vols += [
        "/sys:/sys:rslave",  # sysfs cannot be mounted afresh in a user namespace on the host network
        "/tmp:/tmp:rslave",  # as Toolbx: X11 and ssh-agent sockets, files handed over
    ]
    if spec.state_dir:
        vols.append(f"{spec.state_dir}:{contract.STATE_DIR}:rw")
    vols.append(f"{spec.launch.prefix}:{contract.PYTHON_DIR}:ro")
    if spec.agent_lib:
        vols.append(f"{spec.agent_lib}:{contract.LIB_DIR}:ro")
    if not spec.native and spec.emulator and spec.emulator_name:
        vols.append(f"{spec.emulator}:{contract.emulator_path(spec.emulator_name)}:ro")
    if spec.mask_preload:
        vols.append(f"/dev/null:{contract.PRELOAD_FILE}:ro")
    if spec.native_loader:
        # The host's programs name their loader by this path: there, they run natively.
        vols.append(f"{spec.native_loader[0]}:{spec.native_loader[1]}:ro")
    if spec.home_mount:
        vols.append(f"{spec.home_mount}:{spec.home_mount}:rslave")
    if spec.runtime_dir:
        vols.append(f"{spec.runtime_dir}:{spec.runtime_dir}:rslave")
    vols += list(spec.host_volumes)
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
    if spec.native_loader:
        labels[contract.LABEL_NATIVE_TOOLS] = "true"
    args = [
        "--name", spec.name,
        "--hostname", _hostname(spec.name),
        "--privileged",
        "--security-opt", "label=disable",
        # Rootful: a user namespace of its own, of 65536 ids, so that nogroup (65534) is mapped.
        "--userns", "keep-id" if spec.rootless else f"auto:size={ROOTFUL_USERNS_SIZE}",
        "--network", "host",
        # A one-shot run has an IPC namespace of its own: without the host's /dev, podman mounts
        # /dev/mqueue, which it may not do for the host's IPC namespace from a user namespace.
        "--ipc", "private" if mode == contract.MODE_ONESHOT else "host",
        "--no-hosts",
        "--dns", "none",
        "--workdir", "/",
        "--pull", "never",
        "--arch", spec.arch.oci,
    ]
    if spec.arch.variant:
        args += ["--variant", spec.arch.variant]
    if spec.rootless or spec.image_user not in ("", "0", "root", "0:0", "root:root"):
        # The agent runs as root: rootless, keep-id would otherwise start it as the user. Rootful,
        # only over an image's USER: with --user, podman reads (and may write) the image's
        # /etc/passwd itself, through whatever links it holds, before the agent can look at it.
        args += ["--user", "0:0"]
    for key, value in labels.items():
        args += ["--label", f"{key}={value}"]
    for vol in _volumes(spec, oneshot=mode == contract.MODE_ONESHOT):
        args += ["--volume", vol]
    for name, _ in spec.held_env:
        args += ["--unsetenv", name]
    for key, value in (oneshot_env or {}).items():
        args += ["--env", f"{key}={value}"]
    args += ["--entrypoint", spec.launch.entrypoint()]
    args.append(spec.image)
    args += spec.launch.command(guest_spec(spec, mode, workdir, command).to_argv())
    return args


def _hostname(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in name.lower()).strip("-")
    return cleaned[:63].strip("-") or "crossbox"


def free_id_range(used_rows: list[str], available: tuple[int, int] | None,
                  size: int = ROOTFUL_USERNS_SIZE) -> int:
    """The lowest host id where ``size`` ids are free of every used "c:host:n" row, inside the
    subordinate range (start, count) when known."""
    used = []
    for row in used_rows:
        parts = row.split(":")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            used.append((int(parts[1]), int(parts[1]) + int(parts[2])))
    low, limit = (available[0], available[0] + available[1]) if available else (0, 1 << 32)
    start = low
    for begin, end in sorted(used):
        if end <= start:
            continue
        if begin >= start + size:
            break
        start = max(start, end)
    if start + size > limit:
        from ..errors import HostNotReady

        raise HostNotReady("the `containers` subordinate id range has no 65536 contiguous ids left",
                           "remove unused rootful containers, or widen the range in /etc/subuid and /etc/subgid")
    return start


def with_id_map(args: list[str], start: int, size: int = ROOTFUL_USERNS_SIZE) -> list[str]:
    """The same arguments with an explicit contiguous map instead of --userns auto."""
    out = []
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg == "--userns" and i + 1 < len(args) and args[i + 1].startswith("auto"):
            out += ["--uidmap", f"0:{start}:{size}", "--gidmap", f"0:{start}:{size}"]
            skip = True
            continue
        out.append(arg)
    return out

