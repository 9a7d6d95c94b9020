"""Run a case through the official Lightricks pipeline classes (``ltx-pipelines`` 1.0.0).

Why a wrapper and not a re-implementation: the GT is only worth trusting if the official
code computes it. This module maps a :class:`~gt_gen.cases.Case` onto the constructor and
call arguments of ``TI2VidOneStagePipeline``, ``TI2VidTwoStagesPipeline`` and
``TI2VidTwoStagesHQPipeline``, and nothing else.

Load once per group: the official ``ModelLedger`` builds every model anew on each call. We
wrap each ledger's builder methods with a memo shared by all pipelines of the run, keyed by
(model kind, checkpoint, Gemma root, upsampler, LoRAs and strengths), so a model is built
once per group (``reuse="models"``). On big GPUs where that would not fit, ``reuse=
"state_dicts"`` instead gives the ledgers one ``StateDictRegistry`` (weights read from disk
once, modules rebuilt), and ``reuse="none"`` is the official behaviour. Time spent inside
the builders is counted as load time, apart from the pipeline's own compute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gt_gen.cases import Case
from gt_gen.errors import ConfigError, GenerationError
from gt_gen.generate.backends import CaseOutput
from gt_gen.generate.backends.ltx.weights import ResolvedModel
from gt_gen.trace.official_hooks import official_precision

PIPELINE_CLASSES = {
    "one_stage": "ltx_pipelines.ti2vid_one_stage.TI2VidOneStagePipeline",
    "two_stage": "ltx_pipelines.ti2vid_two_stages.TI2VidTwoStagesPipeline",
    "two_stage_hq": "ltx_pipelines.ti2vid_two_stages_hq.TI2VidTwoStagesHQPipeline",
}
LEDGER_METHODS = ("transformer", "video_decoder", "video_encoder", "text_encoder",
                  "gemma_embeddings_processor", "audio_encoder", "audio_decoder", "vocoder",
                  "spatial_upsampler")
REUSE_MODES = ("models", "state_dicts", "none")


def _import(path: str) -> type:
    import importlib

    mod, _, name = path.rpartition(".")
    return getattr(importlib.import_module(mod), name)


def guider_params(case: Case, checkpoint: Path) -> tuple[Any, Any]:
    """Video and audio guider params: the official defaults for this checkpoint and pipeline,
    overridden by the case's ``request.guidance`` (``audio_``-prefixed keys for audio)."""
    from dataclasses import replace

    from ltx_pipelines.utils.constants import LTX_2_3_HQ_PARAMS, detect_params

    base = LTX_2_3_HQ_PARAMS if case.pipeline == "two_stage_hq" else detect_params(str(checkpoint))
    video, audio = base.video_guider_params, base.audio_guider_params
    g = case.request.guidance
    v_over = {k: g[k] for k in g if not k.startswith("audio_")}
    a_over = {k[len("audio_"):]: g[k] for k in g if k.startswith("audio_")}
    return replace(video, **v_over), replace(audio, **a_over)


def conditioning_images(case: Case) -> list[Any]:
    """The case's conditioning image, checked against its pin: the case's own sha256, or for
    sglang's URL the copy pinned in the assets lock (gt_gen.assets.resolve; fails closed)."""
    from ltx_pipelines.utils.args import ImageConditioningInput

    from gt_gen.assets.resolve import local_input

    img = case.request.image
    if img is None:
        return []
    path = local_input(case, url=img.url, path=img.path, sha256=img.sha256,
                       what="conditioning image").path.resolve()
    return [ImageConditioningInput(path=str(path), frame_idx=img.frame, strength=img.strength,
                                   crf=img.crf)]


class ModelMemo:
    """Models built once per group and shared by every pipeline's ledgers."""

    def __init__(self, reuse: str = "models") -> None:
        if reuse not in REUSE_MODES:
            raise ConfigError(f"unknown reuse mode {reuse!r}; use one of {list(REUSE_MODES)}")
        self.reuse = reuse
        self.models: dict[tuple, torch.nn.Module] = {}
        self.load_seconds = 0.0
        self.builds = 0
        from ltx_core.loader.registry import StateDictRegistry

        self.registry = StateDictRegistry() if reuse != "none" else None

    def attach(self, ledger: Any) -> Any:
        """Return ``ledger`` rebuilt with the shared registry and memoised, timed builders."""
        from ltx_core.loader.registry import StateDictRegistry
        from ltx_pipelines.utils import ModelLedger

        registry = self.registry
        if registry is None and ledger.dtype != torch.bfloat16:
            # Without a registry ltx-core fuses LoRAs into the loaded state dict in place, and
            # the weights no LoRA touches keep the checkpoint's dtype (bf16) whatever the build
            # dtype: harmless for the official bf16 runs, but an fp32 run (case precision) then
            # mixes fp32 and bf16 weights. A registry of this ledger's own makes ltx-core copy
            # every weight at the build dtype; nothing is shared between ledgers or runs.
            registry = StateDictRegistry()
        if registry is not None:
            ledger = ModelLedger(dtype=ledger.dtype, device=ledger.device,
                                 checkpoint_path=ledger.checkpoint_path,
                                 gemma_root_path=ledger.gemma_root_path,
                                 spatial_upsampler_path=ledger.spatial_upsampler_path,
                                 loras=ledger.loras, registry=registry,
                                 quantization=ledger.quantization)
        loras = tuple((str(lo.path), float(lo.strength)) for lo in ledger.loras)
        for name in LEDGER_METHODS:
            original = getattr(ledger, name)
            # Only the transformer depends on the LoRAs; everything else is shared across them.
            key = (name, ledger.checkpoint_path, ledger.gemma_root_path,
                   ledger.spatial_upsampler_path if name == "spatial_upsampler" else None,
                   loras if name == "transformer" else (), str(ledger.device), str(ledger.dtype))
            setattr(ledger, name, self._wrap(original, key))
        return ledger

    def _wrap(self, build: Callable[[], Any], key: tuple) -> Callable[[], Any]:
        def wrapped() -> Any:
            if self.reuse == "models" and key in self.models:
                return self.models[key]
            t0 = time.perf_counter()
            model = build()
            self.load_seconds += time.perf_counter() - t0
            self.builds += 1
            if self.reuse == "models":
                self.models[key] = model
            return model
        return wrapped

    def clear(self) -> None:
        self.models.clear()
        if self.registry is not None:
            self.registry.clear()


class OfficialRunner:
    """Builds official pipelines (cached per configuration) and runs cases through them."""

    def __init__(self, device: torch.device, reuse: str = "models") -> None:
        self.device = device
        self.memo = ModelMemo(reuse)
        self._pipelines: dict[tuple, Any] = {}

    def pipeline(self, case: Case, model: ResolvedModel) -> Any:
        if case.pipeline not in PIPELINE_CLASSES:
            raise GenerationError(f"case {case.id}: pipeline {case.pipeline!r} has no official "
                                  "runner in gt-gen yet", case_id=case.id)
        m = case.model
        s2 = m.distilled_lora_strength_stage_2
        key = (case.pipeline, str(model.checkpoint), str(model.gemma_root),
               str(model.spatial_upsampler), str(model.distilled_lora),
               m.distilled_lora_strength, s2, case.precision)
        if key in self._pipelines:
            return self._pipelines[key]
        with official_precision(case.precision):  # fp32: a runtime override, files untouched
            pipe = self._build(case, model)
        self._pipelines[key] = pipe
        return pipe

    def _build(self, case: Case, model: ResolvedModel) -> Any:
        from ltx_core.loader import LTXV_LORA_COMFY_RENAMING_MAP, LoraPathStrengthAndSDOps

        m = case.model
        s2 = m.distilled_lora_strength_stage_2
        cls = _import(PIPELINE_CLASSES[case.pipeline])
        common = {"checkpoint_path": str(model.checkpoint), "gemma_root": str(model.gemma_root),
                  "device": self.device}
        if case.pipeline == "one_stage":
            pipe = cls(loras=[], **common)
            pipe.model_ledger = self.memo.attach(pipe.model_ledger)
        else:
            if model.spatial_upsampler is None or model.distilled_lora is None:
                raise GenerationError(f"case {case.id}: {case.pipeline} needs a spatial upsampler "
                                      "and a distilled LoRA", case_id=case.id)
            lora = [LoraPathStrengthAndSDOps(str(model.distilled_lora), m.distilled_lora_strength,
                                             LTXV_LORA_COMFY_RENAMING_MAP)]
            extra: dict[str, Any] = {}
            if case.pipeline == "two_stage_hq":
                extra = {"distilled_lora_strength_stage_1": m.distilled_lora_strength,
                         "distilled_lora_strength_stage_2": s2 if s2 is not None else m.distilled_lora_strength}
            pipe = cls(distilled_lora=lora, spatial_upsampler_path=str(model.spatial_upsampler),
                       loras=[] if case.pipeline == "two_stage" else (), **extra, **common)
            pipe.stage_1_model_ledger = self.memo.attach(pipe.stage_1_model_ledger)
            pipe.stage_2_model_ledger = self.memo.attach(pipe.stage_2_model_ledger)
        return pipe

    def conditioning_images(self, case: Case, model: ResolvedModel | None = None) -> list[Any]:
        """The case's image conditioning (a hook: the random-full runner substitutes a stand-in)."""
        return conditioning_images(case)

    def release(self) -> None:
        """Drop every memoised model and pipeline and return cached device memory.

        Why: after an out-of-memory error the models kept for reuse are what fills the device;
        the next case of the group must get a clean start, not inherit the failure."""
        import gc

        self.memo.clear()
        self._pipelines.clear()
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    @torch.inference_mode()
    def run(self, case: Case, model: ResolvedModel) -> CaseOutput:
        """Generate one case; returns decoded frames, audio and timings."""
        load0, builds0 = self.memo.load_seconds, self.memo.builds
        t0 = time.perf_counter()
        pipe = self.pipeline(case, model)
        video_params, audio_params = guider_params(case, model.checkpoint)
        r = case.request
        with official_precision(case.precision):
            video, audio = pipe(prompt=r.prompt, negative_prompt=r.negative_prompt, seed=r.seed,
                            height=r.height, width=r.width, num_frames=r.num_frames,
                                frame_rate=r.fps, num_inference_steps=r.steps,
                                video_guider_params=video_params, audio_guider_params=audio_params,
                                images=self.conditioning_images(case, model))
            t1 = time.perf_counter()
            chunks = [c.to("cpu") for c in video]  # the VAE decodes lazily, chunk by chunk
        t2 = time.perf_counter()
        frames = torch.cat([c if c.ndim == 4 else c[None] for c in chunks])
        if frames.dtype != torch.uint8 or frames.shape[-1] != 3:
            raise GenerationError(f"case {case.id}: unexpected decoded video {frames.dtype} "
                                  f"{tuple(frames.shape)}", case_id=case.id)
        load = self.memo.load_seconds - load0
        wave = getattr(audio, "waveform", None)
        return CaseOutput(
            frames=frames, audio_waveform=None if wave is None else wave.detach().float().cpu(),
            audio_sample_rate=getattr(audio, "sampling_rate", None),
            pipeline_class=PIPELINE_CLASSES[case.pipeline],
            timings={"load_s": load, "pipeline_s": (t1 - t0) + (t2 - t1) - load,
                     "denoise_and_encode_s": t1 - t0 - load, "video_decode_s": t2 - t1},
            builds=self.memo.builds - builds0)
