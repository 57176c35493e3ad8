"""Image references, the table of known distributions, and name resolution.

All pure: the table-driven unit tests cover every rule here.
"""

from __future__ import annotations

import re

from crossbox.shared.arch import Arch, UnknownArchError, parse_arch
from crossbox.shared.records import NamedTuple

from .errors import InvalidInput
from .osrelease import OsRelease

# docker/distribution reference grammar, simplified to what registries accept.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = rf"(?:localhost|{_LABEL}(?:\.{_LABEL})*)(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
# Patterns, not compiled regexes: re compiles (and caches) them on first use, so that
# importing this module costs nothing on paths that never parse a reference.
_PATH_RE = rf"{_COMPONENT}(?:/{_COMPONENT})*\Z"
_DOMAIN_RE = rf"{_DOMAIN}\Z"
_TAG_RE = rf"{_TAG}\Z"
_CONTAINER_RE = r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z"
DEFAULT_DOMAIN = "docker.io"
MAX_CONTAINER_NAME = 200
MAX_TAG = 128


class ImageRef(NamedTuple):
    domain: str
    path: str
    tag: str

    def __str__(self) -> str:
        return f"{self.domain}/{self.path}:{self.tag}"

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    @property
    def basename(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def with_tag(self, tag: str) -> ImageRef:
        return self._replace(tag=tag)


def parse_image(text: str) -> ImageRef:
    """Parse a tagged image reference; short names are docker.io's, as skopeo reads them."""
    given = text
    text = text.strip()
    if not text:
        raise InvalidInput("the image reference is empty", "give one such as registry.example.org/name:tag")
    if "://" in text:
        raise InvalidInput(
            f"image reference {given!r} must not carry a transport",
            "give registry/name:tag without docker:// or similar",
        )
    if "@" in text:
        raise InvalidInput(
            f"image reference {given!r} is a digest reference, which crossbox cannot name locally "
            "per architecture",
            "use a tag instead of @sha256:...",
        )
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain, remainder = first, rest
    else:
        domain, remainder = DEFAULT_DOMAIN, text
    name, colon, tag = remainder.rpartition(":")
    if not colon:
        name, tag = remainder, "latest"
    if domain == DEFAULT_DOMAIN and "/" not in name:
        name = f"library/{name}"
    if not re.match(_DOMAIN_RE, domain):
        raise InvalidInput(f"image reference {given!r} has an invalid registry {domain!r}",
                           "use host[:port]/name:tag")
    if name.lower() == name and not re.match(_PATH_RE, name):
        raise InvalidInput(
            f"image reference {given!r} is malformed",
            "names are lower-case letters, digits and separators . _ - /, then :tag",
        )
    if name.lower() != name:
        raise InvalidInput(
            f"image reference {given!r} has upper-case letters in its name, which registries refuse",
            f"use {domain}/{name.lower()}:{tag}" if re.match(_PATH_RE, name.lower()) else None,
        )
    if not re.match(_TAG_RE, tag):
        raise InvalidInput(f"image reference {given!r} has an invalid tag {tag!r}",
                           "tags are up to 128 letters, digits, _ . and -")
    return ImageRef(domain, name, tag)


def check_container_name(name: str) -> str:
    if len(name) > MAX_CONTAINER_NAME:
        raise InvalidInput(
            f"container name {name[:20]!r}... is {len(name)} characters long; the limit is {MAX_CONTAINER_NAME}",
            "use a shorter name",
        )
    if not re.match(_CONTAINER_RE, name):
        raise InvalidInput(
            f"container name {name!r} is invalid",
            "use letters, digits, _ . and -, starting with a letter or digit",
        )
    return name


class Distro(NamedTuple):
    name: str
    repository: str  # registry/path of its toolbox image
    release_re: str
    default_release: str
    tag_format: str = "{release}"

    def tag(self, release: str) -> str:
        return self.tag_format.format(release=release)

    def image(self, release: str) -> ImageRef:
        domain, path = self.repository.split("/", 1)
        return ImageRef(domain, path, self.tag(release))


DISTROS: dict[str, Distro] = {
    d.name: d
    for d in (
        Distro("fedora", "registry.fedoraproject.org/fedora-toolbox", r"[1-9][0-9]*|rawhide", "42"),
        Distro("ubuntu", "quay.io/toolbx/ubuntu-toolbox", r"[0-9]{2}\.[0-9]{2}", "24.04"),
        Distro("debian", "quay.io/toolbx-images/debian-toolbox", r"[0-9]+|testing|unstable", "12"),
        Distro("arch", "quay.io/toolbx/arch-toolbox", r"latest", "latest"),
        Distro("rhel", "registry.access.redhat.com/ubi9/toolbox", r"9\.[0-9]+", "9.6"),
    )
}
DISTRO_ALIASES = {"archlinux": "arch", "rhel": "rhel", "redhat": "rhel"}


def known_distro_for(ref: ImageRef) -> Distro | None:
    for d in DISTROS.values():
        if d.repository == ref.repository:
            return d
    return None


def parse_distro(text: str) -> Distro:
    key = DISTRO_ALIASES.get(text.lower(), text.lower())
    if key not in DISTROS:
        raise InvalidInput(
            f"{text!r} is not a distribution crossbox knows",
            f"use one of {', '.join(DISTROS)}, or --image",
        )
    return DISTROS[key]


def check_release(distro: Distro, release: str) -> str:
    release = release.strip()
    if distro.name == "fedora" and release.lower().startswith("f") and release[1:].isdigit():
        release = release[1:]
    if not re.fullmatch(distro.release_re, release):
        raise InvalidInput(
            f"{release!r} is not a release of {distro.name}",
            f"use a release such as {distro.default_release}",
        )
    return release


def split_arch_suffix(tag: str) -> tuple[str, Arch | None]:
    """``42-aarch64`` -> ("42", aarch64); a tag without a known suffix -> (tag, None)."""
    base, dash, suffix = tag.rpartition("-")
    if not dash or not base:
        return tag, None
    try:
        return base, parse_arch(suffix)
    except UnknownArchError:
        return tag, None


def tag_arch(ref: ImageRef) -> Arch | None:
    """The architecture a known distribution's tag names (``42-aarch64``); else None."""
    if known_distro_for(ref) is None:
        return None
    return split_arch_suffix(ref.tag)[1]


class Target(NamedTuple):
    """What create/enter/run resolve a request to."""

    remote: ImageRef  # what is pulled
    local: ImageRef  # how it is named in local storage
    arch: Arch
    native: bool
    container: str  # the default container name for it


def default_distro_release(osr: OsRelease) -> tuple[Distro, str]:
    key = DISTRO_ALIASES.get(osr.id, osr.id)
    if key in DISTROS:
        distro = DISTROS[key]
        try:
            return distro, check_release(distro, osr.version_id or distro.default_release)
        except InvalidInput:
            return distro, distro.default_release
    return DISTROS["fedora"], DISTROS["fedora"].default_release


def resolve(
    *,
    host: Arch,
    osr: OsRelease,
    image: str | None = None,
    distro: str | None = None,
    release: str | None = None,
    arch: str | None = None,
) -> Target:
    """Turn the user's options into the images and the container name to use."""
    if image and (distro or release):
        raise InvalidInput("--image cannot be combined with --distro or --release",
                           "give either an image or a distribution and release")
    asked: Arch | None = None
    if arch is not None:
        try:
            asked = parse_arch(arch)
        except UnknownArchError as exc:
            raise InvalidInput(str(exc)) from None
    if image:
        remote = parse_image(image)
    else:
        host_distro, host_release = default_distro_release(osr)
        d = parse_distro(distro) if distro else host_distro
        if release:
            rel = check_release(d, release)
        elif d == host_distro:
            rel = host_release
        else:
            rel = d.default_release
        remote = d.image(rel)
    base_tag, tag_arch = split_arch_suffix(remote.tag)
    if known_distro_for(remote) is None:
        base_tag, tag_arch = remote.tag, None
    if asked and tag_arch and asked != tag_arch:
        raise InvalidInput(
            f"--arch {arch} asks for {asked.name}, but the tag {remote.tag} is for {tag_arch.name}",
            "drop --arch or use a tag without an architecture suffix",
        )
    chosen = asked or tag_arch or host
    native = chosen == host
    if native or tag_arch == chosen:
        local = remote
    else:
        local_tag = f"{remote.tag}-{chosen.suffix}"
        if len(local_tag) > MAX_TAG:
            raise InvalidInput(
                f"the tag {remote.tag[:20]!r}... with the architecture suffix -{chosen.suffix} is {len(local_tag)} "
                f"characters long; tags are at most {MAX_TAG}",
                f"use a tag of at most {MAX_TAG - len(chosen.suffix) - 1} characters",
            )
        local = remote.with_tag(local_tag)
    name = f"{remote.basename}-{base_tag}"
    if not native:
        name += f"-{chosen.suffix}"
    return Target(remote=remote, local=local, arch=chosen, native=native, container=name)
