"""crossbox create: resolve, check the host, pull if needed, podman create.

Only what is needed to name the image is imported before `podman image inspect` of it
starts; the rest (the checks, the interpreter plan, the pull, the state) is imported
while podman looks, so that create costs little more than podman's own two calls.
"""

from __future__ import annotations

import os

from crossbox.shared.arch import host_arch
from crossbox.shared.records import NamedTuple

from .. import images
from ..errors import InvalidInput, already_exists
from ..osrelease import OsRelease, read_os_release
from ..tools import podman
from ..tools.runner import missing
from . import named_container

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from .. import identity as identity_mod
    from .. import interpreter
    from ..emulator import Emulator
    from ..tools import create_args


class CreateRequest(NamedTuple):
    arch: str | None = None
    distro: str | None = None
    release: str | None = None
    image: str | None = None
    authfile: str | None = None
    name: str | None = None
    assume_yes: bool = False
    log_level: str = "warning"
    native_tools: bool = False


def resolve_target(req: CreateRequest) -> images.Target:
    """The request, with crossbox.conf's defaults under it (host/config.py), to a target."""
    from .. import config

    asked = config.apply(req.arch, req.distro, req.release, req.image, config.load())
    osr = OsRelease() if asked.image else read_os_release()  # the host's distribution picks only a default image
    if req.arch is None and asked.arch is not None:
        # The file's arch is a default: an image whose tag names an architecture keeps it.
        plain = images.resolve(host=host_arch(), osr=osr, image=asked.image, distro=asked.distro,
                               release=asked.release)
        if images.tag_arch(plain.remote) is not None:
            return plain
    return images.resolve(
        host=host_arch(), osr=osr, image=asked.image, distro=asked.distro,
        release=asked.release, arch=asked.arch,
    )


def check_authfile(path: str | None) -> None:
    if path is None:
        return
    import json

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if not isinstance(data, dict):
            raise ValueError("it is not a JSON object")
    except ValueError as exc:
        raise InvalidInput(f"the authfile {path} is not the JSON of an auth.json ({exc})",
                           "give a file written by `podman login --authfile`") from None
    except FileNotFoundError:
        raise InvalidInput(f"the authfile {path} does not exist", "give the path of an existing auth.json") from None
    except IsADirectoryError:
        raise InvalidInput(f"the authfile {path} is a directory", "give the path of an auth.json file") from None
    except OSError as exc:
        raise InvalidInput(f"the authfile {path} cannot be read ({exc.strerror})", "check its permissions") from None


def host_emulator(target: images.Target) -> Emulator | None:
    """The checks of the host for this target (before anything is downloaded); its emulator."""
    if target.native:
        return None
    from .. import checks

    return checks.require_foreign_ready(target.arch)


def build_spec(target: images.Target, name: str, identity: identity_mod.Identity, log_level: str,
               state_dir: str | None, image: podman.ImageInfo, emu: Emulator | None,
               launch: interpreter.GuestLaunch | None = None, agent_lib: str | None = None,
               native_tools: bool = False) -> create_args.CreateSpec:
    from .. import identity as identity_mod
    from .. import interpreter
    from ..tools import create_args

    identity_mod.check_for_container(identity)
    launch = launch or interpreter.plan_cached()
    native_loader, native_libpath = interpreter.native_tools_plan(launch) if native_tools else (None, "")
    return create_args.CreateSpec(
        name=name,
        image=str(target.local),
        remote=str(target.remote),
        arch=target.arch,
        native=target.native,
        rootless=identity.rootless,
        user=identity.user,
        launch=launch,
        state_dir=state_dir or "",
        emulator=emu.real_path if emu else None,
        emulator_name=emu.file_name if emu else None,
        home_mount=identity.home_mount,
        runtime_dir=identity.runtime_dir,
        log_level=log_level,
        agent_lib=agent_lib or interpreter.agent_lib_dir(launch),
        host_volumes=create_args.host_volumes(os.environ),
        held_env=create_args.held_env(image.env),
        image_user=image.user,
        native_loader=native_loader,
        native_libpath=native_libpath,
    )


def create(req: CreateRequest) -> str:
    """Resolve, check, pull if needed, `podman create`; record what was made. Returns the name."""
    target = resolve_target(req)
    name = images.check_container_name(req.name or target.container)
    check_authfile(req.authfile)
    if req.native_tools and target.native:
        raise InvalidInput(f"--native-tools is for foreign boxes; {target.arch.oci} is this host's own architecture",
                           "leave it out: everything in a native box runs natively")
    from ..tools.runner import which

    if which(podman.PODMAN) is None:
        raise missing(podman.PODMAN)
    with podman.inspecting_image(str(target.local)) as local_image:  # podman works while we check
        from .. import identity as identity_mod
        from .. import interpreter, pull, state

        identity = identity_mod.current()
        identity_mod.check_for_container(identity)  # before anything is downloaded
        state.runtime_base()  # a runtime directory that cannot be used is said before podman is asked
        emu = host_emulator(target)
        launch = interpreter.plan_cached()
        agent_lib = interpreter.agent_lib_dir(launch)
        make = _Maker(target, name, identity, req, emu, launch, agent_lib)
        guess = recalled_image(target)
        if guess is not None and make.early(guess, local_image):
            return made(name, target)
        local = pull.check_local(target, local_image())
    if local is None and podman.container_exists(name):
        raise already_exists(name)  # nothing is downloaded for a create that must fail
    image = pull.ensure_image(target, authfile=req.authfile, assume_yes=req.assume_yes, local=local)
    make.now(image)
    remember_image(target, image)
    return made(name, target)


def made(name: str, target: images.Target) -> str:
    from .. import log

    log.info("created container", name=name, arch=target.arch.oci, image=str(target.local))
    return name


# The image facts a box is made from, kept from the last create of a local name: with them,
# `podman create` starts beside `podman image inspect` instead of after it, and what it made
# is kept only if the inspection then names the same image (see _Maker.early).
IMAGE_FACTS = ("id", "architecture", "variant", "env", "user")


def recalled_image(target: images.Target) -> podman.ImageInfo | None:
    from .. import cache

    facts = cache.recall(f"image:{target.local}")
    if not isinstance(facts, dict) or set(facts) != set(IMAGE_FACTS):
        return None
    env = facts["env"]
    if not all(isinstance(facts[k], str) for k in ("id", "architecture", "variant", "user")) \
            or not isinstance(env, list) or not all(isinstance(e, str) for e in env) or not facts["id"]:
        return None
    return podman.ImageInfo(id=facts["id"], names=(), architecture=facts["architecture"],
                            variant=facts["variant"], size=0, created="", env=tuple(env),
                            user=facts["user"])


def remember_image(target: images.Target, image: podman.ImageInfo) -> None:
    from .. import cache

    cache.remember(f"image:{target.local}", {"id": image.id, "architecture": image.architecture,
                                              "variant": image.variant, "env": list(image.env),
                                              "user": image.user})


class _Maker:
    """`podman create` of one box and its records, as one step: on any failure, only what
    this very create made goes (its container, by id; its state directory)."""

    def __init__(self, target: images.Target, name: str, identity: identity_mod.Identity, req: CreateRequest,
                 emu: Emulator | None, launch: interpreter.GuestLaunch, agent_lib: str) -> None:
        self.target, self.name, self.identity, self.req = target, name, identity, req
        self.emu, self.launch, self.agent_lib = emu, launch, agent_lib

    def _args(self, image: podman.ImageInfo) -> list[str]:
        from .. import state
        from ..tools import create_args

        spec = build_spec(self.target, self.name, self.identity, self.req.log_level, state.shared_dir(self.name),
                          image, self.emu, self.launch, self.agent_lib, self.req.native_tools)
        return create_args.podman_create_args(spec)

    def _record(self, created: str, args: list[str]) -> None:
        from .. import owned, state

        state.record_id(self.name, created)
        state.record_create_args(self.name, args)  # to make it again, should podman's id map be split
        owned.add_container(created, self.name)

    def now(self, image: podman.ImageInfo) -> None:
        from .. import state
        from ..signals import deferred

        made_dir = False
        created = None
        try:
            made_dir = state.new_state_dir(self.name)
            args = self._args(image)
            with deferred():  # made and recorded as one step; a signal acts after it
                created = _podman_create(["create", *args], self.name)
                self._record(created, args)
        except BaseException:
            self._undo(created, made_dir)
            raise

    def early(self, guess: podman.ImageInfo, answer: Callable[[], podman.ImageInfo | None]) -> bool:
        """Create from the image facts of the last create of this name while podman inspects
        the image; keep the box if the inspection names the same image (True), else remove it
        (False: the caller goes on with the inspection's answer)."""
        from .. import log, pull, state
        from ..signals import deferred

        made_dir = False
        created = None
        try:
            made_dir = state.new_state_dir(self.name)
            args = self._args(guess)
            with deferred():
                with state.user_lock("create.lock"), podman.creating(["create", *args], self.name) as result:
                    try:
                        created = result()
                    except podman.ImageNotLocal:
                        created = None
                actual = answer()
                same = (created is not None and actual is not None and actual.id == guess.id
                        and pull.check_local(self.target, actual) is not None)
                if same and created is not None:
                    self._record(created, args)
                    return True
                log.debug("the image is not the one of the last create: made again from it",
                          image=str(self.target.local), guessed=guess.id, found=actual.id if actual else None)
                self._undo(created, made_dir)
                return False
        except BaseException:
            self._undo(created, made_dir)
            raise

    def _undo(self, created: str | None, made_dir: bool) -> None:
        from .. import owned, state
        from ..signals import deferred

        with deferred():
            if created is not None:
                podman.remove_by_id(created)
                owned.forget_containers([created])
            if made_dir:
                state.remove_state_dir(self.name)


def _podman_create(args: list[str], name: str) -> str:
    from .. import state

    # podman 4.3 can deadlock when several `create --userns auto` run at once: crossbox's
    # own creates go one at a time (each takes about 0.1 s).
    with state.user_lock("create.lock"):
        return podman.create(args, name)


def native_report(name: str) -> dict[str, object] | None:
    """What the box's agent made of --native-tools at its start (its report), if any."""
    import json

    from crossbox.shared import nativetools

    from .. import state

    path = os.path.join(state.shared_dir(name), "native", nativetools.REPORT)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def say_native_tools(name: str) -> None:
    """Start the box once and say which tools run natively in it, and why the others do not."""
    from .. import state

    state.ensure_ready(name)
    report = native_report(name)
    if report is None:
        print("Native tools: the box reported none (see `podman logs " + name + "`)")
        return
    listed = report.get("native")
    native = [str(n) for n in listed] if isinstance(listed, list) else []
    given = report.get("emulated")
    emulated = {str(k): str(v) for k, v in given.items()} if isinstance(given, dict) else {}
    compilers = [c for c in ("cc", "gcc", "g++", "c++", "cpp") if c in native]
    if compilers:
        print(f"Native tools: {len(native)} host programs stand in for the box's, "
              f"{', '.join(compilers)} among them ({report.get('compiler')})")
    else:
        print(f"Native tools: {len(native)} host programs stand in for the box's; its compilers stay emulated")
    for reason in sorted(set(emulated.values())):
        tools = sorted(t for t, r in emulated.items() if r == reason)
        print(f"  kept emulated: {', '.join(tools)}: {reason}")


def main(args: argparse.Namespace) -> int:
    name = create(CreateRequest(arch=args.arch, distro=args.distro, release=args.release,
                                image=args.image, authfile=args.authfile, name=named_container(args),
                                assume_yes=bool(getattr(args, "assumeyes", False)),
                                log_level=args.log_level, native_tools=bool(getattr(args, "native_tools", False))))
    print(f"Created container {name}")
    if getattr(args, "native_tools", False):
        say_native_tools(name)
    print(f"Enter it with: crossbox enter {name}")
    return 0
