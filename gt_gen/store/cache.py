"""Content-addressed cache of GT files at pinned commits.

Blobs live under ``blobs/<sha256>``; an index maps (source, commit, path) to a blob's
sha256. Only commits are ever keys: a branch is resolved to a commit before anything is
cached. That is what lets a second fetch at the same commit make no network request.

Only *positive* answers are cached. A 404 is not: a CDN that has not yet seen a fresh
commit answers 404 for a while, and remembering that would turn a transient miss into a
permanent one. Every blob read back is re-hashed (a corrupted blob is dropped, never
returned), and an entry whose bytes fail a manifest check is evicted (:meth:`evict`), so
the next run downloads it again instead of failing on the same bad copy forever.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from gt_gen.atomic import write_bytes
from gt_gen.gitutil import COMMIT_RE

SHA_LEN = 64


class BlobCache:
    """``root/blobs/<sha256>`` plus ``root/index/<key>.json`` records."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def _key(source: str, commit: str, path: str) -> str:
        if not COMMIT_RE.match(commit):
            raise ValueError(f"only pinned commits are cached, not {commit!r}")
        return hashlib.sha256(f"{source}\0{commit}\0{path}".encode()).hexdigest()

    def _record(self, source: str, commit: str, path: str) -> Path:
        return self.root / "index" / f"{self._key(source, commit, path)}.json"

    def lookup(self, source: str, commit: str, path: str) -> str | None:
        """The recorded sha256 of the file, or None if not cached.

        A record that cannot be read, or one left by an older gt-gen that cached absences,
        counts as not cached (and is dropped): the cache never answers "missing"."""
        rec = self._record(source, commit, path)
        if not rec.is_file():
            return None
        try:
            sha = json.loads(rec.read_bytes().decode("utf-8"))["sha256"]
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
            sha = None
        if not (isinstance(sha, str) and len(sha) == SHA_LEN and all(c in "0123456789abcdef" for c in sha)):
            with contextlib.suppress(OSError):
                rec.unlink()
            return None
        return sha

    def get(self, sha: str) -> bytes | None:
        blob = self.root / "blobs" / sha
        if not blob.is_file():
            return None
        data = blob.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            blob.unlink(missing_ok=True)  # corrupted in the cache: refetch
            return None
        return data

    def put(self, source: str, commit: str, path: str, data: bytes) -> None:
        """Record ``data`` for the key (only files that exist are ever cached)."""
        sha = hashlib.sha256(data).hexdigest()
        if not (self.root / "blobs" / sha).is_file():
            write_bytes(self.root / "blobs" / sha, data)
        write_bytes(self._record(source, commit, path),
                    json.dumps({"source": source, "commit": commit, "path": path,
                                "sha256": sha}).encode())

    def evict(self, source: str, commit: str, path: str) -> Path | None:
        """Drop the entry (index record and its blob); the path of the record, if there was one."""
        rec = self._record(source, commit, path)
        sha = self.lookup(source, commit, path)
        if sha is None:
            return None
        with contextlib.suppress(OSError):
            rec.unlink()
        with contextlib.suppress(OSError):
            (self.root / "blobs" / sha).unlink()
        return rec
