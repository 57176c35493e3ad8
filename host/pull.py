"""Getting the wanted architecture of an image into local storage, and nothing else.

A foreign pull goes through skopeo into an architecture-suffixed local name,
so the native image of the same name is never replaced. The manifest skopeo
selects is checked before any layer is fetched, because skopeo silently
returns a single-architecture image of another architecture.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from crossbox.shared.arch import Arch, from_oci, platform_text

from . import log
from .errors import Conflict, CrossboxError, Interrupted, RegistryError
from .images import Target
from .signals import deferred
from .tools import podman

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from .tools.skopeo import ManifestInfo

# What only a pull needs (skopeo's facade, the spinner and its thread, the prompt) is imported
# by the pull: a create whose image is local never loads it.


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _arch_of(info: podman.ImageInfo) -> Arch | None:
    return from_oci(info.architecture, info.variant or None)


def wrong_arch(target: Target, info: podman.ImageInfo) -> Conflict:
    shown = platform_text(info.architecture, info.variant)
    return Conflict(
        f"the local image {target.local} is for {shown}, not {target.arch.oci_platform}: something "
        "(such as `podman run --arch`) put another architecture under that name",
        f"pull the right one back with `podman pull --arch {target.arch.oci} {target.local}`, "
        f"or ask for --arch {info.architecture}",
    )


def check_local(target: Target, info: podman.ImageInfo | bool | None = False) -> podman.ImageInfo | None:
    """The local image under the target's local name, if it is of the right architecture
    (``info``: what an inspection already answered, when one was made)."""
    if info is False:
        info = podman.inspect_image(str(target.local))
    if info is None or info is True:
        return None
    if _arch_of(info) != target.arch:
        raise wrong_arch(target, info)
    return info


def _lock_name(local: str) -> str:
    import hashlib

    return f"pull-{hashlib.sha256(local.encode()).hexdigest()[:16]}.lock"


@contextlib.contextmanager
def _pull_lock(target: Target) -> Iterator[None]:
    """One pull of a local name at a time: a second create of the same image waits, then
    finds it local, so that a failing or interrupted pull never meets another's image."""
    from crossbox.shared import locks

    from . import progress
    from .state import runtime_base

    directory = os.path.join(runtime_base(), "locks")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, _lock_name(str(target.local)))
    fd = locks.open_lock_file(path)
    try:
        try:
            locks.lock(fd, timeout=0)
        except locks.LockTimeout:
            progress.say(f"Waiting for another crossbox that pulls {target.local}")
            locks.lock(fd)
        yield
    finally:
        os.close(fd)


def ensure_image(target: Target, *, authfile: str | None, assume_yes: bool,
                 local: podman.ImageInfo | bool | None = False) -> podman.ImageInfo:
    """The local image of the target (pulled if missing, under a lock); records what it pulled.
    ``local``: the answer of an inspection already made (False: none was)."""
    info = check_local(target, local)
    if info is not None:
        log.debug("image is local", image=str(target.local))
        return info
    with _pull_lock(target):
        info = check_local(target)  # another crossbox may have pulled it meanwhile
        if info is not None:
            return info
        if target.native:
            _pull_native(target, authfile, assume_yes)
        else:
            _pull_foreign(target, authfile, assume_yes)
        info = podman.inspect_image(str(target.local))
        if info is None or _arch_of(info) != target.arch:
            _remove_partial(str(target.local))
            raise RegistryError(f"{target.remote} gave no image of architecture {target.arch.oci_platform}",
                                "use an image built for that architecture, or a multi-architecture index")
        from . import owned

        owned.add_image(str(target.local), info.id)
        return info


def _pull_native(target: Target, authfile: str | None, assume_yes: bool) -> None:
    from . import progress
    from .prompt import confirm
    from .tools import skopeo

    confirm(f"Download {target.remote} for {target.arch.oci}?", assume_yes,
            what="download the image")
    ref = str(target.remote)
    interactive = progress.on_terminal()
    if not interactive:
        progress.say(f"Pulling {ref} for {target.arch.oci}")
    try:
        podman.pull(ref, target.arch.oci, target.arch.variant, quiet=not interactive, authfile=authfile)
    except (Interrupted, KeyboardInterrupt):
        with deferred():
            _remove_partial(ref)
        raise
    except CrossboxError as exc:
        raise skopeo.classify_failure(ref, getattr(exc, "stderr", "") or exc.message, tool="podman") from None


def verify_manifest(target: Target, manifest: ManifestInfo) -> None:
    got = from_oci(manifest.architecture, manifest.variant or None)
    if got != target.arch:
        shown = platform_text(manifest.architecture, manifest.variant)
        raise RegistryError(
            f"{target.remote} is a single-architecture image for {shown}, "
            f"but {target.arch.oci} was requested",
            "use an image built for that architecture, or a multi-architecture index",
        )


def _inspect_foreign(target: Target, authfile: str | None) -> ManifestInfo:
    """The remote manifest skopeo selects for the target's architecture, checked."""
    import shutil

    from . import progress
    from .tools import skopeo
    from .tools.runner import missing

    if shutil.which(skopeo.SKOPEO) is None:
        raise missing(skopeo.SKOPEO, target.arch.oci)
    ref = str(target.remote)
    with progress.Spinner(f"Inspecting {ref} for {target.arch.oci}"):
        manifest = skopeo.inspect(ref, target.arch.oci, target.arch.variant, authfile)
    verify_manifest(target, manifest)
    return manifest


def _download_size(target: Target, manifest: ManifestInfo, authfile: str | None) -> int | None:
    from .tools import skopeo

    return skopeo.download_size(str(target.remote), target.remote.repository, manifest, target.arch.oci,
                                target.arch.variant, authfile)


def remote_size(target: Target, authfile: str | None) -> int | None:
    """What a pull of the target would download (None: unknown), after the checks a pull makes
    before it asks: an architecture the image lacks fails here, with the pull's own message.
    For a question that covers several pulls (a matrix run); ``ensure_image`` then pulls."""
    if target.native:
        import shutil

        from .tools import skopeo

        if shutil.which(skopeo.SKOPEO) is None:  # a native pull is podman's: skopeo only measures it
            return None
        try:
            return _download_size(target, _inspect_foreign(target, authfile), authfile)
        except Interrupted:
            raise
        except CrossboxError:  # podman's pull says what is wrong, in the pull's own words
            return None
    return _download_size(target, _inspect_foreign(target, authfile), authfile)


def _pull_foreign(target: Target, authfile: str | None, assume_yes: bool) -> None:
    from .prompt import confirm

    ref = str(target.remote)
    manifest = _inspect_foreign(target, authfile)
    if not assume_yes:
        size = _download_size(target, manifest, authfile)
        shown = human_size(size) if size is not None else "size unknown"
        confirm(f"Download {ref} for {target.arch.oci} ({shown})?", assume_yes,
                what="download the image")
    copy(target, authfile)


def _remove_partial(local: str) -> None:
    """Remove what this pull put under the local name (absent before it: the caller holds the
    pull lock), never by force: an image some container already uses stays."""
    with contextlib.suppress(CrossboxError):
        if podman.inspect_image(local) is not None:
            podman.remove_images([local], force=False)
            log.info("removed the partly pulled image", image=local)


def copy(target: Target, authfile: str | None) -> None:
    """skopeo copy into containers-storage; on failure or interruption nothing is left."""
    from . import progress
    from .tools import skopeo
    from .tools.runner import DEVNULL, PIPE, spawn

    ref, local = str(target.remote), str(target.local)
    interactive = progress.on_terminal()
    argv = skopeo.copy_argv(ref, local, target.arch.oci, target.arch.variant, authfile,
                            quiet=not interactive)
    if not interactive:
        progress.say(f"Pulling {ref} for {target.arch.oci} into {local}")
    try:
        # stdout is the user's data: skopeo's progress bars go to the terminal on stderr, and
        # its log lines are read here (shown filtered, or in the error).
        with spawn(argv, stdout=sys.stderr.fileno() if interactive else DEVNULL, stderr=PIPE,
                   new_session=True, pdeathsig=True) as proc:
            _, err = proc.communicate()
    except BaseException as exc:
        # SIGINT or SIGTERM reached crossbox: the runner stopped skopeo; leave nothing behind.
        with deferred():
            _remove_partial(local)
        if isinstance(exc, KeyboardInterrupt | Interrupted):
            raise Interrupted(f"the pull of {ref} was interrupted; nothing was kept",
                              status=getattr(exc, "status", None)) from None
        raise
    if proc.returncode != 0:
        _remove_partial(local)
        raise skopeo.classify_failure(ref, err or "")
    for line in tool_notices(err or ""):
        progress.say(line)


def tool_notices(stderr: str) -> list[str]:
    """What of a successful skopeo's stderr is worth showing: its warnings, never its
    informational lines (`INFO[0000] [graphdriver] ...`) unless the log level is debug."""
    keep = []
    for line in stderr.splitlines():
        text = line.strip()
        if not text:
            continue
        if not log.enabled("debug") and (text.startswith(("INFO[", "DEBU[")) or "level=info" in text
                                          or "level=debug" in text):
            continue
        keep.append(text)
    return keep
