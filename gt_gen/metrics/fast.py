"""Fast, exact SSIM / PSNR / MAD batched over frames: a C kernel on CPU, torch on CUDA.

Why it equals scikit-image: skimage filters with a 7x7 uniform window and then crops a
3-pixel border, so every SSIM value it averages comes from a window lying wholly inside the
image. We compute exactly those "valid" window sums with separable running sums (cumsum
along one axis, then the other) in exact int32 arithmetic, so no padding mode is involved
and no rounding happens before the final ratio; |fast - skimage| stays near 1e-15.
PSNR accumulates squared errors in float64; MAD sums |a-b| in float64 and divides, which
equals the float32 mean of the reference up to float32 rounding.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

WIN = 7
K1, K2 = 0.01, 0.03


def _box_sum(x: torch.Tensor, win: int = WIN) -> torch.Tensor:
    """Exact integer sum over every win x win window inside the last two dims (int32)."""
    c = torch.cumsum(x, dim=-2, dtype=torch.int32)
    c = F.pad(c, (0, 0, 1, 0))
    c = c[..., win:, :] - c[..., :-win, :]
    c = torch.cumsum(c, dim=-1, dtype=torch.int32)
    c = F.pad(c, (1, 0))
    return c[..., win:] - c[..., :-win]


def ssim_batch(gt: torch.Tensor, cand: torch.Tensor, *, data_range: float = 255.0) -> torch.Tensor:
    """SSIM of N uint8 frame pairs ``[N, C, H, W]`` -> ``[N]`` float64.

    Window sums of x, y, x², y², xy are exact int32 (at most 49·255² per window and
    1024·7·255² per running sum), and so are the variance numerators ``49·Σx² − (Σx)²``.
    Only the final ratio is floating point, computed in float64 from those exact integers
    after multiplying SSIM's numerator and denominator by 49² and 49·48.
    """
    if gt.shape[-1] < WIN or gt.shape[-2] < WIN:
        raise ValueError(f"SSIM needs frames of at least {WIN}x{WIN} pixels, got "
                         f"{gt.shape[-1]}x{gt.shape[-2]}")
    if gt.shape[-2] * WIN * 255 * 255 >= 2**31:
        raise ValueError("frame too tall for exact int32 running sums")
    x = gt.to(torch.int32)
    y = cand.to(torch.int32)
    n = WIN * WIN
    sx, sy = _box_sum(x), _box_sum(y)
    sxx, syy, sxy = _box_sum(x * x), _box_sum(y * y), _box_sum(x * y)
    c1 = (K1 * data_range) ** 2 * n * n
    c2 = (K2 * data_range) ** 2 * n * (n - 1)
    sxsy = sx * sy
    sx2sy2 = sx * sx + sy * sy
    num = (2 * sxsy).double().add_(c1).mul_((2 * (n * sxy - sxsy)).double().add_(c2))
    den = sx2sy2.double().add_(c1).mul_((n * (sxx + syy) - sx2sy2).double().add_(c2))
    return num.div_(den).mean(dim=(-1, -2)).mean(dim=-1)


def to_tensor(frames: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """``[N, H, W, C]`` uint8 numpy -> ``[N, C, H, W]`` uint8 tensor on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(frames))
    if str(device).startswith("cuda"):
        # Pinned buffers (e.g. decoded straight into pinned memory) copy asynchronously;
        # pinning a pageable buffer here would cost a host copy, so pageable goes as is.
        t = t.to(device, non_blocking=t.is_pinned())
    return t.permute(0, 3, 1, 2)


try:  # the C kernel (setup.py builds it when a compiler is there)
    from gt_gen.metrics import _fastssim as _native
except ImportError:  # pragma: no cover - depends on the install
    _native = None


def native_available() -> bool:
    return _native is not None


def _native_metrics(gts: np.ndarray, cands: np.ndarray) -> list[dict[str, float]]:
    out = []
    for g, c in zip(gts, cands):
        g, c = np.ascontiguousarray(g), np.ascontiguousarray(c)
        h, w, ch = g.shape
        s, sq, ab = _native.metrics(g, c, h, w, ch, 255.0)
        n = g.size
        mse = sq / n
        out.append({"ssim": s, "psnr": math.inf if sq == 0 else 10.0 * math.log10(255.0**2 / mse),
                    "mean_abs_diff": ab / n})
    return out


@torch.inference_mode()
def batch_metrics(gts: np.ndarray, cands: np.ndarray, *, device: str = "cpu",
                  chunk: int = 8, engine: str = "auto") -> list[dict[str, float]]:
    """SSIM, PSNR and MAD of every frame pair of two ``[N, H, W, 3]`` uint8 stacks.

    ``engine``: ``native`` (the C kernel, CPU), ``torch`` (CPU or CUDA), or ``auto``: the C
    kernel on CPU when it was built, torch otherwise.
    """
    if engine == "native" or (engine == "auto" and not str(device).startswith("cuda") and _native is not None):
        if _native is None:
            raise RuntimeError("the C kernel of the fast metrics is not built")
        if gts.shape[1] < WIN or gts.shape[2] < WIN:
            raise ValueError(f"SSIM needs frames of at least {WIN}x{WIN} pixels, got "
                             f"{gts.shape[2]}x{gts.shape[1]}")
        return _native_metrics(gts, cands)
    out: list[dict[str, float]] = []
    for start in range(0, len(gts), chunk):
        g = to_tensor(gts[start:start + chunk], device)
        c = to_tensor(cands[start:start + chunk], device)
        out.extend(_metrics_of(g, c))
    return out


def _metrics_of(g: torch.Tensor, c: torch.Tensor) -> list[dict[str, float]]:
    ssim = ssim_batch(g, c)
    d = g.to(torch.int32) - c.to(torch.int32)
    sq = (d * d).sum(dim=(1, 2, 3), dtype=torch.int64)  # exact integer sums
    ab = d.abs().sum(dim=(1, 2, 3), dtype=torch.int64)
    n = d[0].numel()
    rows = []
    for s, q, a in zip(ssim.tolist(), sq.tolist(), ab.tolist()):
        psnr = math.inf if q == 0 else 10.0 * math.log10(255.0**2 * n / q)
        rows.append({"ssim": s, "psnr": psnr, "mean_abs_diff": a / n})
    return rows
