"""Open a GT source from a command line's ``--source``/``--ref`` (kind auto-detected)."""

from __future__ import annotations

from pathlib import Path

from gt_gen.errors import UsageError
from gt_gen.store.source import GtSource, LocalDirSource

KINDS = ("auto", "dir", "git", "http")


def detect_kind(spec: str, ref: str | None = None) -> str:
    """http for URLs, git for remotes and bare repositories, and for a checkout only when a
    ref is asked for (a checkout without --ref is read as the directory it is)."""
    if spec.startswith(("http://", "https://")) and not spec.endswith(".git"):
        return "http"
    if spec.startswith(("git@", "ssh://", "git://", "file://")) or spec.endswith(".git"):
        return "git"
    p = Path(spec)
    if p.is_dir() and (p / "HEAD").is_file() and (p / "objects").is_dir():
        return "git"
    if p.is_dir() and (p / ".git").exists() and ref:
        return "git"
    return "dir"


def open_source(kind: str, spec: str, ref: str | None) -> GtSource:
    """A :class:`GtSource` for ``spec``; git and http need ``ref``."""
    from gt_gen.generate.cache import cache_root
    from gt_gen.store.cache import BlobCache

    if kind not in KINDS:
        raise UsageError(f"unknown source kind {kind!r}; use one of {list(KINDS)}")
    kind = detect_kind(spec, ref) if kind == "auto" else kind
    if kind == "dir":
        return LocalDirSource(spec)
    if not ref:
        raise UsageError(f"a {kind} source needs --ref (a commit, or for git a branch/tag)")
    if kind == "git":
        from gt_gen.store.git_source import GitSource

        return GitSource(spec, ref, cache_root())
    from gt_gen.store.http_source import HttpSource

    return HttpSource(spec, ref, cache=BlobCache(cache_root() / "http"))
