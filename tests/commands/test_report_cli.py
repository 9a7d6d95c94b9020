"""``gt-gen report`` reads only inside the results folder, and checks its inputs first.

A results.json may be an artifact of another run: a ``diff_image`` or ``frames/<case>.png``
that leads out of the results folder (an absolute path, ``..``, a symlink) must never be
embedded (issue 11 §2: ``diff_image: /etc/hostname`` ended up base64 in the HTML).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np
import pytest

from gt_gen import cli
from gt_gen.results import CaseResult, Results, write_results

SECRET = b"\x89PNG\r\n\x1a\n secret bytes outside the results folder"


def _results(folder: Path, **kw: object) -> Path:
    return write_results(Results([CaseResult("c1", "video", "failed", "m", **kw)]), folder / "results.json")


def _png(path: Path) -> bytes:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 4, 3), 200, np.uint8)).save(path)
    return path.read_bytes()


def _report(results: Path, html: Path, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = cli.main(["report", str(results), "--html", str(html)])
    return code, capsys.readouterr().err


def test_an_image_inside_the_folder_is_embedded(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    res = tmp_path / "res"
    data = _png(res / "c1_diff.png")
    code, err = _report(_results(res, diff_image="c1_diff.png"), tmp_path / "html", capsys)
    assert code == 0, err
    assert base64.b64encode(data).decode() in (tmp_path / "html" / "index.html").read_text()


@pytest.mark.parametrize("how", ["frame_symlink", "diff_symlink", "dir_symlink"])
def test_a_symlink_out_of_the_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                how: str) -> None:
    res = tmp_path / "res"
    res.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "s.png").write_bytes(SECRET)
    if how == "frame_symlink":
        (res / "frames").mkdir()
        (res / "frames" / "c1.png").symlink_to(outside / "s.png")
        results = _results(res)
    elif how == "diff_symlink":
        (res / "c1_diff.png").symlink_to(outside / "s.png")
        results = _results(res, diff_image="c1_diff.png")
    else:
        (outside / "c1.png").write_bytes(SECRET)
        (res / "frames").symlink_to(outside)
        results = _results(res)
    code, err = _report(results, tmp_path / "html", capsys)
    assert code == 2 and "resolves outside" in err and "c1" in err
    assert not (tmp_path / "html").exists()


def test_an_absolute_diff_image_is_refused_before_reading(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    res = tmp_path / "res"
    results = _results(res)
    doc = json.loads(results.read_text())
    doc["cases"][0]["diff_image"] = str(tmp_path / "secret.png")
    (tmp_path / "secret.png").write_bytes(SECRET)
    results.write_text(json.dumps(doc))
    code, err = _report(results, tmp_path / "html", capsys)
    assert code == 2 and str(results) in err and "diff_image" in err
    assert not (tmp_path / "html").exists()


@pytest.mark.parametrize("kind", ["fifo", "directory", "text"])
def test_a_frame_that_is_not_a_png_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                   kind: str) -> None:
    res = tmp_path / "res"
    (res / "frames").mkdir(parents=True)
    f = res / "frames" / "c1.png"
    if kind == "fifo":
        os.mkfifo(f)  # never opened for a blocking read
    elif kind == "directory":
        f.mkdir()
    else:
        f.write_text("hostname\n")
    code, err = _report(_results(res), tmp_path / "html", capsys)
    assert code == 2 and "c1" in err and err.count("\n") == 1
    assert not (tmp_path / "html").exists()


def test_the_output_is_checked_before_rendering(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "html" / "index.html").mkdir(parents=True)
    code, err = _report(_results(tmp_path / "res"), tmp_path / "html", capsys)
    assert code == 2 and "index.html is a directory" in err


def test_a_gate_without_direction_renders(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Older results carry gates without 'direction': the report falls back to the metric's."""
    results = _results(tmp_path / "res", gates={"ssim": {"value": 0.9}, "mean_abs_diff": {"value": 8}},
                       worst={"ssim": 0.95, "mean_abs_diff": 9.0})
    code, err = _report(results, tmp_path / "html", capsys)
    page = (tmp_path / "html" / "index.html").read_text()
    assert code == 0, err
    assert "<td class='passed'>0.9500 (&gt;= 0.9000)</td>" in page
    assert "<td class='failed'>9.0000 (&lt;= 8.0000)</td>" in page
