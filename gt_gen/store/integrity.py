"""Every fetched GT file is checked against the folder's ``manifest.json`` where one exists.

A tampered or truncated file raises :class:`IntegrityError` and is never compared. A
manifest that does not list a file it sits beside is treated the same way: unverifiable.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from typing import Any

from gt_gen.errors import IntegrityError
from gt_gen.store.source import GtSource, Presence

MANIFEST = "manifest.json"


def parse_manifest(data: bytes, where: str) -> dict[str, str]:
    """File name -> sha256 from a publish manifest (``files``) or a generate manifest
    (``cases.*.files``). A manifest that cannot be read makes every file beside it
    unverifiable, so it is an :class:`IntegrityError`, never a silent skip."""
    try:
        obj: Any = json.loads(data.decode("utf-8"))
        files = obj.get("files", {})
        if isinstance(obj.get("cases"), dict) and not files:  # a generate manifest
            files = {n: h for e in obj["cases"].values() for n, h in e.get("files", {}).items()}
        listed = {str(k): (v["sha256"] if isinstance(v, dict) else v) for k, v in files.items()}
    except (UnicodeDecodeError, ValueError, AttributeError, KeyError, TypeError) as exc:
        raise IntegrityError(f"unreadable manifest ({type(exc).__name__}); cannot verify the GT "
                             "beside it, refusing to compare", path=where) from exc
    if not all(isinstance(v, str) and len(v) == 64 for v in listed.values()):
        raise IntegrityError("manifest lists a sha256 that is not 64 hex digits; refusing to "
                             "compare", path=where)
    return listed


class Verifier:
    """Callable ``(relpath, data)`` that raises on a mismatch; caches manifests per folder."""

    def __init__(self, source: GtSource) -> None:
        self.source = source
        self._manifests: dict[str, dict[str, str] | None] = {}

    def _manifest(self, folder: str) -> dict[str, str] | None:
        if folder not in self._manifests:
            rel = posixpath.join(folder, MANIFEST) if folder else MANIFEST
            if self.source.probe(rel) is not Presence.PRESENT:
                self._manifests[folder] = None
            else:
                self._manifests[folder] = parse_manifest(self.source.read_bytes(rel), rel)
        return self._manifests[folder]

    def read(self, relpath: str) -> bytes:
        """The bytes of ``relpath`` from the source, checked against its manifest: the one way
        GT is read for comparing or fetching."""
        data = self.source.read_bytes(relpath)
        self(relpath, data)
        return data

    def __call__(self, relpath: str, data: bytes) -> None:
        folder, name = posixpath.split(relpath)
        listed = self._manifest(folder)
        if listed is None:
            return
        if name not in listed:
            raise IntegrityError(f"{relpath} is not listed in {folder or '.'}/{MANIFEST}; "
                                 "cannot verify it, refusing to compare", path=relpath)
        digest = hashlib.sha256(data).hexdigest()
        if digest != listed[name]:
            raise IntegrityError(f"{relpath}: sha256 {digest[:12]}… does not match the manifest "
                                 f"({listed[name][:12]}…): tampered or truncated, not compared",
                                 path=relpath)
