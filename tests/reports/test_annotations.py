"""GitHub ``::error`` lines: only for non-passing cases, one physical line each, only on Actions."""

from __future__ import annotations

import pytest

from gt_gen.reports.annotations import lines, on_actions
from gt_gen.results import CaseResult, Results


def test_lines_escape_and_skip_passes() -> None:
    res = Results([CaseResult("ok", "video", "passed"),
                   CaseResult("bad", "video", "failed", message="ssim 50% lower\nsee report\r")])
    out = lines(res)
    assert out == ["::error title=gt-gen bad::failed: ssim 50%25 lower%0Asee report%0D"]


def test_on_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert not on_actions()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert on_actions()
