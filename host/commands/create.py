"""crossbox create: resolve, check the host, pull if needed, podman create."""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass

from crossbox.shared.arch import host_arch

from .. import checks, images, interpreter, log, pull, state
from .. import identity as identity_mod
from ..errors import Conflict, CrossboxError, Interrupted, InvalidInput, NotFound, already_exists
from ..osrelease import read_os_release
from ..signals import deferred
from ..tools import create_args, podman
from ..tools.runner import missing


@dataclass(frozen=True)
class CreateRequest:
    arch: str | None = None
    distro: str | None = None
    release: str | None = None
    image: str | None = None
    authfile: str | None = None
    name: str | None = None
    assume_yes: bool = False
    log_level: str = "warning"


def resolve_target(req: CreateRequest) -> images.Target:
    return images.resolve(
        host=host_arch(), osr=read_os_release(), image=req.image, distro=req.distro,
        release=req.release, arch=req.arch,
    )


def check_authfile(path: str | None) -> None:
    if path is None:
        return
    try:
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise InvalidInput(f"the authfile {path} does not exist", "give the path of an existing auth.json") from None
    except IsADirectoryError:
        raise InvalidInput(f"the authfile {path} is a directory", "give the path of an auth.json file") from None
    except OSError as exc:
        raise InvalidInput(f"the authfile {path} cannot be read ({exc.strerror})", "check its permissions") from None


def build_spec(target: images.Target, name: str, identity: identity_mod.Identity, log_level: str,
               state_dir: str | None) -> create_args.CreateSpec:
    emu = None if target.native else checks.require_foreign_ready(target.arch)
    launch = interpreter.plan_cached()
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
    )


def create(req: CreateRequest) -> str:
    target = resolve_target(req)
    name = images.check_container_name(req.name or target.container)
    check_authfile(req.authfile)
    if shutil.which(podman.PODMAN) is None:
        raise missing(podman.PODMAN)
    identity = identity_mod.current()
    spec = build_spec(target, name, identity, req.log_level, state.state_dir(name))
    args = ["create", *create_args.podman_create_args(spec)]
    created = False
    try:
        state.ensure_state_dir(name)
        try:
            _podman_create(args, name)
            created = True
        except NotFound:
            # The image is not local (or is of another architecture): check the
            # name first so that nothing is downloaded for a create that must fail.
            if podman.container_exists(name):
                raise already_exists(name) from None
            pull.ensure_image(target, authfile=req.authfile, assume_yes=req.assume_yes)
            _podman_create(args, name)
            created = True
    except (Interrupted, KeyboardInterrupt):
        if not created:
            with deferred():
                _remove_half_created(name)
        raise
    except Conflict:
        raise
    except CrossboxError:
        if not created:
            _remove_half_created(name)
        raise
    log.info("created container", name=name, arch=target.arch.oci, image=str(target.local))
    return name


def _podman_create(args: list[str], name: str) -> str:
    # podman 4.3 can deadlock when several `create --userns auto` run at once: crossbox's
    # own creates go one at a time (each takes about 0.1 s).
    with state.user_lock("create.lock"):
        return podman.create(args, name)


def _remove_half_created(name: str) -> None:
    """An interrupted or failed create leaves no container and no state directory behind."""
    try:
        info = podman.inspect_container(name)
    except CrossboxError:
        return
    if info is not None and info.is_crossbox and info.state in ("created", "configured", ""):
        try:
            podman.remove_containers([name], force=True)
            info = None
        except CrossboxError:
            pass
    if info is None:
        state.remove_state_dir(name)


def main(args: argparse.Namespace) -> int:
    name = create(CreateRequest(arch=args.arch, distro=args.distro, release=args.release,
                                image=args.image, authfile=args.authfile, name=args.container,
                                assume_yes=bool(getattr(args, "assumeyes", False)),
                                log_level=args.log_level))
    print(f"Created container {name}")
    print(f"Enter it with: crossbox enter {name}")
    return 0
