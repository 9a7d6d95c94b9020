"""Fast, exact SSIM / PSNR / MAD batched over frames: a C kernel on CPU, torch on CUDA.

Why it equals scikit-image: skimage filters with a 7x7 uniform window and then crops a
3-pixel border, so every SSIM value it averages comes from a window lying wholly inside the
image. We compute exactly those "valid" window sums with separable running sums (cumsum
along one axis, then the other) in exact int32 arithmetic, so no padding mode is involved
and no rounding happens before the final ratio; |fast - skimage| stays within ~1e-13 (1e-16
on most frames; up to 4e-13 measured on 1536x1024 ones, from scikit-image's own float filter).
PSNR is scikit-image's formula on the exact integer sum of squared errors (``mse = q / n``
is exactly numpy's float64 mean of those integers, then ``10 * np.log10(255**2 / mse)``), so
it is bit-identical. MAD is sglang's float32 number, not the exact mean: numpy's pairwise
float32 summation reproduced from exact integer leaf sums (:mod:`gt_gen.metrics.npmean`),
so a value at its gate gets sglang's verdict.

On CPU the C kernel (``_native/fastssim.c``) computes all three in one pass over each row
band: AVX-512 or AVX2 where the CPU has them (chosen at run time), portable C elsewhere;
``GT_GEN_FASTSSIM_ISA=avx2|portable`` caps the choice; ``GT_GEN_FASTSSIM_THREADS`` caps its
threads (by default every CPU, falling back to one while the others are busy). The thread
count never changes a result; AVX-512 gives AVX2's values bit for bit, and portable C differs
from them in SSIM's last bits only (same PSNR and MAD).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gt_gen.metrics import npmean

WIN = 7
K1, K2 = 0.01, 0.03
#: Names served by :mod:`gt_gen.metrics.fast_torch`, loaded on first use: the C kernel on
#: CPU needs no torch, and importing torch is most of a light compare's start-up.
_TORCH_NAMES = ("ssim_batch", "to_tensor", "_box_sum", "_sums", "_rows", "_cuda_metrics", "_ssim_fn",
                "_COMPILED")


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        from gt_gen.metrics import fast_torch

        return getattr(fast_torch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


try:  # the C kernel (setup.py builds it when a compiler is there)
    from gt_gen.metrics import _fastssim as _native  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the install
    _native = None


def native_available() -> bool:
    return _native is not None


def native_isa() -> str | None:
    """Which path of the C kernel runs here: ``avx512`` (chosen at run time on a CPU with
    AVX-512 F/BW/DQ/VL), ``avx2`` (AVX2 and FMA), ``portable`` (any other CPU), capped by
    ``GT_GEN_FASTSSIM_ISA=avx2|portable``; None when the kernel is not built. All give the same
    PSNR and MAD bit for bit and SSIM within ~1e-13 of scikit-image; ``avx512`` gives
    ``avx2``'s SSIM bit for bit."""
    if _native is None:
        return None
    return str(_native.isa()) if hasattr(_native, "isa") else "portable"


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


def _native_metrics(gts: np.ndarray, cands: np.ndarray, bgr: bool = False, threads: int = 0
                    ) -> list[dict[str, float]]:
    out = []
    for g, c in zip(gts, cands):
        g, c = np.ascontiguousarray(g), np.ascontiguousarray(c)
        h, w, ch = g.shape
        # bgr: the kernel reads each row reversed (its RGB image's values, bit for bit).
        got = _native.metrics(g, c, h, w, ch, 255.0, None, 0, threads, bgr)
        s, sq = got[0], got[1]
        # A kernel built before it learnt numpy's float32 MAD returns 3 values: compute it
        # the way sglang does instead.
        mad = got[3] if len(got) > 3 else npmean.absdiff_mean_numpy(g, c)  # (such a kernel has no bgr)
        out.append({"ssim": s, "psnr": psnr_from_sum(sq, g.size), "mean_abs_diff": mad})
    return out


def batch_metrics(gts: np.ndarray, cands: np.ndarray, *, device: str = "cpu",
                  chunk: int = 8, engine: str = "auto", bgr: bool = False, threads: int = 0
                  ) -> list[dict[str, float]]:
    """SSIM, PSNR and MAD of every frame pair of two ``[N, H, W, 3]`` uint8 stacks.

    ``engine``: ``native`` (the C kernel, CPU), ``torch`` (CPU or CUDA), or ``auto``: the C
    kernel on CPU when it was built, torch otherwise. ``bgr``: the stacks are BGR; the values
    are their RGB images' (the kernel reads them reversed; torch gets swapped copies).
    ``threads``: the C kernel's threads per pair (0: its own choice); torch ignores it.
    """
    if engine == "native" or (engine == "auto" and not str(device).startswith("cuda") and _native is not None):
        if _native is None:
            raise RuntimeError("the C kernel of the fast metrics is not built")
        if gts.shape[1] < WIN or gts.shape[2] < WIN:
            raise ValueError(f"SSIM needs frames of at least {WIN}x{WIN} pixels, got "
                             f"{gts.shape[2]}x{gts.shape[1]}")
        return _native_metrics(gts, cands, bgr, threads)
    from gt_gen.metrics import fast_torch

    if bgr:
        from gt_gen.metrics import _rgb

        gts, cands = _rgb(gts, cands, True)

    return fast_torch.batch_metrics(gts, cands, device=device, chunk=chunk)
