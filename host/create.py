"""crossbox create: resolve, check the host, pull if needed, podman create."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from crossbox.shared.arch import host_arch

from . import argv, checks, images, interpreter, log, podman, pull, readiness
from . import user as user_mod
from .errors import Conflict, CrossboxError, Interrupted, NotFound
from .osrelease import read_os_release
from .run import missing
from .signals import deferred


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
    from .errors import InvalidInput

    try:
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise InvalidInput(f"the authfile {path} does not exist", "give the path of an existing auth.json") from None
    except IsADirectoryError:
        raise InvalidInput(f"the authfile {path} is a directory", "give the path of an auth.json file") from None
    except OSError as exc:
        raise InvalidInput(f"the authfile {path} cannot be read ({exc.strerror})", "check its permissions") from None


def build_spec(target: images.Target, name: str, identity: user_mod.Identity, log_level: str,
               state_dir: str | None) -> argv.CreateSpec:
    emu = None if target.native else checks.require_foreign_ready(target.arch)
    launch = interpreter.plan_cached()
    return argv.CreateSpec(
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
    identity = user_mod.current()
    spec = build_spec(target, name, identity, req.log_level, readiness.state_dir(name))
    args = ["create", *argv.podman_create_args(spec)]
    created = False
    try:
        readiness.ensure_state_dir(name)
        try:
            podman.create(args, name)
            created = True
        except NotFound:
            # The image is not local (or is of another architecture): check the
            # name first so that nothing is downloaded for a create that must fail.
            if podman.container_exists(name):
                raise podman.already_exists(name) from None
            pull.ensure_image(target, authfile=req.authfile, assume_yes=req.assume_yes)
            podman.create(args, name)
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
        readiness.remove_state_dir(name)
