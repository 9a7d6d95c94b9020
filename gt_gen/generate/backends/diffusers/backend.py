"""The diffusers backend: a case through its family's diffusers pipeline, as sglang's GT script.

What it does, and why each step (sglang's official GT for these families comes from
ci-data-diffusion ``repro_scripts/gen_official_diffusion_gt.py``, run with ``--dtype bf16
--device-map none --generator-device cuda``):

* ``<Pipeline>.from_pretrained(folder, torch_dtype=...)`` at the case's dtype (``precision``:
  bf16 unless the case says fp32), moved to the device, **every module in eval()**: modules
  built from a config start in train mode and T5's dropout made reruns differ.
* One pipeline per (class, folder, dtype, device), kept for the group (load once); the time
  spent loading is reported apart from the pipeline's own time.
* The call: the request's prompt, steps and size; the family table's arguments (Qwen-Image's
  ``true_cfg_scale`` with ``guidance_scale=None``, FLUX's embedded guidance, the layered
  pipeline's layers/resolution/cfg_normalize/use_en_prompt); an empty negative prompt means
  none; input images pinned by sha256 and sized by sglang's rule; a generator seeded with the
  case's seed on the run's device. Every argument the case sets must be one the pipeline
  accepts: nothing is dropped silently.
* Outputs as sglang's script converts them: PIL images ``.convert("RGB")`` (a layered output is
  its list of RGBA layers; the GT is the first, alpha dropped); video frames from the
  pipeline's float [0, 1] arrays times 255, clipped, truncated to uint8.

Tiny profile only: Qwen-Image edit-plus hard-codes a 1024x1024 VAE image and a 384x384 vision
input (module constants), and Qwen-Image-Layered sizes its output to its resolution bucket
(640**2 or 1024**2 pixels, ``calculate_dimensions``); at tiny size they would cost most of the
run, so they are scaled to the tiny output size while a tiny case runs, and the manifest
records the override.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gt_gen.cases import Case
from gt_gen.errors import GenerationError, UsageError
from gt_gen.generate.backends import CaseOutput, Resolved
from gt_gen.generate.backends.diffusers import inputs
from gt_gen.generate.backends.diffusers.weights import resolve_full, resolve_tiny
from gt_gen.generate.progress import Progress

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
#: libx264 quality of sglang's official script (imageio ``quality=5`` -> crf 25), yuv420p.
VIDEO_CRF = 25
EDIT_PLUS_MODULE = "diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus"


def _torchvision() -> bool:
    try:
        import torchvision  # noqa: F401
    except ImportError:
        return False
    return True


def load_processor(folder: Path) -> tuple[Any, str]:
    """The Qwen2-VL processor of ``folder/processor`` and how it was built (for the manifest).

    With torchvision installed it is ``Qwen2VLProcessor.from_pretrained``, what diffusers
    itself does. Without it, that call fails (Qwen2-VL's video processor needs torchvision), so
    the processor is assembled from its image processor and tokenizer with an inert video slot:
    the image pipelines never send video."""
    from transformers import Qwen2TokenizerFast, Qwen2VLImageProcessor, Qwen2VLProcessor

    path = folder / "processor"
    if _torchvision():
        return Qwen2VLProcessor.from_pretrained(str(path)), "Qwen2VLProcessor.from_pretrained"
    from gt_gen.generate.backends.diffusers.tiny.families import qwen_processor

    proc = qwen_processor(Qwen2TokenizerFast.from_pretrained(str(path)),
                          Qwen2VLImageProcessor.from_pretrained(str(path)))
    template = path / "chat_template.jinja"
    if template.is_file():
        proc.chat_template = template.read_text()
    return proc, "Qwen2VLImageProcessor + Qwen2TokenizerFast (no torchvision: no video processor)"


@contextlib.contextmanager
def quiet_diffusers() -> Iterator[None]:
    """No loading bars or info chatter from diffusers (gt-gen reports its own progress)."""
    from diffusers.utils import logging as dlog

    level = dlog.get_verbosity()
    dlog.set_verbosity_error()
    dlog.disable_progress_bar()
    try:
        yield
    finally:
        dlog.set_verbosity(level)
        dlog.enable_progress_bar()


@contextlib.contextmanager
def tiny_overrides(case: Case) -> Iterator[dict[str, int]]:
    """Scale Qwen-Image edit-plus's hard-coded input areas, and the layered pipeline's
    resolution-bucket area, to the tiny output size (tiny cases only)."""
    if case.model.is_tiny and case.pipeline == "QwenImageLayeredPipeline":
        from gt_gen.generate.backends.diffusers.tiny.layered import tiny_area

        with tiny_area(case.request.width, case.request.height) as record:
            yield record
        return
    if not case.model.is_tiny or case.pipeline != "QwenImageEditPlusPipeline":
        yield {}
        return
    import importlib

    mod = importlib.import_module(EDIT_PLUS_MODULE)
    area = case.request.width * case.request.height
    new = {"VAE_IMAGE_SIZE": area, "CONDITION_IMAGE_SIZE": min(area, 56 * 56)}
    saved = {k: getattr(mod, k) for k in new}
    for k, v in new.items():
        setattr(mod, k, v)
    try:
        yield {f"{EDIT_PLUS_MODULE}.{k}": v for k, v in new.items()}
    finally:
        for k, v in saved.items():
            setattr(mod, k, v)


def to_rgb_frames(case: Case, output: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """Pipeline output -> RGB uint8 ``[F, H, W, 3]``, as sglang's GT script converts it."""
    info: dict[str, Any] = {}
    if case.modality == "video":
        frames = np.asarray(output.frames[0], dtype=np.float32)
        arr = np.clip(frames * 255.0, 0, 255).astype(np.uint8)  # truncation, as sglang
        return torch.from_numpy(np.ascontiguousarray(arr[..., :3])), info
    image = output.images[0]
    if isinstance(image, list):  # layered: one RGBA image per layer
        info = {"layers": len(image), "gt_layer": 0, "layer_modes": [im.mode for im in image],
                "alpha": "dropped (PIL .convert('RGB')), as sglang's GT script saves it"}
        image = image[0]
    rgb = np.array(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(rgb)[None], info


class DiffusersBackend:
    """``backend = "diffusers"``."""

    name = "diffusers"

    def __init__(self, device: torch.device, reuse: str = "models") -> None:
        if reuse not in ("models", "state_dicts", "none"):
            raise UsageError(f"unknown reuse mode {reuse!r}")
        self.device, self.reuse = device, reuse
        self.pipelines: dict[tuple, tuple[Any, str]] = {}
        self.load_seconds = 0.0
        self.builds = 0
        self.progress = Progress(quiet=True)

    # -- contract -----------------------------------------------------------------------
    def resolve(self, case: Case, profile: str, *, weights_dir: Path | None,
                allow_unpinned: bool) -> Resolved:
        if profile == "tiny":
            if not case.model.is_tiny:
                raise UsageError(f"case {case.id} is a full-size case; --profile tiny applies to "
                                 "tiny cases only (cases/tiny.toml)")
            return resolve_tiny(case)
        return resolve_full(case, weights_dir=weights_dir, allow_unpinned=allow_unpinned)

    def tiny(self, case: Case) -> Path:
        folder: Path = resolve_tiny(case).paths
        return folder

    @contextlib.contextmanager
    def session(self, cases: list[Case], progress: Progress) -> Iterator[None]:
        self.progress = progress
        yield

    def release(self) -> None:
        import gc

        self.pipelines.clear()
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def finish(self, case: Case, out: CaseOutput, out_dir: Path) -> dict[str, Any]:
        return {"precision": case.precision}

    def write_video(self, case: Case, out: CaseOutput, path: Path) -> None:
        """libx264, yuv420p, crf 25 at the case's fps: sglang's official script's encoding."""
        import av

        frames = out.frames.numpy()
        with av.open(str(path), mode="w") as container:
            stream = container.add_stream("libx264", rate=int(round(case.request.fps)))
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(VIDEO_CRF)}
            for f in frames:
                for pkt in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    container.mux(pkt)
            for pkt in stream.encode():
                container.mux(pkt)

    # -- pipelines ----------------------------------------------------------------------
    def pipeline(self, case: Case, resolved: Resolved) -> tuple[Any, str]:
        """The case's pipeline, loaded once per group (``reuse="models"``)."""
        import diffusers

        dtype = DTYPES[case.precision]
        key = (case.pipeline, str(resolved.paths), str(dtype), str(self.device))
        if self.reuse == "models" and key in self.pipelines:
            return self.pipelines[key]
        t0 = time.perf_counter()
        cls = getattr(diffusers, case.pipeline)
        extra: dict[str, Any] = {}
        how = ""
        if "processor" in inspect.signature(cls.__init__).parameters:
            extra["processor"], how = load_processor(Path(resolved.paths))
        with quiet_diffusers():
            pipe = cls.from_pretrained(str(resolved.paths), torch_dtype=dtype, **extra)
        pipe = pipe.to(self.device)
        for module in pipe.components.values():
            if isinstance(module, torch.nn.Module):
                module.eval()
        pipe.set_progress_bar_config(disable=True)
        self.load_seconds += time.perf_counter() - t0
        self.builds += 1
        if self.reuse == "models":
            self.pipelines[key] = (pipe, how)
        return pipe, how

    def call_kwargs(self, case: Case, pipe: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The pipeline call for ``case`` and its manifest record (no tensors, no images)."""
        r, fam = case.request, case.request.family
        kw: dict[str, Any] = {"prompt": r.prompt, "num_inference_steps": r.steps,
                              "negative_prompt": r.negative_prompt or None}
        if case.modality == "video":
            kw["num_frames"] = r.num_frames
        record: dict[str, Any] = {}
        if fam.images:
            images, record["images"] = inputs.load_images(case)
            size: tuple[int, int] | None = (r.width, r.height)
            if fam.size_from_input:
                images, size = inputs.sglang_size(case, images)
            params = set(inspect.signature(pipe.__call__).parameters)
            if "images" in params:
                kw["images"] = images
            elif "input_image" in params:
                kw["input_image"] = images[0]
            else:
                kw["image"] = images if len(images) > 1 else images[0]
            if size is not None and case.pipeline != "QwenImageLayeredPipeline":
                kw["width"], kw["height"] = size
        else:
            kw["width"], kw["height"] = r.width, r.height
        if fam.family == "qwen_image":
            kw["true_cfg_scale"] = fam.true_cfg_scale
            kw["guidance_scale"] = None
        elif fam.guidance_scale is not None:
            kw["guidance_scale"] = fam.guidance_scale
        for ours, theirs in (("num_layers", "layers"), ("resolution", "resolution"),
                             ("cfg_normalize", "cfg_normalize"), ("use_en_prompt", "use_en_prompt"),
                             ("max_sequence_length", "max_sequence_length")):
            if getattr(fam, ours) is not None:
                kw[theirs] = getattr(fam, ours)
        # As sglang's script: unset values are not passed; Qwen-Image gets guidance_scale=None.
        kw = {k: v for k, v in kw.items()
              if v is not None or (k == "guidance_scale" and fam.family == "qwen_image")}
        accepted = set(inspect.signature(pipe.__call__).parameters)
        refused = sorted(k for k in kw if k not in accepted)
        if refused:
            raise GenerationError(f"case {case.id}: {case.pipeline} does not take {refused}; "
                                  "remove them from the case", case_id=case.id)
        record.update({k: v for k, v in kw.items()
                       if k not in ("image", "images", "input_image")})
        return kw, record

    @torch.inference_mode()
    def run(self, case: Case, resolved: Resolved) -> CaseOutput:
        load0, builds0 = self.load_seconds, self.builds
        t0 = time.perf_counter()
        pipe, processor = self.pipeline(case, resolved)
        kw, record = self.call_kwargs(case, pipe)
        fam = case.request.family
        gen_device = "cpu" if fam.generator_device == "cpu" else self.device
        kw["generator"] = torch.Generator(device=gen_device).manual_seed(case.request.seed)
        kw["output_type"] = "np" if case.modality == "video" else "pil"
        total = case.request.steps

        def on_step(_pipe: Any, step: int, _t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            self.progress.tick(step + 1, total)
            return tensors

        if "callback_on_step_end" in inspect.signature(pipe.__call__).parameters:
            kw["callback_on_step_end"] = on_step
        with tiny_overrides(case) as overrides:
            output = pipe(**kw)
        frames, out_info = to_rgb_frames(case, output)
        load = self.load_seconds - load0
        manifest: dict[str, Any] = {
            "implementation": case.implementation, "dtype": case.precision,
            "generator_device": str(gen_device), "call": record, "output": out_info}
        if processor:
            manifest["processor"] = processor
        if overrides:
            manifest["tiny_overrides"] = overrides
        return CaseOutput(frames=frames, audio_waveform=None, audio_sample_rate=None,
                          pipeline_class=f"diffusers.{case.pipeline}", manifest=manifest,
                          timings={"load_s": load, "pipeline_s": time.perf_counter() - t0 - load},
                          builds=self.builds - builds0)
