"""Out of memory: the case is recorded with its peak memory, the memoised models are released,
and the group goes on. On CUDA the OOM is real (a per-process memory cap)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from gt_gen.cases import load_registry
from gt_gen.generate.backends.ltx import official
from gt_gen.generate.progress import Progress
from gt_gen.generate.runner import GroupRun

CASE = load_registry().get("tiny_one_stage_t2v")
AGAIN = dataclasses.replace(CASE, id="tiny_one_stage_t2v_again")


def test_oom_is_recorded_and_models_are_released(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = official.OfficialRunner.run
    calls = []

    def run(self, case, model):
        calls.append(case.id)
        if case.id == CASE.id:
            real_run(self, case, model)  # build and keep every model, then fail as a GPU would
            assert self.memo.models
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real_run(self, case, model)

    monkeypatch.setattr(official.OfficialRunner, "run", run)
    group = GroupRun([CASE, AGAIN], tmp_path, progress=Progress(quiet=True))
    assert group.run() == 1
    m = json.loads((tmp_path / "manifest.json").read_text())
    first, second = m["cases"][CASE.id], m["cases"][AGAIN.id]
    assert first["status"] == "failed" and first["error_kind"] == "out_of_memory"
    assert "Tried to allocate 20.00 GiB" in first["error"]
    assert first["peak_memory"]["host_rss_mb_process_max"] > 0
    assert not (tmp_path / f"{CASE.id}_1gpu.mp4").exists()
    assert second["status"] == "ok" and second["model_builds"] > 0  # rebuilt, not inherited
    assert calls == [CASE.id, AGAIN.id] and m["summary"] == {"cases": 2, "failed": 1}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_real_cuda_oom_then_recovery(tmp_path: Path) -> None:
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(8 * 2**20 / total, 0)  # an 8 MiB device
    try:
        group = GroupRun([CASE], tmp_path / "capped", device="cuda", progress=Progress(quiet=True))
        assert group.run() == 1
        entry = json.loads((tmp_path / "capped" / "manifest.json").read_text())["cases"][CASE.id]
        assert entry["error_kind"] == "out_of_memory", entry.get("error")
        assert 0 < entry["peak_memory"]["cuda_allocated_mb"] <= 8
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, 0)
    assert GroupRun([CASE], tmp_path / "free", device="cuda", progress=Progress(quiet=True)).run() == 0
