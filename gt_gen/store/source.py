"""Where GT is read from, behind one small interface.

A source answers three questions about repository-relative paths: is it present, missing,
or unknown (network trouble); what are its bytes; and which commit is it pinned to. Local
directories answer ``present``/``missing`` only; the HTTP source can also say ``unknown``,
which callers must never treat as ``missing`` or as a pass.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Protocol

from gt_gen.errors import InputFileError, MissingFileError


class Presence(enum.Enum):
    """Outcome of an existence probe."""

    PRESENT = "present"
    MISSING = "missing"
    UNKNOWN = "unknown"


class GtSource(Protocol):
    """Read-only access to a ci-data tree at one pinned revision."""

    #: Human-readable, credential-free description (recorded in results).
    description: str
    @property
    def commit(self) -> str | None:
        """The commit the source is pinned to, or None for a plain directory."""

    def probe(self, relpath: str) -> Presence: ...

    def read_bytes(self, relpath: str) -> bytes: ...


def safe_relpath(relpath: str) -> str:
    """Refuse absolute paths and ``..`` components (a source never escapes its root)."""
    parts = Path(relpath).parts
    if relpath.startswith("/") or ".." in parts or not parts:
        raise MissingFileError(f"refusing path outside the GT root: {relpath!r}")
    return "/".join(parts)


def regular_file(path: Path, what: str) -> bool:
    """True for a regular file (a symlink to one included), False where nothing is. Anything
    else where ``what`` belongs (a folder, a FIFO, a device, a dangling symlink) is an
    :class:`InputFileError`, not "missing": read as absent, a ``manifest.json`` that is a
    folder would leave the GT beside it unverified instead of refused, and a candidate mp4
    that is a folder would let the key-frame PNGs beside it be compared in its place."""
    if path.is_file():
        return True
    if os.path.lexists(path):
        kind = ("a dangling symlink" if path.is_symlink() and not path.exists() else
                "a folder" if path.is_dir() else "not a regular file")
        raise InputFileError(f"{path.name} is {kind}, where {what} belongs; refusing to compare", path=path)
    return False


class LocalDirSource:
    """A plain local directory (no commit)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise MissingFileError("GT directory not found", path=self.root)
        self.description = f"dir:{self.root}"
        self.commit: str | None = None

    def probe(self, relpath: str) -> Presence:
        return Presence.PRESENT if regular_file(self.root / safe_relpath(relpath), "a GT file") else Presence.MISSING

    def read_bytes(self, relpath: str) -> bytes:
        path = self.root / safe_relpath(relpath)
        if not path.is_file():
            raise MissingFileError("GT file not found", path=path)
        return path.read_bytes()
