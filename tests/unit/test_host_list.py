"""crossbox.host.commands.list: the tables and JSON of `crossbox list`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from crossbox.host.commands import list as listing
from crossbox.host.commands.list import ContainerRow, ImageRow
from crossbox.host.tools import podman
from crossbox.host.tools.runner import Completed

DATA = Path(__file__).resolve().parents[1] / "data" / "podman"
IMAGE_ID = "19d2ebfc1f75e8dd18c092c64eb59d57b14a101d58684135ee78f7e743b06e57"


def image(names: tuple[str, ...], architecture: str, variant: str = "", size: int = 1,
          id_: str = "f" * 64) -> podman.ImageInfo:
    return podman.ImageInfo(id=id_, names=names, architecture=architecture, variant=variant,
                            size=size, created="")


def test_render_table_aligns_columns_and_trims_trailing_blanks() -> None:
    text = listing.render_table(
        ["CONTAINER", "ARCH", "STATUS"],
        [["fedora-toolbox-42-arm64", "arm64", "running"], ["bb", "s390x", "exited"]],
    )
    assert text.splitlines() == [
        "CONTAINER                ARCH   STATUS",
        "fedora-toolbox-42-arm64  arm64  running",
        "bb                       s390x  exited",
    ]


def test_render_table_of_no_rows_is_the_header() -> None:
    assert listing.render_table(["IMAGE", "ARCH", "SIZE"], []) == "IMAGE  ARCH  SIZE"


def test_as_json_schema() -> None:
    containers = [ContainerRow("box", "arm64", "quay.io/a/b:1-arm64", "running", "1 hour ago",
                               created_iso="2026-12-05T01:30:00Z")]
    images = [ImageRow("quay.io/a/b:1-arm64", "arm64", 3728808, IMAGE_ID)]
    data = json.loads(listing.as_json(containers, images))
    assert data == {
        "schema": 2,
        "containers": [{"name": "box", "arch": "arm64", "image": "quay.io/a/b:1-arm64",
                        "status": "running", "created": "2026-12-05T01:30:00Z", "native_tools": False}],
        "images": [{"name": "quay.io/a/b:1-arm64", "arch": "arm64", "size": 3728808,
                    "id": IMAGE_ID}],
    }


def test_as_json_leaves_out_what_was_not_asked() -> None:
    assert json.loads(listing.as_json([], None)) == {"schema": 2, "containers": []}
    assert json.loads(listing.as_json(None, [])) == {"schema": 2, "images": []}


def test_created_is_iso_8601_utc_from_podmans_epoch_seconds() -> None:
    (info,) = podman.parse_ps('[{"Id": "a", "Names": ["n"], "State": "Running", "Created": 1764898200, '
                              '"CreatedAt": "2 minutes ago"}]')
    (row,) = listing.container_rows([info])
    assert row.created == "2 minutes ago"
    assert row.created_iso == "2025-12-05T01:30:00Z"
    assert listing.iso_utc(None) is None


def test_image_rows_take_the_arch_from_the_image_config_not_the_name() -> None:
    rows = listing.image_rows([image(("quay.io/a/b:1-arm64",), "amd64")])
    assert rows == [ImageRow("quay.io/a/b:1-arm64", "amd64", 1, "f" * 64)]


@pytest.mark.parametrize(("architecture", "variant", "shown"), [
    ("arm64", "v8", "arm64"),
    ("arm", "v7", "arm"),
    ("arm", "v6", "arm"),  # unknown to crossbox: shown as podman says
    ("sparc64", "", "sparc64"),
    ("", "", "?"),
])
def test_image_rows_arch_column(architecture: str, variant: str, shown: str) -> None:
    (row,) = listing.image_rows([image(("x:1",), architecture, variant)])
    assert row.arch == shown


def test_image_rows_one_row_per_name_sorted_and_unnamed_by_id() -> None:
    rows = listing.image_rows([
        image(("z:1", "a:1"), "s390x", id_="1" * 64),
        image((), "arm64", id_="abcdef0123456789" + "0" * 48),
    ])
    assert [r.name for r in rows] == ["<none>@abcdef012345", "a:1", "z:1"]


def test_container_rows_sorted_with_unknown_arch_shown() -> None:
    rows = listing.container_rows(podman.parse_ps((DATA / "ps-all.json").read_text()))
    assert [r.name for r in rows] == ["bb-arm64-arm64", "t1", "t2", "t4"]
    assert rows[0] == ContainerRow("bb-arm64-arm64", "arm64", "127.0.0.1:5555/bb:arm64-arm64",
                                   "running", "13 minutes ago", created_iso="2026-11-28T05:07:25Z")
    assert rows[1].arch == "?"


def fake_podman(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """podman images / image inspect answering from the recorded outputs.

    As podman 4.3.1 does, `podman image inspect ID ID` prints the image twice.
    """
    calls: list[list[str]] = []
    one = json.loads((DATA / "image-inspect.json").read_text())[0]

    def run(argv: list[str], **_: object) -> Completed:
        calls.append(list(argv))
        if argv[1] == "images":
            return Completed(tuple(argv), 0, (DATA / "images.json").read_text(), "")
        if argv[1:3] == ["image", "inspect"]:
            asked = argv[5:]
            out = [one for a in asked if a == one["Id"]]
            return Completed(tuple(argv), 0, json.dumps(out), "")
        raise AssertionError(argv)

    monkeypatch.setattr(podman, "run", run)
    return calls


def test_gather_images_lists_what_crossbox_pulled_and_what_its_containers_use_by_name_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from crossbox.host import owned

    pulled = {"127.0.0.1:5555/bb:arm64-arm64": IMAGE_ID, "q.io/replaced:1-arm64": "0" * 64}
    monkeypatch.setattr(owned, "load", lambda: owned.Record(dict(pulled)))
    infos = [image(("127.0.0.1:5555/bb:arm64-arm64", "localhost/bb:arm64"), "arm64", size=7, id_=IMAGE_ID),
             image(("q.io/replaced:1-arm64",), "arm64", id_="9" * 64),
             image(("q.io/used:2",), "s390x", id_="8" * 64)]
    asked: list[list[str]] = []
    monkeypatch.setattr(podman, "inspect_images", lambda names: asked.append(names) or infos)
    box = podman.ContainerInfo(id="c" * 64, name="box", image="q.io/used:2", state="exited", created="",
                               labels={"dev.crossbox.container": "true"})
    plain = podman.ContainerInfo(id="d" * 64, name="plain", image="docker.io/library/busybox:latest",
                                 state="exited", created="")
    rows = listing.gather_images([box, plain])
    assert [r.name for r in rows] == ["127.0.0.1:5555/bb:arm64-arm64", "q.io/used:2"]
    # Never another tag of the same image (localhost/bb:arm64), never a name that now holds
    # another image than the one crossbox pulled, never a plain container's image.
    assert asked == [["127.0.0.1:5555/bb:arm64-arm64", "q.io/replaced:1-arm64", "q.io/used:2"]]
