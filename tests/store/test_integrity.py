"""Manifest integrity: tampered, truncated, unlisted files and unreadable manifests all refuse."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from gt_gen.errors import InputFileError, IntegrityError
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


@pytest.mark.parametrize("obj,why", [
    ([], "top level is a list"), (None, "top level is null"), (42, "top level is a number"),
    ({"files": ["a.png"]}, "'files' is a list"), ({"files": {"a.png": {"size": 1}}}, "a.png a sha256"),
    ({"cases": [1]}, "'cases' is a list"), ({"cases": {"c": "x"}}, "case 'c' is a string"),
    ({"cases": {"c": {"files": []}}}, "'cases.c.files' is a list"),
    ({"files": {"../x.png": SHA}}, "'../x.png', which is not a plain file name"),
    ({"files": {"/etc/passwd": SHA}}, "not a plain file name"),
    ({"files": {"a\x00b.png": SHA}}, "not a plain file name"),
    ({"files": {"a\nb.png": SHA}}, "not a plain file name"),
    ({"cases": {"../../x": {"files": {"a.png": SHA}}}}, "'../../x', which is not a case id"),
    ({"cases": {"c": {"files": {"a.png": SHA}}, "d": {"files": {"a.png": "0" * 64}}}},
     "a.png is listed twice with different sha256"),
])
def test_a_malformed_manifest_says_what_is_wrong(tmp_path: Path, obj: object, why: str) -> None:
    """Each fault named in words (not a Python exception's name), and the GT beside it refused."""
    with pytest.raises(IntegrityError, match="malformed manifest") as exc:
        parse_manifest(json.dumps(obj).encode(), "f/manifest.json")
    assert why in str(exc.value) and "Error" not in str(exc.value)
    with pytest.raises(IntegrityError):
        Verifier(folder(tmp_path, json.dumps(obj).encode()))("f/a.png", DATA)


def test_a_file_listed_twice_with_one_sha256_is_fine() -> None:
    obj = {"cases": {"c": {"files": {"a.png": SHA}}, "d": {"files": {"a.png": SHA}}, "e": {"files": None}}}
    assert parse_manifest(json.dumps(obj).encode(), "m") == {"a.png": SHA}


@pytest.mark.parametrize("kind", ["folder", "fifo", "dangling"])
def test_a_manifest_that_is_not_a_file_is_refused_not_ignored(tmp_path: Path, kind: str) -> None:
    """Read as absent, it would leave the (here tampered) GT beside it compared unverified."""
    src = folder(tmp_path, None)
    m = tmp_path / "gt" / "f" / "manifest.json"
    if kind == "folder":
        m.mkdir()
    elif kind == "fifo":
        os.mkfifo(m)
    else:
        m.symlink_to(tmp_path / "nowhere.json")
    with pytest.raises(InputFileError, match="manifest.json is (a folder|not a regular file|a dangling symlink)"):
        Verifier(src)("f/a.png", DATA)


def test_a_ci_data_layout_planted_beside_a_generate_manifest_is_refused(tmp_path: Path) -> None:
    """generate's folder keeps its manifest at the root; GT files in an unlisted ci-data folder
    beside it (looked up first) must not be compared unverified."""
    root = tmp_path / "gt"
    planted = root / "diffusion-ci" / "consistency_gt" / "sglang_generated"
    planted.mkdir(parents=True)
    (planted / "a.png").write_bytes(b"planted")
    (root / "manifest.json").write_text(json.dumps({"cases": {"c": {"files": {"a.png": SHA}}}}))
    with pytest.raises(IntegrityError, match="manifest.json exists"):
        Verifier(LocalDirSource(root))("diffusion-ci/consistency_gt/sglang_generated/a.png", b"planted")
