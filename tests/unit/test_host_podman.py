"""crossbox.host.tools.podman: recorded podman 4.3.1 JSON into typed records, stderr into domain errors.

The JSON is in tests/data/podman (see its README); the error texts are podman 4.3.1's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from crossbox.host.errors import Conflict, NotFound, ToolError
from crossbox.host.tools import podman
from crossbox.host.tools.runner import Completed

DATA = Path(__file__).resolve().parents[1] / "data" / "podman"
CROSSBOX_ID = "74ea8112c119aa30c6b6d954661f9f76b51d176be36cdc4554417370e6c8ba64"
IMAGE_ID = "19d2ebfc1f75e8dd18c092c64eb59d57b14a101d58684135ee78f7e743b06e57"


def data(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_parse_ps_of_recorded_podman_4_3_output() -> None:
    rows = podman.parse_ps(data("ps-all.json"))
    assert [(r.name, r.state) for r in rows] == [
        ("t1", "exited"), ("t2", "created"), ("t4", "created"), ("bb-arm64-arm64", "running"),
    ]
    box = rows[3]
    assert box.id == CROSSBOX_ID
    assert box.image == "127.0.0.1:5555/bb:arm64-arm64"
    assert box.running
    assert box.is_crossbox
    assert box.arch == "arm64"
    assert box.labels["dev.crossbox.contract"] == "1"
    assert box.labels["dev.crossbox.image"] == "127.0.0.1:5555/bb:arm64"
    assert box.created == "13 minutes ago"  # podman 4.3 puts a relative time in CreatedAt


def test_parse_ps_containers_without_labels_are_not_crossbox() -> None:
    t1 = podman.parse_ps(data("ps-all.json"))[0]
    assert t1.labels == {}
    assert not t1.is_crossbox
    assert not t1.running
    assert t1.arch == ""


@pytest.mark.parametrize("text", ["", "[]", "null"])
def test_parse_ps_of_nothing_is_empty(text: str) -> None:
    assert podman.parse_ps(text) == []


def test_parse_ps_falls_back_to_the_created_number() -> None:
    rows = podman.parse_ps('[{"Id": "a", "Names": ["n"], "State": "Running", "Created": 17}]')
    assert rows[0].created == "17"
    assert rows[0].state == "running"


def test_parse_container_inspect_of_a_crossbox_container() -> None:
    box, _ = podman.parse_container_inspect(data("container-inspect.json"))
    assert box.name == "bb-arm64-arm64"
    assert box.id == CROSSBOX_ID
    assert box.state == "running"
    assert box.image == "127.0.0.1:5555/bb:arm64-arm64"
    assert box.is_crossbox
    assert box.arch == "arm64"
    assert box.uid_map == ("0:2147484671:1024",)
    assert box.host_id_of_root() == 2147484671
    # The entrypoint first, then the command: the whole start line of the agent.
    assert box.command[0] == "/run/host/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    assert box.command[1] == "--library-path"
    assert box.command[3:5] == ("/run/crossbox/python/bin/python3.11", "-I")
    assert ("/", "/run/host") in box.mount_pairs
    assert "init" in box.command
    assert box.mounts == (
        "/dev", "/sys", "/run/crossbox/containers/bb-arm64-arm64", "/root/.pyenv/versions/3.11.7",
        "/work/main/guest", "/work/main/shared", "/usr/bin/qemu-aarch64-static", "/",
    )


def test_parse_container_inspect_of_a_plain_container() -> None:
    _, t1 = podman.parse_container_inspect(data("container-inspect.json"))
    assert t1.name == "t1"
    assert t1.state == "exited"
    assert not t1.is_crossbox
    assert t1.uid_map == ("0:2147483647:1024",)
    assert t1.host_id_of_root() == 2147483647


def test_host_id_of_root_is_none_without_a_mapping_for_root() -> None:
    info = podman.ContainerInfo(id="x", name="x", image="i", state="running", created="",
                                uid_map=("1:100000:65536",))
    assert info.host_id_of_root() is None
    assert podman.ContainerInfo(id="x", name="x", image="i", state="", created="") \
        .host_id_of_root() is None


def test_parse_image_inspect_of_recorded_output() -> None:
    (image,) = podman.parse_image_inspect(data("image-inspect.json"))
    assert image.id == IMAGE_ID
    assert image.names == ("127.0.0.1:5555/bb:arm64-arm64", "localhost/bb:arm64")
    assert image.architecture == "arm64"
    assert image.variant == ""
    assert image.size == 3728808
    assert image.created == "2026-11-28T04:50:55.310497649Z"
    assert image.labels == {}


def test_parse_image_inspect_reads_variant_and_config_labels() -> None:
    text = ('[{"Id": "abc", "RepoTags": ["quay.io/a/b:1-arm"], "Architecture": "arm", '
            '"Variant": "v7", "Size": 12, "Config": {"Labels": {"com.github.containers.toolbox": '
            '"true"}}}]')
    (image,) = podman.parse_image_inspect(text)
    assert (image.architecture, image.variant, image.size) == ("arm", "v7", 12)
    assert image.labels == {"com.github.containers.toolbox": "true"}


class FakeRun:
    """Stands in for crossbox.host.tools.runner.run, the one runner podman.py uses."""

    def __init__(self, returncode: int, stdout: str = "", stderr: str = "") -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], *, check: bool = True, **_: object) -> Completed:
        self.calls.append(list(argv))
        done = Completed(tuple(argv), self.returncode, self.stdout, self.stderr)
        if check and self.returncode != 0:
            raise ToolError(list(argv), self.returncode, self.stderr)
        return done


def fake(monkeypatch: pytest.MonkeyPatch, returncode: int, stdout: str = "",
         stderr: str = "") -> FakeRun:
    runner = FakeRun(returncode, stdout, stderr)
    monkeypatch.setattr(podman, "run", runner)
    return runner


def test_create_of_a_taken_name_is_a_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    fake(monkeypatch, 125, stderr=(
        'Error: creating container storage: the container name "fedora-toolbox-42" is already '
        "in use by 5e7c4b4a3d2c0a7b0f5f4c6a1d3e2b9f8e7d6c5b4a39281706f5e4d3c2b1a09f. You have to "
        "remove that container to be able to reuse that name: that name is already in use\n"))
    with pytest.raises(Conflict) as err:
        podman.create(["create", "--name", "fedora-toolbox-42", "img"], "fedora-toolbox-42")
    assert err.value.message == "container fedora-toolbox-42 already exists"
    assert "crossbox enter fedora-toolbox-42" in (err.value.hint or "")


def test_create_without_the_image_is_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    fake(monkeypatch, 125, stderr=(
        "Error: registry.fedoraproject.org/fedora-toolbox:42-arm64: image not known\n"))
    with pytest.raises(NotFound):
        podman.create(["create", "--pull", "never", "img"], "box")


def test_create_returns_the_new_id(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = fake(monkeypatch, 0, stdout=CROSSBOX_ID + "\n")
    assert podman.create(["create", "--name", "box", "img"], "box") == CROSSBOX_ID
    assert runner.calls == [["podman", "create", "--name", "box", "img"]]


def test_create_failing_otherwise_is_a_tool_error_with_the_telling_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake(monkeypatch, 125, stderr="Error: invalid reference format\n")
    with pytest.raises(ToolError) as err:
        podman.create(["create", "img"], "box")
    assert err.value.message.endswith("Error: invalid reference format")


def test_rm_of_a_running_container_is_a_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    # Recorded: podman 4.3.1 names the container by its id, not by the name it was given.
    fake(monkeypatch, 2, stderr=(
        f"Error: cannot remove container {CROSSBOX_ID} as it is running - running or paused "
        "containers cannot be removed without force: container state improper\n"))
    with pytest.raises(Conflict) as err:
        podman.remove_containers(["bb-arm64-arm64"], force=False)
    assert err.value.message == "container bb-arm64-arm64 is running"
    assert "--force" in (err.value.hint or "")


def test_rm_of_several_with_one_running_is_a_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    fake(monkeypatch, 2, stderr=(
        f"Error: cannot remove container {CROSSBOX_ID} as it is running - running or paused "
        "containers cannot be removed without force: container state improper\n"))
    with pytest.raises(Conflict) as err:
        podman.remove_containers(["t1", "bb-arm64-arm64"], force=False)
    assert err.value.message == "a container is running"


def test_rm_of_an_unknown_container_is_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    fake(monkeypatch, 1, stderr=(  # recorded
        'Error: no container with name or ID "no-such-container-xyz" found: no such container\n'))
    with pytest.raises(NotFound) as err:
        podman.remove_containers(["no-such-container-xyz"], force=False)
    assert err.value.message == "container no-such-container-xyz not found"


def test_rm_with_force_passes_force(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = fake(monkeypatch, 0)
    podman.remove_containers(["a", "b"], force=True)
    assert runner.calls == [["podman", "rm", "--force", "a", "b"]]


def test_rmi_of_an_unknown_image_is_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    fake(monkeypatch, 1, stderr="Error: registry.example.org/nosuch/image:1: image not known\n")
    with pytest.raises(NotFound) as err:
        podman.remove_images(["quay.io/a/b:1", "registry.example.org/nosuch/image:1"], force=False)
    assert err.value.message == "image registry.example.org/nosuch/image:1 not found"


def test_rmi_of_an_image_in_use_is_a_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    fake(monkeypatch, 2, stderr=(
        f"Error: image used by {CROSSBOX_ID}: image is in use by a container: consider listing "
        "external containers and force-removing image\n"))
    with pytest.raises(Conflict) as err:
        podman.remove_images(["localhost/bb:arm64"], force=False)
    assert err.value.message == "image localhost/bb:arm64 is used by a container"
    assert "--force" in (err.value.hint or "")


def test_inspect_container_of_an_unknown_name_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    fake(monkeypatch, 125, stdout="[]\n",
         stderr="Error: inspecting object: no such container no-such-container-xyz\n")
    assert podman.inspect_container("no-such-container-xyz") is None


def test_inspect_container_parses_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = fake(monkeypatch, 0, stdout=data("container-inspect.json"))
    info = podman.inspect_container("bb-arm64-arm64")
    assert info is not None
    assert info.name == "bb-arm64-arm64"
    assert runner.calls == [["podman", "container", "inspect", "--format", "json",
                             "bb-arm64-arm64"]]


def test_inspect_image_of_an_unknown_name_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    fake(monkeypatch, 125, stdout="[]\n",
         stderr="Error: inspecting object: registry.example.org/nosuch/image:1: image not known\n")
    assert podman.inspect_image("registry.example.org/nosuch/image:1") is None


def test_inspect_images_of_nothing_runs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = fake(monkeypatch, 0, stdout="[]")
    assert podman.inspect_images([]) == []
    assert runner.calls == []


@pytest.mark.parametrize(("returncode", "exists"), [(0, True), (1, False)])
def test_container_exists(monkeypatch: pytest.MonkeyPatch, returncode: int, exists: bool) -> None:
    fake(monkeypatch, returncode)
    assert podman.container_exists("box") is exists


def test_container_exists_fails_loudly_on_other_statuses(monkeypatch: pytest.MonkeyPatch) -> None:
    fake(monkeypatch, 125, stderr="Error: database is locked\n")
    with pytest.raises(ToolError):
        podman.container_exists("box")


def test_list_containers_filters_on_the_crossbox_label(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = fake(monkeypatch, 0, stdout=data("ps-all.json"))
    rows = podman.list_containers()
    assert len(rows) == 4
    assert runner.calls == [["podman", "ps", "--all", "--format", "json",
                             "--filter", "label=dev.crossbox.container=true"]]
