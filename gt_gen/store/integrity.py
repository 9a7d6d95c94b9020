"""Every fetched GT file is checked against the folder's ``manifest.json`` where one exists.

A tampered or truncated file raises :class:`IntegrityError` and is never compared. A
manifest that does not list a file it sits beside is treated the same way: unverifiable.
"""

from __future__ import annotations

import hashlib
import json
import posixpath

from gt_gen.errors import IntegrityError
from gt_gen.store.source import GtSource, Presence

MANIFEST = "manifest.json"


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
                data = json.loads(self.source.read_bytes(rel).decode())
                files = data.get("files", {})
                if isinstance(data.get("cases"), dict) and not files:  # a generate manifest
                    files = {n: h for e in data["cases"].values() for n, h in e.get("files", {}).items()}
                self._manifests[folder] = {k: (v["sha256"] if isinstance(v, dict) else v)
                                           for k, v in files.items()}
        return self._manifests[folder]

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
