"""Source kinds are detected from the spec, and git/http sources insist on a ref."""

from __future__ import annotations

from pathlib import Path

import pytest

from gt_gen import gitutil
from gt_gen.errors import MissingFileError, UsageError
from gt_gen.store.source import LocalDirSource, Presence, safe_relpath
from gt_gen.store.sources import detect_kind, open_source


def test_detect_kind(tmp_path: Path) -> None:
    assert detect_kind("https://raw.githubusercontent.com/o/r") == "http"
    assert detect_kind("https://github.com/o/r.git") == "git"
    assert detect_kind("git@github.com:o/r.git") == "git"
    assert detect_kind("file:///x/y") == "git"
    bare = tmp_path / "ci-data"
    gitutil.git("init", "-q", "--bare", str(bare))
    assert detect_kind(str(bare)) == "git"
    work = tmp_path / "work"
    gitutil.git("init", "-q", str(work))
    assert detect_kind(str(work)) == "dir"  # a checkout is read as it is...
    assert detect_kind(str(work), "abc") == "git"  # ...unless a ref is asked for
    assert detect_kind(str(tmp_path / "plain")) == "dir"


def test_git_and_http_need_a_ref_and_kinds_are_checked(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs --ref"):
        open_source("http", "https://example.invalid/ci-data", None)
    with pytest.raises(UsageError, match="unknown source kind"):
        open_source("svn", str(tmp_path), None)
    assert isinstance(open_source("auto", str(tmp_path), None), LocalDirSource)


def test_local_dir_never_escapes_its_root(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "secret.png").write_bytes(b"x")
    src = LocalDirSource(tmp_path / "root")
    for bad in ("../secret.png", "/etc/passwd", ""):
        with pytest.raises(MissingFileError, match="outside the GT root"):
            safe_relpath(bad)
    assert src.probe("a/b.png") is Presence.MISSING
    with pytest.raises(MissingFileError):
        src.read_bytes("a/b.png")
    with pytest.raises(MissingFileError, match="not found"):
        LocalDirSource(tmp_path / "nope")
