"""The ci-data layout (sglang compatible) and ``case_map.json``.

``diffusion-ci/consistency_gt/{official_generated,sglang_generated}/[<platform>/]`` holds
the key-frame PNGs / images of each case, and each folder has a ``case_map.json`` listing
the outputs of every case it holds: ``{"cases": {case_id: [file, ...]}}`` (a flat
``{case_id: [file, ...]}`` object is read too).
"""

from __future__ import annotations

import json
from typing import Any

from gt_gen.errors import ConfigError

GT_ROOT = "diffusion-ci/consistency_gt"
TARGETS = ("official_generated", "sglang_generated")
CASE_MAP = "case_map.json"


def folder(target: str, platform: str | None = None) -> str:
    """Repository-relative folder of ``target`` (and ``platform``)."""
    if target not in TARGETS:
        raise ConfigError(f"unknown target {target!r}; use one of {list(TARGETS)}")
    return f"{GT_ROOT}/{target}" + (f"/{platform}" if platform else "")


def parse_case_map(data: bytes, where: str) -> dict[str, list[str]]:
    """Parse a ``case_map.json`` into case id -> files."""
    try:
        obj: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"malformed case_map.json: {exc}", path=where) from exc
    if isinstance(obj, dict) and isinstance(obj.get("cases"), dict):
        obj = obj["cases"]
    if not isinstance(obj, dict) or not all(
            isinstance(v, list) and all(isinstance(f, str) for f in v) for v in obj.values()):
        raise ConfigError("case_map.json must map case ids to lists of file names", path=where)
    return {str(k): list(v) for k, v in obj.items()}


def dump_case_map(mapping: dict[str, list[str]]) -> str:
    return json.dumps({"cases": {k: sorted(v) for k, v in sorted(mapping.items())}},
                      indent=2, sort_keys=True) + "\n"
