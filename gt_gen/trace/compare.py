"""Compare two traces stage by stage and name the first stage that leaves tolerance.

Metrics (float64 sums, like :mod:`gt_gen.metrics`): ``max_abs`` = max |a - b|; ``rel_l2`` =
||a - b|| / ||a|| (the reference's norm); ``cosine`` = <a, b> / (||a|| ||b||); for
``decoded.frames`` also PSNR per frame (``data_range`` 255; ``inf`` for identical frames, as the
gate's PSNR).

Tolerances are per stage *kind* and were set from evidence on the tiny profile (official fp32 vs
diffusers fp32 with the GT's noise injected, CPU): text and positions and sigmas agree exactly
(0), every denoising step within rel_l2 1.7e-6, frames within one grey level (>= 86 dB), audio
within rel_l2 3.2e-6; the conditioning image of an image-to-video case (``image``: its
preprocessed pixels and encoded latent) exactly (0). The defaults below leave ~50x headroom over that floor and sit far below
what a real fault does (official bf16 differs by rel_l2 5.6e-3 at the text stage, 0.11-0.15 at
every step, 28 dB on frames). ``positions`` is judged by ``max_abs``: the official bf16 rounding
of RoPE positions changes small time coordinates by up to 8e-5 yet moves rel_l2 by only 1e-6.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from gt_gen.errors import ConfigError
from gt_gen.trace.stages import ordered, step_of

#: kind -> (metric, limit); a stage is out of tolerance when its metric is worse than the limit.
DEFAULT_TOLERANCES: dict[str, tuple[str, float]] = {
    "text": ("rel_l2", 1e-4),
    "image": ("rel_l2", 1e-6),
    "noise": ("rel_l2", 1e-6),
    "positions": ("max_abs", 1e-5),
    "sigmas": ("max_abs", 1e-6),
    "denoised": ("rel_l2", 1e-4),
    "latent": ("rel_l2", 1e-4),
    "upsampled": ("rel_l2", 1e-4),
    "frames": ("psnr_min", 70.0),
    "audio": ("rel_l2", 1e-4),
}
HIGHER_IS_BETTER = {"psnr_min", "cosine"}


def kind_of(name: str) -> str:
    """The tolerance kind of a stage name."""
    s = step_of(name)
    if s is not None:
        return s[2]
    if name.startswith("text."):
        return "text"
    if name == "decoded.frames":
        return "frames"
    if name == "decoded.audio":
        return "audio"
    if name == "upsampled.video":
        return "upsampled"
    tail = name.split(".")
    return tail[1] if len(tail) > 1 and tail[1] in DEFAULT_TOLERANCES else "other"


def parse_tolerances(items: list[str]) -> dict[str, tuple[str, float]]:
    """``KIND=VALUE`` overrides (the metric stays the kind's)."""
    tol = dict(DEFAULT_TOLERANCES)
    for item in items:
        kind, sep, value = item.partition("=")
        if not sep or kind not in tol:
            raise ConfigError(f"--tolerance {item!r}: use KIND=VALUE with KIND one of {sorted(tol)}")
        try:
            limit = float(value)
        except ValueError:
            raise ConfigError(f"--tolerance {item!r}: {value!r} is not a number") from None
        if not math.isfinite(limit) or limit < 0:
            raise ConfigError(f"--tolerance {item!r}: the limit must be finite and >= 0")
        tol[kind] = (tol[kind][0], limit)
    return tol


@dataclass
class StageResult:
    """One stage's comparison."""

    name: str
    kind: str
    status: str  # ok | diverged | shape_mismatch | missing_in_candidate | missing_in_reference
    shape_reference: list[int] | None = None
    shape_candidate: list[int] | None = None
    dtype_reference: str | None = None
    dtype_candidate: str | None = None
    max_abs: float | None = None
    rel_l2: float | None = None
    cosine: float | None = None
    psnr_min: float | None = None
    psnr_per_frame: list[float] = field(default_factory=list)
    metric: str | None = None
    value: float | None = None
    tolerance: float | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if not self.psnr_per_frame:
            d.pop("psnr_per_frame")
        return {k: _jsonable(v) for k, v in d.items()}


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "inf" if v > 0 else ("-inf" if v < 0 else "nan")
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v


def psnr_frames(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    """PSNR per frame of uint8 ``[F, H, W, C]`` videos (``data_range`` 255)."""
    out = []
    for fa, fb in zip(a, b):
        mse = float(((fa.double() - fb.double()) ** 2).mean())
        out.append(math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse))
    return out


def compare_tensors(a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
    """max_abs, rel_l2, cosine of two same-shape tensors (float64)."""
    x, y = a.detach().double().flatten(), b.detach().double().flatten()
    diff = x - y
    nx, ny = float(x.norm()), float(y.norm())
    return {"max_abs": float(diff.abs().max()) if diff.numel() else 0.0,
            "rel_l2": float(diff.norm()) / nx if nx > 0 else (0.0 if float(diff.norm()) == 0 else math.inf),
            "cosine": float(x @ y) / (nx * ny) if nx > 0 and ny > 0 else (1.0 if nx == ny else 0.0)}


def compare_stage(name: str, ref: torch.Tensor, cand: torch.Tensor,
                  tolerances: Mapping[str, tuple[str, float]]) -> StageResult:
    kind = kind_of(name)
    res = StageResult(name=name, kind=kind, status="ok", shape_reference=list(ref.shape),
                      shape_candidate=list(cand.shape),
                      dtype_reference=str(ref.dtype).replace("torch.", ""),
                      dtype_candidate=str(cand.dtype).replace("torch.", ""))
    if tuple(ref.shape) != tuple(cand.shape):
        res.status = "shape_mismatch"
        return res
    m = compare_tensors(ref, cand)
    res.max_abs, res.rel_l2, res.cosine = m["max_abs"], m["rel_l2"], m["cosine"]
    if kind == "frames":
        res.psnr_per_frame = psnr_frames(ref, cand)
        res.psnr_min = min(res.psnr_per_frame) if res.psnr_per_frame else math.inf
    metric, limit = tolerances.get(kind, ("rel_l2", 1e-4))
    value = getattr(res, metric)
    res.metric, res.value, res.tolerance = metric, value, limit
    worse = (value < limit) if metric in HIGHER_IS_BETTER else (value > limit)
    if value is None or (isinstance(value, float) and math.isnan(value)) or worse:
        res.status = "diverged"
    return res


@dataclass
class TraceComparison:
    """All stages in pipeline order, and the first that left tolerance."""

    stages: list[StageResult]
    first_divergent: str | None

    @property
    def diverged(self) -> bool:
        return self.first_divergent is not None


def compare_traces(reference: Mapping[str, torch.Tensor], candidate: Mapping[str, torch.Tensor],
                   tolerances: Mapping[str, tuple[str, float]] | None = None) -> TraceComparison:
    """Compare every stage both traces hold; the first diverged or shape-mismatched one is named.

    Stages only one side holds are listed (``missing_in_*``) but never named divergent: an engine
    traced from a directory may record only some stages."""
    tol = dict(tolerances or DEFAULT_TOLERANCES)
    results: list[StageResult] = []
    first: str | None = None
    for name in ordered(set(reference) | set(candidate)):
        if name not in candidate:
            results.append(StageResult(name=name, kind=kind_of(name), status="missing_in_candidate",
                                       shape_reference=list(reference[name].shape)))
            continue
        if name not in reference:
            results.append(StageResult(name=name, kind=kind_of(name), status="missing_in_reference",
                                       shape_candidate=list(candidate[name].shape)))
            continue
        r = compare_stage(name, reference[name], candidate[name], tol)
        results.append(r)
        if first is None and r.status in ("diverged", "shape_mismatch"):
            first = name
    return TraceComparison(stages=results, first_divergent=first)
