"""``trace.json``: its schema (version 1), and the strict reader every consumer goes through.

Why a reader: a trace may come from anywhere (an artifact of another run, a hand-edited file)
and ``gt-gen report`` renders it into a page; every field it shows is checked here first, so a
malformed file is one line naming the file and the field (exit 2), never a half-drawn page.

Schema version 1 (what :func:`gt_gen.trace.report.trace_json` writes)::

    {
      "schema_version": 1,                 # int; a reader refuses versions it does not know
      "kind": "gt-gen-trace",
      "case": "<case id>",
      "reference": {"engine": "official", "precision": "bf16" | "fp32", ...},   # object
      "candidate": {"engine": "diffusers" | "directory", ...},                    # object
      "injected_inputs": true | false,     # the candidate got the reference's noise and sigmas
      "tolerances": {"<kind>": {"metric": "<metric>", "limit": <number>}, ...},
      "verdict": "match" | "diverged",
      "first_divergent_stage": "<stage name>" | null,   # null exactly when verdict is "match"
      "stages": [                          # pipeline order (gt_gen.trace.stages.stage_order)
        {"name": "<stage name>", "kind": "<kind>",
         "status": "ok" | "diverged" | "shape_mismatch"
                   | "missing_in_candidate" | "missing_in_reference",
         "shape_reference": [int, ...] | null, "shape_candidate": [int, ...] | null,
         "dtype_reference": str | null, "dtype_candidate": str | null,
         "max_abs": <num> | null, "rel_l2": <num> | null, "cosine": <num> | null,
         "psnr_min": <num> | null,         # decoded.frames only
         "psnr_per_frame": [<num>, ...],   # decoded.frames only (key absent elsewhere)
         "metric": str | null, "value": <num> | null, "tolerance": <num> | null}, ...],
      "notes": [str, ...]
    }

``<num>`` is a JSON number or one of the strings ``"inf"``, ``"-inf"``, ``"nan"`` (strict JSON
has no infinities: identical frames have PSNR ``"inf"``). Stage names are unique; the first
divergent stage is one of them, with status ``diverged`` or ``shape_mismatch``, and no stage
before it has either status. A change that breaks a reader of version 1 bumps the version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gt_gen.errors import ConfigError

SCHEMA_VERSION = 1
KNOWN_VERSIONS = (1,)
KIND = "gt-gen-trace"
STATUSES = ("ok", "diverged", "shape_mismatch", "missing_in_candidate", "missing_in_reference")
DIVERGED = ("diverged", "shape_mismatch")
NUMBER_WORDS = ("inf", "-inf", "nan")
_NUMBERS = ("max_abs", "rel_l2", "cosine", "psnr_min", "value", "tolerance")
_STRINGS = ("metric", "dtype_reference", "dtype_candidate")
#: Largest trace.json read (a 60-step two-stage trace is ~100 kB).
MAX_TRACE_BYTES = 16 * 1024 * 1024


def is_num(v: Any) -> bool:
    """A schema ``<num>``: a JSON number (not a bool) or ``"inf"``/``"-inf"``/``"nan"``."""
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) or v in NUMBER_WORDS


def _fail(where: str | Path, field: str, msg: str) -> ConfigError:
    return ConfigError(f"not a gt-gen trace.json: {field} {msg}", path=where)


def _shape(v: Any) -> bool:
    return v is None or (isinstance(v, list) and all(
        isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v))


def check_trace(doc: Any, where: str | Path) -> dict[str, Any]:
    """``doc`` if it is a valid trace.json of a known schema version, else :class:`ConfigError`
    naming ``where`` and the first bad field."""
    if not isinstance(doc, dict):
        raise _fail(where, "the document", "must be an object")
    version = doc.get("schema_version")
    if isinstance(version, bool) or version not in KNOWN_VERSIONS:
        raise _fail(where, "schema_version", f"is {version!r}; this gt-gen reads {list(KNOWN_VERSIONS)}")
    if doc.get("kind") != KIND:
        raise _fail(where, "kind", f"must be {KIND!r}")
    if not isinstance(doc.get("case"), str) or not doc["case"]:
        raise _fail(where, "case", "must be a non-empty string")
    for side in ("reference", "candidate"):
        meta = doc.get(side)
        if not isinstance(meta, dict) or not all(
                isinstance(v, (str, int, float, bool)) or v is None for v in meta.values()):
            raise _fail(where, side, "must be an object of plain values")
    if not isinstance(doc.get("injected_inputs"), bool):
        raise _fail(where, "injected_inputs", "must be true or false")
    tol = doc.get("tolerances")
    if not isinstance(tol, dict):
        raise _fail(where, "tolerances", "must be an object")
    for kind, t in tol.items():
        if not isinstance(t, dict) or not isinstance(t.get("metric"), str) or not is_num(t.get("limit")):
            raise _fail(where, f"tolerances.{kind}", "must be {\"metric\": str, \"limit\": number}")
    notes = doc.get("notes")
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise _fail(where, "notes", "must be a list of strings")
    stages = doc.get("stages")
    if not isinstance(stages, list):
        raise _fail(where, "stages", "must be a list")
    names: list[str] = []
    for i, st in enumerate(stages):
        _check_stage(st, f"stages[{i}]", where)
        if st["name"] in names:
            raise _fail(where, f"stages[{i}].name", f"{st['name']!r} appears twice")
        names.append(st["name"])
    first = doc.get("first_divergent_stage")
    verdict = doc.get("verdict")
    if verdict not in ("match", "diverged"):
        raise _fail(where, "verdict", "must be 'match' or 'diverged'")
    if first is None:
        if verdict != "match":
            raise _fail(where, "verdict", "is 'diverged' but first_divergent_stage is null")
        return doc
    if not isinstance(first, str) or first not in names:
        raise _fail(where, "first_divergent_stage", f"{first!r} is not one of the stages")
    if verdict != "diverged":
        raise _fail(where, "verdict", "must be 'diverged' when a first divergent stage is named")
    idx = names.index(first)
    if stages[idx]["status"] not in DIVERGED:
        raise _fail(where, "first_divergent_stage", f"{first!r} has status {stages[idx]['status']!r}")
    if any(s["status"] in DIVERGED for s in stages[:idx]):
        raise _fail(where, "first_divergent_stage", f"{first!r} is not the first divergent stage")
    return doc


def _check_stage(st: Any, field: str, where: str | Path) -> None:
    if not isinstance(st, dict):
        raise _fail(where, field, "must be an object")
    for key in ("name", "kind"):
        if not isinstance(st.get(key), str) or not st[key]:
            raise _fail(where, f"{field}.{key}", "must be a non-empty string")
    if st.get("status") not in STATUSES:
        raise _fail(where, f"{field}.status", f"must be one of {list(STATUSES)}")
    for key in ("shape_reference", "shape_candidate"):
        if not _shape(st.get(key)):
            raise _fail(where, f"{field}.{key}", "must be a list of sizes or null")
    for key in _NUMBERS:
        if st.get(key) is not None and not is_num(st[key]):
            raise _fail(where, f"{field}.{key}", "must be a number, 'inf', '-inf', 'nan' or null")
    for key in _STRINGS:
        if st.get(key) is not None and not isinstance(st[key], str):
            raise _fail(where, f"{field}.{key}", "must be a string or null")
    per_frame = st.get("psnr_per_frame", [])
    if not isinstance(per_frame, list) or not all(is_num(v) for v in per_frame):
        raise _fail(where, f"{field}.psnr_per_frame", "must be a list of numbers")


def load_trace(path: str | Path) -> dict[str, Any]:
    """Read ``path`` (a trace.json) strictly and check it (:func:`check_trace`)."""
    from gt_gen import jsonio

    data = jsonio.loads(jsonio.read_regular_bytes(path, max_bytes=MAX_TRACE_BYTES, what="trace file"),
                        path)
    return check_trace(data, path)
