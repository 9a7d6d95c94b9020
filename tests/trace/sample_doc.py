"""A trace.json as `gt-gen trace` writes it, from small synthetic tensors (no model runs)."""

from __future__ import annotations

import functools
import json
from typing import Any

import torch

from gt_gen.trace.compare import DEFAULT_TOLERANCES, compare_traces
from gt_gen.trace.report import trace_json


def make_doc(*, diverge: bool = True, case_id: str = "tiny_one_stage_t2v") -> dict[str, Any]:
    """A trace.json as `gt-gen trace` writes it (two steps, frames, one stage missing)."""
    return json.loads(_doc_text(diverge, case_id))  # a fresh copy each time


@functools.lru_cache(maxsize=None)
def _doc_text(diverge: bool, case_id: str) -> str:
    g = torch.Generator().manual_seed(0)
    ref = {"text.video": torch.randn(1, 4, 8, generator=g), "s1.sigmas": torch.tensor([1.0, 0.5, 0.0]),
           "decoded.frames": torch.full((3, 8, 8, 3), 100, dtype=torch.uint8)}
    for step in range(2):
        for kind in ("denoised", "latent"):
            for mod in ("video", "audio"):
                ref[f"s1.step{step:02d}.{kind}.{mod}"] = torch.randn(1, 8, 4, generator=g)
    cand = {k: v.clone() for k, v in ref.items()}
    if diverge:
        cand["s1.step01.latent.video"] = cand["s1.step01.latent.video"] * 1.05
        cand["decoded.frames"][1, 0, 0, 0] = 90
    del cand["text.video"]
    doc = trace_json(compare_traces(ref, cand), case_id=case_id,
                     reference={"engine": "official", "precision": "fp32"},
                     candidate={"engine": "diffusers", "precision": "fp32"}, injected=True,
                     tolerances=dict(DEFAULT_TOLERANCES), notes=["a <note>"])
    return json.dumps(doc, allow_nan=False)  # strict JSON, as the file holds it
