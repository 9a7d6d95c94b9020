"""An fp32 two-stage case (distilled LoRA fused) runs with every reuse mode and gives the same
frames: ltx-core's in-place LoRA fusion (no registry) would leave unfused weights in bf16 and
the fp32 run would stop on a dtype mismatch (found by `gt-gen controls`' noise-floor run)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gt_gen.cases import load_registry
from gt_gen.generate.backends.ltx.official import OfficialRunner
from gt_gen.generate.tiny_patch import cpu_synchronize_noop, tiny_gemma_constant
from gt_gen.generate.weights import resolve_tiny


@pytest.mark.slow
def test_fp32_two_stage_is_the_same_with_and_without_model_reuse() -> None:
    case = dataclasses.replace(load_registry().get("tiny_two_stage_t2v"), precision="fp32")
    model = resolve_tiny(case)
    frames = {}
    cpu = torch.device("cpu")
    with tiny_gemma_constant(), cpu_synchronize_noop(cpu):
        for reuse in ("none", "models"):
            runner = OfficialRunner(cpu, reuse=reuse)
            frames[reuse] = runner.run(case, model).frames
            if reuse == "models":
                built = [m for m in runner.memo.models.values() if isinstance(m, torch.nn.Module)]
                assert built and all(p.dtype == torch.float32 for m in built for p in m.parameters())
    assert torch.equal(frames["none"], frames["models"])
