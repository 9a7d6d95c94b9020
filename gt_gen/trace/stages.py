"""Stage names and tensor layouts of a trace: the contract every traced engine follows.

A trace is an ordered mapping ``stage name -> tensor``. Any engine (sglang included) can be
traced without gt-gen running it by writing a directory with one safetensors file per stage,
``<stage>.safetensors`` holding one tensor under the key ``tensor`` (see :func:`save_dir`).

Names (``k`` = denoising stage 1 or 2, ``NN`` = step index, two digits):

===========================  ================================================================
``text.video`` / ``text.audio``          prompt embeddings after the connectors, ``[1, L, D]``
``text.neg_video`` / ``text.neg_audio``  the same for the negative prompt
``sK.image.pixels``          conditioning image of stage K after the official preprocessing
                             (crf round trip, resize + centre crop), ``[1, 3, 1, H, W]`` in [-1, 1]
``sK.image.latent``          its encoded latent (normalised), ``[1, C, 1, H/32, W/32]``
``sK.noise.video``           initial (noised) video latent of stage K, packed ``[1, F*H*W, C]``
``sK.noise.audio``           initial audio latent, packed ``[1, T, C*M]``
``sK.positions.video``       video RoPE positions ``[1, 3, F*H*W, 2]`` (start, end per axis)
``sK.positions.audio``       audio RoPE positions ``[1, 1, T, 2]``
``sK.sigmas``                sigma schedule including the terminal value, ``[steps+1]`` float32
``sK.stepNN.denoised.video`` guided x0 prediction of step NN, as the step uses it (tokens an
                             image conditions hold their clean latent, as the official loop's
                             ``post_process_latent`` sets them)
``sK.stepNN.denoised.audio``
``sK.stepNN.latent.video``   latent after step NN (packed, as ``noise``)
``sK.stepNN.latent.audio``
``upsampled.video``          stage-1 latent after the spatial upsampler, ``[1, C, F, H, W]``
``decode.noise.video``       noise a timestep-conditioned VAE decoder mixes in, ``[1, C, F, H, W]``
``decoded.frames``           decoded video, uint8 ``[F, H, W, 3]`` (official: truncation)
``decoded.audio``            waveform, float ``[channels, samples]``
===========================  ================================================================

Latents are in the transformer's (normalised) latent space for both engines; packing orders are
the official patchifiers' (video ``(f h w)`` tokens, audio ``(c m)`` features), which diffusers'
packers share.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch

from gt_gen.errors import ConfigError, InputFileError, MissingFileError

_STEP = re.compile(r"s(\d)\.step(\d\d)\.(denoised|latent)\.(video|audio)")
_NAME = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*")
_HEAD = ("text.video", "text.audio", "text.neg_video", "text.neg_audio")
_STAGE_HEAD = ("image.pixels", "image.latent", "noise.video", "noise.audio", "positions.video",
               "positions.audio", "sigmas")
TENSOR_KEY = "tensor"


def stage_order(name: str) -> tuple:
    """Sort key putting stages in pipeline order (text, stage 1, upsampler, stage 2, decode)."""
    if name in _HEAD:
        return (0, _HEAD.index(name))
    m = re.fullmatch(r"s(\d)\.(.+)", name)
    if m:
        k, rest = int(m.group(1)), m.group(2)
        base = 1 if k == 1 else 3
        if rest in _STAGE_HEAD:
            return (base, 0, _STAGE_HEAD.index(rest))
        s = _STEP.fullmatch(name)
        if s:
            return (base, 1, int(s.group(2)), s.group(3) == "latent", s.group(4) == "audio")
        return (base, 2, rest)
    if name == "upsampled.video":
        return (2,)
    if name == "decode.noise.video":
        return (4, 0)
    if name == "decoded.frames":
        return (4, 1)
    if name == "decoded.audio":
        return (4, 2)
    return (5, name)


def ordered(names: Iterable[str]) -> list[str]:
    return sorted(names, key=stage_order)


def step_of(name: str) -> tuple[int, int, str, str] | None:
    """``(stage, step, kind, modality)`` of a step tensor name, else None."""
    m = _STEP.fullmatch(name)
    return (int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)) if m else None


def save_dir(tensors: Mapping[str, torch.Tensor], folder: Path) -> None:
    """Write a trace directory: ``<stage>.safetensors`` with one tensor under ``tensor``."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    for name, t in tensors.items():
        if not _NAME.fullmatch(name):
            raise ConfigError(f"trace: stage name {name!r} is not [a-z0-9_.]")
        save_file({TENSOR_KEY: t.detach().cpu().contiguous()}, str(folder / f"{name}.safetensors"))


def load_dir(folder: Path) -> dict[str, torch.Tensor]:
    """Read a trace directory written by :func:`save_dir` (or by another engine)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not folder.is_dir():
        raise MissingFileError(f"trace: candidate directory {folder} not found", path=folder)
    out: dict[str, torch.Tensor] = {}
    for path in sorted(folder.glob("*.safetensors")):
        name = path.name[: -len(".safetensors")]
        if not _NAME.fullmatch(name):
            raise InputFileError(f"trace: {path.name} is not a stage name ([a-z0-9_.])", path=path)
        try:
            data = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise InputFileError(f"trace: {path.name} is not a readable safetensors file ({exc})",
                                 path=path) from exc
        if set(data) != {TENSOR_KEY}:
            raise InputFileError(f"trace: {path.name} must hold exactly one tensor named "
                                 f"'{TENSOR_KEY}' (has {sorted(data)[:4]})", path=path)
        out[name] = data[TENSOR_KEY]
    if not out:
        raise InputFileError(f"trace: {folder} holds no <stage>.safetensors files", path=folder)
    return out
