"""Resolve a case's model files: the tiny builder, local overrides, or the hub at a pinned revision.

Full profile: files come through huggingface_hub at the case's revision (``HF_HUB_OFFLINE``
honoured, token from ``HF_TOKEN`` only, never logged). A local directory given with
``--weights-dir`` (or ``$GT_GEN_WEIGHTS_DIR``) overrides each file it holds: ``DIR/<file>``
or ``DIR/<repo>/<file>``; a Gemma root as ``DIR/<text_encoder_repo>/``. A missing file is
one line naming repo, file and revision and how to provide it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gt_gen.cases import Case
from gt_gen.errors import ConfigError, WeightsError
from gt_gen.generate.cache import file_sha256
from gt_gen.generate.cache import hub_commit_of as _commit_of
from gt_gen.gitutil import COMMIT_RE
from gt_gen.redact import redact



@dataclass(frozen=True)
class ResolvedModel:
    """Local paths of everything one case's pipeline loads, plus provenance."""

    checkpoint: Path
    gemma_root: Path
    spatial_upsampler: Path | None
    distilled_lora: Path | None
    provenance: dict = field(default_factory=dict)


def _token() -> str | None:
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


def resolve_tiny(case: Case) -> ResolvedModel:
    """Build (or reuse) the tiny family named by the case's revision ``seed-N``."""
    from gt_gen.generate.backends.ltx.tiny import build_tiny

    m = re.fullmatch(r"seed-(\d+)", case.model.revision)
    if not m:
        raise ConfigError(f"case {case.id}: a tiny model's revision must be 'seed-N'",
                          path=case.source)
    ckpt = build_tiny(int(m.group(1)))
    listing = json.loads((ckpt.root / "files.json").read_text())
    return ResolvedModel(
        checkpoint=ckpt.checkpoint, gemma_root=ckpt.gemma_root,
        spatial_upsampler=ckpt.spatial_upsampler if case.model.spatial_upsampler else None,
        distilled_lora=ckpt.distilled_lora if case.model.distilled_lora else None,
        provenance={"repo": "tiny", "revision": case.model.revision, "builder_key": ckpt.key,
                    "files_sha256": listing})


def _local_override(weights_dir: Path | None, repo: str, filename: str) -> Path | None:
    if weights_dir is None:
        return None
    for cand in (weights_dir / filename, weights_dir / repo / filename):
        if cand.exists():
            return cand
    return None


def _hub_file(repo: str, filename: str, revision: str, weights_dir: Path | None) -> Path:
    local = _local_override(weights_dir, repo, filename)
    if local is not None:
        return local
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id=repo, filename=filename, revision=revision,
                                    token=_token()))
    except Exception as exc:
        raise WeightsError(
            f"cannot get {filename} of {repo}@{revision} ({type(exc).__name__}: "
            f"{redact(' '.join(str(exc).split()))[:160]}); put the file in --weights-dir DIR "
            "(DIR/<file> or DIR/<repo>/<file>), or allow downloads (unset HF_HUB_OFFLINE, set "
            "HF_TOKEN for gated repos)") from exc


def _gemma_root(repo: str, revision: str, weights_dir: Path | None) -> Path:
    if weights_dir is not None and (weights_dir / repo).is_dir():
        return weights_dir / repo
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=repo, revision=revision, token=_token(),
                                      allow_patterns=["*.json", "*.model", "*.safetensors"]))
    except Exception as exc:
        raise WeightsError(
            f"cannot get the text encoder {repo}@{revision} ({type(exc).__name__}: "
            f"{redact(' '.join(str(exc).split()))[:160]}); put it in --weights-dir DIR as "
            f"DIR/{repo}/, or allow downloads (HF_TOKEN for the gated Gemma repo)") from exc


def resolve_full(case: Case, *, weights_dir: Path | None = None,
                 allow_unpinned: bool = False, hash_files: bool = True) -> ResolvedModel:
    """Resolve every file of a full-size case through the hub (or local overrides)."""
    m = case.model
    for what, rev in (("model.revision", m.revision), ("model.text_encoder_revision",
                                                       m.text_encoder_revision)):
        if not COMMIT_RE.match(rev) and not allow_unpinned:
            raise ConfigError(f"case {case.id}: {what}={rev!r} is not a 40-hex commit; pin it "
                              "(reproducible GT), or pass --allow-unpinned to resolve and "
                              "record it", path=case.source)
    if not m.text_encoder_repo:
        raise ConfigError(f"case {case.id}: model.text_encoder_repo is required for the full "
                          "profile", path=case.source)
    ckpt = _hub_file(m.repo, m.checkpoint, m.revision, weights_dir)
    up = _hub_file(m.repo, m.spatial_upsampler, m.revision, weights_dir) if m.spatial_upsampler else None
    lora = _hub_file(m.repo, m.distilled_lora, m.revision, weights_dir) if m.distilled_lora else None
    gemma = _gemma_root(m.text_encoder_repo, m.text_encoder_revision, weights_dir)
    files = {"checkpoint": ckpt, "spatial_upsampler": up, "distilled_lora": lora}
    prov = {"repo": m.repo, "revision": m.revision, "resolved_commit": _commit_of(ckpt),
            "text_encoder_repo": m.text_encoder_repo,
            "text_encoder_revision": m.text_encoder_revision,
            "text_encoder_resolved_commit": _commit_of(gemma / "x"),
            "files": {k: str(v.name) for k, v in files.items() if v is not None}}
    if hash_files:
        prov["files_sha256"] = {v.name: file_sha256(v) for v in files.values() if v is not None}
    return ResolvedModel(checkpoint=ckpt, gemma_root=gemma, spatial_upsampler=up,
                         distilled_lora=lora, provenance=prov)
