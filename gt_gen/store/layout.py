"""The ci-data layout (sglang compatible) and ``case_map.json``.

``diffusion-ci/consistency_gt/{official_generated,sglang_generated}/[<platform>/]`` holds
the key-frame PNGs / images of each case, and a folder's ``case_map.json`` lists the outputs
of every case it holds. Three shapes are read:

* sglang's real one (``sgl-project/ci-data-diffusion``)::

    {"bundle_date": ..., "cases": {id: {"source": ..., "script" | "notes": ...,
                                        "outputs": [file, ...]}}, ...other keys}

* gt-gen's ``{"cases": {id: [file, ...]}}`` (what :func:`dump_case_map` writes);
* a flat ``{id: [file, ...]}``.

Top-level keys other than ``cases`` (``bundle_date``, ``active_gt_replacement``, ...) and an
entry's keys other than ``outputs`` are sglang's bookkeeping, ignored by the lookup; an entry's
``source`` says which implementation made its GT (:mod:`gt_gen.store.provenance` reads it, and
``publish`` writes it, with ``implementation`` / ``backend`` / ``pipeline`` / ``precision``, into
every entry it writes: a list entry becomes ``{"outputs": [...], ...}``, the file's shape and
every other entry stay as they were). Every case id and file name is a name, never a path
(:func:`gt_gen.names.safe_name`): a case map is input gt-gen does not control, and its names are
joined to folders.
"""

from __future__ import annotations

import json
from typing import Any

from gt_gen import jsonio
from gt_gen.errors import ConfigError
from gt_gen.names import safe_name

GT_ROOT = "diffusion-ci/consistency_gt"
TARGETS = ("official_generated", "sglang_generated")
CASE_MAP = "case_map.json"
#: Entry key under which ``publish --replace-implementation`` keeps the entry it replaced.
REPLACED = "replaced"

_SHAPES = ('{"cases": {id: {"outputs": [file, ...]}}} (sglang), {"cases": {id: [file, ...]}} '
           "or {id: [file, ...]}")


def folder(target: str, platform: str | None = None) -> str:
    """Repository-relative folder of ``target`` (and ``platform``)."""
    if target not in TARGETS:
        raise ConfigError(f"unknown target {target!r}; use one of {list(TARGETS)}")
    return f"{GT_ROOT}/{target}" + (f"/{safe_name(platform, kind='platform')}" if platform else "")


def _files(value: Any, case_id: str, where: str) -> list[str]:
    if not isinstance(value, list):
        raise ConfigError(f"case_map.json: the outputs of {case_id!r} must be a list of file "
                          f"names; expected {_SHAPES}", path=where)
    return [safe_name(f, kind=f"file name (case {case_id!r})", where=where) for f in value]


def _entry(case_id: str, value: Any, where: str) -> list[str]:
    """One case's files, from a list (gt-gen / flat shape) or an object with ``outputs``."""
    if isinstance(value, dict):
        if "outputs" not in value:
            raise ConfigError(f"case_map.json: the entry of {case_id!r} has no 'outputs' list; "
                              f"expected {_SHAPES}", path=where)
        return _files(value["outputs"], case_id, where)
    return _files(value, case_id, where)


def parse_case_map(data: bytes, where: str) -> dict[str, list[str]]:
    """Parse a ``case_map.json`` (any of the three shapes) into case id -> files."""
    obj: Any = jsonio.loads(data, where)
    if not isinstance(obj, dict):
        raise ConfigError(f"case_map.json must hold an object; expected {_SHAPES}", path=where)
    if "cases" in obj:
        cases = obj["cases"]
        if not isinstance(cases, dict):
            raise ConfigError(f"case_map.json: 'cases' must be an object; expected {_SHAPES}",
                              path=where)
    else:
        cases = obj
    return {safe_name(cid, kind="case id", where=where): _entry(cid, v, where) for cid, v in cases.items()}


def raw_entries(data: bytes, where: str) -> dict[str, Any]:
    """Each case's entry as the file holds it (a list, or sglang's object with ``source`` and
    the rest), after :func:`parse_case_map` validated the file: the provenance of the GT lives
    in those other keys."""
    parse_case_map(data, where)
    obj: Any = jsonio.loads(data, where)
    return dict(obj["cases"] if "cases" in obj else obj)


def dump_case_map(mapping: dict[str, list[str]]) -> str:
    return json.dumps({"cases": {k: sorted(v) for k, v in sorted(mapping.items())}},
                      indent=2, sort_keys=True) + "\n"


def merge_case_map(existing: bytes | None, updates: dict[str, list[str]], where: str,
                   *, extra: dict[str, Any] | None = None,
                   marks: dict[str, dict[str, Any]] | None = None) -> str:
    """``case_map.json`` text with ``updates`` (case id -> files) merged into ``existing``,
    keeping the shape and every key it already had.

    Why: publishing into sglang's real ci-data must not rewrite its case maps into gt-gen's
    shape and drop ``bundle_date`` or an entry's ``source`` / ``script`` — sglang's tooling
    reads them. Entries in sglang's object shape get their ``outputs`` replaced (other keys
    kept); a new case joins in the shape the file already uses. ``extra`` top-level keys
    (gt-gen's publish mark) are set only on an object that has a ``cases`` table.

    ``marks`` (case id -> keys) are set on that case's entry, which becomes an object if it was
    a list: the GT's implementation travels with its outputs (:mod:`gt_gen.store.provenance`).
    An ``outputs`` key in ``marks`` is ignored: the outputs are ``updates``'; a mark set to
    None removes that key (a detail the new GT does not declare). A mark holding
    ``replaced`` (GT of another implementation replaced on purpose) starts the entry anew: the
    old entry's bookkeeping described the old GT, and is kept under ``replaced`` instead."""
    parse_case_map(existing, where) if existing is not None else None  # validates names/shape
    obj: Any = jsonio.loads(existing, where) if existing is not None else {"cases": {}}
    table = obj["cases"] if "cases" in obj else obj
    object_shape = any(isinstance(v, dict) for v in table.values())
    for cid, files in updates.items():
        safe_name(cid, kind="case id", where=where)
        outputs = sorted(safe_name(f, kind="file name", where=where) for f in files)
        old = table.get(cid)
        mark = {k: v for k, v in (marks or {}).get(cid, {}).items() if k != "outputs"}
        kept = old if isinstance(old, dict) and REPLACED not in mark else {}
        if kept or mark:
            merged = {**kept, **mark, "outputs": outputs}
            table[cid] = {k: v for k, v in merged.items() if v is not None}
        elif object_shape:
            table[cid] = {"source": "gt-gen", "outputs": outputs}
        else:
            table[cid] = outputs
    if "cases" in obj:
        obj["cases"] = dict(sorted(table.items()))
        obj.update(extra or {})
    else:
        obj = dict(sorted(table.items()))
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"
