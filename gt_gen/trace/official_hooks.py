"""Runtime hooks on the *unmodified* official LTX-2 pipelines: precision and stage recording.

Nothing here edits a file of ``ltx-pipelines`` / ``ltx-core``. Both tools work by swapping, for
the duration of a ``with`` block and under one lock, names that the official pipeline modules
look up at call time, and restoring them afterwards:

* :func:`official_precision` ``("fp32")``: the pipelines hard-code ``torch.bfloat16`` (as
  ``self.dtype`` for the model ledger and as a local ``dtype`` for latents). Inside the block the
  pipeline modules' global ``torch`` is a proxy whose ``bfloat16`` attribute is ``torch.float32``
  (every other attribute is torch's own), and the res2s sampler's ``model_dtype`` default is
  float32. Pipelines constructed and called inside the block therefore load every model in fp32
  and keep latents in fp32. ``"bf16"`` changes nothing (the official behaviour).
* :class:`OfficialRecorder`: wraps ``encode_prompts``, ``GaussianNoiser``,
  ``euler_denoising_loop``, ``upsample_video``, ``combined_image_conditionings`` (and the
  ``load_image_conditioning`` it calls), ``vae_decode_video`` and ``vae_decode_audio`` *as
  the pipeline module sees them* so their inputs/outputs are recorded under the stage names of
  :mod:`gt_gen.trace.stages`; the wrapped functions still do all the work. It also keeps the raw
  initial noise of each stage (reconstructed from the noiser's generator state and checked
  against what the noiser produced) so another engine can be driven with it (``--inject-noise``).
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import torch

from gt_gen.errors import ConfigError, GenerationError
from gt_gen.strict_fp32 import strict_fp32

PRECISIONS = ("bf16", "fp32")
PIPELINE_MODULES = ("ltx_pipelines.ti2vid_one_stage", "ltx_pipelines.ti2vid_two_stages",
                    "ltx_pipelines.ti2vid_two_stages_hq")
HELPER_MODULES = ("ltx_pipelines.utils.helpers",)
_LOCK = threading.RLock()


class _TorchFp32(object):
    """``torch`` as the official pipeline modules see it in fp32 mode: bfloat16 means float32."""

    bfloat16 = torch.float32

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)


def torch_dtype(precision: str) -> torch.dtype:
    """The torch dtype of a case precision."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {list(PRECISIONS)}, not {precision!r}")
    return torch.float32 if precision == "fp32" else torch.bfloat16


@contextlib.contextmanager
def official_precision(precision: str) -> Iterator[None]:
    """Run the official pipelines at ``precision`` without touching their files (see module doc)."""
    torch_dtype(precision)
    if precision == "bf16":
        yield
        return
    with _LOCK, strict_fp32():
        mods = [importlib.import_module(m) for m in PIPELINE_MODULES]
        from ltx_pipelines.utils import samplers

        saved = [(m, m.torch) for m in mods]
        loop = samplers.res2s_audio_video_denoising_loop
        saved_kw = dict(loop.__kwdefaults__ or {})
        saved_def = loop.__defaults__
        try:
            proxy = _TorchFp32()
            for m in mods:
                m.torch = proxy  # type: ignore[attr-defined]
            loop.__kwdefaults__ = {k: (torch.float32 if v is torch.bfloat16 else v)
                                   for k, v in saved_kw.items()} or None
            if saved_def is not None:
                loop.__defaults__ = tuple(torch.float32 if v is torch.bfloat16 else v
                                          for v in saved_def)
            yield
        finally:
            for m, t in saved:
                m.torch = t  # type: ignore[attr-defined]
            loop.__kwdefaults__ = saved_kw or None
            loop.__defaults__ = saved_def


def _cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu").clone()


class OfficialRecorder:
    """Records the stages of official pipeline calls made inside :meth:`attach`.

    ``tensors``: stage name -> tensor (CPU, the dtype the pipeline used), in pipeline order.
    ``inputs``: what another engine needs to replay the run: ``sK.noise.video`` / ``audio`` (the
    raw Gaussian noise each stage drew, in the packed layout) and ``sK.sigmas``.
    ``light=True`` keeps only ``inputs`` (what generate records next to every GT).
    """

    def __init__(self, *, light: bool = False) -> None:
        self.light = light
        self.tensors: dict[str, torch.Tensor] = {}
        self.inputs: dict[str, torch.Tensor] = {}
        self._stage = 0
        self._noise_calls = 0

    # -- recording helpers -------------------------------------------------------------
    def _put(self, name: str, t: torch.Tensor) -> None:
        if not self.light:
            self.tensors[name] = _cpu(t)

    def _prefix(self) -> str:
        return f"s{self._stage}"

    # -- wrappers ------------------------------------------------------------------------
    def _encode_prompts(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(prompts: list[str], *args: Any, **kwargs: Any) -> Any:
            results = original(prompts, *args, **kwargs)
            for tag, res in zip(("", "neg_"), results):
                self._put(f"text.{tag}video", res.video_encoding)
                self._put(f"text.{tag}audio", res.audio_encoding)
            return results
        return wrapped

    def _noiser_class(self, original: type) -> type:
        recorder = self

        class RecordingNoiser(original):  # type: ignore[valid-type, misc]
            def __call__(self, latent_state: Any, noise_scale: float = 1.0) -> Any:
                gen = self.generator
                state = gen.get_state()
                out = super().__call__(latent_state, noise_scale)
                replay = torch.Generator(device=gen.device)
                replay.set_state(state)
                lat = latent_state.latent
                noise = torch.randn(*lat.shape, device=lat.device, dtype=lat.dtype, generator=replay)
                scaled = latent_state.denoise_mask * noise_scale
                check = (noise * scaled + lat * (1 - scaled)).to(lat.dtype)
                if not torch.equal(check, out.latent):
                    raise GenerationError("trace: the official noiser drew noise gt-gen cannot "
                                          "replay (ltx-core changed?); refusing to record it")
                # Every stage draws its video noise, then its audio noise, before its loop.
                modality = "video" if recorder._noise_calls % 2 == 0 else "audio"
                stage = recorder._noise_calls // 2 + 1
                recorder._noise_calls += 1
                recorder.inputs[f"s{stage}.noise.{modality}"] = _cpu(noise)
                return out
        return RecordingNoiser

    def _head(self, sigmas: torch.Tensor, video_state: Any, audio_state: Any) -> str:
        self._stage += 1
        p = self._prefix()
        self.inputs[f"{p}.sigmas"] = _cpu(sigmas).float()
        self._put(f"{p}.noise.video", video_state.latent)
        self._put(f"{p}.noise.audio", audio_state.latent)
        self._put(f"{p}.positions.video", video_state.positions)
        self._put(f"{p}.positions.audio", audio_state.positions)
        self._put(f"{p}.sigmas", sigmas.float())
        return p

    def _res2s_loop(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """The HQ sampler: stage inputs only (its sub-steps are not named stages yet)."""
        def wrapped(sigmas: torch.Tensor, video_state: Any, audio_state: Any,
                    *args: Any, **kwargs: Any) -> Any:
            self._head(sigmas, video_state, audio_state)
            return original(sigmas, video_state, audio_state, *args, **kwargs)
        return wrapped

    def _loop(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(sigmas: torch.Tensor, video_state: Any, audio_state: Any, stepper: Any,
                    denoise_fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            p = self._head(sigmas, video_state, audio_state)
            if self.light:
                return original(sigmas, video_state, audio_state, stepper, denoise_fn, *args, **kwargs)
            from ltx_pipelines.utils.helpers import post_process_latent
            calls = {"n": 0}

            def fn(v: Any, a: Any, s: torch.Tensor, step: int) -> Any:
                dv, da = denoise_fn(v, a, s, step)
                # recorded as the loop uses it: conditioned tokens (an image) hold their clean
                # latent; with no conditioning (mask all ones) this is dv itself, bit for bit
                self._put(f"{p}.step{step:02d}.denoised.video",
                          post_process_latent(dv, v.denoise_mask, v.clean_latent))
                self._put(f"{p}.step{step:02d}.denoised.audio",
                          post_process_latent(da, a.denoise_mask, a.clean_latent))
                return dv, da

            class Stepper:
                def step(_self, sample: torch.Tensor, denoised: torch.Tensor, sig: torch.Tensor,
                         step_index: int, **kw: Any) -> torch.Tensor:
                    out = stepper.step(sample, denoised, sig, step_index, **kw)
                    modality = "video" if calls["n"] % 2 == 0 else "audio"
                    calls["n"] += 1
                    self._put(f"{p}.step{step_index:02d}.latent.{modality}", out)
                    return out

            return original(sigmas, video_state, audio_state, Stepper(), fn, *args, **kwargs)
        return wrapped

    def _load_image(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """``load_image_conditioning``: the preprocessed pixels (first image of each stage)."""
        def wrapped(*args: Any, **kwargs: Any) -> torch.Tensor:
            out = original(*args, **kwargs)
            name = f"s{self._stage + 1}.image.pixels"  # conditionings come before the stage's loop
            if name not in self.tensors:
                self._put(name, out)
            return out
        return wrapped

    def _conditionings(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """``combined_image_conditionings``: the encoded image latent (first image of each stage)."""
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            items = original(*args, **kwargs)
            for item in items:
                latent = getattr(item, "latent", getattr(item, "keyframes", None))
                if isinstance(latent, torch.Tensor):
                    self._put(f"s{self._stage + 1}.image.latent", latent)
                    break
            return items
        return wrapped

    def _upsample(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> torch.Tensor:
            out = original(*args, **kwargs)
            self._put("upsampled.video", out)
            return out
        return wrapped

    def _decode_video(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Iterator[torch.Tensor]:
            # Body runs at the first next(), exactly when the original would draw its noise.
            latent = kwargs.get("latent", args[0] if args else None)
            decoder = kwargs.get("video_decoder", args[1] if len(args) > 1 else None)
            gen = kwargs.get("generator", args[3] if len(args) > 3 else None)
            state = None
            if getattr(decoder, "timestep_conditioning", False) and gen is not None \
                    and kwargs.get("tiling_config", args[2] if len(args) > 2 else None) is None:
                state = gen.get_state()
            chunks = []
            for chunk in original(*args, **kwargs):
                if state is not None and latent is not None and gen is not None:
                    # VideoDecoder.forward draws randn(sample.size()) first when it is
                    # timestep-conditioned (ltx-core 1.0.0); replay it from the saved state.
                    replay = torch.Generator(device=gen.device)
                    replay.set_state(state)
                    noise = torch.randn(latent.size(), generator=replay, dtype=latent.dtype,
                                        device=latent.device)
                    self.inputs["decode.noise.video"] = _cpu(noise)
                    self._put("decode.noise.video", noise)
                    state = None
                chunks.append(chunk)
                yield chunk
            if chunks:
                self._put("decoded.frames", torch.cat([c if c.ndim == 4 else c[None] for c in chunks]))
        return wrapped

    def _decode_audio(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            wave = getattr(out, "waveform", None)
            if wave is not None:
                self._put("decoded.audio", wave.float())
            return out
        return wrapped

    @contextlib.contextmanager
    def attach(self) -> Iterator["OfficialRecorder"]:
        """Record every official pipeline call made inside the block."""
        wrappers = {"encode_prompts": self._encode_prompts, "GaussianNoiser": self._noiser_class,
                    "euler_denoising_loop": self._loop,
                    "res2s_audio_video_denoising_loop": self._res2s_loop,
                    "upsample_video": self._upsample,
                    "combined_image_conditionings": self._conditionings,
                    "load_image_conditioning": self._load_image,
                    "vae_decode_video": self._decode_video, "vae_decode_audio": self._decode_audio}
        with _LOCK:
            # helpers: where combined_image_conditionings looks up load_image_conditioning
            mods = [importlib.import_module(m) for m in PIPELINE_MODULES + HELPER_MODULES]
            saved: list[tuple[Any, str, Any]] = []
            try:
                for m in mods:
                    for name, wrap in wrappers.items():
                        helper = m.__name__ in HELPER_MODULES
                        if hasattr(m, name) and (name == "load_image_conditioning") == helper:
                            original = getattr(m, name)
                            saved.append((m, name, original))
                            setattr(m, name, wrap(original))
                yield self
            finally:
                for m, name, original in reversed(saved):
                    setattr(m, name, original)

    def finish_stage_names(self) -> None:
        """Name the stages by pipeline order (for callers that want a sorted dict)."""
        from gt_gen.trace.stages import ordered

        self.tensors = {k: self.tensors[k] for k in ordered(self.tensors)}

