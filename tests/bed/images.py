"""Real test images: static busybox for several architectures, and a real Debian arm64.

Everything is built from Debian packages of the architectures themselves and
cached outside the repository, keyed by its inputs (package versions, package
lists), so a second run builds nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from . import sh

# Debian architecture names for the busybox images, by OCI platform.
BUSYBOX_ARCHES = {
    "amd64": ("amd64", None),
    "arm64": ("arm64", None),
    "ppc64le": ("ppc64el", None),
    "s390x": ("s390x", None),
    "arm": ("armhf", "v7"),
}
DEBIAN_PACKAGES = ("bash", "sudo", "passwd", "login", "coreutils")
DEBIAN_SUITE = "bookworm"
BINFMT = "/proc/sys/fs/binfmt_misc"
BUILD_ENTRY = "crossbox-testbed-aarch64"


def cache_dir() -> Path:
    path = Path(os.environ.get("CROSSBOX_TESTBED_CACHE", "/var/cache/crossbox-testbed"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _package_versions(specs: list[str]) -> dict[str, str]:
    """Candidate versions, in one apt-cache call (each call parses every package list)."""
    out = sh.run(["apt-cache", "policy", *specs]).stdout
    versions: dict[str, str] = {}
    current = None
    for line in out.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
        elif line.strip().startswith("Candidate:") and current:
            versions[current] = line.split(":", 1)[1].strip()
    native = sh.run(["dpkg", "--print-architecture"]).stdout.strip()
    for spec in specs:  # apt names native packages without their architecture
        plain = spec.removesuffix(f":{native}")
        if spec not in versions and plain in versions:
            versions[spec] = versions[plain]
    missing = [s for s in specs if versions.get(s, "(none)") == "(none)"]
    if missing:
        raise RuntimeError(f"apt knows no candidate for {', '.join(missing)}; run tests/setup-debian first")
    return versions


def _applets(native_busybox: Path) -> list[str]:
    out = sh.run([str(native_busybox), "--list"]).stdout
    return [a for a in out.split() if a and a != "busybox"]


def busybox_rootfses() -> dict[str, Path]:
    """Tarballs, one per architecture: a static busybox, its applets as links, nothing else.

    No /etc/passwd and no libc of the host's architecture: the hardest case for the agent.
    """
    specs = {oci: f"busybox-static:{deb}" for oci, (deb, _) in BUSYBOX_ARCHES.items()}
    versions = _package_versions(list(specs.values()))
    outs = {}
    for oci, spec in specs.items():
        key = hashlib.sha256(f"{spec} {versions[spec]} v1".encode()).hexdigest()[:16]
        outs[oci] = cache_dir() / f"busybox-{oci}-{key}.tar"
    todo = [oci for oci, out in outs.items() if not out.exists()]
    if not todo:
        return outs
    with tempfile.TemporaryDirectory(prefix="cbtb-") as tmp:
        work = Path(tmp)
        wanted = sorted({*todo, "amd64"})
        sh.run(["apt-get", "download", *(f"{specs[o]}={versions[specs[o]]}" for o in wanted)], cwd=work)
        for oci in wanted:
            deb = BUSYBOX_ARCHES[oci][0]
            sh.run(["dpkg-deb", "-x", str(next(work.glob(f"busybox-static_*_{deb}.deb"))), str(work / oci)])
        applets = _applets(work / "amd64" / "bin" / "busybox")
        for oci in todo:
            root = work / f"root-{oci}"
            (root / "bin").mkdir(parents=True)
            shutil.copy2(work / oci / "bin" / "busybox", root / "bin" / "busybox")
            for applet in applets:
                link = root / "bin" / applet
                if not link.exists():
                    link.symlink_to("busybox")
            for d in ("etc", "root", "home", "tmp", "usr/bin", "var/tmp"):
                (root / d).mkdir(parents=True, exist_ok=True)
            os.chmod(root / "tmp", 0o1777)
            os.chmod(root / "var" / "tmp", 0o1777)
            (root / "usr" / "bin" / "env").symlink_to("/bin/busybox")
            partial = outs[oci].with_suffix(f".{os.getpid()}.partial")
            with tarfile.open(partial, "w") as tar:
                tar.add(root, arcname=".")
            partial.rename(outs[oci])
    return outs


@contextlib.contextmanager
def host_binfmt_for_build(qemu: str, arch_name: str = "aarch64") -> Iterator[None]:
    """Register qemu-ARCH (flag F only) on the host for the length of a build.

    mmdebstrap runs the foreign maintainer scripts. Afterwards the host's binfmt_misc is
    exactly as before: the entry removed, and the file system unmounted if it was not.
    """
    from crossbox.shared.arch import parse_arch

    arch = parse_arch(arch_name)
    entry = BUILD_ENTRY if arch.name == "aarch64" else f"crossbox-testbed-{arch.name}"
    was_mounted = os.path.exists(f"{BINFMT}/register")
    if not was_mounted:
        sh.run(["mount", "-t", "binfmt_misc", "binfmt_misc", BINFMT])
    registered = False
    try:
        if not os.path.exists(f"{BINFMT}/{entry}"):
            with open(f"{BINFMT}/register", "w") as f:
                f.write(f":{entry}:M::{arch.magic_text}:{arch.mask_text}:{qemu}:F")
            registered = True
        yield
    finally:
        if registered:
            with open(f"{BINFMT}/{entry}", "w") as f:
                f.write("-1")
        if not was_mounted:
            sh.run(["umount", BINFMT], check=False)


def _mmdebstrap_arm64(packages: tuple[str, ...], key_version: str, name: str, build: bool = True,
                      arch: str = "aarch64") -> Path | None:
    """A cached Debian minbase root file system of the architecture (arm64 unless said), with these
    packages (None: not built)."""
    from crossbox.shared.arch import parse_arch

    a = parse_arch(arch)
    mm_version = sh.run(["mmdebstrap", "--version"]).stdout.strip()
    key_src = json.dumps([DEBIAN_SUITE, a.debian, packages, mm_version, key_version])
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    out = cache_dir() / f"debian-{DEBIAN_SUITE}-{name}-{key}.tar"
    if out.exists() or not build:
        return out if out.exists() else None
    partial = out.with_suffix(f".{os.getpid()}.partial.tar")
    qemu = shutil.which(f"qemu-{a.qemu}-static") or f"/usr/bin/qemu-{a.qemu}-static"
    with host_binfmt_for_build(qemu, a.name):
        sh.run(
            [
                "mmdebstrap", "--mode=root", f"--arch={a.debian}", "--variant=minbase",
                f"--include={','.join(packages)}",
                "--customize-hook=chroot \"$1\" sh -c 'rm -f /etc/machine-id /var/lib/dbus/machine-id'",
                "--quiet", DEBIAN_SUITE, str(partial),
            ],
            capture=False,
        )
    partial.rename(out)
    return out


def debian_arm64_rootfs() -> Path:
    """A real Debian bookworm arm64 root file system with bash, sudo and passwd."""
    out = _mmdebstrap_arm64(DEBIAN_PACKAGES, "v1", "arm64")
    assert out is not None
    return out


DEBIAN_BUILD_PACKAGES = (*DEBIAN_PACKAGES, "gcc", "libc6-dev", "make")


def debian_arm64_build_rootfs() -> Path:
    """Debian bookworm arm64 with a C toolchain of its own (gcc, libc6-dev, make): for building
    software in a box, emulated and with --native-tools."""
    out = _mmdebstrap_arm64(DEBIAN_BUILD_PACKAGES, "build-v1", "arm64-build")
    assert out is not None
    return out


def debian_s390x_build_rootfs() -> Path:
    """The same for s390x (big-endian): a second architecture for --native-tools."""
    out = _mmdebstrap_arm64(DEBIAN_BUILD_PACKAGES, "build-v1", "s390x-build", arch="s390x")
    assert out is not None
    return out


def gcc99_rootfs() -> Path:
    """The arm64 busybox image plus the traces of a gcc 99 of its own (its version directory and
    start files): a box whose compiler the host's cross gcc must not stand in for."""
    base = busybox_rootfses()["arm64"]
    out = cache_dir() / f"gcc99-arm64-{hashlib.sha256(base.name.encode()).hexdigest()[:16]}.tar"
    if out.exists():
        return out
    with tempfile.TemporaryDirectory(prefix="cbtg-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        with tarfile.open(base) as tar:
            tar.extractall(root, filter="tar")
        (root / "usr/lib/gcc/aarch64-linux-gnu/99").mkdir(parents=True)
        (root / "usr/lib/aarch64-linux-gnu").mkdir(parents=True)
        (root / "usr/lib/aarch64-linux-gnu/crt1.o").write_bytes(b"")
        partial = out.with_suffix(f".{os.getpid()}.partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(root, arcname=".")
        partial.rename(out)
    return out


def ensure_all(with_debian: bool = True) -> dict[str, Path]:
    built = {f"busybox-{a}": p for a, p in busybox_rootfses().items()}
    if with_debian:
        built["debian-arm64"] = debian_arm64_rootfs()
        built["debian-arm64-build"] = debian_arm64_build_rootfs()
        built["debian-s390x-build"] = debian_s390x_build_rootfs()
    built["gcc99-arm64"] = gcc99_rootfs()
    return built


def import_image(tar: Path, oci_arch: str, variant: str | None, name: str) -> None:
    args = ["podman", "import", "--arch", oci_arch]
    if variant:
        args += ["--variant", variant]
    args += ["--change", "CMD=/bin/sh", str(tar), name]
    sh.run(args, stdout=subprocess.DEVNULL)


DEBIAN_PYTHON_PACKAGES = ("python3",)


def debian_arm64_python_rootfs(build: bool = True) -> Path | None:
    """A Debian bookworm arm64 root file system with the image's own python3 (minbase).

    For the benchmark of the way crossbox does *not* start its agent: the image's
    Python run under emulation. Built like debian_arm64_rootfs (the maintainer
    scripts byte-compile the standard library under qemu: 3 to 5 minutes here).
    With build=False: the cached one, or None.
    """
    return _mmdebstrap_arm64(DEBIAN_PYTHON_PACKAGES, "python-v1", "arm64-python", build)


# -- a hostile image: what an image can do to an agent that trusts it -------------------------

VICTIM_DIR = "/tmp/crossbox-e2e-victims"  # host files the hostile image's links point at (/tmp is shared)
# Every path the agent writes, as a link out of the image to a victim file of the host's.
# (/etc/passwd and /etc/group are files: podman itself reads them, inside the image, before
# the agent starts, and refuses to start an image whose links there dangle.)
HOSTILE_FILE_LINKS = ("/run/.toolboxenv", "/run/.toolbxenv", "/run/.crossboxenv", "/etc/shadow", "/etc/gshadow",
                      "/etc/hosts", "/etc/resolv.conf", "/etc/localtime", "/etc/timezone", "/etc/host.conf",
                      "/etc/.pwd.lock")
HOSTILE_DIR_LINKS = ("/etc/sudoers.d",)
PRELOAD_LIB = "/usr/lib/crossbox-e2e-evil.so"
PLANTED_EXIT = 77  # what the planted library and modules exit with, if they ever run

EVIL_C = """
#include <unistd.h>
__attribute__((constructor)) static void planted(void) { _exit(77); }
"""


def victim_name(path: str) -> str:
    return path.strip("/").replace("/", "_")


def hostile_rootfs() -> Path:
    """The arm64 busybox image plus: links at every path the agent writes (to files under
    VICTIM_DIR), a crossbox package and a stdlib module planted under /run/crossbox/lib and
    /run/crossbox/python, and a native (x86_64) library that _exit()s if loaded, named in
    /etc/ld.so.preload (and in the image's environment, see import_hostile)."""
    base = busybox_rootfses()["arm64"]
    gcc = sh.run(["gcc", "--version"]).stdout.splitlines()[0]
    key_src = json.dumps([base.name, gcc, HOSTILE_FILE_LINKS, HOSTILE_DIR_LINKS, EVIL_C, "v2"])
    out = cache_dir() / f"hostile-arm64-{hashlib.sha256(key_src.encode()).hexdigest()[:16]}.tar"
    if out.exists():
        return out
    with tempfile.TemporaryDirectory(prefix="cbth-") as tmp:
        work = Path(tmp)
        root = work / "root"
        root.mkdir()
        with tarfile.open(base) as tar:
            tar.extractall(root, filter="tar")
        (work / "evil.c").write_text(EVIL_C)
        lib = root / PRELOAD_LIB.lstrip("/")
        lib.parent.mkdir(parents=True, exist_ok=True)
        sh.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(work / "evil.c")])
        (root / "etc" / "ld.so.preload").write_text(PRELOAD_LIB + "\n")
        (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (root / "etc" / "group").write_text("root:x:0:\n")
        for path in HOSTILE_FILE_LINKS + HOSTILE_DIR_LINKS:
            link = root / path.lstrip("/")
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(f"{VICTIM_DIR}/{victim_name(path)}")
        planted = f"import os\nos._exit({PLANTED_EXIT})\n"
        for rel in ("run/crossbox/lib/crossbox/__init__.py", "run/crossbox/lib/dataclasses.py",
                    "run/crossbox/lib/os.py", "run/crossbox/lib/crossbox/guest/__init__.py",
                    "run/crossbox/python/lib/python3.11/site.py"):
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(planted)
        partial = out.with_suffix(f".{os.getpid()}.partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(root, arcname=".")
        partial.rename(out)
    return out


def make_victims() -> dict[str, bytes]:
    """The host files the hostile image points at: a file per link, a directory per dir link."""
    os.makedirs(VICTIM_DIR, exist_ok=True)
    os.chmod(VICTIM_DIR, 0o755)
    contents = {}
    for path in HOSTILE_FILE_LINKS:
        victim = Path(VICTIM_DIR) / victim_name(path)
        data = f"precious host file behind {path}\n".encode()
        victim.write_bytes(data)
        victim.chmod(0o644)
        contents[str(victim)] = data
    for path in HOSTILE_DIR_LINKS:
        victim = Path(VICTIM_DIR) / victim_name(path)
        victim.mkdir(exist_ok=True)
        victim.chmod(0o755)
    return contents


def victims_now() -> dict[str, bytes]:
    out = {}
    for path in HOSTILE_FILE_LINKS:
        victim = Path(VICTIM_DIR) / victim_name(path)
        out[str(victim)] = victim.read_bytes() if victim.exists() else b"<gone>"
    return out


def import_hostile(tar: Path, name: str) -> None:
    sh.run(["podman", "import", "--arch", "arm64", "--change", "CMD=/bin/sh",
            "--change", f"ENV=LD_PRELOAD={PRELOAD_LIB}", "--change", "ENV=PYTHONPATH=/run/crossbox/lib",
            str(tar), name], stdout=subprocess.DEVNULL)


# -- upstream sources of Debian packages, for real builds in a box --------------------------------

def source_tarball(package: str) -> Path:
    """The upstream tarball (.orig.tar.gz) of a Debian bookworm source package, as `apt-get source`
    fetches it (with a deb-src list of the machine's own mirror, in a directory of its own), cached."""
    cached = sorted(p for p in cache_dir().glob(f"src-{package}_*.orig.tar.*")
                    if not p.name.endswith((".asc", ".partial")))
    if cached:
        return cached[-1]
    with tempfile.TemporaryDirectory(prefix="cbts-") as tmp:
        work = Path(tmp)
        for d in ("lists/partial", "cache/archives/partial", "dl"):
            (work / d).mkdir(parents=True)
        (work / "sources.list").write_text(
            f"deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian "
            f"{DEBIAN_SUITE} main\n")
        opts = ["-o", f"Dir::Etc::SourceList={work / 'sources.list'}", "-o", "Dir::Etc::SourceParts=/nonexistent",
                "-o", f"Dir::State::Lists={work / 'lists'}", "-o", f"Dir::Cache={work / 'cache'}",
                "-o", "APT::Sandbox::User=root"]
        sh.run(["apt-get", "-q", *opts, "update"])
        sh.run(["apt-get", "-q", *opts, "source", "--download-only", package], cwd=work / "dl")
        orig = next(p for p in (work / "dl").glob(f"{package}_*.orig.tar.*") if not p.name.endswith(".asc"))
        out = cache_dir() / f"src-{orig.name}"
        shutil.copy(orig, out.with_suffix(f".{os.getpid()}.partial"))
        out.with_suffix(f".{os.getpid()}.partial").rename(out)
    return out
