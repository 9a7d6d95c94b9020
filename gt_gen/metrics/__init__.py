"""Pure metric functions: arrays in, numbers out (no I/O).

``reference`` follows sglang's computation exactly (scikit-image SSIM); ``fast`` computes the
same numbers batched (a C kernel on CPU, torch on CUDA); ``clip`` is the CLIP cosine
similarity. :func:`compute_pair_metrics` picks a backend by name.

Whatever the backend, a verdict is sglang's: the fast MAD and PSNR are bit-identical to the
reference, its SSIM agrees to ~1e-13 (the rounding of scikit-image's own filter), and any value within :data:`GATE_MARGIN` of its gate
is recomputed with the reference before it is judged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gt_gen.errors import InputFileError, ShapeMismatchError, UsageError

BACKENDS = ("auto", "reference", "fast")
#: SSIM's window (scikit-image's default 7x7, as sglang calls it): smaller frames have no SSIM.
MIN_SIDE = 7
#: A fast value this close to its gate is re-decided with the reference implementation.
GATE_MARGIN = 1e-9

if TYPE_CHECKING:  # numpy is imported where used: `gt-gen --help` reaches this package (clip defaults)
    import numpy as np


def check_pair(gt: np.ndarray, cand: np.ndarray) -> None:
    """sglang compares at full resolution and never resizes: a shape mismatch is an error,
    and so is a frame smaller than SSIM's 7x7 window (scikit-image refuses it)."""
    if gt.shape != cand.shape:
        raise ShapeMismatchError(f"GT frame is {gt.shape[1]}x{gt.shape[0]} but the candidate is "
                                 f"{cand.shape[1]}x{cand.shape[0]}; generate the candidate at "
                                 "the case's size (no resizing is done)")
    import numpy as np

    if gt.ndim != 3 or gt.shape[2] != 3 or gt.dtype != np.uint8:
        raise ShapeMismatchError(f"frames must be RGB uint8 HxWx3, got {gt.dtype} {gt.shape}")
    if gt.shape[0] < MIN_SIDE or gt.shape[1] < MIN_SIDE:
        raise InputFileError(f"frame is {gt.shape[1]}x{gt.shape[0]}: SSIM needs at least "
                             f"{MIN_SIDE}x{MIN_SIDE} pixels (scikit-image's {MIN_SIDE}x{MIN_SIDE} "
                             "window, as sglang computes it)")


def near_gate(value: float | None, gate: float | None, margin: float = GATE_MARGIN) -> bool:
    """Whether ``value`` is so close to ``gate`` that the fast backend's last bits could
    decide the verdict (infinite values never are)."""
    if value is None or gate is None or not (math.isfinite(value) and math.isfinite(gate)):
        return False
    return abs(value - gate) <= margin * max(1.0, abs(gate))


def resolve_backend(name: str, device: str = "cpu") -> str:
    """``auto`` -> ``fast`` (torch is a hard dependency); others pass through."""
    if name not in BACKENDS:
        raise UsageError(f"unknown metrics backend {name!r}; use one of {list(BACKENDS)}")
    return "fast" if name == "auto" else name


def _reference(g: np.ndarray, c: np.ndarray) -> dict[str, float]:
    from gt_gen.metrics import reference

    return {"ssim": reference.ssim(g, c), "psnr": reference.psnr(g, c),
            "mean_abs_diff": reference.mean_abs_diff(g, c)}


def compute_pair_metrics(gts: list[np.ndarray], cands: list[np.ndarray], *, backend: str = "auto",
                         device: str = "cpu", gates: Mapping[str, float | None] | None = None,
                         bgr: bool = False, threads: int = 0) -> list[dict[str, float]]:
    """SSIM, PSNR and mean-abs-diff of each (GT, candidate) frame pair.

    ``gates`` (metric -> gate value): with the fast backend, a frame with any value within
    :data:`GATE_MARGIN` of its gate is recomputed with the reference, so the verdict is
    always the one sglang's scikit-image/numpy computation gives.

    ``bgr``: the frames are in OpenCV's BGR order (a decoder's frames, handed over without a
    swap); the values are those of their RGB images, bit for bit (the C kernel reads them
    reversed; the other paths swap first).

    ``threads``: the C kernel's threads for each pair (0: its own choice); one when pairs
    are measured on several threads at once (:mod:`gt_gen.metric_pool`). The values do not
    depend on it."""
    for g, c in zip(gts, cands, strict=True):
        check_pair(g, c)
    if resolve_backend(backend, device) == "reference":
        return [_reference(*_rgb(g, c, bgr)) for g, c in zip(gts, cands)]
    vals = _fast(gts, cands, device, bgr, threads)
    for i, v in enumerate(vals):
        if gates and any(near_gate(v.get(m), gates.get(m)) for m in v):
            vals[i] = _reference(*_rgb(gts[i], cands[i], bgr))
    return vals


def _rgb(g: np.ndarray, c: np.ndarray, bgr: bool) -> tuple[np.ndarray, np.ndarray]:
    """The pair in RGB order (a copy when given BGR: sglang's numbers are the RGB image's, and
    the channel order decides numpy's float32 MAD and scikit-image's SSIM in the last bits)."""
    if not bgr:
        return g, c
    import numpy as np

    from gt_gen.video_decode import to_rgb

    return to_rgb(np.ascontiguousarray(g)), to_rgb(np.ascontiguousarray(c))


def _fast(gts: list[np.ndarray], cands: list[np.ndarray], device: str, bgr: bool = False,
          threads: int = 0) -> list[dict[str, float]]:
    import numpy as np

    from gt_gen.metrics import fast

    if isinstance(gts, np.ndarray) and isinstance(cands, np.ndarray):  # one [N, H, W, 3] batch
        return fast.batch_metrics(gts, cands, device=device, bgr=bgr, threads=threads)  # (stacking would copy every frame)
    out: list[dict[str, float]] = []
    for shape in dict.fromkeys(g.shape for g in gts):  # batch frames of one size together
        idx = [i for i, g in enumerate(gts) if g.shape == shape]
        vals = fast.batch_metrics(np.stack([gts[i] for i in idx]), np.stack([cands[i] for i in idx]),
                                  device=device, bgr=bgr, threads=threads)
        out.extend({"_i": i, **v} for i, v in zip(idx, vals))  # type: ignore[misc]
    out.sort(key=lambda d: d["_i"])
    return [{k: v for k, v in d.items() if k != "_i"} for d in out]
