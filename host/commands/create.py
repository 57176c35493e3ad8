"""crossbox create: resolve, check the host, pull if needed, podman create.

Only what is needed to name the image is imported before `podman image inspect` of it
starts; the rest (the checks, the interpreter plan, the pull, the state) is imported
while podman looks, so that create costs little more than podman's own two calls.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NamedTuple

from crossbox.shared.arch import host_arch

from .. import images
from ..errors import InvalidInput, already_exists
from ..osrelease import OsRelease, read_os_release
from ..tools import podman
from ..tools.runner import missing

if TYPE_CHECKING:
    import argparse

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
    osr = OsRelease() if req.image else read_os_release()  # the host's distribution picks only a default image
    return images.resolve(
        host=host_arch(), osr=osr, image=req.image, distro=req.distro,
        release=req.release, arch=req.arch,
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
        from .. import interpreter, owned, pull, state
        from ..signals import deferred
        from ..tools import create_args

        identity = identity_mod.current()
        identity_mod.check_for_container(identity)  # before anything is downloaded
        state.runtime_base()  # a runtime directory that cannot be used is said before podman is asked
        emu = host_emulator(target)
        launch = interpreter.plan_cached()
        agent_lib = interpreter.agent_lib_dir(launch)
        local = pull.check_local(target, local_image())
    if local is None and podman.container_exists(name):
        raise already_exists(name)  # nothing is downloaded for a create that must fail
    image = pull.ensure_image(target, authfile=req.authfile, assume_yes=req.assume_yes, local=local)
    made_dir = False
    created = None
    try:
        made_dir = state.new_state_dir(name)
        spec = build_spec(target, name, identity, req.log_level, state.shared_dir(name), image, emu, launch,
                          agent_lib, req.native_tools)
        args = create_args.podman_create_args(spec)
        with deferred():  # made and recorded as one step; a signal acts after it
            created = _podman_create(["create", *args], name)
            state.record_id(name, created)
            state.record_create_args(name, args)  # to make it again, should podman's id map be split
            owned.add_container(created, name)
    except BaseException:
        # Only what this very create made goes: its container (by id), its state directory.
        with deferred():
            if created is not None:
                podman.remove_by_id(created)
                owned.forget_containers([created])
            if made_dir:
                state.remove_state_dir(name)
        raise
    from .. import log

    log.info("created container", name=name, arch=target.arch.oci, image=str(target.local))
    return name


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
                                image=args.image, authfile=args.authfile, name=args.container,
                                assume_yes=bool(getattr(args, "assumeyes", False)),
                                log_level=args.log_level, native_tools=bool(getattr(args, "native_tools", False))))
    print(f"Created container {name}")
    if getattr(args, "native_tools", False):
        say_native_tools(name)
    print(f"Enter it with: crossbox enter {name}")
    return 0
