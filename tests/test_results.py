"""results.json: fixed schema, explicit infinities, round trip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gt_gen.errors import ConfigError
from gt_gen.results import CaseResult, FrameResult, Results, read_results, write_results


def test_round_trip_with_inf(tmp_path: Path) -> None:
    r = Results(cases=[CaseResult("c", "video", "passed", worst={"psnr": math.inf, "ssim": 1.0},
                                  frames=[FrameResult("first", 0, {"psnr": math.inf}, {"psnr": True})])],
                meta={"gt_commit": "a" * 40})
    write_results(r, tmp_path / "results.json")
    raw = json.loads((tmp_path / "results.json").read_text())
    assert raw["schema_version"] == 1 and raw["cases"][0]["worst"]["psnr"] == "inf"
    assert raw["summary"]["passed"] == 1 and raw["summary"]["total"] == 1
    back = read_results(tmp_path / "results.json")
    assert back.cases[0].worst["psnr"] == math.inf and back.cases[0].frames[0].passed["psnr"] is True


def test_foreign_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text('{"cases": []}')
    with pytest.raises(ConfigError, match="schema_version"):
        read_results(tmp_path / "r.json")
