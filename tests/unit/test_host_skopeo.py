"""crossbox.host.tools.skopeo: parsing recorded skopeo output, mapping its errors, building argv.

The outputs are in tests/data/skopeo (see its README for which are recorded).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from crossbox.host.errors import InvalidInput, RegistryError
from crossbox.host.tools import skopeo
from crossbox.host.tools.runner import Completed

DATA = Path(__file__).resolve().parents[1] / "data" / "skopeo"


def data(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _no_skopeo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTAINERS_REGISTRIES_CONF", raising=False)
    monkeypatch.delenv("CROSSBOX_REGISTRY_TIMEOUT", raising=False)


def test_parse_inspect_of_skopeo_1_9_output_has_no_layer_sizes() -> None:
    info = skopeo.parse_inspect(data("inspect-arm64-skopeo-1.9.3.json"))
    assert info.name == "127.0.0.1:5555/bb"
    assert info.digest == "sha256:d44314d4ccb95bcbbd8fc8b4e1369d58b54a0783a9d1a4d11b3683cbc4a0f03e"
    assert info.architecture == "arm64"
    assert info.variant == ""
    assert info.os == "linux"
    assert info.layer_sizes == ()
    assert info.download_size == 0


def test_parse_inspect_of_newer_skopeo_sums_layers_data_sizes() -> None:
    info = skopeo.parse_inspect(data("inspect-amd64-layersdata.json"))
    assert info.name == "registry.fedoraproject.org/fedora-toolbox"
    assert info.architecture == "amd64"
    assert info.layer_sizes == (315456789, 52428800)
    assert info.download_size == 315456789 + 52428800


def test_platforms_of_an_oci_index() -> None:
    assert skopeo.platforms_of_index(data("raw-oci-index.json")) == [
        "linux/amd64", "linux/arm64/v8", "linux/arm/v7", "linux/ppc64le", "linux/s390x",
    ]


def test_platforms_of_a_docker_manifest_list() -> None:
    assert skopeo.platforms_of_index(data("raw-docker-manifest-list.json")) == [
        "linux/amd64", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm64/v8",
        "linux/386", "linux/mips64le", "linux/ppc64le", "linux/riscv64", "linux/s390x",
    ]


def test_platforms_of_a_single_manifest_is_none() -> None:
    assert skopeo.platforms_of_index(data("raw-single-manifest.json")) is None


REF = "127.0.0.1:5555/bb:arm64"
# Recorded from skopeo 1.9.3 against the test bed registry, except where noted.
STDERR_MANIFEST_UNKNOWN = (
    'time="2026-11-28T05:21:28Z" level=fatal msg="Error parsing image name '
    '\\"docker://127.0.0.1:5555/bb:nosuchtag\\": reading manifest nosuchtag in '
    '127.0.0.1:5555/bb: manifest unknown: manifest unknown"\n'
)
STDERR_HTTP = (
    'time="2026-11-28T05:21:28Z" level=fatal msg="Error parsing image name '
    '\\"docker://127.0.0.1:5555/bb:arm64\\": pinging container registry 127.0.0.1:5555: '
    'Get \\"https://127.0.0.1:5555/v2/\\": http: server gave HTTP response to HTTPS client"\n'
)
STDERR_REFUSED = (
    'time="2026-11-28T05:21:28Z" level=fatal msg="Error parsing image name '
    '\\"docker://127.0.0.1:1/bb:arm64\\": pinging container registry 127.0.0.1:1: '
    'Get \\"https://127.0.0.1:1/v2/\\": dial tcp 127.0.0.1:1: connect: connection refused"\n'
)
STDERR_BAD_REFERENCE = (
    'time="2026-11-28T05:21:28Z" level=fatal msg="Error parsing image name '
    '\\"docker://127.0.0.1:5555/BB:arm64\\": invalid reference format: repository name '
    'must be lowercase"\n'
)
# Composed in the same format (a registry with auth, and --command-timeout 1s).
STDERR_UNAUTHORIZED = (
    'time="2026-11-28T05:30:02Z" level=fatal msg="Error parsing image name '
    '\\"docker://registry.example.org/private/tool:1\\": reading manifest 1 in '
    'registry.example.org/private/tool: unauthorized: authentication required"\n'
)
STDERR_DEADLINE = (
    'time="2026-11-28T05:30:09Z" level=fatal msg="Error parsing image name '
    '\\"docker://registry.example.org/tool:1\\": pinging container registry '
    'registry.example.org: Get \\"https://registry.example.org/v2/\\": context deadline '
    'exceeded"\n'
)


@pytest.mark.parametrize(
    ("stderr", "kind", "message", "hint"),
    [
        (STDERR_MANIFEST_UNKNOWN, RegistryError,
         f"{REF} does not exist in its registry (unknown tag or name)", "check the name and tag"),
        (STDERR_REFUSED, RegistryError,
         f"the registry 127.0.0.1:5555 did not answer properly for {REF}: ", "check the network"),
        (STDERR_UNAUTHORIZED, RegistryError,
         f"the registry refused access to {REF}", "podman login"),
        (STDERR_HTTP, RegistryError,
         f"cannot talk TLS to the registry of {REF}: ", "insecure"),
        (STDERR_DEADLINE, RegistryError,
         f"the registry 127.0.0.1:5555 did not answer in time for {REF}: ", "CROSSBOX_REGISTRY_TIMEOUT"),
        (STDERR_BAD_REFERENCE, InvalidInput,
         f"{REF} is not a valid image reference", None),
        ("Error: something nobody expected\n", RegistryError,
         f"skopeo could not pull {REF}: Error: something nobody expected", None),
    ],
    ids=["manifest-unknown", "connection-refused", "unauthorized", "http-to-https",
         "deadline-exceeded", "invalid-reference", "unknown"],
)
def test_classify_failure(stderr: str, kind: type, message: str, hint: str | None) -> None:
    err = skopeo.classify_failure(REF, stderr)
    assert type(err) is kind
    assert err.message.startswith(message)
    if hint is None:
        assert err.hint is None
    else:
        assert hint in (err.hint or "")


def test_a_native_pull_failure_names_podman() -> None:
    err = skopeo.classify_failure(REF, "Error: something nobody expected\n", tool="podman")
    assert err.message.startswith(f"podman could not pull {REF}")


def test_classify_failure_quotes_the_telling_line() -> None:
    err = skopeo.classify_failure(REF, STDERR_REFUSED)
    assert "connect: connection refused" in err.message


def test_global_options_empty_by_default() -> None:
    assert skopeo.global_options() == []


def test_global_options_pass_the_registries_conf_podman_uses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", "/etc/crossbox-test/registries.conf")
    assert skopeo.global_options() == ["--registries-conf", "/etc/crossbox-test/registries.conf"]


def test_global_options_bound_inspection_by_default() -> None:
    assert skopeo.global_options(skopeo.DEFAULT_INSPECT_TIMEOUT) == ["--command-timeout", "60s"]


@pytest.mark.parametrize(("value", "shown"), [("30", "30s"), ("2.5", "2s"), ("0.5", "1s")])
def test_global_options_pass_the_registry_timeout(monkeypatch: pytest.MonkeyPatch,
                                                  value: str, shown: str) -> None:
    monkeypatch.setenv("CROSSBOX_REGISTRY_TIMEOUT", value)
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", "/r.conf")
    assert skopeo.global_options() == ["--registries-conf", "/r.conf", "--command-timeout", shown]


@pytest.mark.parametrize("value", ["soon", "nan", "inf", "30s", "0", "-5"])
def test_global_options_refuse_a_timeout_that_is_no_number(monkeypatch: pytest.MonkeyPatch,
                                                           value: str) -> None:
    monkeypatch.setenv("CROSSBOX_REGISTRY_TIMEOUT", value)
    with pytest.raises(InvalidInput) as err:
        skopeo.global_options()
    assert f"CROSSBOX_REGISTRY_TIMEOUT={value!r} is invalid" in err.value.message
    assert "seconds" in err.value.message


def test_copy_argv_for_arm_v7_with_authfile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", "/r.conf")
    argv = skopeo.copy_argv("quay.io/a/b:1", "quay.io/a/b:1-arm", "arm", "v7",
                            "/run/user/1000/auth.json", quiet=True)
    assert argv == [
        "skopeo", "--registries-conf", "/r.conf", "copy",
        "--override-os", "linux", "--override-arch", "arm", "--override-variant", "v7",
        "--src-authfile", "/run/user/1000/auth.json", "--quiet",
        "docker://quay.io/a/b:1", "containers-storage:quay.io/a/b:1-arm",
    ]


def test_copy_argv_without_variant_authfile_or_quiet() -> None:
    argv = skopeo.copy_argv("quay.io/a/b:1", "quay.io/a/b:1-arm64", "arm64", None, None,
                            quiet=False)
    assert argv == [
        "skopeo", "copy", "--override-os", "linux", "--override-arch", "arm64",
        "docker://quay.io/a/b:1", "containers-storage:quay.io/a/b:1-arm64",
    ]
    assert "--override-variant" not in argv
    assert "--src-authfile" not in argv


class FakeRun:
    """Stands in for crossbox.host.tools.runner.run: records argv, answers from a script."""

    def __init__(self, *answers: Completed) -> None:
        self.answers = list(answers)
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], **_: object) -> Completed:
        self.calls.append(list(argv))
        answer = self.answers.pop(0)
        return Completed(tuple(argv), answer.returncode, answer.stdout, answer.stderr)


def ok(stdout: str) -> Completed:
    return Completed((), 0, stdout, "")


def failed(stderr: str) -> Completed:
    return Completed((), 1, "", stderr)


def test_inspect_asks_for_the_platform_and_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRun(ok(data("inspect-arm64-skopeo-1.9.3.json")))
    monkeypatch.setattr(skopeo, "run", fake)
    info = skopeo.inspect(REF, "arm64", None, "/auth.json")
    assert info.architecture == "arm64"
    (argv,) = fake.calls
    assert argv[:4] == ["skopeo", "--command-timeout", "60s", "inspect"]
    assert argv[-1] == f"docker://{REF}"
    pairs = list(itertools.pairwise(argv))
    for flag, value in (("--override-os", "linux"), ("--override-arch", "arm64"),
                        ("--authfile", "/auth.json")):
        assert (flag, value) in pairs
    assert "--override-variant" not in argv


def test_inspect_of_a_missing_platform_lists_what_the_index_offers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    missing = (
        'time="2026-11-28T05:40:00Z" level=fatal msg="Error parsing image name '
        '\\"docker://quay.io/a/b:1\\": choosing image instance: no image found in image index '
        'for architecture riscv64, variant \\"\\", OS linux"\n'
    )
    fake = FakeRun(failed(missing), ok(data("raw-oci-index.json")))
    monkeypatch.setattr(skopeo, "run", fake)
    with pytest.raises(RegistryError) as err:
        skopeo.inspect("quay.io/a/b:1", "riscv64", None, None)
    assert err.value.message == (
        "quay.io/a/b:1 has no image for riscv64; it offers linux/amd64, linux/arm64/v8, "
        "linux/arm/v7, linux/ppc64le, linux/s390x"
    )
    assert fake.calls[1] == ["skopeo", "--command-timeout", "60s", "inspect", "--raw", "docker://quay.io/a/b:1"]


def test_inspect_failure_is_classified(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(skopeo, "run", FakeRun(failed(STDERR_MANIFEST_UNKNOWN)))
    with pytest.raises(RegistryError) as err:
        skopeo.inspect(REF, "arm64", None, None)
    assert "does not exist in its registry" in err.value.message


def test_layer_sizes_of_a_recorded_single_manifest() -> None:
    assert skopeo.layer_sizes_of_manifest(data("raw-single-manifest.json")) == (1036384,)


@pytest.mark.parametrize("name", ["raw-oci-index.json", "raw-docker-manifest-list.json"])
def test_layer_sizes_of_an_index_is_none(name: str) -> None:
    assert skopeo.layer_sizes_of_manifest(data(name)) is None
