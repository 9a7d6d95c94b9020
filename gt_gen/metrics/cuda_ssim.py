"""The CUDA SSIM kernel (``_native/ssim_cuda.cu``), built on first use with torch's JIT
extension loader (nvcc + ninja) and cached under the gt-gen cache.

Why a kernel: the torch formulation makes ~30 full passes over the frames; the kernel makes
one, keeping exact int32 window sums in registers, which is what brings a 121-frame
1536x1024 pair under 100 ms on an H100 including the upload. ``mad_sums_nhwc`` gives sglang's
float32 MAD sums (numpy's pairwise order, :mod:`gt_gen.metrics.npmean`) in one pass plus one
thread per frame. If the toolchain is missing or the build fails, :func:`load` returns None
and callers use the torch path (same numbers).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_STATE: dict[str, Any] = {}


def load() -> Any | None:
    """The compiled extension module, or None (disabled with ``GT_GEN_CUDA_KERNEL=0``)."""
    if os.environ.get("GT_GEN_CUDA_KERNEL", "1") == "0":
        return None
    if "mod" not in _STATE:
        try:
            from torch.utils.cpp_extension import load_inline

            from gt_gen.generate.cache import cache_root

            src = (Path(__file__).parent / "_native" / "ssim_cuda.cu").read_text()
            build = cache_root() / "cuda_ext"
            build.mkdir(parents=True, exist_ok=True)
            decls = ("torch::Tensor ssim_nhwc(torch::Tensor a, torch::Tensor b, double data_range);\n"
                     "torch::Tensor mad_sums_nhwc(torch::Tensor a, torch::Tensor b, torch::Tensor bounds, "
                     "torch::Tensor node_len, torch::Tensor node_first, int64_t depth);")
            _STATE["mod"] = load_inline(
                name="gt_gen_ssim_cuda_v3", cpp_sources=decls, cuda_sources=src,
                functions=["ssim_nhwc", "mad_sums_nhwc"],
                extra_cuda_cflags=["-O3"], build_directory=str(build), verbose=False)
        except Exception as exc:  # no nvcc/ninja, or a build error: fall back to torch
            _STATE["mod"] = None
            _STATE["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    return _STATE["mod"]


def error() -> str | None:
    return _STATE.get("error")
