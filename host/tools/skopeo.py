"""A thin typed facade over skopeo: inspect, inspect --raw, copy into containers-storage."""

from __future__ import annotations

import contextlib
import json

from crossbox.shared.arch import platform_text
from crossbox.shared.records import NamedTuple

from ..errors import CrossboxError, InvalidInput, RegistryError, last_error_line
from ..settings import current as settings
from .runner import Completed, run

SKOPEO = "skopeo"
# A registry that never answers must not hang `create`: inspecting (a few small
# requests) gets this limit unless CROSSBOX_REGISTRY_TIMEOUT says otherwise; the
# download itself only gets the limit the user set, since its length follows its size.
DEFAULT_INSPECT_TIMEOUT = 60.0


class ManifestInfo(NamedTuple):
    name: str
    digest: str
    architecture: str
    variant: str
    os: str
    layer_sizes: tuple[int, ...]

    @property
    def download_size(self) -> int:
        return sum(self.layer_sizes)


def parse_inspect(text: str) -> ManifestInfo:
    data = json.loads(text)
    layers = data.get("LayersData") or []
    return ManifestInfo(
        name=data.get("Name", ""),
        digest=data.get("Digest", ""),
        architecture=data.get("Architecture", ""),
        variant=data.get("Variant", "") or "",
        os=data.get("Os", ""),
        layer_sizes=tuple(int(layer.get("Size") or 0) for layer in layers),
    )


def platforms_of_index(raw: str) -> list[str] | None:
    """The platforms a manifest list / OCI index offers; None for a single manifest."""
    data = json.loads(raw)
    manifests = data.get("manifests")
    if not isinstance(manifests, list):
        return None
    out = []
    for m in manifests:
        p = m.get("platform") or {}
        arch = p.get("architecture", "?")
        if arch == "unknown":  # buildx attestation manifests, not images
            continue
        out.append(platform_text(arch, p.get("variant"), p.get("os", "linux")))
    return out


def layer_sizes_of_manifest(raw: str) -> tuple[int, ...] | None:
    """Layer sizes from a raw image manifest (Docker v2s2 or OCI); None for an index."""
    data = json.loads(raw)
    layers = data.get("layers")
    if not isinstance(layers, list):
        return None
    return tuple(int(layer.get("size") or 0) for layer in layers)


def _index_entry(raw: str, arch_oci: str, variant: str | None) -> str | None:
    """The digest of an index's manifest for this platform."""
    data = json.loads(raw)
    for m in data.get("manifests") or []:
        p = m.get("platform") or {}
        if p.get("os", "linux") == "linux" and p.get("architecture") == arch_oci and (
            not variant or not p.get("variant") or p.get("variant") == variant
        ):
            return str(m.get("digest"))
    return None


def download_size(ref: str, repository: str, manifest: ManifestInfo, arch_oci: str,
                  variant: str | None, authfile: str | None) -> int | None:
    """The compressed size of the selected manifest's layers.

    skopeo 1.9 (Debian 12) prints no LayersData, so the manifest is then read raw:
    by its digest, through the index when the reference names one.
    """
    if manifest.layer_sizes:
        return manifest.download_size
    try:
        raw = inspect_raw(f"{repository}@{manifest.digest}" if manifest.digest else ref, authfile)
        sizes = layer_sizes_of_manifest(raw)
        if sizes is None:
            digest = _index_entry(raw, arch_oci, variant)
            if digest is None:
                return None
            sizes = layer_sizes_of_manifest(inspect_raw(f"{repository}@{digest}", authfile))
    except (CrossboxError, ValueError):
        return None
    return sum(sizes) if sizes is not None else None


def global_options(default_timeout: float | None = None) -> list[str]:
    """Make skopeo see what podman sees (Debian's skopeo 1.9 ignores CONTAINERS_REGISTRIES_CONF),
    and bound the command's time."""
    opts = []
    conf = settings().registries_conf
    if conf:
        opts += ["--registries-conf", conf]
    timeout = settings().registry_timeout or default_timeout
    if timeout:
        opts += ["--command-timeout", f"{max(1, round(timeout))}s"]  # "0s" would mean no limit
    return opts


def _auth(authfile: str | None, flag: str = "--authfile") -> list[str]:
    return [flag, authfile] if authfile else []


def classify_failure(ref: str, stderr: str, tool: str = "skopeo") -> CrossboxError:
    """Map skopeo's (or podman pull's) error text to a domain error with a hint."""
    last = last_error_line(stderr)
    low = stderr.lower()
    if "manifest unknown" in low or ("not found" in low and "manifest" in low):
        return RegistryError(f"{ref} does not exist in its registry (unknown tag or name)",
                             "check the name and tag")
    if "unauthorized" in low or "authentication required" in low or "denied" in low:
        return RegistryError(f"the registry refused access to {ref}",
                             "log in with `podman login` or pass --authfile")
    registry = ref.split("/", 1)[0] if "/" in ref else "docker.io"
    if "deadline exceeded" in low or "timed out" in low or "timeout" in low:
        return RegistryError(f"the registry {registry} did not answer in time for {ref}: {last}",
                             "check the network and the registry address; CROSSBOX_REGISTRY_TIMEOUT sets the "
                             "limit in seconds")
    if "connection refused" in low or "no such host" in low or "network is unreachable" in low \
            or "eof" in low or "connection reset" in low:
        return RegistryError(f"the registry {registry} did not answer properly for {ref}: {last}",
                             "check the network and the registry address, then retry")
    if "server gave http response to https client" in low or "x509" in low or "tls" in low:
        return RegistryError(f"cannot talk TLS to the registry of {ref}: {last}",
                             "mark a plain-HTTP registry insecure in containers-registries.conf")
    if "invalid status code from registry 5" in low or "internal server error" in low \
            or "service unavailable" in low or "bad gateway" in low:
        return RegistryError(f"the registry of {ref} failed: {last}", "retry later")
    if "invalid reference" in low or "invalid reference format" in low:
        return InvalidInput(f"{ref} is not a valid image reference")
    return RegistryError(f"{tool} could not pull {ref}: {last}")


def inspect(ref: str, arch_oci: str, variant: str | None, authfile: str | None) -> ManifestInfo:
    # --no-tags: one request less, and tag lists do not follow registries.conf remapping.
    args = [SKOPEO, *global_options(DEFAULT_INSPECT_TIMEOUT), "inspect", "--no-tags", "--override-os", "linux",
            "--override-arch", arch_oci]
    if variant:
        args += ["--override-variant", variant]
    args += [*_auth(authfile), f"docker://{ref}"]
    done = run(args, check=False)
    if done.returncode != 0:
        raise _inspect_error(ref, arch_oci, variant, authfile, done)
    return parse_inspect(done.stdout)


def _inspect_error(ref: str, arch_oci: str, variant: str | None, authfile: str | None,
                   done: Completed) -> CrossboxError:
    if "no image found in image index for architecture" in done.stderr or \
            "no image found in manifest list for architecture" in done.stderr:
        offered = None
        with contextlib.suppress(CrossboxError):
            offered = platforms_of_index(inspect_raw(ref, authfile))
        wanted = platform_text(arch_oci, variant)
        listed = ", ".join(offered) if offered else "no readable list"
        return RegistryError(
            f"{ref} has no image for {wanted}; it offers {listed}",
            "pick one of those architectures or another image",
        )
    return classify_failure(ref, done.stderr)


def inspect_raw(ref: str, authfile: str | None) -> str:
    done = run([SKOPEO, *global_options(DEFAULT_INSPECT_TIMEOUT), "inspect", "--raw", *_auth(authfile),
                f"docker://{ref}"],
               check=False)
    if done.returncode != 0:
        raise classify_failure(ref, done.stderr)
    return done.stdout


def copy_argv(ref: str, local: str, arch_oci: str, variant: str | None, authfile: str | None,
              quiet: bool) -> list[str]:
    args = [SKOPEO, *global_options(), "copy", "--override-os", "linux", "--override-arch", arch_oci]
    if variant:
        args += ["--override-variant", variant]
    args += _auth(authfile, "--src-authfile")
    if quiet:
        args.append("--quiet")
    args += [f"docker://{ref}", f"containers-storage:{local}"]
    return args
