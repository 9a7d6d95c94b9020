"""Full-profile weight resolution: pins enforced, local overrides honoured, one-line errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gt_gen.cases import load_registry
from gt_gen.errors import ConfigError, WeightsError
from gt_gen.generate.backends.ltx.weights import resolve_full

CASE = load_registry().get("ltx_2.3_two_stage_t2v_2gpus")


def test_unpinned_revision_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a 40-hex commit"):
        resolve_full(CASE)


def test_local_overrides_need_no_network(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    m = CASE.model
    (tmp_path / m.checkpoint).write_bytes(b"ckpt")
    (tmp_path / m.repo).mkdir(parents=True)
    (tmp_path / m.repo / m.spatial_upsampler).write_bytes(b"up")
    (tmp_path / m.distilled_lora).write_bytes(b"lora")
    gemma = tmp_path / m.text_encoder_repo
    gemma.mkdir(parents=True)
    res = resolve_full(CASE, weights_dir=tmp_path, allow_unpinned=True)
    assert res.checkpoint == tmp_path / m.checkpoint and res.gemma_root == gemma
    assert res.provenance["files_sha256"][m.checkpoint] == hashlib.sha256(b"ckpt").hexdigest()
    (tmp_path / m.distilled_lora).unlink()
    with pytest.raises(WeightsError) as exc:
        resolve_full(CASE, weights_dir=tmp_path, allow_unpinned=True)
    line = exc.value.one_line()
    assert m.distilled_lora in line and f"{m.repo}@{m.revision}" in line and "--weights-dir" in line
