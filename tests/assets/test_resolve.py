"""Generation's one way to an input's bytes: a pinned local copy, re-hashed at use."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gt_gen.assets.case_inputs import inputs_of, pin_command, url_inputs
from gt_gen.assets.lock import Lock, Pin, write_lock
from gt_gen.assets.resolve import local_input
from gt_gen.cases import load_registry
from gt_gen.errors import ConfigError, IntegrityError, MissingFileError
from tests.assets.image_server import image_bytes, ltx_case

URL = "https://h.example/cond.png"
DATA = image_bytes("PNG", size=(64, 64), seed=5)


def _cases(tmp_path: Path, pinned: bool = True) -> Path:
    (tmp_path / "g.toml").write_text(ltx_case("ltx_v", URL))
    if pinned:
        assets = tmp_path / "assets"
        assets.mkdir()
        (assets / "cond-x.png").write_bytes(DATA)
        write_lock(Lock(assets, {URL: Pin(
            url=URL, file="cond-x.png", sha256=hashlib.sha256(DATA).hexdigest(),
            size_bytes=len(DATA), pinned_at="2026-01-02T03:04:05Z", format="PNG", width=64,
            height=64, served_from=URL, path=assets / "cond-x.png")}))
    return tmp_path


def test_a_pinned_url_input_is_its_local_copy(tmp_path: Path) -> None:
    case = load_registry(_cases(tmp_path)).get("ltx_v")
    assert url_inputs(case) == [URL] and [r.field for r in inputs_of(case)] == ["request.image"]
    got = local_input(case, url=URL, what="conditioning image")
    assert got.data == DATA and got.path == tmp_path / "assets" / "cond-x.png"
    assert got.record()["pin"]["url"] == URL and got.record()["file"] == "cond-x.png"


@pytest.mark.parametrize("damage, cls, message", [
    (lambda p: p.write_bytes(DATA + b"x"), IntegrityError, "changed after pinning"),
    (lambda p: p.unlink(), MissingFileError, "missing"),
    (lambda p: (p.unlink(), p.mkdir()), IntegrityError, "is a directory"),
    (lambda p: (p.unlink(), p.symlink_to("/etc/hostname")), IntegrityError, "resolves outside"),
])
def test_a_damaged_pinned_copy_stops_the_case(tmp_path: Path, damage, cls: type,
                                              message: str) -> None:
    case = load_registry(_cases(tmp_path)).get("ltx_v")
    damage(tmp_path / "assets" / "cond-x.png")
    with pytest.raises(cls, match=message) as err:
        local_input(case, url=URL, what="conditioning image")
    line = err.value.one_line()
    assert "ltx_v" in line and "conditioning image cond-x.png" in line
    assert f"gt-gen assets pin --case ltx_v --cases {tmp_path} --force" in line


def test_an_unpinned_url_names_the_command(tmp_path: Path) -> None:
    case = load_registry(_cases(tmp_path, pinned=False)).get("ltx_v")
    with pytest.raises(ConfigError, match=f"run `gt-gen assets pin --case ltx_v --cases {tmp_path}`"):
        local_input(case, url=URL, what="conditioning image")
    official = load_registry().get("ltx_2.3_one_stage_ti2v")
    assert pin_command(official) == "gt-gen assets pin --case ltx_2.3_one_stage_ti2v"
    with pytest.raises(ConfigError, match="gt-gen assets pin --case ltx_2.3_one_stage_ti2v` once"):
        local_input(official, url=official.request.image.url, what="conditioning image")


def test_a_file_pinned_in_the_case_is_checked_too(tmp_path: Path) -> None:
    case = load_registry(_cases(tmp_path, pinned=False)).get("ltx_v")
    (tmp_path / "in.png").write_bytes(DATA)
    sha = hashlib.sha256(DATA).hexdigest()
    assert local_input(case, path="in.png", sha256=sha).data == DATA
    with pytest.raises(IntegrityError, match="does not match the pinned"):
        local_input(case, path="in.png", sha256="0" * 64)
    with pytest.raises(MissingFileError, match="not found"):
        local_input(case, path="gone.png", sha256=sha)
    with pytest.raises(ConfigError, match="a name, not a path"):
        local_input(case, path="../in.png", sha256=sha)
