"""Fast, exact SSIM / PSNR / MAD batched over frames: a C kernel on CPU, torch on CUDA.

Why it equals scikit-image: skimage filters with a 7x7 uniform window and then crops a
3-pixel border, so every SSIM value it averages comes from a window lying wholly inside the
image. We compute exactly those "valid" window sums with separable running sums (cumsum
along one axis, then the other) in exact int32 arithmetic, so no padding mode is involved
and no rounding happens before the final ratio; |fast - skimage| stays near 1e-15.
PSNR is scikit-image's formula on the exact integer sum of squared errors (``mse = q / n``
is exactly numpy's float64 mean of those integers, then ``10 * np.log10(255**2 / mse)``), so
it is bit-identical. MAD is sglang's float32 number, not the exact mean: numpy's pairwise
float32 summation reproduced from exact integer leaf sums (:mod:`gt_gen.metrics.npmean`),
so a value at its gate gets sglang's verdict.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from gt_gen.metrics import npmean

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
    from gt_gen.metrics import _fastssim as _native  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the install
    _native = None


def native_available() -> bool:
    return _native is not None


def engine_name(device: str = "cpu") -> str:
    """Which implementation ``auto`` uses on ``device`` (recorded in results.json)."""
    if str(device).startswith("cuda"):
        from gt_gen.metrics import cuda_ssim

        return "cuda-kernel" if cuda_ssim.load() is not None else "torch-cuda"
    return "c-kernel" if _native is not None else "torch-cpu"


def psnr_from_sum(sq: int, n: int, data_range: float = 255.0) -> float:
    """scikit-image's PSNR from the exact integer sum of squared errors over ``n`` values.

    ``sq / n`` (a correctly rounded division of exact integers) is exactly the float64 mean
    scikit-image takes, and the rest is its formula with ``np.log10``: bit-identical."""
    if sq == 0:
        return math.inf
    return float(10 * np.log10(float(data_range) ** 2 / (sq / n)))


def _native_metrics(gts: np.ndarray, cands: np.ndarray) -> list[dict[str, float]]:
    out = []
    for g, c in zip(gts, cands):
        g, c = np.ascontiguousarray(g), np.ascontiguousarray(c)
        h, w, ch = g.shape
        got = _native.metrics(g, c, h, w, ch, 255.0)
        s, sq = got[0], got[1]
        # A kernel built before it learnt numpy's float32 MAD returns 3 values: compute it
        # the way sglang does instead.
        mad = got[3] if len(got) > 3 else npmean.absdiff_mean_numpy(g, c)
        out.append({"ssim": s, "psnr": psnr_from_sum(sq, g.size), "mean_abs_diff": mad})
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
