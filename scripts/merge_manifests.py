"""Merge the per-shard ``manifest.json`` files that artifact downloads overwrite.

``actions/download-artifact`` with ``merge-multiple`` puts every shard's files in one folder,
so the last shard's ``manifest.json`` would win. Each shard therefore also keeps its manifest
under ``manifests/<shard>.json``... or, when shards were generated into one folder (local runs),
there is nothing to merge. Usage: python scripts/merge_manifests.py DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    root = Path(argv[0])
    parts = sorted((root / "manifests").glob("*.json")) if (root / "manifests").is_dir() else []
    if not parts:
        print(f"merge_manifests: {root}/manifest.json is already the only manifest")
        return 0
    merged: dict = {}
    for p in parts:
        data = json.loads(p.read_text())
        if not merged:
            merged = {k: v for k, v in data.items() if k != "cases"} | {"cases": {}}
        merged["cases"].update(data.get("cases", {}))
    failed = sum(e.get("status") != "ok" for e in merged["cases"].values())
    merged["summary"] = {"cases": len(merged["cases"]), "failed": failed}
    tmp = root / ".manifest.json.tmp"
    tmp.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    tmp.replace(root / "manifest.json")
    print(f"merge_manifests: {len(parts)} shard manifest(s), {len(merged['cases'])} case(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
