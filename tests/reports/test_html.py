"""The HTML report renders in headless Chromium: not blank, every case in the DOM."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.browser import dump_dom, require_chromium, screenshot
from tests.conftest import run_cli


def test_report_renders_every_case(tiny_gt: Path, tiny_controls: Path, tmp_path: Path) -> None:
    cand = tmp_path / "cand"
    shutil.copytree(tiny_gt, cand)
    (cand / "manifest.json").unlink()
    # A regressed candidate for one case: swap its mid frame for another case's.
    shutil.copy(tiny_gt / "tiny_two_stage_t2v_1gpu_frame_mid.png", cand / "tiny_one_stage_t2v_1gpu_frame_mid.png")
    for p in cand.glob("tiny_one_stage_t2v*.mp4"):
        p.unlink()
    out = tmp_path / "cmp"
    assert run_cli("compare", "--group", "tiny", "--gt", str(tiny_gt), "--candidate", str(cand),
                   "--out", str(out), "--clip-model", "none").returncode == 1
    assert run_cli("audit", "--controls", str(tiny_controls), "--group", "tiny", "--out", str(tmp_path / "aud"),
                   "--fail-on", "never").returncode == 0
    html_dir = tmp_path / "html"
    proc = run_cli("report", str(out / "results.json"), "--audit", str(tmp_path / "aud" / "audit.json"),
                   "--html", str(html_dir))
    assert proc.returncode == 0, proc.stderr
    page = (html_dir / "index.html").read_text()
    assert "http://" not in page and "https://" not in page  # nothing to fetch: works from file://
    require_chromium()
    shot = tmp_path / "shot.png"
    screenshot(html_dir / "index.html", shot, tmp_path / "profile1", "1200,1400")
    import cv2

    img = cv2.imread(str(shot))
    assert img is not None and img.shape[0] > 100
    assert img.std() > 20 and (img < 128).mean() > 0.01  # not a blank page
    dom = dump_dom(html_dir / "index.html", tmp_path / "profile2")
    for cid in ("tiny_one_stage_t2v", "tiny_two_stage_t2v", "tiny_hq_ti2v"):
        assert f'id="case-{cid}"' in dom
    assert "FAILED" in dom and dom.count("<img") >= 3


def test_curves_and_escaping_without_a_browser(tmp_path: Path) -> None:
    import math

    from gt_gen.reports.html import render
    from gt_gen.results import CaseResult, Results

    curve = [0.99, 0.97, None, 0.5, 0.98]
    res = CaseResult("vid", "video", "failed", message="<script>alert(1)</script>",
                     gates={"ssim": {"value": 0.9, "direction": ">="}},
                     worst={"ssim": 0.5}, curves={"ssim": curve, "psnr": [math.inf] * 5})
    page = render(Results([res], meta={"gt_source": "dir:<gt>"}), tmp_path)
    assert "<script>" not in page and "&lt;script&gt;" in page and "dir:&lt;gt&gt;" in page
    assert page.count("<svg") == 1  # an all-infinite PSNR curve has nothing to draw
    poly = page.split('points="')[1].split('"')[0].split()
    assert len(poly) == 4  # one point per finite frame value, the missing one left out
    assert 'stroke-dasharray="4"' in page  # the gate line
    ys = [float(p.split(",")[1]) for p in poly]
    assert ys[2] == max(ys)  # the 0.5 dip is drawn lowest (SVG y grows downward)


def test_audit_suggested_thresholds_are_shown(tmp_path: Path) -> None:
    """audit.md lists the suggested thresholds; the HTML report shows them too, beside the gate
    the run applied, for cases of the run and others alike (and escapes what it is given)."""
    from gt_gen.reports.html import render
    from gt_gen.results import CaseResult, Results

    gates = {"ssim": {"value": 0.92, "direction": ">="}, "psnr": {"value": 24.0, "direction": ">="}}
    res = Results([CaseResult("case_a", "video", "passed", gates=gates,
                              worst={"ssim": 0.99, "psnr": 40.0})], meta={})
    audit = {"findings": [], "meta": {"rule": "suggested = SSIM worst-0.04 <capped>"},
             "suggestions": {"case_a": {"ssim": 0.951, "psnr": 30.0},
                             "case_<b>": {"mean_abs_diff": 3.5}}}
    page = render(res, tmp_path, audit)
    assert "Suggested thresholds" in page and "id='suggestions'" in page
    row_a = next(ln for ln in page.splitlines() if ln.startswith("<tr data-suggestion='case_a'><td>case_a</td>"))
    assert "0.9510 (0.9200)" in row_a and "30.00 (24.00)" in row_a
    assert "case_&lt;b&gt;" in page and "3.5000" in page and "&lt;capped&gt;" in page
    assert "Suggested thresholds" not in render(res, tmp_path, {"findings": []})


def test_audit_rows_with_odd_fields_render_instead_of_crashing(tmp_path: Path) -> None:
    """A finding for a case of the run without a 'metric' key, and engine-distance verdicts
    that are lists or objects (audit.json is an input: it may come from another version), are
    shown as far as they can be, never an internal error."""
    from gt_gen.reports.html import render
    from gt_gen.results import CaseResult, Results

    res = Results([CaseResult("case_a", "video", "passed")], meta={})
    audit = {"findings": [{"severity": "error", "case_id": "case_a", "kind": "x", "message": "m<1>"}],
             "engine_distance": {"cases": [
                 {"case_id": "case_a", "status": "compared", "worst": {"ssim": 0.5}, "verdict": {"ssim": []}},
                 {"case_id": "case_b", "status": "compared", "worst": {"ssim": 0.5}, "verdict": {"psnr": {}}}]}}
    page = render(res, tmp_path, audit)
    assert "m&lt;1&gt;" in page and "case_b" in page
