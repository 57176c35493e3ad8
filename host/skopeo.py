"""A thin typed facade over skopeo: inspect, inspect --raw, copy into containers-storage."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from .errors import CrossboxError, InvalidInput, RegistryError, last_error_line
from .run import Completed, run

SKOPEO = "skopeo"
REGISTRIES_CONF_ENV = "CONTAINERS_REGISTRIES_CONF"
COMMAND_TIMEOUT_ENV = "CROSSBOX_REGISTRY_TIMEOUT"  # seconds; skopeo --command-timeout


@dataclass(frozen=True)
class ManifestInfo:
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
        variant = p.get("variant")
        out.append(f"{p.get('os', 'linux')}/{arch}" + (f"/{variant}" if variant else ""))
    return out


def global_options() -> list[str]:
    """Make skopeo see what podman sees: Debian's skopeo 1.9 ignores CONTAINERS_REGISTRIES_CONF."""
    opts = []
    conf = os.environ.get(REGISTRIES_CONF_ENV)
    if conf:
        opts += ["--registries-conf", conf]
    timeout = os.environ.get(COMMAND_TIMEOUT_ENV)
    if timeout:
        opts += ["--command-timeout", f"{int(float(timeout))}s"]
    return opts


def _auth(authfile: str | None, flag: str = "--authfile") -> list[str]:
    return [flag, authfile] if authfile else []


def classify_failure(ref: str, stderr: str) -> CrossboxError:
    """Map skopeo's error text to a domain error with a hint."""
    last = last_error_line(stderr)
    low = stderr.lower()
    if "manifest unknown" in low or "not found" in low and "manifest" in low:
        return RegistryError(f"{ref} does not exist in its registry (unknown tag or name)",
                             "check the name and tag")
    if "unauthorized" in low or "authentication required" in low or "denied" in low:
        return RegistryError(f"the registry refused access to {ref}",
                             "log in with `podman login` or pass --authfile")
    if "connection refused" in low or "no such host" in low or "timeout" in low or "timed out" in low \
            or "i/o timeout" in low or "deadline exceeded" in low or "network is unreachable" in low \
            or "eof" in low or "connection reset" in low:
        return RegistryError(f"the registry of {ref} did not answer properly: {last}",
                             "check the network and the registry address, then retry")
    if "server gave http response to https client" in low or "x509" in low or "tls" in low:
        return RegistryError(f"cannot talk TLS to the registry of {ref}: {last}",
                             "mark a plain-HTTP registry insecure in containers-registries.conf")
    if "invalid reference" in low or "invalid reference format" in low:
        return InvalidInput(f"{ref} is not a valid image reference")
    return RegistryError(f"skopeo failed on {ref}: {last}")


def inspect(ref: str, arch_oci: str, variant: str | None, authfile: str | None) -> ManifestInfo:
    args = [SKOPEO, *global_options(), "inspect", "--override-os", "linux", "--override-arch", arch_oci]
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
        try:
            offered = platforms_of_index(inspect_raw(ref, authfile))
        except CrossboxError:
            pass
        wanted = f"{arch_oci}/{variant}" if variant else arch_oci
        listed = ", ".join(offered) if offered else "no readable list"
        return RegistryError(
            f"{ref} has no image for {wanted}; it offers {listed}",
            "pick one of those architectures or another image",
        )
    return classify_failure(ref, done.stderr)


def inspect_raw(ref: str, authfile: str | None) -> str:
    done = run([SKOPEO, *global_options(), "inspect", "--raw", *_auth(authfile), f"docker://{ref}"],
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
