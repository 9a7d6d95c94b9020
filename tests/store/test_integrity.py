"""Manifest integrity: tampered, truncated, unlisted files and unreadable manifests all refuse."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gt_gen.errors import IntegrityError
from gt_gen.store.integrity import Verifier, parse_manifest
from gt_gen.store.source import LocalDirSource

DATA = b"\x89PNG key frame bytes"
SHA = hashlib.sha256(DATA).hexdigest()


def folder(tmp_path: Path, manifest: object | bytes | None) -> LocalDirSource:
    d = tmp_path / "gt" / "f"
    d.mkdir(parents=True)
    (d / "a.png").write_bytes(DATA)
    if manifest is not None:
        raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
        (d / "manifest.json").write_bytes(raw)
    return LocalDirSource(tmp_path / "gt")


def test_publish_and_generate_manifests_verify(tmp_path: Path) -> None:
    Verifier(folder(tmp_path / "p", {"files": {"a.png": {"sha256": SHA, "case": "c"}}}))("f/a.png", DATA)
    Verifier(folder(tmp_path / "g", {"cases": {"c": {"files": {"a.png": SHA}}}}))("f/a.png", DATA)


def test_no_manifest_means_nothing_to_verify(tmp_path: Path) -> None:
    Verifier(folder(tmp_path, None))("f/a.png", DATA)


@pytest.mark.parametrize("data", [DATA[:-3], DATA + b"!", b"X" + DATA[1:]], ids=["truncated", "appended", "tampered"])
def test_changed_bytes_are_refused(tmp_path: Path, data: bytes) -> None:
    v = Verifier(folder(tmp_path, {"files": {"a.png": SHA}}))
    with pytest.raises(IntegrityError, match="does not match the manifest"):
        v("f/a.png", data)


def test_unlisted_file_is_refused(tmp_path: Path) -> None:
    v = Verifier(folder(tmp_path, {"files": {"b.png": SHA}}))
    with pytest.raises(IntegrityError, match="not listed"):
        v("f/a.png", DATA)


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", json.dumps(["a"]).encode(),
                                 json.dumps({"files": {"a.png": {"size": 3}}}).encode(),
                                 json.dumps({"files": {"a.png": "abc"}}).encode()],
                         ids=["syntax", "binary", "list", "no-sha", "short-sha"])
def test_unreadable_manifest_is_an_integrity_error(tmp_path: Path, raw: bytes) -> None:
    with pytest.raises(IntegrityError, match="manifest"):
        parse_manifest(raw, "f/manifest.json")
    with pytest.raises(IntegrityError):
        Verifier(folder(tmp_path, raw))("f/a.png", DATA)
