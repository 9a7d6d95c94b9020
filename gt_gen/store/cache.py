"""Content-addressed cache of GT files at pinned commits.

Blobs live under ``blobs/<sha256>``; an index maps (source, commit, path) to a blob's
sha256, or to ``missing`` — at a pinned commit a definitive 404 can never change, so it is
cached too. That is what lets a second fetch at the same commit make no network request.
Only commits are ever keys: a branch is resolved to a commit before anything is cached.
Every blob read back is re-hashed; a corrupted blob is dropped, never returned.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from gt_gen.atomic import write_bytes
from gt_gen.gitutil import COMMIT_RE

MISSING = "missing"


class BlobCache:
    """``root/blobs/<sha256>`` plus ``root/index/<key>.json`` records."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def _key(source: str, commit: str, path: str) -> str:
        if not COMMIT_RE.match(commit):
            raise ValueError(f"only pinned commits are cached, not {commit!r}")
        return hashlib.sha256(f"{source}\0{commit}\0{path}".encode()).hexdigest()

    def lookup(self, source: str, commit: str, path: str) -> str | None:
        """The recorded sha256 (or ``'missing'``), or None if never seen."""
        rec = self.root / "index" / f"{self._key(source, commit, path)}.json"
        if not rec.is_file():
            return None
        return json.loads(rec.read_text())["sha256"]

    def get(self, sha: str) -> bytes | None:
        blob = self.root / "blobs" / sha
        if not blob.is_file():
            return None
        data = blob.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            blob.unlink(missing_ok=True)  # corrupted in the cache: refetch
            return None
        return data

    def put(self, source: str, commit: str, path: str, data: bytes | None) -> None:
        """Record ``data`` (or, with None, a definitive absence) for the key."""
        sha = MISSING
        if data is not None:
            sha = hashlib.sha256(data).hexdigest()
            if not (self.root / "blobs" / sha).is_file():
                write_bytes(self.root / "blobs" / sha, data)
        rec = self.root / "index" / f"{self._key(source, commit, path)}.json"
        write_bytes(rec, json.dumps({"source": source, "commit": commit, "path": path,
                                     "sha256": sha}).encode())
