"""Drive the reference (official) and the candidate (diffusers, or a directory) for one case.

The official run is the unmodified pipeline under :class:`OfficialRecorder` at the requested
precision (:func:`official_precision`); the diffusers run gets the reference's recorded initial
noise and sigmas (so the two can be compared step by step at all) under
:class:`~gt_gen.engine.diffusers_ltx.DiffusersRecorder`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gt_gen.cases import Case
from gt_gen.convert.official_paths import official, tiny_patch, weights
from gt_gen.errors import UsageError
from gt_gen.trace.official_hooks import OfficialRecorder, torch_dtype


@dataclass
class RecordedRun:
    """One engine's trace of a case."""

    tensors: dict[str, torch.Tensor]
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)
    output: Any = None
    meta: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def resolve_model(case: Case, *, weights_dir: Path | None = None,
                  allow_unpinned: bool = False) -> Any:
    """The case's model files (tiny: built here; full: the hub or ``weights_dir``)."""
    w = weights()
    if case.model.is_tiny:
        return w.resolve_tiny(case)
    return w.resolve_full(case, weights_dir=weights_dir, allow_unpinned=allow_unpinned)


@contextlib.contextmanager
def _official_env(case: Case, device: torch.device) -> Any:
    tp = tiny_patch()
    patch = tp.tiny_gemma_constant() if case.model.is_tiny else contextlib.nullcontext()
    with patch, tp.cpu_synchronize_noop(device):
        yield


def record_official(case: Case, model: Any, *, precision: str, device: str | torch.device = "cpu",
                    runner: Any = None) -> RecordedRun:
    """Run the official pipeline for ``case`` at ``precision`` and record every stage."""
    torch_dtype(precision)
    dev = torch.device(device)
    case = dataclasses.replace(case, precision=precision)
    rec = OfficialRecorder()
    with _official_env(case, dev):
        runner = runner or official().OfficialRunner(dev)
        with rec.attach():
            out = runner.run(case, model)
    rec.finish_stage_names()
    return RecordedRun(tensors=rec.tensors, inputs=rec.inputs, output=out,
                       meta={"engine": "official", "precision": precision,
                             "pipeline_class": out.pipeline_class, "device": str(dev)})


def record_diffusers(case: Case, model: Any, engine: Any, *, inputs: dict[str, torch.Tensor] | None,
                     tweak: Callable[[dict[str, Any], Any], None] | None = None) -> RecordedRun:
    """Run ``case`` through a :class:`DiffusersLTX` engine (inputs injected) and record it."""
    from gt_gen.engine.diffusers_ltx import DiffusersRecorder
    from gt_gen.trace.stages import ordered

    rec = DiffusersRecorder()
    pipe = engine.pipeline_for(case) if hasattr(engine, "pipeline_for") else engine.pipe
    with _official_env(case, engine.device), rec.attach(pipe):
        out = engine.run(case, model.checkpoint, inject=inputs, tweak=tweak)
    rec.put("decoded.frames", out.frames)
    if out.audio_waveform is not None:
        rec.put("decoded.audio", out.audio_waveform)
    if getattr(engine, "last_decode_noise", None) is not None:
        rec.put("decode.noise.video", engine.last_decode_noise)
    up = getattr(engine, "_up_trace", None)
    if up is not None and case.pipeline == "two_stage":
        rec.put("upsampled.video", up)
    tensors = {k: rec.tensors[k] for k in ordered(rec.tensors)}
    return RecordedRun(tensors=tensors, output=out, notes=list(out.notes),
                       meta={"engine": "diffusers", "precision": engine.precision,
                             "pipeline_class": out.pipeline_class, "device": str(engine.device)})


def diffusers_engine(case: Case, model: Any, *, precision: str = "fp32",
                     device: str | torch.device = "cpu") -> Any:
    """A :class:`DiffusersLTX` on the converted weights of ``model``."""
    from gt_gen.engine.diffusers_ltx import DiffusersLTX, converted_folder

    return DiffusersLTX(converted_folder(case, model), device=device, precision=precision)


def check_traceable(case: Case) -> None:
    if not case.is_official:
        raise UsageError(f"case {case.id} is {case.comparability} on backend {case.backend}: "
                         "trace needs an official-comparable case")
    if case.pipeline not in ("one_stage", "two_stage"):
        raise UsageError(f"case {case.id}: trace supports one_stage and two_stage pipelines "
                         f"(not {case.pipeline}: its res2s sub-steps are not named stages yet)")
