"""The Markdown summary: one row per case, worst values against gates, not-evaluated shown."""

from __future__ import annotations

import math

from gt_gen.reports.markdown import fmt, render
from gt_gen.results import CaseResult, Results

GATES = {"ssim": {"value": 0.89, "direction": ">="}, "psnr": {"value": 24.0, "direction": ">="},
         "mean_abs_diff": {"value": 10.0, "direction": "<="}, "clip": {"value": 0.9, "direction": ">="}}


def test_render() -> None:
    ok = CaseResult("ltx_a", "video", "passed", gates=GATES,
                    worst={"ssim": 1.0, "psnr": math.inf, "mean_abs_diff": 0.0, "clip": None},
                    message="CLIP gate not evaluated (model unavailable)")
    bad = CaseResult("ltx_b", "video", "failed", gates=GATES, message="gate failed: a|b",
                     worst={"ssim": 0.5, "psnr": 12.345, "mean_abs_diff": 30.0, "clip": 0.95})
    gone = CaseResult("ltx_c", "video", "missing_gt", message="no GT")
    md = render(Results([ok, bad, gone], meta={"gt_source": "git:ci-data", "gt_commit": "abc",
                                               "platform": "h100"}))
    lines = md.splitlines()
    assert lines[0] == "## gt-gen consistency"
    assert "**1/3 passed**" in md and "`abc`" in md and "`h100`" in md
    rows = [ln for ln in lines if ln.startswith("| `")]
    assert len(rows) == 3
    assert "∞ (>= 24.0000)" not in rows[0] and "∞ (>= 24.00)" in rows[0]
    assert "not evaluated (gate >= 0.9000)" in rows[0]
    assert "❌ failed" in rows[1] and "0.5000 (>= 0.8900)" in rows[1] and "a/b" in rows[1]  # pipe escaped
    assert "❌ missing GT" in rows[2] and "–" in rows[2]
    header = next(ln for ln in lines if ln.startswith("| case |"))
    assert all(r.count("|") == header.count("|") for r in rows)  # table stays rectangular


def test_fmt() -> None:
    assert fmt(None) == "n/a" and fmt(-math.inf) == "-∞" and fmt(0.12345) == "0.1235" and fmt(31.0) == "31.00"
