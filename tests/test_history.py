"""History: one row per case x run x metric; re-imports are idempotent; filters work."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from gt_gen import history
from gt_gen.errors import ConfigError
from gt_gen.results import CaseResult, Results, write_results


def run(created: str, ssim: float, platform: str = "h100", psnr: float = 30.0) -> Results:
    case = CaseResult("c1", "video", "passed", worst={"ssim": ssim, "psnr": psnr, "mean_abs_diff": 2.0,
                                                       "clip": None},
                      gates={"ssim": {"value": 0.9}, "psnr": {"value": 24.0}})
    return Results([case], meta={"created": created, "platform": platform, "gt_commit": "a" * 40,
                                 "engine_ref": "main"})


def test_rows_per_metric_and_idempotent_import(tmp_path: Path) -> None:
    db = tmp_path / "h" / "history.sqlite"
    f = write_results(run("2026-01-01T00:00:00", 0.95), tmp_path / "r1.json")
    assert history.import_files(db, [f]) == 1
    assert history.import_files(db, [f, f]) == 0  # same content, recorded once
    con = sqlite3.connect(db)
    rows = con.execute("SELECT metric, worst, gate, status FROM measurements ORDER BY metric").fetchall()
    assert [r[0] for r in rows] == sorted(["clip", "ssim", "psnr", "mean_abs_diff"])
    assert ("ssim", 0.95, 0.9, "passed") in rows
    assert ("clip", None, None, "passed") in rows  # an unavailable metric is kept as NULL, not 0
    assert con.execute("SELECT gt_commit, engine_ref FROM runs").fetchone() == ("a" * 40, "main")


def test_observations_newest_first_limited_and_by_platform(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    for day, s in ((1, 0.91), (2, 0.92), (3, 0.93)):
        history.record_results(db, run(f"2026-01-0{day}T00:00:00", s))
    history.record_results(db, run("2026-01-04T00:00:00", 0.5, platform="h200"))
    assert history.observations(db, "c1", "ssim", platform="h100") == [0.93, 0.92, 0.91]
    assert history.observations(db, "c1", "ssim", last=2) == [0.5, 0.93]
    assert history.observations(db, "c1", "clip") == []  # NULLs are never observations
    assert history.observations(db, "other", "ssim") == []
    assert history.measured_cases(db) == {"c1"}


def test_infinite_psnr_survives_the_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    f = write_results(run("2026-01-01T00:00:00", 1.0, psnr=math.inf), tmp_path / "r.json")
    history.import_files(db, [f])
    assert history.observations(db, "c1", "psnr") == [math.inf]


def test_import_of_a_malformed_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "cases": [{"case_id": "c"}]}')
    with pytest.raises(ConfigError, match="malformed case entry"):
        history.import_files(tmp_path / "h.sqlite", [bad])
