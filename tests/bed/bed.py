"""The test bed as one object: registry, published images, and crossbox run as root or as
the rootless test user, each with the test machine's containers.conf."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import images, sh
from .faultproxy import FaultProxy
from .registry import Registry
from .terminal import Terminal

REPO = Path(__file__).resolve().parents[2]
TESTER = os.environ.get("CROSSBOX_TEST_USER", "tester")
BINFMT = "/proc/sys/fs/binfmt_misc"

# The test machine's podman configuration (measured on the test machines): crun fails on hybrid
# cgroups here, and the default rlimits exceed what this machine may set.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
"""


def binfmt_snapshot() -> dict[str, object]:
    """The host's binfmt_misc: whether it is mounted, and every entry's name and text."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        mounted = any(line.split()[4] == BINFMT for line in f)
    entries = {}
    with contextlib.suppress(OSError):
        for name in sorted(os.listdir(BINFMT)):
            with contextlib.suppress(OSError), open(os.path.join(BINFMT, name), encoding="utf-8") as f:
                entries[name] = f.read()
    return {"mounted": mounted, "entries": entries}


class Tester:
    """The rootless user, with crossbox installed where it can read it."""

    def __init__(self, name: str, site: Path) -> None:
        entry = pwd.getpwnam(name)
        self.name = name
        self.uid = entry.pw_uid
        self.gid = entry.pw_gid
        self.home = entry.pw_dir
        self.runtime_dir = f"/run/user/{self.uid}"
        self.site = site
        os.makedirs(self.runtime_dir, exist_ok=True)
        os.chown(self.runtime_dir, self.uid, self.gid)
        os.chmod(self.runtime_dir, 0o700)

    def env(self, extra: Mapping[str, str]) -> list[str]:
        base = {
            "HOME": self.home, "USER": self.name, "LOGNAME": self.name,
            "XDG_RUNTIME_DIR": self.runtime_dir, "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8", "PYTHONPATH": str(self.site),
        }
        base.update(extra)
        return ["runuser", "-u", self.name, "--", "env", "-i", *(f"{k}={v}" for k, v in base.items())]


class Bed:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        workdir.chmod(0o755)
        self.containers_conf = workdir / "containers.conf"
        self.containers_conf.write_text(CONTAINERS_CONF)
        self.containers_conf.chmod(0o644)
        self.registry = Registry(workdir / "registry")
        self.images: dict[str, str] = {}
        self.tester: Tester | None = None
        self.name_prefix = f"cbt{self.registry.port}-"
        self.proxy: FaultProxy | None = None
        self.built: dict[str, Path] = {}

    # -- environment -------------------------------------------------------
    def podman_env(self) -> dict[str, str]:
        return {
            "CONTAINERS_CONF": str(self.containers_conf),
            "CONTAINERS_REGISTRIES_CONF": str(self.registry.registries_conf),
        }

    def root_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CROSSBOX_", "CONTAINERS_"))}
        env.pop("XDG_RUNTIME_DIR", None)
        env.update(self.podman_env())
        env.update(extra or {})
        return env

    # -- running things ----------------------------------------------------
    def crossbox(self, args: Sequence[str], *, rootless: bool = False, input: str | None = None,
                 env: Mapping[str, str] | None = None, timeout: float = 600,
                 cwd: str | None = None) -> subprocess.CompletedProcess[str]:
        return sh.run(self.crossbox_argv(args, rootless=rootless, env=env), check=False, input=input,
                      timeout=timeout, cwd=cwd or (self.tester.home if rootless and self.tester else None),
                      env=None if rootless else self.root_env(env))

    def crossbox_argv(self, args: Sequence[str], *, rootless: bool = False,
                      env: Mapping[str, str] | None = None) -> list[str]:
        if rootless:
            assert self.tester is not None
            extra = {**self.podman_env(), **(env or {})}
            return [*self.tester.env(extra), "/usr/bin/python3", "-m", "crossbox.host", *args]
        return [sys.executable, "-m", "crossbox.host", *args]

    def terminal(self, args: Sequence[str], *, rootless: bool = False,
                 env: Mapping[str, str] | None = None) -> Terminal:
        """crossbox on a pseudo-terminal: rootful with root_env(env), rootless as the test user."""
        if rootless:
            assert self.tester is not None
            return Terminal(self.crossbox_argv(args, rootless=True), None, self.tester.home)
        return Terminal(self.crossbox_argv(args), self.root_env(env))

    def podman(self, args: Sequence[str], *, rootless: bool = False,
               check: bool = False) -> subprocess.CompletedProcess[str]:
        if rootless:
            assert self.tester is not None
            return sh.run([*self.tester.env(self.podman_env()), "podman", *args], check=check,
                          cwd=self.tester.home)
        return sh.run(["podman", *args], check=check, env=self.root_env())

    # -- set-up ------------------------------------------------------------
    def install_for_tester(self) -> None:
        site = self.workdir / "tester-site"
        if not (site / "crossbox").exists():
            sh.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--target", str(site), str(REPO)], env={**os.environ, "PIP_NO_WARN_SCRIPT_LOCATION": "1"})
            sh.run(["chmod", "-R", "a+rX", str(site)])
        self.tester = Tester(TESTER, site)

    def publish(self, with_debian: bool = True) -> None:
        """Build (or take from the cache) every image and push it to the registry."""
        addr = self.registry.address
        built = images.ensure_all(with_debian)
        self.built = built
        env = self.root_env()
        tls = "--tls-verify=false"
        tag = f"localhost/crossbox-testbed-{self.registry.port}"
        for oci, (_, variant) in images.BUSYBOX_ARCHES.items():
            local = f"{tag}/bb:{oci}"
            images.import_image(built[f"busybox-{oci}"], oci, variant, local)
            sh.run(["podman", "push", "--quiet", tls, local, f"docker://{addr}/bb:{oci}"], env=env)
            self.images[f"bb-{oci}"] = f"{addr}/bb:{oci}"
        images.import_image(built["gcc99-arm64"], "arm64", None, f"{tag}/gcc99:arm64")
        sh.run(["podman", "push", "--quiet", tls, f"{tag}/gcc99:arm64", f"docker://{addr}/gcc99:arm64"], env=env)
        sh.run(["podman", "rmi", "--force", f"{tag}/gcc99:arm64"], env=env, check=False)
        self.images["gcc99"] = f"{addr}/gcc99:arm64"
        hostile = images.hostile_rootfs()
        images.import_hostile(hostile, f"{tag}/hostile:arm64")
        sh.run(["podman", "push", "--quiet", tls, f"{tag}/hostile:arm64", f"docker://{addr}/hostile:arm64"], env=env)
        sh.run(["podman", "rmi", "--force", f"{tag}/hostile:arm64"], env=env, check=False)
        self.images["hostile"] = f"{addr}/hostile:arm64"
        if with_debian:
            local = f"{tag}/debian:12-arm64"
            images.import_image(built["debian-arm64"], "arm64", None, local)
            sh.run(["podman", "push", "--quiet", tls, local, f"docker://{addr}/debian-sudo:12"], env=env)
            self.images["debian-arm64"] = f"{addr}/debian-sudo:12"
            local = f"{tag}/debian-build:12-arm64"
            images.import_image(built["debian-arm64-build"], "arm64", None, local)
            sh.run(["podman", "push", "--quiet", tls, local, f"docker://{addr}/debian-build:12"], env=env)
            sh.run(["podman", "rmi", "--force", local], env=env, check=False)
            self.images["debian-arm64-build"] = f"{addr}/debian-build:12"
            local = f"{tag}/debian-build:12-s390x"
            images.import_image(built["debian-s390x-build"], "s390x", None, local)
            sh.run(["podman", "push", "--quiet", tls, local, f"docker://{addr}/debian-build-s390x:12"], env=env)
            sh.run(["podman", "rmi", "--force", local], env=env, check=False)
            self.images["debian-s390x-build"] = f"{addr}/debian-build-s390x:12"
        indexes = (("multi", ("amd64", "arm64", "ppc64le")), ("nos390x", ("amd64", "arm64")),
                   ("every", tuple(images.BUSYBOX_ARCHES)))
        for index, members in indexes:
            name = f"{tag}/{index}-list"
            sh.run(["podman", "manifest", "rm", name], env=env, check=False)
            sh.run(["podman", "manifest", "create", name], env=env)
            for oci in members:
                sh.run(["podman", "manifest", "add", tls, name, f"docker://{addr}/bb:{oci}"], env=env)
            sh.run(["podman", "manifest", "push", "--all", "--quiet", tls, name,
                    f"docker://{addr}/{index}:latest"], env=env)
            sh.run(["podman", "manifest", "rm", name], env=env, check=False)
            self.images[index] = f"{addr}/{index}:latest"
        # A stand-in for a distribution's toolbox image, reached through the standard
        # registries.conf remapping (see remap_registries_conf), for default-container tests.
        sh.run(["skopeo", "copy", "--all", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                f"docker://{addr}/multi:latest", f"docker://{addr}/toolbx-images/debian-toolbox:12"], env=env)
        self.images["debian-toolbox-standin"] = "quay.io/toolbx-images/debian-toolbox:12"
        self.remap_conf = self.workdir / "registries-remap.conf"
        self.remap_conf.write_text(
            f'[[registry]]\nlocation = "{addr}"\ninsecure = true\n\n'
            f'[[registry]]\nprefix = "quay.io/toolbx-images"\nlocation = "{addr}/toolbx-images"\n'
            "insecure = true\n")
        self.remap_conf.chmod(0o644)
        # The pushed copies are what the tests pull; the local ones would shadow nothing
        # (other names) but are not needed.
        for oci in images.BUSYBOX_ARCHES:
            sh.run(["podman", "rmi", "--force", f"{tag}/bb:{oci}"], env=env, check=False)
        sh.run(["podman", "rmi", "--force", f"{tag}/debian:12-arm64"], env=env, check=False)
        (self.workdir / "images.json").write_text(json.dumps(self.images, indent=1))

    def unique_image(self, oci: str = "arm64") -> str:
        """A fresh single-arch image whose layer no storage has seen, pushed to the registry.

        Local storage reuses layers it already has by digest, so a fault on blob downloads
        would never fire for a layer pulled before.
        """
        import secrets
        import tarfile

        token = secrets.token_hex(6)
        base = self.built[f"busybox-{oci}"]
        tar_path = self.workdir / f"unique-{token}.tar"
        shutil.copy(base, tar_path)
        marker = self.workdir / f"unique-{token}.txt"
        marker.write_text(token + "\n")
        with tarfile.open(tar_path, "a") as tar:
            tar.add(marker, arcname="./etc/unique")
        local = f"localhost/crossbox-testbed-{self.registry.port}/unique:{token}"
        variant = images.BUSYBOX_ARCHES[oci][1]
        images.import_image(tar_path, oci, variant, local)
        env = self.root_env()
        sh.run(["podman", "push", "--quiet", "--tls-verify=false", local,
                f"docker://{self.registry.address}/unique:{token}"], env=env)
        sh.run(["podman", "rmi", "--force", local], env=env, check=False)
        tar_path.unlink()
        marker.unlink()
        return f"unique:{token}"

    def start(self, with_debian: bool = True, with_tester: bool = True) -> Bed:
        self.registry.start()
        self.proxy = FaultProxy(self.registry.address).start()
        self.registry.write_registries_conf([self.registry.address, self.proxy.address])
        self.publish(with_debian)
        if with_tester:
            self.install_for_tester()
        return self

    # -- tear-down ---------------------------------------------------------
    def cleanup_storage(self, rootless: bool) -> None:
        """Remove every container and image this bed's registry address names."""
        ps = self.podman(["ps", "-a", "--format", "json"], rootless=rootless)
        for c in json.loads(ps.stdout or "[]") or []:
            names = c.get("Names") or []
            if any(a in (c.get("Image") or "") for a in self.addresses()) or any(
                    n.startswith(self.name_prefix) for n in names):
                self.podman(["rm", "-f", c["Id"]], rootless=rootless)
        imgs = self.podman(["images", "--format", "json"], rootless=rootless)
        for i in json.loads(imgs.stdout or "[]") or []:
            # By name, never by id: identical images of another bed share the id.
            ours = [n for n in i.get("Names") or [] if any(a in n for a in self.addresses())]
            if ours:
                self.podman(["rmi", *ours], rootless=rootless)

    def addresses(self) -> list[str]:
        return [self.registry.address] + ([self.proxy.address] if self.proxy else [])

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.cleanup_storage(False)
        if self.tester:
            with contextlib.suppress(Exception):
                self.cleanup_storage(True)
        if self.proxy:
            self.proxy.stop()
        self.registry.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def new_workdir() -> Path:
    base = Path(os.environ.get("CROSSBOX_TESTBED_TMP", "/var/tmp"))
    return Path(tempfile.mkdtemp(prefix="crossbox-e2e-", dir=base))
