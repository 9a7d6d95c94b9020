"""Atomic writes: all or nothing, never a partial file, normal permissions."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from gt_gen.atomic import atomic_path, write_json, write_text


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_modes_follow_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "g.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "g.txt").stat().st_mode & 0o777 == 0o644


def test_json_refuses_non_finite(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_json(tmp_path / "x.json", {"psnr": math.inf})
    assert not (tmp_path / "x.json").exists()
    write_json(tmp_path / "y.json", {"b": 1, "a": 2})
    assert list(json.loads((tmp_path / "y.json").read_text())) == ["a", "b"]
