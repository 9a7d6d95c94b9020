"""Names are names, never paths: anything ``safe_name``/``safe_relpath`` accept stays inside."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_gen.errors import ConfigError
from gt_gen.names import inside, safe_name, safe_relpath

PIECES = st.sampled_from(["..", ".", "/", "\\", "a", "b.png", "~", "\x00", " ", "-", "+", "%2e", ":"])
NAMES = st.lists(PIECES, min_size=1, max_size=6).map("".join) | st.text(max_size=20)


@settings(max_examples=400)
@given(NAMES)
def test_an_accepted_name_is_one_component_inside_the_root(name: str) -> None:
    try:
        safe_name(name, kind="platform")
    except ConfigError as exc:
        assert "platform" in str(exc)
        return
    root = Path("/srv/ci-data")
    joined = (root / name).resolve()
    assert joined.parent == root and "/" not in name and ".." not in name


@settings(max_examples=400)
@given(st.lists(NAMES, min_size=1, max_size=4).map("/".join))
def test_an_accepted_relpath_stays_inside_the_root(rel: str) -> None:
    try:
        safe_relpath(rel)
    except ConfigError:
        return
    root = Path("/srv/ci-data")
    assert root in (root / rel).resolve().parents


def test_inside_follows_symlinks(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path)
    with pytest.raises(ConfigError, match="resolves outside"):
        inside(tmp_path / "root", "link/secret")
    assert inside(tmp_path / "root", "a/b.png") == (tmp_path / "root" / "a" / "b.png").resolve()


@pytest.mark.parametrize("platform", ["../../x", "../x", "/etc", "a/b", ".hidden", "x\x00", ".."])
def test_publish_layout_refuses_a_platform_that_is_a_path(platform: str) -> None:
    from gt_gen.store.layout import folder

    with pytest.raises(ConfigError, match="platform"):
        folder("sglang_generated", platform)


@pytest.mark.parametrize("rel", [".", "a/./b", "a//b", "a/", "/a", "a/..", "a\\b"])
def test_relpaths_with_empty_or_dot_parts_are_refused(rel: str) -> None:
    with pytest.raises(ConfigError):
        safe_relpath(rel)
