"""crossbox.host.pull: the manifest check before a foreign pull, and sizes for people."""

from __future__ import annotations

from pathlib import Path

import pytest
from crossbox.host.errors import RegistryError
from crossbox.host.images import Target, parse_image
from crossbox.host.pull import human_size, verify_manifest
from crossbox.host.tools import skopeo
from crossbox.shared.arch import parse_arch

DATA = Path(__file__).resolve().parents[1] / "data" / "skopeo"


def target(image: str, arch: str) -> Target:
    a = parse_arch(arch)
    remote = parse_image(image)
    return Target(remote=remote, local=remote.with_tag(f"{remote.tag}-{a.suffix}"), arch=a,
                  native=False, container=f"{remote.basename}-{remote.tag}-{a.suffix}")


def manifest(architecture: str, variant: str = "") -> skopeo.ManifestInfo:
    return skopeo.ManifestInfo(name="registry.example.org/tools/only", digest="sha256:" + "1" * 64,
                               architecture=architecture, variant=variant, os="linux",
                               layer_sizes=(1000,))


def test_single_arch_image_of_another_arch_is_refused_before_download() -> None:
    t = target("registry.example.org/tools/only:1", "arm64")
    with pytest.raises(RegistryError) as err:
        verify_manifest(t, manifest("s390x"))
    assert err.value.message == (
        "registry.example.org/tools/only:1 is a single-architecture image for s390x, "
        "but arm64 was requested"
    )
    assert err.value.status == 7


def test_recorded_skopeo_answer_for_s390x_of_an_arm64_only_image_is_refused() -> None:
    # skopeo 1.9.3 returned exactly this arm64 manifest for --override-arch s390x.
    info = skopeo.parse_inspect((DATA / "inspect-arm64-skopeo-1.9.3.json").read_text())
    with pytest.raises(RegistryError) as err:
        verify_manifest(target("127.0.0.1:5555/bb:arm64", "s390x"), info)
    assert err.value.message == (
        "127.0.0.1:5555/bb:arm64 is a single-architecture image for arm64, but s390x was requested"
    )


def test_wrong_arm_variant_is_shown_with_its_variant() -> None:
    with pytest.raises(RegistryError) as err:
        verify_manifest(target("quay.io/a/b:1", "armv7"), manifest("arm", "v6"))
    assert "for arm/v6, but arm was requested" in err.value.message


@pytest.mark.parametrize(("arch", "info"), [
    ("arm64", manifest("arm64")),
    ("arm64", manifest("arm64", "v8")),
    ("armv7", manifest("arm", "v7")),
    ("armv7", manifest("arm")),
    ("s390x", manifest("s390x")),
], ids=["arm64", "arm64-v8", "arm-v7", "arm-no-variant", "s390x"])
def test_manifest_of_the_requested_arch_passes(arch: str, info: skopeo.ManifestInfo) -> None:
    assert verify_manifest(target("quay.io/a/b:1", arch), info) is None


@pytest.mark.parametrize(("size", "shown"), [
    (0, "0 B"),
    (999, "999 B"),
    (1000, "1.0 kB"),
    (1036384, "1.0 MB"),
    (3728808, "3.7 MB"),
    (367885589, "367.9 MB"),
    (1_500_000_000, "1.5 GB"),
    (2_000_000_000_000, "2.0 TB"),
    (5_000_000_000_000_000, "5000.0 TB"),
])
def test_human_size(size: int, shown: str) -> None:
    assert human_size(size) == shown
