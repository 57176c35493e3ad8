"""Property: name resolution never crashes and never yields a name podman would refuse."""

from __future__ import annotations

from crossbox.host.errors import InvalidInput
from crossbox.host.images import check_container_name, parse_image, resolve
from crossbox.host.osrelease import OsRelease
from crossbox.shared.arch import ARCHITECTURES, parse_arch
from hypothesis import given, settings
from hypothesis import strategies as st

SPELLINGS = [s for a in ARCHITECTURES for s in a.spellings()]
TAG_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-ABC", min_size=1, max_size=40)
ARCH_TEXT = st.one_of(st.sampled_from(SPELLINGS), st.sampled_from([s.upper() for s in SPELLINGS]), st.text(max_size=12))


@settings(max_examples=400)
@given(arch=st.one_of(st.none(), ARCH_TEXT), tag=TAG_TEXT, known=st.booleans(),
       host=st.sampled_from(list(ARCHITECTURES)))
def test_resolution_gives_valid_names_or_invalid_input(arch: str | None, tag: str, known: bool, host: object) -> None:
    repo = "registry.fedoraproject.org/fedora-toolbox" if known else "127.0.0.1:5000/some/img"
    try:
        target = resolve(host=host, osr=OsRelease(id="fedora", version_id="42"),  # type: ignore[arg-type]
                         image=f"{repo}:{tag}", arch=arch)
    except InvalidInput as exc:
        assert exc.message and "\n" not in exc.message
        return
    assert check_container_name(target.container) == target.container
    assert parse_image(str(target.local)) == target.local
    assert target.native == (target.arch == host)
    if arch is not None:
        assert target.arch == parse_arch(arch)
    if not target.native:
        assert target.local != target.remote or target.remote.tag.endswith(tuple(target.arch.spellings()))
        assert target.container.endswith(f"-{target.arch.suffix}")
