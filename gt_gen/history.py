"""Results history in SQLite (standard library): one row per case x run x metric.

Why keep history: a gate's headroom and flakiness can only be judged from many runs of an
unchanged engine. Runs are keyed by the sha256 of their results.json content, so importing
the same file twice records it once.

Why the checks before opening: ``--db``/``--history`` is a path from the command line. A
directory, a FIFO, a file that is not SQLite or an SQLite file of another program must be one
clear error naming it (exit 2), never an ``sqlite3`` exception (exit 3), and gt-gen must never
add its tables to somebody else's database. Readers open the file read-only and never create
it; writers read and check every input first, so a bad results.json leaves no new, empty
database behind, and a whole import is one transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from gt_gen.errors import ConfigError, MissingFileError
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
#: The columns of each table, in order: what a gt-gen history holds.
COLUMNS = {"runs": ("run_key", "created", "platform", "gt_commit", "engine_ref", "source"),
           "measurements": ("run_key", "case_id", "metric", "worst", "gate", "status")}
SQLITE_MAGIC = b"SQLite format 3\x00"


def check_db(db: str | Path, *, must_exist: bool = False) -> Path:
    """``db`` as a path gt-gen may use as its history, checked without opening it with SQLite.

    A missing file is fine for a writer (it is created) when its folder can be written;
    ``must_exist`` (readers) makes it an error. An existing file must be a regular file that
    starts with the SQLite header (or is empty)."""
    p = Path(db)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if must_exist:
            raise MissingFileError("history DB not found (`gt-gen history import` or "
                                   "`compare --history` creates one)", path=p) from None
        from gt_gen.writable import check_writable

        check_writable([p], what="history DB")
        return p
    except OSError as exc:
        if isinstance(exc, NotADirectoryError):
            from gt_gen.writable import check_writable

            check_writable([p], what="history DB")  # names the file that stands in the way
        raise ConfigError(f"cannot use the history DB: {exc.strerror}", path=p) from exc
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError("history DB is a directory; expected an SQLite file", path=p)
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError("history DB is not a regular file (a device, FIFO or socket)", path=p)
    if st.st_size:
        try:
            with open(p, "rb") as fh:
                head = fh.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise ConfigError(f"cannot read the history DB: {exc.strerror}", path=p) from exc
        if head != SQLITE_MAGIC:
            raise ConfigError("history DB is not an SQLite database (gt-gen's history is one, "
                              "created by `gt-gen history import`)", path=p)
        _check_existing(p, empty_ok=not must_exist)
    return p


def _check_existing(p: Path, *, empty_ok: bool) -> None:
    """Open an existing SQLite file read-only and check it holds a gt-gen history (or, for a
    writer, nothing yet), so that writers can fail before any other output is written."""
    try:
        con = sqlite3.connect(f"file:{quote(str(p.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open the history DB: {exc}", path=p) from exc
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables or not empty_ok:
            _check_schema(con, p, create=False)
    except sqlite3.Error as exc:
        raise ConfigError(f"history DB unusable: {exc}", path=p) from exc
    finally:
        con.close()


def _check_schema(con: sqlite3.Connection, p: Path, *, create: bool) -> None:
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables and create:
        con.executescript(SCHEMA)
        return
    if not tables:
        raise ConfigError("history DB holds no gt-gen history (no tables)", path=p)
    for table, cols in COLUMNS.items():
        have = tuple(r[1] for r in con.execute(f"PRAGMA table_info({table})"))
        if have != cols:
            raise ConfigError(f"history DB holds another schema (table {table!r}: "
                              f"{list(have) or 'absent'}, expected {list(cols)}; tables "
                              f"{sorted(tables)}): not a gt-gen history", path=p)


@contextlib.contextmanager
def _connect(db: str | Path, *, write: bool) -> Iterator[sqlite3.Connection]:
    """A checked connection: read-only for readers, one transaction for writers."""
    p = check_db(db, must_exist=not write)
    try:
        if write:
            p.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(str(p))
        else:
            con = sqlite3.connect(f"file:{quote(str(p.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open the history DB: {exc}", path=p) from exc
    try:
        with con:
            _check_schema(con, p, create=write)
            yield con
    except sqlite3.Error as exc:
        raise ConfigError(f"history DB unusable: {exc}", path=p) from exc
    finally:
        con.close()


def _record(con: sqlite3.Connection, results: Results, source: str) -> bool:
    blob = json.dumps(to_json_obj(results), sort_keys=True).encode()
    key = hashlib.sha256(blob).hexdigest()
    m = results.meta
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


def record_results(db: str | Path, results: Results, source: str = "") -> bool:
    """Record one run; False if this exact run was already recorded."""
    with _connect(db, write=True) as con:
        return _record(con, results, source)


def import_files(db: str | Path, files: list[str | Path]) -> int:
    """Import results.json files in one transaction; returns how many were new.

    Every file is read and checked before the database is touched: a bad one imports
    nothing and creates nothing."""
    loaded = [(read_results(f), str(f)) for f in files]
    check_db(db)
    with _connect(db, write=True) as con:
        return sum(_record(con, r, src) for r, src in loaded)


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
    with _connect(db, write=False) as con:
        rows = [row[0] for row in con.execute(q, args)]
    if not all(isinstance(v, int | float) for v in rows):
        raise ConfigError(f"history DB holds a non-numeric {metric} value for {case_id}",
                          path=str(db))
    return [float(v) for v in rows]


def measured_cases(db: str | Path) -> set[str]:
    with _connect(db, write=False) as con:
        return {str(row[0]) for row in con.execute("SELECT DISTINCT case_id FROM measurements")}
