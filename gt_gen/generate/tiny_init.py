"""Seeded initialisation of tiny models, and decoders that make pictures, not colour noise.

Why a structured decoder: with random VAE weights every latent pixel decodes to a patch of
fixed random texture, so two runs with different seeds look alike to SSIM (the LTX tiny outputs
reached 0.94-0.975 against a 0.98 gate: a gate that can barely fail proves little). Here every
convolution of a decoder is a *channel identity times a small blur kernel* (output channel ``o``
reads input channel ``o mod C_in``; for depth-to-space layouts the caller says how channels
group), and attention blocks are zeroed so they pass their residual through. The decoder is then
a smooth, local function of the latents: the picture is the latents' first channels upsampled
and blurred, so another seed or prompt gives a visibly different picture, while reruns stay
bit-identical. Everything else gets std ~ 1/sqrt(fan_in) (0.02 lets bf16 outputs ignore inputs).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

#: Maps (output channel, C_in, C_out) -> the input channel it copies.
ChannelMap = Callable[[int, int, int], int]


def modulo(o: int, c_in: int, c_out: int) -> int:
    """Output channel ``o`` copies input ``o mod C_in`` (expanding repeats the channel block)."""
    return o % c_in


def nearest(factor: int, stride: int = 1) -> ChannelMap:
    """For a depth-to-space conv (channel-major, ``factor`` sub-positions per channel): every
    sub-position of output channel ``c`` reads input ``c * stride``: nearest upsampling."""
    def cmap(o: int, c_in: int, c_out: int) -> int:
        return (o // factor * stride) % c_in
    return cmap


def depth_to_space(factor: int) -> ChannelMap:
    """For a conv whose outputs are rearranged ``(c p) -> c`` with ``factor`` sub-positions per
    channel (channel-major): output channel ``c`` at sub-position ``p`` reads input channel
    ``c + p * C_in / factor``. Distinct channels stay distinct through any number of such
    stages, and each sub-position shows other latent channels: the latent's channels are
    unpacked into space, as a trained VAE's channels carry sub-pixel detail."""
    def cmap(o: int, c_in: int, c_out: int) -> int:
        return (o // factor + (o % factor) * max(1, c_in // factor)) % c_in
    return cmap


def init_module_(module: torch.nn.Module, gen: torch.Generator) -> None:
    """std 1/sqrt(fan_in) for matrices, ~1 for 1-D scales, small biases; deterministic order."""
    with torch.no_grad():
        for name, tensor in sorted(module.state_dict(keep_vars=True).items()):
            if not torch.is_floating_point(tensor):
                continue
            leaf = name.rsplit(".", 1)[-1]
            if tensor.ndim >= 2:
                fan_in = max(1, math.prod(tensor.shape[1:]))
                tensor.copy_(torch.randn(tensor.shape, generator=gen) / math.sqrt(fan_in))
            elif leaf == "bias" or name.endswith("_bias") or "running_mean" in name:
                tensor.copy_(0.02 * torch.randn(tensor.shape, generator=gen))
            elif "running_var" in name:
                tensor.fill_(1.0)
            elif tensor.ndim == 1:
                tensor.copy_(1.0 + 0.1 * torch.randn(tensor.shape, generator=gen))
            else:  # 0-d scalars
                tensor.copy_(torch.randn(tensor.shape, generator=gen).abs() + 0.5)


def _blur(size: int) -> torch.Tensor:
    """Normalised binomial kernel of ``size`` taps (1 -> [1])."""
    row = torch.tensor([math.comb(size - 1, k) for k in range(size)], dtype=torch.float64)
    return row / row.sum()


def _delta(size: int, at: int) -> torch.Tensor:
    row = torch.zeros(size, dtype=torch.float64)
    row[at] = 1.0
    return row


def _kernel(shape: tuple[int, ...], temporal: bool, causal: bool,
            sharp: bool = False) -> torch.Tensor:
    """A separable low-pass kernel over the spatial taps (``sharp``: the centre tap only); over
    time, the tap of the current frame (the last for a causal convolution, padded on the past
    side; else the centre)."""
    dims = [(_delta(s, s // 2) if sharp else _blur(s)) if not (temporal and i == 0)
            else _delta(s, s - 1 if causal else s // 2) for i, s in enumerate(shape)]
    k = dims[0]
    for d in dims[1:]:
        k = torch.outer(k.flatten(), d).reshape(*k.shape, d.shape[0])
    return k.float()


def structure_conv_(conv: torch.nn.Module, *, channel_map: ChannelMap = modulo,
                    gain: float = 1.0, sharp: bool = False) -> None:
    """Weight = channel map x blur kernel, bias 0 (a smooth copy of the input's channels)."""
    w: torch.Tensor = conv.weight  # type: ignore[assignment]
    c_out, c_in_g = int(w.shape[0]), int(w.shape[1])
    groups = int(getattr(conv, "groups", 1))
    kernel = _kernel(tuple(int(s) for s in w.shape[2:]), temporal=w.ndim == 5,
                     causal="causal" in type(conv).__name__.lower(), sharp=sharp)
    with torch.no_grad():
        w.zero_()
        for o in range(c_out):
            if groups == 1:
                w[o, channel_map(o, c_in_g, c_out)] = gain * kernel
            else:
                w[o, o % c_in_g] = gain * kernel
        bias: torch.Tensor | None = getattr(conv, "bias", None)
        if bias is not None:
            bias.zero_()


def _is_conv(m: torch.nn.Module) -> bool:
    return isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d))


def structure_decoder_(decoder: torch.nn.Module, *, output_gain: float = 2.5,
                       channel_maps: dict[str, ChannelMap] | None = None,
                       sharp: frozenset[str] = frozenset()) -> None:
    """Make ``decoder`` a smooth, latent-following upsampler (see the module docstring).

    ``channel_maps``: conv module name -> how its output channels group (e.g. a depth-to-space
    conv whose outputs are ``c * factor + p``); others use :func:`modulo`. ``sharp``: conv
    names that copy without blurring (where neighbours hold unrelated channels, a blur would
    average the picture away).
    """
    maps = channel_maps or {}
    attention = [n for n, m in decoder.named_modules() if "attention" in type(m).__name__.lower()
                 or n.rsplit(".", 1)[-1] in ("attn", "attention", "attentions")]
    with torch.no_grad():
        for name, mod in decoder.named_modules():
            if any(name == a or name.startswith(a + ".") for a in attention):
                for p in mod.parameters(recurse=False):
                    p.zero_()  # contributes nothing: the block passes its residual through
                continue
            if isinstance(mod, torch.nn.Linear):
                mod.weight.zero_()
                if mod.bias is not None:
                    mod.bias.zero_()
            elif isinstance(mod, (torch.nn.GroupNorm, torch.nn.LayerNorm, torch.nn.BatchNorm2d)):
                if getattr(mod, "weight", None) is not None:
                    mod.weight.fill_(1.0)
                if getattr(mod, "bias", None) is not None:
                    mod.bias.zero_()
            elif _is_conv(mod):
                cmap = maps.get(name, modulo)
                last = any(part in ("conv_out", "head", "proj_out") for part in name.split("."))
                structure_conv_(mod, channel_map=cmap, gain=output_gain if last else 1.0,
                                sharp=name in sharp)
        for name, p in decoder.named_parameters():
            # RMS-norm scales (Wan/Qwen decoders keep them as bare parameters named gamma).
            if name.endswith("gamma") and p.ndim >= 1:
                p.fill_(1.0)
