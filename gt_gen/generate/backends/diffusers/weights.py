"""Where a diffusers case's model comes from: the tiny builder, a local folder, or the hub.

Full profile: the repository at the case's pinned commit, fetched the way diffusers fetches a
pipeline (``DiffusionPipeline.download``: ``model_index.json`` first, then the folders of the
components it names), with ``HF_TOKEN`` from the environment (never logged) and
``HF_HUB_OFFLINE`` honoured, so a second run is served from the cache without a request. A
revision that is not a 40-hex commit is refused unless ``--allow-unpinned``; the commit that was
resolved is recorded either way, with every file's sha256. ``--weights-dir DIR`` holding
``DIR/<repo>/model_index.json`` overrides the hub.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from gt_gen.cases import Case
from gt_gen.errors import ConfigError, UsageError, WeightsError
from gt_gen.generate.backends import Resolved
from gt_gen.generate.cache import file_sha256, hub_commit_of
from gt_gen.gitutil import COMMIT_RE
from gt_gen.redact import redact


def _token() -> str | None:
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


def resolve_tiny(case: Case) -> Resolved:
    """Build (or reuse) the tiny model of the case's pipeline for its ``seed-N`` revision."""
    from gt_gen.generate.backends.diffusers.tiny import build_tiny, listing
    from gt_gen.generate.backends.diffusers.tiny.families import TINY_KEY

    m = re.fullmatch(r"seed-(\d+)", case.model.revision)
    if not m:
        raise ConfigError(f"case {case.id}: a tiny model's revision must be 'seed-N'",
                          path=case.source)
    if case.pipeline not in TINY_KEY:
        raise ConfigError(f"case {case.id}: no tiny model for {case.pipeline}; tiny models "
                          f"exist for {sorted(TINY_KEY)}", path=case.source)
    folder = build_tiny(TINY_KEY[case.pipeline], int(m.group(1)))
    return Resolved(paths=folder, provenance={
        "repo": "tiny", "revision": case.model.revision, "tiny_model": TINY_KEY[case.pipeline],
        "builder_key": folder.name, "files_sha256": listing(folder)})


def _download(repo: str, revision: str) -> Path:
    from diffusers import DiffusionPipeline
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, \
        enable_progress_bars

    quiet = are_progress_bars_disabled()
    disable_progress_bars()  # gt-gen reports its own progress
    try:
        return Path(DiffusionPipeline.download(repo, revision=revision, token=_token()))
    except Exception as exc:
        raise WeightsError(
            f"cannot get {repo}@{revision} ({type(exc).__name__}: "
            f"{redact(' '.join(str(exc).split()))[:200]}); put the pipeline folder in "
            f"--weights-dir DIR as DIR/{repo}/, or allow downloads (unset HF_HUB_OFFLINE, set "
            "HF_TOKEN for gated repos)") from exc
    finally:
        if not quiet:
            enable_progress_bars()


def resolve_full(case: Case, *, weights_dir: Path | None = None, allow_unpinned: bool = False,
                 hash_files: bool = True) -> Resolved:
    """The case's pipeline folder at its pinned commit (hub, cache or ``--weights-dir``)."""
    m = case.model
    if m.is_tiny:
        raise UsageError(f"case {case.id} uses the tiny model; run it with --profile tiny")
    if not COMMIT_RE.match(m.revision) and not allow_unpinned:
        raise ConfigError(f"case {case.id}: model.revision={m.revision!r} is not a 40-hex "
                          "commit; pin it (reproducible GT), or pass --allow-unpinned to "
                          "resolve and record it", path=case.source)
    local = weights_dir / m.repo if weights_dir is not None else None
    folder = local if local is not None and (local / "model_index.json").is_file() else \
        _download(m.repo, m.revision)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    prov: dict[str, Any] = {"repo": m.repo, "revision": m.revision,
            "resolved_commit": hub_commit_of(folder / "model_index.json"),
            "source": "weights-dir" if folder == local else "hub",
            "files": [str(p.relative_to(folder)) for p in files]}
    if hash_files:
        prov["files_sha256"] = {str(p.relative_to(folder)): file_sha256(p) for p in files}
    return Resolved(paths=folder, provenance=prov)
