"""The content-addressed cache: pinned commits only, absences cached, corrupt blobs dropped."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gt_gen.store.cache import MISSING, BlobCache

C = "0123456789abcdef0123456789abcdef01234567"


def test_round_trip_and_dedup(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    cache.put("src", C, "a.png", b"one")
    cache.put("src", C, "b.png", b"one")  # same content: one blob
    sha = hashlib.sha256(b"one").hexdigest()
    assert cache.lookup("src", C, "a.png") == cache.lookup("src", C, "b.png") == sha
    assert cache.get(sha) == b"one"
    assert [p.name for p in (tmp_path / "blobs").iterdir()] == [sha]
    assert cache.lookup("other-src", C, "a.png") is None  # keyed by source too


def test_definitive_absence_is_cached(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    cache.put("src", C, "gone.png", None)
    assert cache.lookup("src", C, "gone.png") == MISSING


@pytest.mark.parametrize("ref", ["main", "v1.0", C[:12], C.upper()])
def test_only_full_commits_are_keys(tmp_path: Path, ref: str) -> None:
    with pytest.raises(ValueError, match="pinned commits"):
        BlobCache(tmp_path).put("src", ref, "a.png", b"x")


def test_corrupted_blob_is_dropped_not_returned(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    cache.put("src", C, "a.png", b"good bytes")
    sha = cache.lookup("src", C, "a.png")
    (tmp_path / "blobs" / sha).write_bytes(b"bad bytes!")
    assert cache.get(sha) is None
    assert not (tmp_path / "blobs" / sha).exists()
