"""A podman storage of the benchmark's own, beside the machine's.

Root's default storage is shared: another suite running at the same time adds
crossbox containers that `crossbox list` would count, holds layers that make a
pull copy nothing, and may remove images by id (podman gives identical images
one id). So the benchmark points podman and skopeo at its own storage
(`CONTAINERS_STORAGE_CONF`) and engine state (`tmp_dir` and file locks, so
nothing is shared with the machine's libpod lock memory either), with the
test bed's containers.conf settings otherwise unchanged. The same drivers,
runtime and disk are used: the figures are those of a user's machine with few
containers.

A storage may also belong to an ordinary user (rootless podman, for the peers).
Podman 4.3's containers/storage takes only `rootless_storage_path` from the file
for a rootless user (its `graphroot` and `runroot` are ignored), so that key is
set too; the run root stays the user's `$XDG_RUNTIME_DIR/containers`, whose
contents are kept apart by driver name (overlay here; the machine's default
rootless storage is vfs). `check_isolated` proves the graph root.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from .harness import RunAs, run


def _with_engine_keys(conf: str, keys: dict[str, str]) -> str:
    """The containers.conf text with extra [engine] keys (TOML forbids a second [engine] table)."""
    extra = "".join(f'{k} = "{v}"\n' for k, v in keys.items())
    lines = conf.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip() == "[engine]":
            return "".join([*lines[: i + 1], extra, *lines[i + 1 :]])
    return conf.rstrip("\n") + "\n[engine]\n" + extra


class Store:
    def __init__(self, root: Path, base_env: Mapping[str, str], containers_conf_text: str, *,
                 user: RunAs | None = None) -> None:
        self.root = root
        self.user = user
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)  # rootful --userns=auto containers need to traverse to their layers
        rootless = f'rootless_storage_path = "{root / "graph"}"\n' if user else ""
        (root / "storage.conf").write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{root / "graph"}"\n'
            f'runroot = "{root / "run"}"\n'
            f"{rootless}"
        )
        (root / "containers.conf").write_text(
            _with_engine_keys(containers_conf_text, {"tmp_dir": str(root / "engine"), "lock_type": "file"}))
        for name in ("storage.conf", "containers.conf"):
            (root / name).chmod(0o644)
        if user:  # the user's podman makes its graph and engine directories in it
            os.chown(root, user.uid, user.gid)
        self.env = {**base_env, "CONTAINERS_STORAGE_CONF": str(root / "storage.conf"),
                    "CONTAINERS_CONF": str(root / "containers.conf")}

    def podman(self, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        return run(["podman", *args], self.env, expect=expect, user=self.user,
                   cwd=str(self.root) if self.user else None)

    def check_isolated(self) -> None:
        info = json.loads(self.podman("info", "--format", "json").stdout)
        graph = info.get("store", {}).get("graphRoot", "")
        if not graph.startswith(str(self.root)):
            raise RuntimeError(f"podman did not take the benchmark's storage ({graph})")

    def destroy(self) -> None:
        """Remove every container and image in it, then its files. Only this storage is touched."""
        with contextlib.suppress(Exception):
            self.podman("rm", "--all", "--force", "--time", "0", expect=None)
        with contextlib.suppress(Exception):
            self.podman("rmi", "--all", "--force", expect=None)
        # Overlay mounts left by an interrupted run, innermost first.
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            points = [line.split()[4] for line in f]
        for point in sorted((p for p in points if p.startswith(str(self.root) + "/")), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
        if os.path.exists(self.root):
            shutil.rmtree(self.root, ignore_errors=True)
