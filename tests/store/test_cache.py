"""The content-addressed cache: pinned commits only, no negative answers, corrupt blobs
dropped, entries that fail verification evicted (with the message saying so)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gt_gen.errors import IntegrityError
from gt_gen.store.cache import BlobCache
from gt_gen.store.http_source import HttpSource
from gt_gen.store.integrity import Verifier
from gt_gen.store.source import Presence
from tests.store.loopback import Loopback

C = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def srv():
    s = Loopback()
    yield s
    s.close()


def test_round_trip_and_dedup(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    cache.put("src", C, "a.png", b"one")
    cache.put("src", C, "b.png", b"one")  # same content: one blob
    sha = hashlib.sha256(b"one").hexdigest()
    assert cache.lookup("src", C, "a.png") == cache.lookup("src", C, "b.png") == sha
    assert cache.get(sha) == b"one"
    assert [p.name for p in (tmp_path / "blobs").iterdir()] == [sha]
    assert cache.lookup("other-src", C, "a.png") is None  # keyed by source too


def test_absence_cannot_be_cached_and_old_negative_records_are_ignored(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    with pytest.raises(TypeError):
        cache.put("src", C, "gone.png", None)  # type: ignore[arg-type]
    # A record left by an older gt-gen that cached a 404 reads as "not cached", and is dropped.
    rec = cache._record("src", C, "gone.png")
    rec.parent.mkdir(parents=True, exist_ok=True)
    rec.write_text(json.dumps({"sha256": "missing"}))
    assert cache.lookup("src", C, "gone.png") is None
    assert not rec.exists()


@pytest.mark.parametrize("ref", ["main", "v1.0", C[:12], C.upper()])
def test_only_full_commits_are_keys(tmp_path: Path, ref: str) -> None:
    with pytest.raises(ValueError, match="pinned commits"):
        BlobCache(tmp_path).put("src", ref, "a.png", b"x")


def test_corrupted_blob_is_dropped_not_returned(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    cache.put("src", C, "a.png", b"good bytes")
    sha = cache.lookup("src", C, "a.png")
    assert sha is not None
    (tmp_path / "blobs" / sha).write_bytes(b"bad bytes!")
    assert cache.get(sha) is None
    assert not (tmp_path / "blobs" / sha).exists()


def _source(srv: Loopback, cache_dir: Path) -> HttpSource:
    return HttpSource(srv.base, C, cache=BlobCache(cache_dir), timeout=0.5, attempts=2,
                      backoff=0.0, sleep=lambda s: None)


def test_a_transient_404_is_not_remembered(srv: Loopback, tmp_path: Path) -> None:
    """A CDN that has not yet seen a fresh commit answers 404; once it has, the file is found."""
    first = _source(srv, tmp_path / "c")
    assert first.probe("f/a.png") is Presence.MISSING
    srv.script.files[f"/{C}/f/a.png"] = b"now there"
    again = _source(srv, tmp_path / "c")
    assert again.probe("f/a.png") is Presence.PRESENT
    assert again.read_bytes("f/a.png") == b"now there"


def test_entry_failing_verification_is_evicted_and_redownloaded(srv: Loopback, tmp_path: Path) -> None:
    good = b"\x89PNG the real frame"
    manifest = json.dumps({"files": {"a.png": hashlib.sha256(good).hexdigest()}}).encode()
    srv.script.files[f"/{C}/f/manifest.json"] = manifest
    srv.script.files[f"/{C}/f/a.png"] = good
    cache_dir = tmp_path / "c"
    # The cache holds bad bytes for the file (a tampered or stale entry, content-consistent).
    BlobCache(cache_dir).put(srv.base, C, "f/a.png", b"\x89PNG a stale frame")
    src = _source(srv, cache_dir)
    with pytest.raises(IntegrityError) as exc:
        Verifier(src).read("f/a.png")
    msg = exc.value.one_line()
    assert "does not match the manifest" in msg and "cache" in msg and "evicted" in msg
    assert str(cache_dir) in msg
    assert BlobCache(cache_dir).lookup(srv.base, C, "f/a.png") is None
    # The next run downloads the file again and it verifies.
    before = srv.script.requests[f"/{C}/f/a.png"]
    assert Verifier(_source(srv, cache_dir)).read("f/a.png") == good
    assert srv.script.requests[f"/{C}/f/a.png"] == before + 1
    # ... and a third run is served from the (now good) cache without a request.
    assert Verifier(_source(srv, cache_dir)).read("f/a.png") == good
    assert srv.script.requests[f"/{C}/f/a.png"] == before + 1


def test_fresh_download_failing_verification_does_not_claim_it_came_from_the_cache(srv: Loopback,
                                                                                  tmp_path: Path) -> None:
    srv.script.files[f"/{C}/f/manifest.json"] = json.dumps({"files": {"a.png": "0" * 64}}).encode()
    srv.script.files[f"/{C}/f/a.png"] = b"bytes"
    with pytest.raises(IntegrityError) as exc:
        Verifier(_source(srv, tmp_path / "c")).read("f/a.png")
    msg = exc.value.one_line()
    assert "came from" not in msg and "copy" in msg and "evicted" in msg  # cached on download


def test_bad_bytes_just_downloaded_are_not_served_to_the_next_run(srv: Loopback, tmp_path: Path) -> None:
    """The source answered once with something else (an HTML error page with status 200): it
    was cached as downloaded, failed verification, and must be evicted then, not served from
    the cache to the next run (which failed again without asking the source)."""
    good = b"\x89PNG the real frame"
    srv.script.files[f"/{C}/f/manifest.json"] = json.dumps(
        {"files": {"a.png": hashlib.sha256(good).hexdigest()}}).encode()
    srv.script.files[f"/{C}/f/a.png"] = b"<html>rate limited</html>"
    cache_dir = tmp_path / "c"
    with pytest.raises(IntegrityError, match="evicted"):
        Verifier(_source(srv, cache_dir)).read("f/a.png")
    assert BlobCache(cache_dir).lookup(srv.base, C, "f/a.png") is None
    srv.script.files[f"/{C}/f/a.png"] = good
    assert Verifier(_source(srv, cache_dir)).read("f/a.png") == good
