"""diffusers' LTX-2 pipelines as a candidate engine, on the same weights as the GT.

Why: a second implementation held to the official GT is the only way to show that gt-gen's gates
separate "another correct engine" from "a broken one" -- and diffusers 0.39.0 ships one
(``LTX2Pipeline``, ``LTX2ImageToVideoPipeline``, ``LTX2LatentUpsamplerModel``). The weights are
the official ones, converted by :mod:`gt_gen.convert` (cached by content).

What a run maps, and from where:

* request: prompt, negative prompt, size, frames, fps, steps, seed of the case;
* guidance: the official per-modality guider params of the case (``guider_params``: official
  defaults for the checkpoint overridden by ``[case.request.guidance]``) ->
  ``guidance_scale``/``stg_scale``/``modality_scale``/``guidance_rescale`` and their ``audio_``
  twins; ``stg_blocks`` -> ``spatio_temporal_guidance_blocks`` (diffusers has one list for both
  modalities: differing lists are refused, not silently merged);
* sigmas: the official ``LTX2Scheduler`` schedule (``sigmas=official[:-1]``; the converted
  scheduler has no shift), ``use_cross_timestep=True`` (LTX-2.3);
* image (``[case.request.image]``, one-stage): ``LTX2ImageToVideoPipeline`` (built from the same
  modules), given the pixels the official pipeline conditions on -- ltx-pipelines' own
  ``decode_image`` -> ``preprocess`` (H.264 round trip at the case's crf) -> ``resize_and_center_crop``
  -- as a ``[0, 1]`` tensor, so diffusers' ``2x - 1`` equals the official ``x / 127.5 - 1`` bit for
  bit. diffusers pins latent frame 0 with strength 1 (its conditioning mask), which is the official
  ``VideoConditionByLatentIndex`` at frame 0, strength 1.0; any other frame or strength is refused;
* ``inject``: the initial noise and sigmas the GT run recorded (``--inject-noise``): diffusers
  draws its noise in another layout and order, so without this the two runs only share a seed.
  Injected audio noise bypasses diffusers' ``_normalize_audio_latents`` (it would treat noise as a
  raw VAE latent); that one override is the only change made to the pipeline object. With an
  image the video noise is injected as the one Gaussian draw ``prepare_latents`` makes (passing
  ``latents`` would skip diffusers' image encoding).

Frames are converted to uint8 the official way (truncation of ``x * 255``).
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gt_gen.cases import Case
from gt_gen.errors import ConfigError, GenerationError
from gt_gen.strict_fp32 import strict_fp32

#: Two-stage (official ``TI2VidTwoStagesPipeline``) stage-2 sigmas come from ltx-pipelines.
SUPPORTED = ("one_stage", "two_stage")
#: ltx-core 1.0.0 ``VideoDecoder``: what a timestep-conditioned decoder is run with.
OFFICIAL_DECODE_TIMESTEP = 0.05
OFFICIAL_DECODE_NOISE_SCALE = 0.025
I2V_CLASS = "diffusers.LTX2ImageToVideoPipeline"


@dataclass
class DiffusersOutput:
    """What one diffusers generation produced (same fields as the official CaseOutput)."""

    frames: torch.Tensor  # [F, H, W, 3] uint8
    audio_waveform: torch.Tensor | None
    audio_sample_rate: int | None
    pipeline_class: str
    timings: dict[str, float] = field(default_factory=dict)
    builds: int = 0
    notes: list[str] = field(default_factory=list)


def _cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu").clone()


def official_sigmas(steps: int) -> torch.Tensor:
    """The official LTX2Scheduler schedule (float32, terminal 0 included)."""
    from ltx_core.components.schedulers import LTX2Scheduler

    return LTX2Scheduler().execute(steps=steps).to(torch.float32).cpu()


class DiffusersRecorder:
    """Records a diffusers LTX-2 run under :mod:`gt_gen.trace.stages` names.

    Hooks (instance-level, removed on exit): a forward hook on the connectors (text embeddings;
    with CFG the batch is ``[negative, positive]``), wrappers of ``prepare_latents`` /
    ``prepare_audio_latents`` (initial latents; with an image also its pixels and encoded
    latent), a forward pre-hook on the transformer (RoPE positions, first call of each stage),
    and a scheduler subclass that records every step's latent, the x0 it moved towards
    (``sample - sigma * velocity``) and the sigmas. The scheduler is recognised by class, since
    the pipeline deep-copies it for audio. ``LTX2ImageToVideoPipeline`` steps only latent frames
    1.. of an unpacked video latent: there the guided x0 is taken where the pipeline converts it
    back to a velocity, and frame 0 (the clean image latent, what the step keeps) is put back in
    both x0 and latent before packing, as the official loop records them.
    """

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}
        self.stage = 0

    def put(self, name: str, t: torch.Tensor) -> None:
        self.tensors[name] = _cpu(t)

    @contextlib.contextmanager
    def attach(self, pipe: Any) -> Iterator["DiffusersRecorder"]:
        rec = self
        handles = []
        saved_attrs: list[tuple[Any, str, Any, bool]] = []

        def set_attr(obj: Any, name: str, value: Any) -> None:
            saved_attrs.append((obj, name, obj.__dict__.get(name), name in obj.__dict__))
            setattr(obj, name, value)

        def on_connectors(_m: Any, _inp: Any, out: Any) -> None:
            video, audio = out[0], out[1]
            if video.shape[0] == 2:
                rec.put("text.neg_video", video[:1])
                rec.put("text.neg_audio", audio[:1])
                rec.put("text.video", video[1:])
                rec.put("text.audio", audio[1:])
            else:
                rec.put("text.video", video)
                rec.put("text.audio", audio)

        handles.append(pipe.connectors.register_forward_hook(on_connectors))
        seen_positions: set[int] = set()

        def on_transformer(_m: Any, _args: Any, kwargs: dict[str, Any]) -> None:
            if rec.stage in seen_positions:
                return
            seen_positions.add(rec.stage)
            for key, name in (("video_coords", "video"), ("audio_coords", "audio")):
                if kwargs.get(key) is not None:
                    rec.put(f"s{rec.stage}.positions.{name}", kwargs[key][:1])

        handles.append(pipe.transformer.register_forward_pre_hook(on_transformer, with_kwargs=True))

        prep_v, prep_a = pipe.prepare_latents, pipe.prepare_audio_latents
        prep_sig = inspect.signature(prep_v)

        def pack(t: torch.Tensor) -> torch.Tensor:
            return pipe._pack_latents(t, pipe.transformer_spatial_patch_size,
                                      pipe.transformer_temporal_patch_size)

        def prepare_latents(*a: Any, **k: Any) -> Any:
            rec.stage += 1
            out = prep_v(*a, **k)
            latents = out[0] if isinstance(out, tuple) else out  # ImageToVideo adds its mask
            rec.put(f"s{rec.stage}.noise.video", latents)
            bound = prep_sig.bind(*a, **k)
            bound.apply_defaults()
            arg = bound.arguments
            if isinstance(arg.get("image"), torch.Tensor) and arg.get("latents") is None:
                # the encoded image is latent frame 0 of the prepared latents (mask 1 there)
                f, h, w = latent_dims(pipe, arg["num_frames"], arg["height"], arg["width"])
                full = pipe._unpack_latents(latents, f, h, w, pipe.transformer_spatial_patch_size,
                                            pipe.transformer_temporal_patch_size)
                rec.put(f"s{rec.stage}.image.pixels", arg["image"][:1].unsqueeze(2))
                rec.put(f"s{rec.stage}.image.latent", full[:, :, :1])
            return out

        def prepare_audio_latents(*a: Any, **k: Any) -> torch.Tensor:
            out = prep_a(*a, **k)
            rec.put(f"s{rec.stage}.noise.audio", out)
            return out

        set_attr(pipe, "prepare_latents", prepare_latents)
        set_attr(pipe, "prepare_audio_latents", prepare_audio_latents)
        to_velocity = pipe.convert_x0_to_velocity
        video_x0: dict[str, torch.Tensor] = {}

        def convert_x0_to_velocity(sample: torch.Tensor, x0: torch.Tensor, step: int,
                                   scheduler: Any = None) -> torch.Tensor:
            if scheduler is None or scheduler is pipe.scheduler:
                video_x0["x0"], video_x0["sample"] = x0, sample  # the guided x0, every frame
            return to_velocity(sample, x0, step, scheduler)

        set_attr(pipe, "convert_x0_to_velocity", convert_x0_to_velocity)

        base = type(pipe.scheduler)
        video_id = id(pipe.scheduler)

        class RecordingScheduler(base):  # type: ignore[valid-type, misc]
            def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor,
                     *a: Any, **k: Any) -> Any:
                if self.step_index is None:
                    self._init_step_index(timestep)
                i = int(self.step_index)
                modality = "video" if id(self) == video_id else "audio"
                p = f"s{rec.stage}.step{i:02d}"
                if modality == "video" and i == 0:
                    rec.put(f"s{rec.stage}.sigmas", self.sigmas.float())
                if modality == "video" and sample.ndim == 5:
                    # ImageToVideo steps frames 1.. unpacked; frame 0 (the image) stays as it is
                    out = super().step(model_output, timestep, sample, *a, **k)
                    prev = out[0] if isinstance(out, tuple) else out.prev_sample
                    full = video_x0["sample"]
                    x0 = torch.cat([full[:, :, :1], video_x0["x0"][:, :, 1:]], 2)  # as it is used
                    rec.put(f"{p}.denoised.video", pack(x0.float()))
                    rec.put(f"{p}.latent.video", pack(torch.cat([full[:, :, :1].to(prev), prev], 2)))
                    return out
                sigma = self.sigmas[i]
                rec.put(f"{p}.denoised.{modality}", sample.float() - sigma * model_output.float())
                out = super().step(model_output, timestep, sample, *a, **k)
                rec.put(f"{p}.latent.{modality}", out[0] if isinstance(out, tuple) else out.prev_sample)
                return out

        RecordingScheduler.__name__ = base.__name__
        old_class = pipe.scheduler.__class__
        pipe.scheduler.__class__ = RecordingScheduler
        try:
            yield self
        finally:
            pipe.scheduler.__class__ = old_class
            for h in handles:
                h.remove()
            for obj, name, value, had in reversed(saved_attrs):
                if had:
                    setattr(obj, name, value)
                else:
                    delattr(obj, name)


def latent_dims(pipe: Any, num_frames: int, height: int, width: int) -> tuple[int, int, int]:
    """Latent frames, height, width of a pixel size (the VAE's compression ratios)."""
    return ((num_frames - 1) // pipe.vae_temporal_compression_ratio + 1,
            height // pipe.vae_spatial_compression_ratio, width // pipe.vae_spatial_compression_ratio)


def official_image_pixels(case: Case, height: int, width: int,
                          device: str | torch.device = "cpu") -> torch.Tensor:
    """The case's conditioning image as the official pipeline prepares it, in ``[0, 1]``.

    ltx-pipelines 1.0.0 ``load_image_conditioning``: ``decode_image`` (first three channels),
    ``preprocess`` (one-frame H.264 round trip at the case's crf; crf 0 skips it), float32,
    ``resize_and_center_crop`` (bilinear, aspect kept, centre crop) -- called here, not
    re-implemented -- then ``x / 255`` instead of the official ``x / 127.5 - 1``: diffusers
    normalises a ``[0, 1]`` tensor by ``2x - 1``, and ``2 * fl(x / 255) == fl(x / 127.5)``
    exactly (scaling by two is exact), so the pixels the VAE encodes are the official ones.
    Returns ``[1, 3, height, width]`` float32. The image and its sha256 come from the official
    runner's ``conditioning_images`` (the same file, the same check)."""
    from ltx_pipelines.utils import media_io

    from gt_gen.convert.official_paths import official

    images = official().conditioning_images(case)
    if len(images) != 1:
        raise GenerationError(f"case {case.id}: diffusers' LTX2ImageToVideoPipeline takes one "
                              f"image, the case has {len(images)}", case_id=case.id)
    img = images[0]
    pixels = media_io.preprocess(image=media_io.decode_image(image_path=img.path), crf=img.crf)
    t = torch.tensor(pixels, dtype=torch.float32, device=torch.device(device))
    t = media_io.resize_and_center_crop(t, height, width)  # [1, 3, 1, H, W] in 0..255
    return (t[:, :, 0] / 255.0).contiguous()


def image_unsupported(case: Case) -> str | None:
    """Why diffusers cannot condition ``case`` on its image as the official pipeline does."""
    img = case.request.image
    if img is None:
        return None
    if case.pipeline != "one_stage":
        return ("image conditioning is wired for one-stage only (the official two-stage pipeline "
                "re-encodes the image at full size for stage 2; diffusers keeps the upsampled "
                "frame-0 latent)")
    if img.frame != 0 or img.strength != 1.0:
        return (f"image at frame {img.frame}, strength {img.strength}: diffusers' "
                "LTX2ImageToVideoPipeline pins latent frame 0 at strength 1.0 only")
    return None


def guidance_kwargs(case: Case, checkpoint: Path) -> tuple[dict[str, Any], list[str]]:
    """diffusers guidance arguments equal to the official guider params of ``case``."""
    from gt_gen.convert.official_paths import official

    video, audio = official().guider_params(case, checkpoint)
    notes: list[str] = []
    if list(video.stg_blocks or []) != list(audio.stg_blocks or []) and \
            video.stg_scale and audio.stg_scale:
        raise ConfigError(f"case {case.id}: video and audio STG blocks differ "
                          f"({video.stg_blocks} / {audio.stg_blocks}); diffusers' LTX2Pipeline "
                          "has one list for both")
    if getattr(video, "skip_step", 0) or getattr(audio, "skip_step", 0):
        raise ConfigError(f"case {case.id}: guidance skip_step has no diffusers equivalent")
    for name in ("cfg_scale", "stg_scale", "modality_scale", "rescale_scale"):
        if getattr(audio, name) == 0 and getattr(video, name) != 0:
            # LTX2Pipeline reads `audio_x or x`: an audio 0 silently becomes the video value.
            notes.append(f"audio {name}=0 is replaced by the video value inside LTX2Pipeline")
    blocks = list(video.stg_blocks or audio.stg_blocks or [])
    return {
        "guidance_scale": float(video.cfg_scale), "stg_scale": float(video.stg_scale),
        "modality_scale": float(video.modality_scale), "guidance_rescale": float(video.rescale_scale),
        "audio_guidance_scale": float(audio.cfg_scale), "audio_stg_scale": float(audio.stg_scale),
        "audio_modality_scale": float(audio.modality_scale),
        "audio_guidance_rescale": float(audio.rescale_scale),
        "spatio_temporal_guidance_blocks": blocks or None,
    }, notes


def frames_uint8(video: Any) -> torch.Tensor:
    """diffusers ``output_type="np"`` frames ``[1, F, H, W, 3]`` in [0, 1] -> uint8 by truncation."""
    t = torch.as_tensor(video)
    if t.ndim == 5:
        t = t[0]
    return (t.float() * 255.0).clamp(0, 255).to(torch.uint8)


class DiffusersLTX:
    """Loads a converted folder once and runs cases through diffusers' LTX-2 pipelines."""

    def __init__(self, folder: Path, *, device: str | torch.device = "cpu",
                 precision: str = "fp32") -> None:
        from diffusers import LTX2Pipeline

        from gt_gen.trace.official_hooks import torch_dtype

        self.folder, self.device = folder, torch.device(device)
        self.precision, self.dtype = precision, torch_dtype(precision)
        self.pipe = LTX2Pipeline.from_pretrained(str(folder), torch_dtype=self.dtype)
        self.pipe.to(self.device)
        for name in ("transformer", "vae", "audio_vae", "vocoder", "connectors", "text_encoder"):
            getattr(self.pipe, name).eval()  # modules built from configs start in train mode
        self.pipe.set_progress_bar_config(disable=True)
        self._upsampler: Any = None
        self._lora_loaded: float | None = None
        self._unfused: dict[str, torch.Tensor] = {}
        self._decode_noise: torch.Tensor | None = None
        self.last_decode_noise: torch.Tensor | None = None
        self._i2v: Any = None

    def pipeline_for(self, case: Case) -> Any:
        """The pipeline object that runs ``case``: ``LTX2Pipeline``, or for an image case
        ``LTX2ImageToVideoPipeline`` built from the very same modules (nothing loaded twice)."""
        if case.request.image is None:
            return self.pipe
        if self._i2v is None:
            from diffusers import LTX2ImageToVideoPipeline

            self._i2v = LTX2ImageToVideoPipeline(**self.pipe.components)
            self._i2v.set_progress_bar_config(disable=True)
        return self._i2v

    # -- building blocks -------------------------------------------------------------------
    def upsampler(self) -> Any:
        if self._upsampler is None:
            from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

            sub = self.folder / "latent_upsampler"
            if not sub.is_dir():
                raise GenerationError(f"{self.folder} has no latent_upsampler/ (convert with the "
                                      "spatial upsampler)")
            self._upsampler = LTX2LatentUpsamplerModel.from_pretrained(
                str(sub), torch_dtype=self.dtype).to(self.device).eval()
        return self._upsampler

    def set_lora(self, strength: float | None) -> None:
        """Fuse the converted distilled LoRA at ``strength`` into the transformer (None: none).

        Done by hand as PEFT's ``fuse_lora`` does it (``W + strength * B @ A`` in the weight's
        dtype) because diffusers' ``load_lora_weights`` needs the PEFT package; the original
        weights are kept to unfuse exactly."""
        if self._lora_loaded == strength:
            return
        params = dict(self.pipe.transformer.named_parameters())
        for name, original in self._unfused.items():
            params[name].data.copy_(original)
        self._unfused, self._lora_loaded = {}, None
        if strength is None:
            return
        from safetensors.torch import load_file

        sd = load_file(str(self.folder / "lora" / "pytorch_lora_weights.safetensors"))
        for key in sorted(k for k in sd if k.endswith(".lora_A.weight")):
            module = key[len("transformer."): -len(".lora_A.weight")]
            target = params.get(f"{module}.weight")
            if target is None:
                raise GenerationError(f"LoRA tensor {key} targets no transformer weight")
            a = sd[key].to(target.device, target.dtype)
            b = sd[key.replace(".lora_A.", ".lora_B.")].to(target.device, target.dtype)
            self._unfused[f"{module}.weight"] = target.data.clone()
            target.data.add_(strength * (b @ a))
        self._lora_loaded = strength

    # -- a run ---------------------------------------------------------------------------------
    def _call(self, inject_audio: bool, decode_noise: torch.Tensor | None = None,
              pipe: Any = None, video_noise: torch.Tensor | None = None, **kwargs: Any) -> Any:
        """Call the pipeline; injected audio noise skips ``_normalize_audio_latents``, an injected
        VAE decode noise replaces the last ``randn_tensor`` draw of 5-D shape (with injected
        packed latents it is the only one); ``video_noise`` (``[B, C, F, H, W]``) replaces the
        first 5-D draw, the initial noise ``LTX2ImageToVideoPipeline.prepare_latents`` draws.
        The decode noise used is kept in ``last_decode_noise`` (the last 5-D draw of the call)."""
        import sys

        pipe = pipe if pipe is not None else self.pipe
        module = sys.modules[type(pipe).__module__]
        draw = module.randn_tensor
        last: dict[str, torch.Tensor] = {}
        pending = [video_noise] if video_noise is not None else []

        def randn_tensor(shape: Any, *a: Any, **k: Any) -> torch.Tensor:
            if len(shape) == 5 and pending:
                noise = pending.pop()
                if tuple(noise.shape) != tuple(shape):
                    raise GenerationError(f"injected video noise {tuple(noise.shape)} does not fit "
                                          f"the pipeline's draw {tuple(shape)}")
                return noise.to(device=k.get("device"), dtype=k.get("dtype"))
            if len(shape) == 5 and decode_noise is not None:
                out = decode_noise.to(device=k.get("device"), dtype=k.get("dtype"))
            else:
                out = draw(shape, *a, **k)
            if len(shape) == 5:
                last["noise"] = out
            return out

        module.randn_tensor = randn_tensor  # type: ignore[attr-defined]
        if inject_audio:
            pipe._normalize_audio_latents = lambda latents, mean, std: latents
        try:
            result = pipe(**kwargs)
        finally:
            module.randn_tensor = draw  # type: ignore[attr-defined]
            if inject_audio:
                del pipe._normalize_audio_latents
        self.last_decode_noise = last.get("noise") if pipe.vae.config.timestep_conditioning else None
        return result

    @torch.inference_mode()
    def run(self, case: Case, checkpoint: Path, *, inject: dict[str, torch.Tensor] | None = None,
            tweak: Callable[[dict[str, Any], Any], None] | None = None) -> DiffusersOutput:
        """Generate ``case``; ``inject`` holds recorded ``sK.noise.*`` / ``sK.sigmas``.

        ``tweak(kwargs, pipe)`` may change the call arguments or the pipeline object before the
        first stage runs (how the tests build deliberately broken candidates)."""
        import time

        if case.pipeline not in SUPPORTED:
            raise GenerationError(f"case {case.id}: pipeline {case.pipeline!r} has no diffusers "
                                  f"runner in gt-gen (supported: {list(SUPPORTED)})", case_id=case.id)
        why = image_unsupported(case)
        if why:
            raise GenerationError(f"case {case.id}: {why}", case_id=case.id)
        t0 = time.perf_counter()
        r = case.request
        guidance, notes = guidance_kwargs(case, checkpoint)
        two = case.pipeline == "two_stage"
        h, w = (r.height // 2, r.width // 2) if two else (r.height, r.width)
        sig = inject["s1.sigmas"] if inject and "s1.sigmas" in inject else official_sigmas(r.steps)
        kwargs: dict[str, Any] = dict(
            prompt=r.prompt, negative_prompt=r.negative_prompt, height=h, width=w,
            num_frames=r.num_frames, frame_rate=float(r.fps), num_inference_steps=r.steps,
            sigmas=[float(s) for s in sig[:-1]], generator=self._generator(r.seed),
            use_cross_timestep=True, max_sequence_length=1024, return_dict=False, **guidance)
        if inject is not None:
            kwargs["latents"] = inject["s1.noise.video"].to(self.device, torch.float32)
            kwargs["audio_latents"] = inject["s1.noise.audio"].to(self.device, torch.float32)
        if self.pipe.vae.config.timestep_conditioning:
            # The official VideoDecoder mixes noise in and conditions on t at decode (ltx-core
            # 1.0.0 VideoDecoder: decode_timestep 0.05, decode_noise_scale 0.025).
            kwargs["decode_timestep"] = OFFICIAL_DECODE_TIMESTEP
            kwargs["decode_noise_scale"] = OFFICIAL_DECODE_NOISE_SCALE
        if r.image is not None:
            kwargs["image"] = official_image_pixels(case, r.height, r.width, self.device)
        self.set_lora(None)
        if tweak is not None:
            tweak(kwargs, self.pipeline_for(case))
        self._decode_noise = (inject or {}).get("decode.noise.video")
        with strict_fp32(self.precision == "fp32"):
            if case.request.image is not None:
                return self._image_to_video(case, kwargs, notes, t0)
            if not two:
                video, audio = self._call(inject is not None, decode_noise=self._decode_noise,
                                          output_type="np", **kwargs)
                return self._output(video, audio, notes, time.perf_counter() - t0)
            return self._two_stage(case, kwargs, inject, notes, t0)

    def _image_to_video(self, case: Case, kwargs: dict[str, Any], notes: list[str],
                        t0: float) -> DiffusersOutput:
        """One stage through ``LTX2ImageToVideoPipeline`` with the official image pixels.

        Injected video noise (packed ``[1, F*H*W, C]``) goes in unpacked as the pipeline's own
        Gaussian draw, so diffusers still encodes the image and builds frame 0 itself."""
        import time

        pipe = self.pipeline_for(case)
        r = case.request
        kwargs = dict(kwargs)
        video_noise = None
        packed = kwargs.pop("latents", None)
        if packed is not None:
            f, h, w = latent_dims(pipe, r.num_frames, r.height, r.width)
            video_noise = pipe._unpack_latents(packed, f, h, w, pipe.transformer_spatial_patch_size,
                                               pipe.transformer_temporal_patch_size)
        video, audio = self._call(kwargs.get("audio_latents") is not None,
                                  decode_noise=self._decode_noise, pipe=pipe,
                                  video_noise=video_noise, output_type="np", **kwargs)
        return self._output(video, audio, notes, time.perf_counter() - t0, cls=I2V_CLASS)

    def _generator(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(seed)

    def _output(self, video: Any, audio: Any, notes: list[str], seconds: float,
                cls: str = "diffusers.LTX2Pipeline") -> DiffusersOutput:
        wave = None if audio is None else torch.as_tensor(audio)[0].detach().float().cpu()
        return DiffusersOutput(frames=frames_uint8(video).cpu(), audio_waveform=wave,
                               audio_sample_rate=int(self.pipe.vocoder.config.output_sampling_rate),
                               pipeline_class=cls, timings={"pipeline_s": seconds}, notes=notes)

    def _two_stage(self, case: Case, kwargs: dict[str, Any], inject: dict[str, torch.Tensor] | None,
                   notes: list[str], t0: float) -> DiffusersOutput:
        """Stage 1 at half size -> latent upsampler -> stage 2 with the distilled LoRA.

        Mirrors the official ``TI2VidTwoStagesPipeline``: stage 2 starts from the upsampled
        latent noised to the first distilled sigma, runs the distilled sigmas without guidance,
        and decodes. The stage-2 noise is injected the same way as stage 1's."""
        import time

        from ltx_pipelines.utils.constants import STAGE_2_DISTILLED_SIGMA_VALUES

        pipe = self.pipe
        r = case.request
        lat_v, lat_a = self._call(inject is not None, output_type="latent", **kwargs)
        # output_type="latent" returns de-normalised latents: video [B,C,F,H,W], audio [B,C,L,M]
        up = self.upsampler()(lat_v.to(self.dtype))
        mean = pipe.vae.latents_mean.view(1, -1, 1, 1, 1).to(up)
        std = pipe.vae.latents_std.view(1, -1, 1, 1, 1).to(up)
        up_norm = (up - mean) / std
        sig2 = (inject or {}).get("s2.sigmas")
        sig2 = sig2 if sig2 is not None else torch.tensor(STAGE_2_DISTILLED_SIGMA_VALUES, dtype=torch.float32)
        s0 = float(sig2[0])
        packed_v = pipe._pack_latents(up_norm.float())
        a_mean = pipe.audio_vae.latents_mean.to(lat_a)
        a_std = pipe.audio_vae.latents_std.to(lat_a)
        packed_a = (pipe._pack_audio_latents(lat_a.float()) - a_mean) / a_std
        self.set_lora(case.model.distilled_lora_strength)
        k2 = dict(kwargs)
        k2.update(height=r.height, width=r.width, sigmas=[float(s) for s in sig2[:-1]],
                  num_inference_steps=len(sig2) - 1, guidance_scale=1.0, stg_scale=0.0,
                  modality_scale=1.0, guidance_rescale=0.0, audio_guidance_scale=1.0,
                  audio_stg_scale=0.0, audio_modality_scale=1.0, audio_guidance_rescale=0.0,
                  spatio_temporal_guidance_blocks=None, generator=kwargs["generator"])
        if inject is not None and "s2.noise.video" in inject:
            nv = inject["s2.noise.video"].to(packed_v)
            na = inject["s2.noise.audio"].to(packed_a)
            k2["latents"] = nv * s0 + packed_v * (1 - s0)
            k2["audio_latents"] = na * s0 + packed_a * (1 - s0)
            k2["noise_scale"] = 0.0
        else:
            k2["latents"], k2["audio_latents"], k2["noise_scale"] = packed_v, packed_a, s0
        self._up_trace = up_norm  # read by the trace runner
        video, audio = self._call(True, decode_noise=self._decode_noise, output_type="np", **k2)
        if not math.isclose(s0, float(sig2[0])):
            raise GenerationError("stage-2 sigma changed during the run")
        return self._output(video, audio, notes, time.perf_counter() - t0,
                            cls="diffusers.LTX2Pipeline (two-stage: upsampler + distilled LoRA)")


def converted_folder(case: Case, model: Any) -> Path:
    """The diffusers conversion of ``model`` (a ResolvedModel), built once into the gt-gen cache.

    Keyed by the source files' content (tiny: the builder key; full: the files' sha256) and the
    converter version, so a changed checkpoint or converter never reuses a stale folder."""
    import hashlib
    import json

    from gt_gen.convert.ltx2 import CONVERTER_VERSION, convert_ltx2
    from gt_gen.convert.official_paths import tiny, tiny_patch

    prov = dict(model.provenance)
    ident = prov.get("builder_key") or json.dumps(prov.get("files_sha256") or
                                                  [str(model.checkpoint)], sort_keys=True)
    parts = (model.spatial_upsampler, model.distilled_lora)  # a one-stage case converts neither
    extra = "|".join("" if p is None else Path(p).name for p in parts)
    key = hashlib.sha256(f"{ident}|{extra}|{CONVERTER_VERSION}".encode()).hexdigest()[:16]
    folder = tiny().cache_root() / "diffusers-ltx2" / key
    if (folder / "model_index.json").is_file():
        return folder
    patch = tiny_patch().tiny_gemma_constant() if case.model.is_tiny else contextlib.nullcontext()
    try:
        with patch:
            convert_ltx2(model.checkpoint, model.gemma_root, folder,
                         spatial_upsampler=model.spatial_upsampler,
                         distilled_lora=model.distilled_lora, hash_sources=False)
    except ConfigError:
        if (folder / "model_index.json").is_file():  # a concurrent conversion won the race
            return folder
        raise
    return folder


def _write_outputs(case: Case, out: DiffusersOutput, out_dir: Path) -> dict[str, str]:
    """The candidate's mp4 (+ key frames) written exactly as the GT's: the official encoder
    (the LTX backend's ``write_video``), then key frames read back through the mp4."""
    import inspect

    from gt_gen.generate.outputs import write_case_outputs

    if "backend" not in inspect.signature(write_case_outputs).parameters:  # pre-backends layout
        return write_case_outputs(case, out, out_dir)  # type: ignore[call-arg,arg-type]
    from gt_gen.generate.backends.ltx.backend import LtxBackend

    class OfficialEncoder:
        """Only the LTX backend's encoder (it keeps no state), not its runner."""

        def write_video(self, case: Case, out: Any, path: Path) -> None:
            LtxBackend.write_video(self, case, out, path)  # type: ignore[arg-type]

    return write_case_outputs(case, out, out_dir, OfficialEncoder())  # type: ignore[arg-type]


def unsupported_reason(case: Case) -> str | None:
    """Why diffusers' LTX-2 pipelines cannot produce a candidate for ``case`` (None: they can)."""
    if case.backend != "ltx_official" or not case.is_official or case.modality != "video":
        return f"not an official LTX-2 video case (backend {case.backend})"
    if case.pipeline not in SUPPORTED:
        return f"pipeline {case.pipeline} has no diffusers equivalent (diffusers has no res2s sampler)" \
            if case.pipeline == "two_stage_hq" else f"pipeline {case.pipeline} is not wired to diffusers"
    return image_unsupported(case)


def run_diffusers(args: Any, cases: list[Case]) -> int:
    """``gt-gen candidates --engine diffusers``: every case through diffusers, named for compare.

    Options are checked and every case's injected inputs read (sha256-verified) before any model
    runs, so bad input is one line, exit 2, nothing written. A case that fails to generate is
    recorded in ``candidates.json`` and the group goes on (exit 1)."""
    from gt_gen.atomic import write_json
    from gt_gen.devices import check_device
    from gt_gen.errors import GtGenError, UsageError
    from gt_gen.naming import video_name
    from gt_gen.trace.inputs import read_inputs
    from gt_gen.trace.run import diffusers_engine, record_diffusers, resolve_model
    from gt_gen.writable import check_out_dir

    if not args.out:
        raise UsageError("candidates --engine diffusers needs --out DIR")
    if args.server:
        raise UsageError("--server is for --engine sglang")
    check_device(args.device)
    reasons = {c.id: r for c in cases if (r := unsupported_reason(c))}
    runnable = [c for c in cases if c.id not in reasons]
    if not runnable:
        raise UsageError(f"--engine diffusers can run none of the selected cases: {reasons}")
    injected = ({c.id: read_inputs(Path(args.inject_noise), c) for c in runnable}
                if args.inject_noise else {})
    check_out_dir(args.out, ["candidates.json"] + [video_name(c) for c in runnable])
    out = Path(args.out)
    record: dict[str, Any] = {"engine": "diffusers", "precision": args.precision,
                              "inject_noise": bool(args.inject_noise), "cases": {}}
    for cid, why in reasons.items():
        record["cases"][cid] = {"status": "unsupported", "reason": why}
        print(f"{cid}: unsupported by --engine diffusers ({why})")
    engines: dict[Path, DiffusersLTX] = {}
    failed = 0
    for case in runnable:
        try:
            model = resolve_model(case)
            folder = converted_folder(case, model)
            if folder not in engines:
                engines[folder] = diffusers_engine(case, model, precision=args.precision,
                                                   device=args.device)
            run = record_diffusers(case, model, engines[folder], inputs=injected.get(case.id))
            files = _write_outputs(case, run.output, out)
            record["cases"][case.id] = {"status": "ok", "file": video_name(case), "files": files,
                                        "pipeline_class": run.output.pipeline_class,
                                        "notes": run.notes}
            print(f"{case.id}: ok -> {out / video_name(case)}")
        except (GtGenError, RuntimeError, ValueError, TypeError) as exc:
            failed += 1
            msg = exc.one_line() if isinstance(exc, GtGenError) else f"{type(exc).__name__}: {exc}"
            record["cases"][case.id] = {"status": "failed", "error": " ".join(msg.split())[:2000]}
            print(f"{case.id}: failed: {msg}")
    write_json(out / "candidates.json", record)
    return 1 if failed else 0
