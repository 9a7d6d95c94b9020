"""The torch half of the fast metrics (CPU without the C kernel, and CUDA).

Kept apart from :mod:`gt_gen.metrics.fast` so that a compare on CPU with the C kernel never
imports torch (seconds of start-up per command); the numbers are the same exact-integer
construction described there.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from gt_gen.metrics import npmean
from gt_gen.metrics.fast import K1, K2, WIN, psnr_from_sum


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


@torch.inference_mode()
def batch_metrics(gts: np.ndarray, cands: np.ndarray, *, device: str = "cpu",
                  chunk: int = 8) -> list[dict[str, float]]:
    """Torch path of :func:`gt_gen.metrics.fast.batch_metrics` (CPU or CUDA)."""
    if str(device).startswith("cuda"):
        return _cuda_metrics(gts, cands, device, chunk)
    out: list[dict[str, float]] = []
    for start in range(0, len(gts), chunk):
        g = to_tensor(gts[start:start + chunk], device)
        c = to_tensor(cands[start:start + chunk], device)
        ssim, sq, mad_sums = _sums(g, c)
        assert ssim is not None
        out.extend(_rows(ssim, sq, mad_sums, g[0].numel()))
    return out


_COMPILED: dict[str, object] = {}


def _ssim_fn():
    """``ssim_batch`` fused by torch.compile on CUDA (elementwise work folded into the scans);
    eager if compiling is disabled (``GT_GEN_NO_COMPILE=1``) or fails."""
    import os

    if os.environ.get("GT_GEN_NO_COMPILE"):
        return ssim_batch
    if "ssim" not in _COMPILED:
        try:
            _COMPILED["ssim"] = torch.compile(ssim_batch, dynamic=False)
        except Exception:  # pragma: no cover - depends on the toolchain
            _COMPILED["ssim"] = ssim_batch
    return _COMPILED["ssim"]


def _cuda_metrics(gts: np.ndarray, cands: np.ndarray, device: str, chunk: int) -> list[dict[str, float]]:
    """Chunks are uploaded on a side stream while the previous chunk computes (double
    buffering; asynchronous only from pinned memory), and results are read back once."""
    copy = torch.cuda.Stream(device=device)
    compute = torch.cuda.current_stream(device)

    from gt_gen.metrics import cuda_ssim

    kernel = cuda_ssim.load()

    def upload(s: int):
        with torch.cuda.stream(copy):
            g, c = to_tensor(gts[s:s + chunk], device), to_tensor(cands[s:s + chunk], device)
            ev = torch.cuda.Event()
            ev.record(copy)
        return g, c, ev

    starts = list(range(0, len(gts), chunk))
    parts = []
    nxt = upload(starts[0])
    for i, _ in enumerate(starts):
        g, c, ev = nxt
        if i + 1 < len(starts):
            nxt = upload(starts[i + 1])
        compute.wait_event(ev)
        g.record_stream(compute)
        c.record_stream(compute)
        if kernel is not None:  # NHWC, exactly as uploaded
            gh, ch = g.permute(0, 2, 3, 1), c.permute(0, 2, 3, 1)
            ssim = kernel.ssim_nhwc(gh, ch, 255.0)
            d = g.to(torch.int32) - c.to(torch.int32)
            sq = (d * d).sum(dim=(1, 2, 3), dtype=torch.int64)
            parts.append((ssim, sq, kernel.mad_sums_nhwc(gh, ch, *npmean.device_tree(int(gts[0].size), device))))
            continue
        try:
            ssim = _ssim_fn()(g, c)
        except Exception:  # a compile failure at first call: stay eager from now on
            _COMPILED["ssim"] = ssim_batch
            ssim = ssim_batch(g, c)
        parts.append((ssim, *_sums(g, c, ssim_done=True)[1:]))
    ssim = torch.cat([p[0] for p in parts])
    sq = torch.cat([p[1] for p in parts])
    mad = torch.cat([p[2] for p in parts])
    return _rows(ssim, sq, mad, gts[0].size)


def _sums(g: torch.Tensor, c: torch.Tensor,
          ssim_done: bool = False) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """SSIM per frame (unless done elsewhere), the exact int64 sum of d² and numpy's
    float32 sum of |d| (sglang's MAD before its division), all left on the device."""
    ssim = None if ssim_done else ssim_batch(g, c)
    d = g.to(torch.int32) - c.to(torch.int32)
    sq = (d * d).sum(dim=(1, 2, 3), dtype=torch.int64)  # exact integer sums
    # numpy sums the HxWxC (channel-last) memory order: undo the NCHW view first.
    absd = d.abs_().permute(0, 2, 3, 1).reshape(d.shape[0], -1)
    return ssim, sq, npmean.absdiff_sums_torch(absd)


def _rows(ssim: torch.Tensor, sq: torch.Tensor, mad_sums: torch.Tensor, n: int) -> list[dict[str, float]]:
    return [{"ssim": s, "psnr": psnr_from_sum(q, n), "mean_abs_diff": npmean.mean_from_sum(m, n)}
            for s, q, m in zip(ssim.tolist(), sq.tolist(), mad_sums.cpu().numpy())]


def pinned_empty(shape: tuple[int, ...]) -> "np.ndarray":
    """A uint8 array in page-locked host memory (torch's caching host allocator, so a freed
    buffer is reused, not re-registered): decoded frames written there reach the GPU by DMA
    at full bus speed, where pageable memory goes through a staging copy at a fraction of it
    (a 121-frame 1536x1024 pair is 1.1 GB per case)."""
    import torch

    return torch.empty(shape, dtype=torch.uint8, pin_memory=True).numpy()
