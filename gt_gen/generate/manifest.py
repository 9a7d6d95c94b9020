"""The generate manifest across runs: a second ``generate --out DIR`` merges into the first.

Why merge: a user who regenerates one case into an existing GT folder
(``generate --case X --out DIR``) keeps the other cases' files there; a manifest rewritten
with case X alone would list fewer files than the folder holds and the next ``compare`` would
refuse the folder with an integrity error that does not say why. So the cases run now replace
their entries and every other entry stays as it was, with the earlier runs' environment kept
under ``previous_runs`` (each kept entry also carries its own ``created`` time). A file in the
folder that is not a generate manifest is refused before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gt_gen.errors import ConfigError
from gt_gen.jsonio import load_file

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = 1
KIND = "gt-gen-generate"


def load_previous(out_dir: Path) -> dict[str, Any] | None:
    """The manifest already in ``out_dir`` (None if there is none); refuse anything else."""
    path = out_dir / MANIFEST
    if not path.exists():
        return None
    data = load_file(path, what="generate manifest")
    if not (isinstance(data, dict) and data.get("kind") == KIND
            and isinstance(data.get("cases"), dict)):
        raise ConfigError("the output folder holds a manifest.json that gt-gen generate did not "
                          "write; use an empty --out folder", path=path)
    if data.get("schema_version") != MANIFEST_SCHEMA:
        raise ConfigError(f"the output folder holds a generate manifest of schema "
                          f"{data.get('schema_version')!r}, this gt-gen writes {MANIFEST_SCHEMA}; "
                          "use an empty --out folder", path=path)
    return data


def merge_previous(manifest: dict[str, Any], previous: dict[str, Any] | None,
                   running: set[str]) -> None:
    """Keep ``previous``'s entries of the cases not in ``running`` in ``manifest``."""
    if previous is None:
        return
    kept = {cid: entry for cid, entry in previous["cases"].items() if cid not in running}
    if not kept:
        return
    earlier = previous.get("previous_runs")
    runs = list(earlier) if isinstance(earlier, list) else []
    runs.append({k: previous.get(k) for k in ("created", "environment", "run_url", "reuse")}
                | {"cases": sorted(previous["cases"])})
    manifest["previous_runs"] = runs
    manifest["cases"].update(kept)
