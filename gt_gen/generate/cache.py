"""Where gt-gen keeps what it builds or downloads for generation, shared by every backend.

Why one place: tiny checkpoints (each backend's builder), memoised file digests and fetched
input images all live under ``$GT_GEN_CACHE`` (default ``~/.cache/gt-gen``), so that tests can
point one variable at a private folder and nothing else is touched. No heavy import here:
``cases``, ``fetch`` and the store use it too.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_root() -> Path:
    """``$GT_GEN_CACHE`` or ``~/.cache/gt-gen``."""
    return Path(os.environ.get("GT_GEN_CACHE", Path.home() / ".cache" / "gt-gen"))


def file_sha256(path: Path) -> str:
    """sha256 of a (possibly huge) file, memoised by (path, size, mtime) in the cache."""
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
    memo = cache_root() / "sha256" / key
    if memo.is_file():
        return memo.read_text().strip()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            h.update(chunk)
    digest = h.hexdigest()
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(digest)
    return digest


def hub_commit_of(path: Path) -> str | None:
    """The hub commit a cached file came from (``.../snapshots/<commit>/...``)."""
    from gt_gen.gitutil import COMMIT_RE

    parts = path.parts
    if "snapshots" in parts:
        i = parts.index("snapshots")
        if i + 1 < len(parts) and COMMIT_RE.match(parts[i + 1]):
            return parts[i + 1]
    return None
