"""Results history in SQLite (standard library): one row per case x run x metric.

Why keep history: a gate's headroom and flakiness can only be judged from many runs of an
unchanged engine. Runs are keyed by the sha256 of their results.json content, so importing
the same file twice records it once.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from gt_gen.results import Results, read_results, to_json_obj
from gt_gen.thresholds import METRICS

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  run_key TEXT PRIMARY KEY, created TEXT, platform TEXT, gt_commit TEXT, engine_ref TEXT,
  source TEXT
);
CREATE TABLE IF NOT EXISTS measurements (
  run_key TEXT NOT NULL REFERENCES runs(run_key), case_id TEXT NOT NULL, metric TEXT NOT NULL,
  worst REAL, gate REAL, status TEXT,
  PRIMARY KEY (run_key, case_id, metric)
);
"""


def connect(db: str | Path) -> sqlite3.Connection:
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(db))
    con.executescript(SCHEMA)
    return con


def record_results(db: str | Path, results: Results, source: str = "") -> bool:
    """Record one run; False if this exact run was already recorded."""
    blob = json.dumps(to_json_obj(results), sort_keys=True).encode()
    key = hashlib.sha256(blob).hexdigest()
    m = results.meta
    with connect(db) as con:
        if con.execute("SELECT 1 FROM runs WHERE run_key=?", (key,)).fetchone():
            return False
        con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?)",
                    (key, m.get("created"), m.get("platform"), m.get("gt_commit"), m.get("engine_ref"), source))
        for c in results.cases:
            for metric in METRICS:
                worst = c.worst.get(metric)
                gate = c.gates.get(metric, {}).get("value")
                con.execute("INSERT INTO measurements VALUES (?,?,?,?,?,?)",
                            (key, c.case_id, metric, None if worst is None else float(worst), gate, c.status))
    return True


def import_files(db: str | Path, files: list[str | Path]) -> int:
    """Import results.json files; returns how many were new."""
    return sum(record_results(db, read_results(f), str(f)) for f in files)


def observations(db: str | Path, case_id: str, metric: str, *, last: int = 20,
                 platform: str | None = None) -> list[float]:
    """The worst value of ``metric`` for ``case_id`` in its last ``last`` recorded runs."""
    q = ("SELECT m.worst FROM measurements m JOIN runs r USING (run_key) WHERE m.case_id=? "
         "AND m.metric=? AND m.worst IS NOT NULL")
    args: list = [case_id, metric]
    if platform:
        q += " AND r.platform=?"
        args.append(platform)
    q += " ORDER BY r.created DESC LIMIT ?"
    args.append(last)
    with connect(db) as con:
        return [row[0] for row in con.execute(q, args)]


def measured_cases(db: str | Path) -> set[str]:
    with connect(db) as con:
        return {row[0] for row in con.execute("SELECT DISTINCT case_id FROM measurements")}
