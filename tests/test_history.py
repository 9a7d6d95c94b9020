"""History: one row per case x run x metric; re-imports are idempotent; filters work."""

from __future__ import annotations

import math
import os
import sqlite3
from pathlib import Path

import pytest

from gt_gen import history
from gt_gen.errors import ConfigError, MissingFileError
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


def _other_schema(p: Path) -> None:
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE users (name TEXT)")
    con.commit()
    con.close()


def _old_columns(p: Path) -> None:
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE runs (run_key TEXT)")
    con.execute("CREATE TABLE measurements (run_key TEXT)")
    con.commit()
    con.close()


BAD_DBS = {
    "directory": lambda p: p.mkdir(),
    "fifo": lambda p: os.mkfifo(p),
    "text": lambda p: p.write_text("not a database\n" * 20),
    "random_bytes": lambda p: p.write_bytes(bytes(range(256)) * 8),
    "other_schema": _other_schema,
    "old_columns": _old_columns,
    "truncated_sqlite": None,  # built from a real history below
}


@pytest.mark.parametrize("kind", BAD_DBS)
def test_an_unusable_db_is_a_config_error_for_every_use(tmp_path: Path, kind: str) -> None:
    """Not SQLite, another schema, a directory or a FIFO: ConfigError naming the DB for the
    writer, the import and both readers, and the file is left exactly as it was."""
    db = tmp_path / "h.sqlite"
    if kind == "truncated_sqlite":
        good = tmp_path / "good.sqlite"
        history.record_results(good, run("2026-01-01T00:00:00", 0.9))
        db.write_bytes(good.read_bytes()[:300])
    else:
        BAD_DBS[kind](db)
    f = write_results(run("2026-01-01T00:00:00", 0.95), tmp_path / "r.json")
    before = db.read_bytes() if db.is_file() else None
    for use in (lambda: history.import_files(db, [f]),
                lambda: history.record_results(db, run("2026-01-02T00:00:00", 0.9)),
                lambda: history.observations(db, "c1", "ssim"),
                lambda: history.measured_cases(db),
                lambda: history.check_db(db)):
        with pytest.raises(ConfigError) as info:
            use()
        assert str(db) in info.value.one_line()
    assert (db.read_bytes() if db.is_file() else None) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["h.sqlite", "r.json"] + (["good.sqlite"] if kind == "truncated_sqlite" else []))


def test_a_bad_results_file_imports_nothing_and_creates_no_db(tmp_path: Path) -> None:
    good = write_results(run("2026-01-01T00:00:00", 0.95), tmp_path / "good.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "cases": [{"case_id": "c", "modality": "video", '
                   '"status": "passed", "worst": {"ssim": "high"}}]}')
    db = tmp_path / "new" / "h.sqlite"
    with pytest.raises(ConfigError, match="worst.ssim"):
        history.import_files(db, [good, bad])
    assert not db.exists() and not db.parent.exists()
    # An existing history gains nothing either: the import is all or nothing.
    history.import_files(db, [good])
    with pytest.raises(ConfigError):
        history.import_files(db, [write_results(run("2026-01-02T00:00:00", 0.9), tmp_path / "g2.json"), bad])
    assert history.observations(db, "c1", "ssim") == [0.95]


def test_readers_never_create_a_db(tmp_path: Path) -> None:
    db = tmp_path / "none.sqlite"
    for use in (lambda: history.observations(db, "c1", "ssim"), lambda: history.measured_cases(db)):
        with pytest.raises(MissingFileError, match="history DB not found"):
            use()
    assert not db.exists()


def test_an_empty_file_becomes_a_history(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    db.write_bytes(b"")
    assert history.record_results(db, run("2026-01-01T00:00:00", 0.9))
    assert history.measured_cases(db) == {"c1"}
