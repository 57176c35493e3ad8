"""Host checks: what `crossbox doctor` reports and what commands verify before acting."""

from __future__ import annotations

import os
import pwd
import re

from crossbox.shared.arch import Arch, host_arch
from crossbox.shared.records import NamedTuple

from . import emulator
from .errors import HostNotReady, doctor_hint
from .identity import rootless as is_rootless
from .osrelease import OsRelease, package_install_hint, qemu_install_hint, read_os_release

MIN_KERNEL = (6, 7)

OK, FAIL, WARN, INFO = "ok", "fail", "warn", "info"


class Check(NamedTuple):
    name: str
    status: str
    message: str
    hint: str = ""
    needed_for: tuple[str, ...] = ()  # architectures; empty: every use

    def as_dict(self) -> dict[str, object]:
        data = self._asdict()
        data["needed_for"] = list(self.needed_for)
        return data


def kernel_release() -> str:
    from .settings import current as settings

    return settings().test_kernel_release or os.uname().release


def parse_kernel_version(release: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", release)
    if not m:
        return (0, 0)
    return int(m.group(1)), int(m.group(2))


def check_kernel(release: str | None = None) -> Check:
    release = release or kernel_release()
    if parse_kernel_version(release) >= MIN_KERNEL:
        return Check("kernel", OK, f"Linux {release} can give each container its own binfmt_misc")
    return Check(
        "kernel",
        FAIL,
        f"Linux {release} is older than {MIN_KERNEL[0]}.{MIN_KERNEL[1]}, which is the first to give "
        "a container its own binfmt_misc",
        "upgrade the kernel to 6.7 or newer; crossbox never registers emulators on the host",
    )


def check_binfmt_fs(filesystems: str = "/proc/filesystems") -> Check:
    try:
        with open(filesystems, encoding="ascii") as f:
            names = {line.split()[-1] for line in f if line.strip()}
    except OSError as exc:
        return Check("binfmt_misc", FAIL, f"cannot read {filesystems}: {exc.strerror}")
    if "binfmt_misc" in names:
        return Check("binfmt_misc", OK, "the kernel has the binfmt_misc file system")
    return Check(
        "binfmt_misc",
        FAIL,
        "the kernel has no binfmt_misc file system",
        "load it with `modprobe binfmt_misc` or use a kernel built with CONFIG_BINFMT_MISC",
    )


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def check_user_namespaces(rootless: bool) -> Check:
    limit = _read_int("/proc/sys/user/max_user_namespaces")
    if limit == 0:
        return Check(
            "user namespaces",
            FAIL,
            "user namespaces are disabled (user.max_user_namespaces is 0)",
            "enable them with `sysctl user.max_user_namespaces=15000`",
        )
    if rootless and _read_int("/proc/sys/kernel/unprivileged_userns_clone") == 0:
        return Check(
            "user namespaces",
            FAIL,
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone is 0)",
            "enable them with `sysctl kernel.unprivileged_userns_clone=1`",
        )
    if rootless and _read_int("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1:
        return Check(
            "user namespaces",
            WARN,
            "AppArmor restricts unprivileged user namespaces; podman's own profile usually allows them",
        )
    return Check("user namespaces", OK, "user namespaces are available")


def _subid_ranges(path: str, names: set[str]) -> list[tuple[int, int]]:
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) == 3 and parts[0] in names:
                    try:
                        out.append((int(parts[1]), int(parts[2])))
                    except ValueError:
                        continue
    except OSError:
        pass
    return out


def subordinate_range(name: str, etc: str = "/etc") -> tuple[int, int] | None:
    """The first (start, count) range of ``name`` in /etc/subuid, if any."""
    ranges = _subid_ranges(os.path.join(etc, "subuid"), {name})
    return ranges[0] if ranges else None


def check_subordinate_ids(rootless: bool, etc: str = "/etc") -> Check:
    if rootless:
        entry = pwd.getpwuid(os.getuid())
        names = {entry.pw_name, str(entry.pw_uid)}
        who = entry.pw_name
        use = "rootless containers (--userns keep-id)"
        fix = f"add a line such as `{who}:100000:65536` to /etc/subuid and /etc/subgid (usermod --add-subuids)"
    else:
        names = {"containers"}
        who = "containers"
        use = "rootful containers with their own user namespace (--userns=auto)"
        fix = "add `containers:2147483647:2147483648` to /etc/subuid and /etc/subgid"
    missing = [
        path
        for path in (os.path.join(etc, "subuid"), os.path.join(etc, "subgid"))
        if sum(count for _, count in _subid_ranges(path, names)) < 65536
    ]
    if missing:
        return Check(
            "subordinate ids",
            FAIL,
            f"{who} has fewer than 65536 subordinate ids in {' and '.join(missing)}, needed for {use}",
            fix,
        )
    return Check("subordinate ids", OK, f"{who} has subordinate id ranges for {use}")


def check_tool(tool: str, why: str, osr: OsRelease, needed_for: tuple[str, ...] = ()) -> Check:
    import shutil

    path = shutil.which(tool)
    if path:
        return Check(tool, OK, f"{tool} is {path}", needed_for=needed_for)
    return Check(
        tool,
        FAIL,
        f"{tool} was not found on PATH; it is needed {why}",
        package_install_hint(tool, osr),
        needed_for=needed_for,
    )


def check_emulator(arch: Arch, osr: OsRelease) -> Check:
    name = f"emulator {arch.name}"
    try:
        emu = emulator.locate(arch)
    except emulator.EmulatorProblem as exc:
        return Check(name, FAIL, str(exc), qemu_install_hint(arch, osr), needed_for=(arch.name,))
    shown = emu.path if emu.path == emu.real_path else f"{emu.path} -> {emu.real_path}"
    return Check(name, OK, f"{shown} is a static {host_arch().name} ELF executable that keeps argv[0]",
                 needed_for=(arch.name,))


def check_native_tools(arch: Arch, osr: OsRelease, bin_dirs: tuple[str, ...] = ("/usr/bin", "/usr/local/bin")) -> Check:
    """What `create --native-tools` can offer for ``arch`` on this host (for information)."""
    import glob

    from crossbox.shared import nativetools

    triplet = arch.gnu_triplet
    have = [tool for tool in ("gcc", "g++", "cpp", *nativetools.BINUTILS)
            if any(os.access(os.path.join(d, f"{triplet}-{tool}"), os.X_OK) for d in bin_dirs)]
    versions = nativetools.gcc_versions([os.path.basename(p) for p in glob.glob(f"/usr/lib/gcc-cross/{triplet}/*")
                                         + glob.glob(f"/usr/lib/gcc/{triplet}/*")])
    name = f"native tools {arch.name}"
    hint = nativetools.package_hint(osr.family(), triplet)
    if "gcc" in have:
        gcc = f"{triplet}-gcc {versions[-1]}" if versions else f"{triplet}-gcc"
        missing = [t for t in ("g++", *nativetools.BINUTILS) if t not in have]
        more = f"; missing {', '.join(missing)} ({hint})" if missing else ""
        return Check(name, INFO, f"--native-tools can run {gcc}, {len(have) - 1} more cross tools and make, "
                                 f"sed, grep ... natively{more}", needed_for=(arch.name,))
    return Check(name, INFO, f"--native-tools would run only make, sed, grep ... natively: the host has no "
                             f"{triplet}-gcc ({hint})", needed_for=(arch.name,))


def host_binfmt_entries(root: str | None = None) -> Check:
    """For information only: crossbox never reads, needs or writes these."""
    from crossbox.shared import binfmt

    root = root or binfmt.BINFMT_ROOT
    try:
        names = sorted(n for n in os.listdir(root) if n not in ("register", "status"))
    except OSError:
        return Check("host binfmt_misc", INFO, f"{root} is not mounted on the host (crossbox does not need it)")
    if not names:
        return Check("host binfmt_misc", INFO, "the host has no binfmt_misc entries (crossbox does not need any)")
    shown = []
    for n in names:
        entry = binfmt.read_entry(n, root)
        shown.append(f"{n} [{entry.flags}]" if entry and entry.flags else n)
    return Check(
        "host binfmt_misc",
        INFO,
        f"the host has {len(names)} entries, unused by crossbox: {', '.join(shown)}",
    )


def run_all(arches: list[Arch], rootless: bool | None = None) -> list[Check]:
    rootless = is_rootless() if rootless is None else rootless
    osr = read_os_release()
    host = host_arch()
    foreign = [a for a in arches if a != host]
    checks = [
        check_kernel(),
        check_binfmt_fs(),
        check_user_namespaces(rootless),
        check_subordinate_ids(rootless),
        check_tool("podman", "to run containers", osr),
        check_tool(
            "skopeo",
            "only to pull images of a foreign architecture",
            osr,
            needed_for=tuple(a.name for a in foreign) or ("foreign pulls",),
        ),
    ]
    checks += [check_emulator(a, osr) for a in foreign]
    checks += [check_native_tools(a, osr) for a in foreign]
    checks.append(host_binfmt_entries())
    return checks


def failing(checks: list[Check], arches: list[Arch]) -> list[Check]:
    """The failed checks that matter for these architectures."""
    host = host_arch()
    asked = {a.name for a in arches if a != host}
    out = []
    for c in checks:
        if c.status != FAIL:
            continue
        if c.name == "skopeo" and not asked:
            continue
        if c.needed_for and c.name != "skopeo" and not (set(c.needed_for) & asked):
            continue
        out.append(c)
    return out


def require_foreign_ready(arch: Arch) -> emulator.Emulator:
    """What `create` checks for a foreign architecture before pulling anything."""
    kernel = check_kernel()
    if kernel.status == FAIL:
        raise HostNotReady(kernel.message, f"{kernel.hint}; {doctor_hint(arch.oci)}")
    try:
        return emulator.locate_cached(arch)
    except emulator.EmulatorProblem as exc:
        raise HostNotReady(
            str(exc),
            f"{qemu_install_hint(arch, read_os_release())}; {doctor_hint(arch.oci)}",
        ) from None
