"""P1..P3: crossbox beside its peers, toolbox and distrobox (Debian's packages), and raw podman.

The same operation by every side, in the same rounds, round-robin (crossbox,
toolbox, distrobox, podman; crossbox's arm64 box last, as a reference): a warm
`run true` (P1), a cold start and `true` (P2), a create with the image local
(P3). Rootless, as the test user, in a podman storage of the benchmark's own
(store.py), on native boxes of one Debian bookworm minbase image built with
mmdebstrap and cached like the bed's images. crossbox is a real install of the
working tree that the user can read (install.install_for_user); every side gets
the bed's containers.conf (runc, low ulimits).

What this machine needs before toolbox and distrobox run is the benchmark's own
set-up, never crossbox's: a D-Bus system socket path (toolbox resolves and
bind-mounts it; no D-Bus runs here), SHELL in the environment, and, where this
machine's podman cannot apply `--ulimit host` (probed once), a `podman` shim
first on PATH for their create only, which drops that option.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .context import PEER_CASES, Bench
from .harness import LAUNCHER, RAW, REFERENCE, BenchError, RunAs, Side, run, run_lineup, say
from .install import UserInstall, install_for_user
from .store import Store

SUITE = "bookworm"
# toolbox's init-container needs useradd/passwd, sudo and capsh; bash is the user's shell.
TOOLBOX_PACKAGES = ("sudo", "passwd", "libcap2-bin", "bash")
# distrobox-init checks for these commands at every start and, if one is missing, runs apt-get update and
# installs a long list of packages (mesa's GL and Vulkan drivers among them) from the network: the image
# has them all along.
DISTROBOX_PACKAGES = ("pinentry-curses", "wget", "curl", "less", "bc", "time", "lsof")
PACKAGES = TOOLBOX_PACKAGES + DISTROBOX_PACKAGES
IMAGE_VERSION = "peers-v1"  # change to rebuild the cached image
DBUS_SOCKET = Path("/run/dbus/system_bus_socket")
SUBJECT = "crossbox"
FOREIGN = "crossbox-arm64"
ORDER = ("crossbox", "toolbox", "distrobox", "podman", FOREIGN)  # the sides of every round, in turn
ROLES = {"crossbox": LAUNCHER, "toolbox": LAUNCHER, "distrobox": LAUNCHER, "podman": RAW, FOREIGN: REFERENCE}
TOOLS = {"toolbox": "podman-toolbox", "distrobox": "distrobox"}  # command: Debian package
# Short, for container names: distrobox makes the hostname NAME.$(uname -n), at most 64 characters.
SHORT = {"crossbox": "xb", "toolbox": "tb", "distrobox": "db", "podman": "pm", FOREIGN: "xa"}
# The raw box: the options all three launchers give their boxes (host network, privileged, the user's ids
# kept), nothing else. (A plain unprivileged container pays for a seccomp filter at every exec, which
# none of the launchers' boxes does: it would be no floor for them.)
RAW_OPTIONS = ("--network", "host", "--privileged", "--userns", "keep-id")

ULIMIT_SHIM = """#!/bin/bash
# The benchmark's own (bench/peers.py), first on PATH for `toolbox create` and `distrobox create` only:
# this machine's podman cannot apply `--ulimit host`, which both pass to `podman create`.
args=()
while [ $# -gt 0 ]; do
    if [ "$1" = --ulimit ] && [ "${{2-}}" = host ]; then shift 2; continue; fi
    if [ "$1" = --ulimit=host ]; then shift; continue; fi
    args+=("$1"); shift
done
exec {podman} "${{args[@]}}"
"""


def native_rootfs() -> Path:
    """The native Debian bookworm minbase root file system of every peer box, cached by its inputs."""
    from bed import images

    env = dict(os.environ)
    mm_version = run(["mmdebstrap", "--version"], env).stdout.strip()
    arch = run(["dpkg", "--print-architecture"], env).stdout.strip()
    key_src = json.dumps([SUITE, arch, PACKAGES, mm_version, IMAGE_VERSION])
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    out: Path = images.cache_dir() / f"debian-{SUITE}-{arch}-peers-{key}.tar"
    if out.exists():
        return out
    partial = out.with_name(f"{out.stem}.{os.getpid()}.partial.tar")
    say(f"building the peers' native Debian image once (mmdebstrap, about a minute): {out}")
    try:
        run(["mmdebstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", "--quiet", SUITE, str(partial)],
            env, timeout=1800)
        partial.chmod(0o644)
        partial.rename(out)
    finally:
        partial.unlink(missing_ok=True)
    return out


@dataclass(frozen=True)
class Tester:
    """The rootless user the peers run as (tests/bed's test user)."""

    name: str
    uid: int
    gid: int
    home: str
    shell: str

    @classmethod
    def find(cls) -> Tester:
        from bed.bed import TESTER

        try:
            entry = pwd.getpwnam(TESTER)
        except KeyError:
            raise BenchError(f"no user {TESTER!r} for the rootless peers; run tests/setup-debian.sh") from None
        tester = cls(TESTER, entry.pw_uid, entry.pw_gid, entry.pw_dir, entry.pw_shell or "/bin/bash")
        os.makedirs(tester.runtime_dir, exist_ok=True)  # as tests/bed does: /run is a tmpfs
        os.chown(tester.runtime_dir, tester.uid, tester.gid)
        os.chmod(tester.runtime_dir, 0o700)
        return tester

    @property
    def runtime_dir(self) -> str:
        return f"/run/user/{self.uid}"

    @property
    def runas(self) -> RunAs:
        return RunAs(self.uid, self.gid)

    def env(self, registries_conf: str) -> dict[str, str]:
        return {
            "HOME": self.home, "USER": self.name, "LOGNAME": self.name, "SHELL": self.shell,
            "XDG_RUNTIME_DIR": self.runtime_dir, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "CONTAINERS_REGISTRIES_CONF": registries_conf,
        }


@dataclass
class Peers:
    """The peers' user, storage, image and boxes; everything is removed again by teardown()."""

    bench: Bench
    tester: Tester = field(init=False)
    store: Store = field(init=False)
    xb: UserInstall = field(init=False)
    image: str = field(init=False)  # the native image, local in the store
    foreign: str | None = None  # the bed's Debian arm64 image, for crossbox's reference box
    env: dict[str, str] = field(default_factory=dict)  # the user's, with the store's configuration
    create_env: dict[str, str] = field(default_factory=dict)  # toolbox's and distrobox's for create
    boxes: dict[str, str] = field(default_factory=dict)  # side: its running box
    crossbox_names: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    made_socket: bool = False
    made_dbus_dir: bool = False
    info: dict[str, object] = field(default_factory=dict)

    # -- set-up ------------------------------------------------------------------------------------
    def setup(self) -> None:
        missing = [f"{cmd} (Debian package {pkg})" for cmd, pkg in TOOLS.items() if not shutil.which(cmd)]
        if missing:
            raise BenchError(f"the peers need {', '.join(missing)}: run tests/setup-debian.sh "
                             "(apt-get install podman-toolbox distrobox)")
        bench = self.bench
        self.tester = Tester.find()
        root = bench.work / "peers"
        root.mkdir(exist_ok=True)
        root.chmod(0o755)
        base = self.tester.env(str(bench.bed.registry.registries_conf))
        self.store = Store(root / "store", base, bench.bed.containers_conf.read_text(), user=self.tester.runas)
        self.env = dict(self.store.env)
        self.create_env = self.env
        self.store.check_isolated()
        self.xb = install_for_user(root / "crossbox")
        self.info["toolbox_runtime_dir_existed"] = self.toolbox_dir.exists()  # before toolbox's first call
        self.info.update(user=self.tester.name, uid=self.tester.uid, storage=self.storage_info(),
                         toolbox=self.version("toolbox", "--version"), distrobox=self.version("distrobox", "version"),
                         crossbox_python=self.xb.python)
        self.ensure_dbus_socket()
        tar = native_rootfs()
        self.image = f"localhost/{bench.prefix}peers-debian:12"
        self.store.podman("import", "--quiet", "--change", "CMD=/bin/bash", str(tar), self.image)
        self.info["image"] = {"name": self.image, "tar": tar.name, "suite": SUITE, "variant": "minbase",
                              "packages": list(PACKAGES)}
        self.probe_ulimit_host(root)
        # toolbox's first command may run `podman system migrate` once (it stops every container of the
        # storage) and records the podman version in ~/.config/toolbox: before any box runs.
        self.call(["toolbox", "list"])
        self.foreign = bench.bed.images.get("debian-arm64")
        if self.foreign is None:
            say("the bed has no Debian arm64 image: crossbox's arm64 reference box is left out of the peers")
        self.make_boxes()
        self.info["boxes"] = self.boxes_note()

    def version(self, *argv: str) -> str:
        """The version number a tool prints ("toolbox version 0.0.99.3", "distrobox: 1.4.2.1")."""
        words = self.call(list(argv)).stdout.split()
        return words[-1] if words else "?"

    @property
    def toolbox_dir(self) -> Path:
        """Where toolbox keeps its per-start stamps (container-initialized-PID), named by host pid."""
        return Path(self.tester.runtime_dir) / "toolbox"

    def storage_info(self) -> dict[str, str]:
        info = json.loads(self.store.podman("info", "--format", "json").stdout)["store"]
        return {"driver": info.get("graphDriverName", "?"), "graphroot": info.get("graphRoot", "?"),
                "runroot": info.get("runRoot", "?")}

    def ensure_dbus_socket(self) -> None:
        """toolbox create resolves /run/dbus/system_bus_socket and bind-mounts it; no D-Bus runs here."""
        if DBUS_SOCKET.exists() or DBUS_SOCKET.is_symlink():
            self.info["made_dbus_socket"] = False
            return
        if not DBUS_SOCKET.parent.exists():
            DBUS_SOCKET.parent.mkdir(mode=0o755, parents=True)
            self.made_dbus_dir = True
        with socket.socket(socket.AF_UNIX) as sock:  # a socket nothing listens on: a path to resolve and bind
            sock.bind(str(DBUS_SOCKET))
        DBUS_SOCKET.chmod(0o666)
        self.made_socket = True
        self.info["made_dbus_socket"] = True
        say(f"made {DBUS_SOCKET} (nothing listens on it) for toolbox; it is removed at the end")

    def probe_ulimit_host(self, root: Path) -> None:
        """Whether `podman create --ulimit host` works here; if not, toolbox and distrobox get a shim."""
        done = self.store.podman("run", "--rm", "--network", "host", "--ulimit", "host", self.image, "true",
                                 expect=None)
        works = done.returncode == 0
        self.info["ulimit_host_works"] = works
        self.info["podman_shim_drops_ulimit_host"] = not works
        if works:
            return
        if "rlimit" not in done.stderr:
            raise BenchError(f"podman run --ulimit host failed for another reason than rlimits: {done.stderr[-800:]}")
        shim_dir = root / "shim"
        shim_dir.mkdir(exist_ok=True)
        shim_dir.chmod(0o755)
        shim = shim_dir / "podman"
        shim.write_text(ULIMIT_SHIM.format(podman=shutil.which("podman") or "/usr/bin/podman"))
        shim.chmod(0o755)
        self.create_env = {**self.env, "PATH": f"{shim_dir}:{self.env['PATH']}"}
        say("podman cannot apply `--ulimit host` here: toolbox and distrobox create through a shim that drops it")

    def call(self, argv: list[str], *, env: dict[str, str] | None = None, expect: int | None = 0,
             timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return run(argv, env or self.env, cwd=self.tester.home, expect=expect, timeout=timeout,
                   user=self.tester.runas)

    def crossbox(self, *args: str) -> list[str]:
        return [self.xb.crossbox, *args]

    @property
    def xenv(self) -> dict[str, str]:
        return {**self.env, **self.xb.env}

    def name(self, side: str, what: str = "box") -> str:
        return f"{self.bench.prefix}p-{SHORT[side]}-{what}"

    def create_argv(self, side: str, name: str) -> list[str]:
        if side == "crossbox":
            return self.crossbox("create", "--image", self.image, name)
        if side == FOREIGN:
            assert self.foreign is not None
            return self.crossbox("create", "--arch", "arm64", "--image", self.foreign, name)
        if side == "toolbox":
            return ["toolbox", "create", "--image", self.image, name]
        if side == "distrobox":
            return ["distrobox", "create", "--yes", "--no-entry", "--image", self.image, "--name", name]
        return ["podman", "create", "--name", name, *RAW_OPTIONS, self.image, "sleep", "infinity"]

    def run_argvs(self, side: str, box: str, *, cold: bool = False) -> list[list[str]]:
        if side in ("crossbox", FOREIGN):
            return [self.crossbox("run", "-c", box, "true")]
        if side == "toolbox":
            return [["toolbox", "run", "-c", box, "true"]]
        if side == "distrobox":
            return [["distrobox", "enter", box, "--", "true"]]
        return [["podman", "start", box], ["podman", "exec", box, "true"]] if cold else \
            [["podman", "exec", box, "true"]]

    def env_for(self, side: str, *, creating: bool = False) -> dict[str, str]:
        if side in ("crossbox", FOREIGN):
            return self.xenv
        if creating and side in TOOLS:
            return self.create_env
        return self.env

    def sides(self) -> list[str]:
        return [s for s in ORDER if s != FOREIGN or self.foreign is not None]

    def note_crossbox(self, side: str, name: str) -> None:
        if side in ("crossbox", FOREIGN):
            self.crossbox_names.append(name)

    def make_boxes(self) -> None:
        """Each side's box, created and run once (untimed): one-time set-up is done before any round."""
        for side in self.sides():
            name = self.name(side)
            self.note_crossbox(side, name)
            argv = self.create_argv(side, name)
            if side == FOREIGN:
                argv = [argv[0], "-y", *argv[1:]]  # the bed's image is pulled into the store first
            self.call(argv, env=self.env_for(side, creating=True), timeout=1200)
            self.call(self.run_argvs(side, name, cold=True)[0], env=self.env_for(side))
            if side == "podman":
                self.call(["podman", "exec", name, "true"])
            self.boxes[side] = name
        logs = self.call(["podman", "logs", self.boxes["distrobox"]])
        if "Reading package lists" in logs.stdout + logs.stderr:
            say("distrobox-init installed packages at its first start (untimed); the image lacks some of its needs")
            self.info["distrobox_first_start_installed_packages"] = True

    # -- the cases -----------------------------------------------------------------------------------
    def side(self, side: str, label: str, argvs: list[list[str]], *, creating: bool = False,
             before: Callable[[int], None] | None = None, after: Callable[[int], None] | None = None) -> Side:
        """The same commands every round, as the user, in the user's home (each launcher's usual place)."""
        return Side(label, lambda _: argvs, self.env_for(side, creating=creating), before=before, after=after,
                    user=self.tester.runas, cwd=self.tester.home)

    def lineup(self, case_id: str, title: str, sides: list[tuple[str, Side]], note: str) -> None:
        opts = self.bench.opts
        self.bench.peer_results.append(run_lineup(
            case_id, title, [(key, ROLES[key], side) for key, side in sides], subject=SUBJECT,
            rounds=opts.pairs_for(case_id), warmup=opts.warmup, cwd=self.tester.home, note=note))

    def p1_warm_run(self) -> None:
        labels = {"crossbox": "crossbox run -c BOX true", "toolbox": "toolbox run -c BOX true",
                  "distrobox": "distrobox enter BOX -- true", "podman": "podman exec BOX true",
                  FOREIGN: "crossbox run -c BOX true (arm64 box)"}
        for side, box in self.boxes.items():  # running, whatever ran before
            for argv in self.run_argvs(side, box, cold=True):
                self.call(argv, env=self.env_for(side))
        self.lineup("P1", "warm run", [
            (s, self.side(s, labels[s], self.run_argvs(s, self.boxes[s]))) for s in self.sides()
        ], "Each BOX is running.")

    def p2_cold_start(self) -> None:
        labels = {"crossbox": "crossbox run -c BOX true (BOX stopped)",
                  "toolbox": "toolbox run -c BOX true (BOX stopped)",
                  "distrobox": "distrobox enter BOX -- true (BOX stopped)",
                  "podman": "podman start BOX && podman exec BOX true (BOX stopped)",
                  FOREIGN: "crossbox run -c BOX true (arm64 box, stopped)"}

        def stop(box: str) -> Callable[[int], None]:
            def before(_: int) -> None:
                self.store.podman("stop", "--time", "0", box)
            return before

        self.lineup("P2", "cold start", [
            (s, self.side(s, labels[s], self.run_argvs(s, self.boxes[s], cold=True), before=stop(self.boxes[s])))
            for s in self.sides()
        ], "Each BOX is stopped (untimed `podman stop -t 0`) before its run: the start, the launcher's and the "
           "entrypoint's set-up, then `true`.")

    def p3_create(self) -> None:
        labels = {"crossbox": "crossbox create --image IMAGE NAME", "toolbox": "toolbox create --image IMAGE NAME",
                  "distrobox": "distrobox create --yes --no-entry --image IMAGE --name NAME",
                  "podman": f"podman create --name NAME {' '.join(RAW_OPTIONS)} IMAGE sleep infinity",
                  FOREIGN: "crossbox create --arch arm64 --image DEBIAN NAME (arm64, image local)"}

        def remove(side: str, name: str) -> Callable[[int], None]:
            def after(_: int) -> None:
                if side in ("crossbox", FOREIGN):
                    self.call(self.crossbox("rm", "--force", name), env=self.xenv)
                else:
                    self.store.podman("rm", "--force", "--time", "0", name)
            return after

        sides = []
        for s in self.sides():
            name = self.name(s, "new")
            self.note_crossbox(s, name)
            sides.append((s, self.side(s, labels[s], [self.create_argv(s, name)], creating=True,
                                       after=remove(s, name))))
        shim = (" toolbox and distrobox create through a `podman` shim that drops `--ulimit host` (this machine's "
                "podman cannot apply it)." if self.info.get("podman_shim_drops_ulimit_host") else "")
        self.lineup("P3", "create, image local", sides,
                    "IMAGE is local; each container is removed (untimed) after its run." + shim)

    def boxes_note(self) -> str:
        """What the boxes are: said once, in the peers' set-up information."""
        ref = (" The reference side (not ranked): crossbox's arm64 box of the bed's Debian bookworm arm64 image "
               "(DEBIAN), emulated.") if self.foreign else ""
        return (f"IMAGE: native Debian {SUITE} minbase with {', '.join(PACKAGES)} (the last "
                f"{len(DISTROBOX_PACKAGES)} so that distrobox-init installs nothing). The raw box is `podman create "
                f"{' '.join(RAW_OPTIONS)} IMAGE sleep infinity`: the options all three launchers give their boxes."
                f"{ref}")

    # -- tear-down -----------------------------------------------------------------------------------
    def teardown(self) -> None:
        """Each step on its own: one that fails leaves the others to run."""
        if hasattr(self, "store"):
            with contextlib.suppress(Exception):
                present = set(self.store.podman("ps", "--all", "--format", "{{.Names}}").stdout.split())
                names = [n for n in dict.fromkeys(self.crossbox_names) if n in present]
                if names:  # crossbox rm also removes their state directories
                    self.call(self.crossbox("rm", "--force", *names), env=self.xenv, expect=None)
            with contextlib.suppress(Exception):
                self.store.destroy()
        if hasattr(self, "tester"):
            for name in self.crossbox_names:
                shutil.rmtree(os.path.join(self.tester.runtime_dir, "crossbox", "containers", name),
                              ignore_errors=True)
            if "toolbox_runtime_dir_existed" in self.info:
                self.remove_toolbox_stamps()
        if self.made_socket:
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(DBUS_SOCKET.lstat().st_mode):
                    DBUS_SOCKET.unlink()
            if self.made_dbus_dir:
                with contextlib.suppress(OSError):
                    DBUS_SOCKET.parent.rmdir()

    def remove_toolbox_stamps(self) -> None:
        """toolbox's stamps of this run's starts: a later container given the same pid must not find one."""
        if not self.info["toolbox_runtime_dir_existed"]:
            shutil.rmtree(self.toolbox_dir, ignore_errors=True)
            return
        for stamp in self.toolbox_dir.glob("container-initialized-*"):
            with contextlib.suppress(OSError):
                if stamp.stat().st_mtime >= self.started:
                    stamp.unlink()


def run_peers(bench: Bench) -> None:
    """The P cases that bench.opts.cases names, on one set of boxes."""
    wanted = [c for c in PEER_CASES if c in bench.opts.cases]
    if not wanted:
        return
    peers = Peers(bench)
    bench.cleanups.append(peers.teardown)
    say("peers: set-up (rootless user, storage, crossbox install, Debian image, boxes) ...")
    try:
        peers.setup()
        steps = {"P1": peers.p1_warm_run, "P2": peers.p2_cold_start, "P3": peers.p3_create}
        for case_id in wanted:
            say(f"{case_id} ...")
            steps[case_id]()
    finally:
        bench.peer_setup = peers.info
