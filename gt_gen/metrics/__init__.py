"""Pure metric functions: arrays in, numbers out (no I/O).

``reference`` follows sglang's computation exactly (scikit-image SSIM); ``fast`` computes the
same numbers batched in torch on CPU or CUDA; ``clip`` is the CLIP cosine similarity.
:func:`compute_pair_metrics` picks a backend by name.
"""

from __future__ import annotations

import numpy as np

from gt_gen.errors import ShapeMismatchError, UsageError

BACKENDS = ("auto", "reference", "fast")


def check_pair(gt: np.ndarray, cand: np.ndarray) -> None:
    """sglang compares at full resolution and never resizes: a shape mismatch is an error."""
    if gt.shape != cand.shape:
        raise ShapeMismatchError(f"GT frame is {gt.shape[1]}x{gt.shape[0]} but the candidate is "
                                 f"{cand.shape[1]}x{cand.shape[0]}; generate the candidate at "
                                 "the case's size (no resizing is done)")
    if gt.ndim != 3 or gt.shape[2] != 3 or gt.dtype != np.uint8:
        raise ShapeMismatchError(f"frames must be RGB uint8 HxWx3, got {gt.dtype} {gt.shape}")


def resolve_backend(name: str, device: str = "cpu") -> str:
    """``auto`` -> ``fast`` (torch is a hard dependency); others pass through."""
    if name not in BACKENDS:
        raise UsageError(f"unknown metrics backend {name!r}; use one of {list(BACKENDS)}")
    return "fast" if name == "auto" else name


def compute_pair_metrics(gts: list[np.ndarray], cands: list[np.ndarray], *, backend: str = "auto",
                         device: str = "cpu") -> list[dict[str, float]]:
    """SSIM, PSNR and mean-abs-diff of each (GT, candidate) frame pair."""
    for g, c in zip(gts, cands, strict=True):
        check_pair(g, c)
    if resolve_backend(backend, device) == "reference":
        from gt_gen.metrics import reference

        return [{"ssim": reference.ssim(g, c), "psnr": reference.psnr(g, c),
                 "mean_abs_diff": reference.mean_abs_diff(g, c)} for g, c in zip(gts, cands)]
    from gt_gen.metrics import fast

    out: list[dict[str, float]] = []
    for shape in dict.fromkeys(g.shape for g in gts):  # batch frames of one size together
        idx = [i for i, g in enumerate(gts) if g.shape == shape]
        vals = fast.batch_metrics(np.stack([gts[i] for i in idx]), np.stack([cands[i] for i in idx]),
                                  device=device)
        out.extend({"_i": i, **v} for i, v in zip(idx, vals))  # type: ignore[misc]
    out.sort(key=lambda d: d["_i"])
    return [{k: v for k, v in d.items() if k != "_i"} for d in out]
