"""crossbox.host.images: image references, known distributions and name resolution."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from crossbox.host.errors import InvalidInput
from crossbox.host.images import (
    DISTROS,
    ImageRef,
    check_container_name,
    parse_image,
    resolve,
    split_arch_suffix,
)
from crossbox.host.osrelease import OsRelease
from crossbox.shared.arch import parse_arch, supported_names
from hypothesis import given
from hypothesis import strategies as st

X86_64 = parse_arch("x86_64")
FEDORA_42 = OsRelease(id="fedora", version_id="42")
DEBIAN_12 = OsRelease(id="debian", id_like=(), version_id="12", version_codename="bookworm")
FEDORA_TOOLBOX = "registry.fedoraproject.org/fedora-toolbox"


@dataclass(frozen=True)
class Case:
    id: str
    osr: OsRelease
    kwargs: dict[str, str]
    remote: str
    local: str
    arch: str
    native: bool
    container: str


RESOLVE_CASES = [
    Case("fedora-host-default", FEDORA_42, {},
         f"{FEDORA_TOOLBOX}:42", f"{FEDORA_TOOLBOX}:42", "x86_64", True, "fedora-toolbox-42"),
    Case("arch-arm64", FEDORA_42, {"arch": "arm64"},
         f"{FEDORA_TOOLBOX}:42", f"{FEDORA_TOOLBOX}:42-arm64", "aarch64", False,
         "fedora-toolbox-42-arm64"),
    Case("arch-AARCH64-same-suffix-as-arm64", FEDORA_42, {"arch": "AARCH64"},
         f"{FEDORA_TOOLBOX}:42", f"{FEDORA_TOOLBOX}:42-arm64", "aarch64", False,
         "fedora-toolbox-42-arm64"),
    Case("arch-armv7-gets-oci-suffix-arm", FEDORA_42, {"arch": "armv7"},
         f"{FEDORA_TOOLBOX}:42", f"{FEDORA_TOOLBOX}:42-arm", "arm", False,
         "fedora-toolbox-42-arm"),
    Case("known-image-tag-suffix-gives-arch", FEDORA_42,
         {"image": f"{FEDORA_TOOLBOX}:42-aarch64"},
         f"{FEDORA_TOOLBOX}:42-aarch64", f"{FEDORA_TOOLBOX}:42-aarch64", "aarch64", False,
         "fedora-toolbox-42-arm64"),
    Case("known-image-tag-suffix-agrees-with-arch", FEDORA_42,
         {"image": f"{FEDORA_TOOLBOX}:42-aarch64", "arch": "arm64"},
         f"{FEDORA_TOOLBOX}:42-aarch64", f"{FEDORA_TOOLBOX}:42-aarch64", "aarch64", False,
         "fedora-toolbox-42-arm64"),
    Case("arch-of-host-is-native", FEDORA_42, {"arch": "x86_64"},
         f"{FEDORA_TOOLBOX}:42", f"{FEDORA_TOOLBOX}:42", "x86_64", True, "fedora-toolbox-42"),
    Case("arch-amd64-of-host-is-native", FEDORA_42, {"arch": "amd64"},
         f"{FEDORA_TOOLBOX}:42", f"{FEDORA_TOOLBOX}:42", "x86_64", True, "fedora-toolbox-42"),
    Case("unknown-image-tag-not-parsed-for-arch", FEDORA_42,
         {"image": "127.0.0.1:5000/bb:arm64"},
         "127.0.0.1:5000/bb:arm64", "127.0.0.1:5000/bb:arm64", "x86_64", True, "bb-arm64"),
    Case("unknown-image-with-arch-gets-suffix", FEDORA_42,
         {"image": "127.0.0.1:5000/bb:arm64", "arch": "arm64"},
         "127.0.0.1:5000/bb:arm64", "127.0.0.1:5000/bb:arm64-arm64", "aarch64", False,
         "bb-arm64-arm64"),
    Case("debian-host-default", DEBIAN_12, {},
         "quay.io/toolbx-images/debian-toolbox:12", "quay.io/toolbx-images/debian-toolbox:12",
         "x86_64", True, "debian-toolbox-12"),
    Case("ubuntu-distro-and-release", FEDORA_42, {"distro": "ubuntu", "release": "24.04"},
         "quay.io/toolbx/ubuntu-toolbox:24.04", "quay.io/toolbx/ubuntu-toolbox:24.04",
         "x86_64", True, "ubuntu-toolbox-24.04"),
    Case("other-distro-without-release-uses-its-default", FEDORA_42, {"distro": "debian"},
         "quay.io/toolbx-images/debian-toolbox:12", "quay.io/toolbx-images/debian-toolbox:12",
         "x86_64", True, "debian-toolbox-12"),
    Case("fedora-release-with-f-prefix", FEDORA_42, {"release": "F41"},
         f"{FEDORA_TOOLBOX}:41", f"{FEDORA_TOOLBOX}:41", "x86_64", True, "fedora-toolbox-41"),
    Case("unknown-host-distro-falls-back-to-fedora-default", OsRelease(id="gentoo"), {},
         f"{FEDORA_TOOLBOX}:42", f"{FEDORA_TOOLBOX}:42", "x86_64", True, "fedora-toolbox-42"),
    Case("short-image-name-is-docker-hub", FEDORA_42, {"image": "busybox", "arch": "s390x"},
         "docker.io/library/busybox:latest", "docker.io/library/busybox:latest-s390x", "s390x",
         False, "busybox-latest-s390x"),
]


@pytest.mark.parametrize("case", RESOLVE_CASES, ids=[c.id for c in RESOLVE_CASES])
def test_resolve_gives_expected_target(case: Case) -> None:
    target = resolve(host=X86_64, osr=case.osr, **case.kwargs)
    assert str(target.remote) == case.remote
    assert str(target.local) == case.local
    assert target.arch == parse_arch(case.arch)
    assert target.native is case.native
    assert target.container == case.container
    check_container_name(target.container)


def test_resolve_every_spelling_of_an_arch_gives_one_local_name_and_container() -> None:
    arm64 = parse_arch("arm64")
    targets = {
        (str(t.local), t.container)
        for t in (resolve(host=X86_64, osr=FEDORA_42, arch=s) for s in arm64.spellings())
    }
    assert targets == {(f"{FEDORA_TOOLBOX}:42-arm64", "fedora-toolbox-42-arm64")}


@dataclass(frozen=True)
class BadCase:
    id: str
    kwargs: dict[str, str]
    words: tuple[str, ...]  # each must appear in the message or the hint


RESOLVE_ERRORS = [
    BadCase("arch-contradicts-tag-suffix",
            {"image": f"{FEDORA_TOOLBOX}:42-aarch64", "arch": "ppc64le"},
            ("ppc64le", "aarch64", "42-aarch64")),
    BadCase("image-with-distro", {"image": "registry.example.org/x:1", "distro": "fedora"},
            ("--image", "--distro")),
    BadCase("image-with-release", {"image": "registry.example.org/x:1", "release": "42"},
            ("--image", "--release")),
    BadCase("bad-fedora-release", {"release": "forty-two"}, ("forty-two", "fedora", "42")),
    BadCase("bad-ubuntu-release", {"distro": "ubuntu", "release": "24"}, ("'24'", "ubuntu")),
    BadCase("unknown-distro", {"distro": "gentoo"},
            ("gentoo", *DISTROS)),
    BadCase("unknown-arch", {"arch": "sparc9"}, ("sparc9", *supported_names())),
    BadCase("bad-image", {"image": "Registry.example.org/UPPER:1"}, ("upper-case",)),
]


@pytest.mark.parametrize("case", RESOLVE_ERRORS, ids=[c.id for c in RESOLVE_ERRORS])
def test_resolve_refuses_bad_requests_with_invalid_input(case: BadCase) -> None:
    with pytest.raises(InvalidInput) as err:
        resolve(host=X86_64, osr=FEDORA_42, **case.kwargs)
    text = f"{err.value.message} {err.value.hint or ''}"
    for word in case.words:
        assert word in text
    assert err.value.status == 3


def test_resolve_on_an_arm64_host_treats_arm64_as_native() -> None:
    target = resolve(host=parse_arch("aarch64"), osr=FEDORA_42, arch="arm64")
    assert target.native
    assert target.local == target.remote
    assert target.container == "fedora-toolbox-42"


def test_resolve_on_an_arm64_host_gives_x86_64_the_amd64_suffix() -> None:
    target = resolve(host=parse_arch("aarch64"), osr=FEDORA_42, arch="x86_64")
    assert not target.native
    assert str(target.local) == f"{FEDORA_TOOLBOX}:42-amd64"
    assert target.container == "fedora-toolbox-42-amd64"


@pytest.mark.parametrize(
    ("tag", "base", "arch"),
    [
        ("42-aarch64", "42", "aarch64"),
        ("42-arm64", "42", "aarch64"),
        ("24.04-ppc64el", "24.04", "ppc64le"),
        ("42", "42", None),
        ("latest", "latest", None),
        ("-arm64", "-arm64", None),
        ("42-beta", "42-beta", None),
    ],
)
def test_split_arch_suffix(tag: str, base: str, arch: str | None) -> None:
    got_base, got_arch = split_arch_suffix(tag)
    assert got_base == base
    assert got_arch == (parse_arch(arch) if arch else None)


PARSE_OK = [
    ("busybox", ImageRef("docker.io", "library/busybox", "latest")),
    ("fedora:42", ImageRef("docker.io", "library/fedora", "42")),
    ("library/fedora", ImageRef("docker.io", "library/fedora", "latest")),
    ("someone/tool:1.2", ImageRef("docker.io", "someone/tool", "1.2")),
    ("docker.io/alpine", ImageRef("docker.io", "library/alpine", "latest")),
    ("localhost/x", ImageRef("localhost", "x", "latest")),
    ("localhost:5000/x:dev", ImageRef("localhost:5000", "x", "dev")),
    ("127.0.0.1:5000/a/b:t", ImageRef("127.0.0.1:5000", "a/b", "t")),
    ("quay.io/toolbx/ubuntu-toolbox:24.04", ImageRef("quay.io", "toolbx/ubuntu-toolbox", "24.04")),
    ("  registry.example.org/a_b/c--d:v1.0-rc_2  ",
     ImageRef("registry.example.org", "a_b/c--d", "v1.0-rc_2")),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_OK, ids=[t for t, _ in PARSE_OK])
def test_parse_image_accepts_and_normalises(text: str, expected: ImageRef) -> None:
    ref = parse_image(text)
    assert ref == expected
    assert parse_image(str(ref)) == ref


PARSE_BAD = [
    ("upper-case-short-name", "Fedora", ("upper-case",), "docker.io/library/fedora:latest"),
    ("upper-case-path", "quay.io/Toolbx/Ubuntu:24.04", ("upper-case",),
     "quay.io/toolbx/ubuntu:24.04"),
    ("digest", "fedora@sha256:" + "0" * 64, ("digest",), "tag"),
    ("digest-with-tag", "quay.io/a/b:1@sha256:" + "a" * 64, ("digest",), "tag"),
    ("transport", "docker://quay.io/a/b:1", ("transport",), "docker://"),
    ("other-transport", "containers-storage://x", ("transport",), None),
    ("empty", "", ("empty",), None),
    ("blank", "   ", ("empty",), None),
    ("tag-starts-with-dash", "quay.io/a/b:-1", ("invalid tag",), None),
    ("tag-empty", "quay.io/a/b:", ("invalid tag",), None),
    ("tag-too-long", "quay.io/a/b:" + "t" * 129, ("invalid tag",), None),
    ("tag-bad-char", "quay.io/a/b:1+2", ("invalid tag",), None),
    ("space-in-name", "quay.io/a b:1", ("malformed",), None),
    ("double-slash", "quay.io/a//b:1", ("malformed",), None),
    ("bad-registry", "quay-.io/a:1", ("invalid registry",), None),
    ("bad-port", "registry.example.org:http/a:1", ("invalid registry",), None),
]


@pytest.mark.parametrize(("text", "words", "hint_part"),
                         [c[1:] for c in PARSE_BAD], ids=[c[0] for c in PARSE_BAD])
def test_parse_image_refuses_with_invalid_input(text: str, words: tuple[str, ...],
                                                hint_part: str | None) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_image(text)
    for word in words:
        assert word in err.value.message
    if hint_part is not None:
        assert err.value.hint is not None
        assert hint_part in err.value.hint


def test_parse_image_upper_case_hint_names_the_lower_case_reference() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_image("registry.example.org/Team/Tool:V1")
    assert err.value.hint == "use registry.example.org/team/tool:V1"


@given(st.text())
def test_parse_image_any_text_round_trips_or_is_invalid_input(text: str) -> None:
    try:
        ref = parse_image(text)
    except InvalidInput:
        return
    assert parse_image(str(ref)) == ref


@given(st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,10})?",
                     fullmatch=True))
def test_parse_image_well_formed_names_always_parse(text: str) -> None:
    ref = parse_image(text)
    name, _, tag = text.partition(":")
    assert ref.domain == "docker.io"
    assert ref.tag == (tag or "latest")
    assert ref.path == (name if "/" in name else f"library/{name}")


@pytest.mark.parametrize("name", [
    "fedora-toolbox-42", "fedora-toolbox-42-arm64", "ubuntu-toolbox-24.04", "a", "A_b.c-1",
    "0day", "x" * 200,
])
def test_check_container_name_accepts(name: str) -> None:
    assert check_container_name(name) == name


@pytest.mark.parametrize("name", [
    "", "my box", "-leading-dash", ".hidden", "_under", "a/b", "a;rm -rf /", "a$(id)", "a`id`",
    "a|b", "a&b", "a>b", "a\nb", "box\n", "a'b", 'a"b', "naïve",
])
def test_check_container_name_refuses(name: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_container_name(name)
    assert repr(name) in err.value.message


def test_a_name_over_the_limit_is_refused_naming_the_limit() -> None:
    with pytest.raises(InvalidInput) as err:
        check_container_name("x" * 201)
    assert "is 201 characters long; the limit is 200" in err.value.message


def test_a_tag_the_architecture_suffix_pushes_past_128_is_refused_naming_the_limit() -> None:
    tag = "t" * 125
    with pytest.raises(InvalidInput) as err:
        resolve(host=parse_arch("x86_64"), osr=OsRelease(), image=f"quay.io/a/b:{tag}", arch="arm64")
    assert "is 131 characters long; tags are at most 128" in err.value.message
    assert resolve(host=parse_arch("x86_64"), osr=OsRelease(), image=f"quay.io/a/b:{'t' * 122}",
                   arch="arm64").local.tag.endswith("-arm64")


@given(st.text(alphabet="aZ0.:/_-@ \t\n", max_size=24))
def test_parse_image_reference_like_text_round_trips_or_is_invalid_input(text: str) -> None:
    try:
        ref = parse_image(text)
    except InvalidInput:
        return
    assert parse_image(str(ref)) == ref
    assert ref.path == ref.path.lower()
