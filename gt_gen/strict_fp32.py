"""IEEE fp32 arithmetic on CUDA while a reference-precision run is in flight.

Why: torch lets cuDNN convolutions use TF32 by default (``torch.backends.cudnn.allow_tf32``), so
an "fp32" run on an NVIDIA GPU silently rounds conv inputs to a 10-bit mantissa. Two fp32
implementations of the same network then part by ~1e-3 relative L2 wherever they pick different
conv algorithms (measured on an H200: the LTX-2 vocoder of the official code vs diffusers'
parted at rel L2 8.5e-4 while every other stage matched to 1e-6). A reference-precision GT
or trace must mean fp32, so both implementations run with TF32 off (convolutions and matmuls)
and the previous settings come back afterwards. bf16 runs are left exactly as the official
pipelines configure them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

_LOCK = threading.RLock()


@contextlib.contextmanager
def strict_fp32(enabled: bool = True) -> Iterator[None]:
    """TF32 off for cuDNN convolutions and CUDA matmuls inside the block."""
    if not enabled:
        yield
        return
    with _LOCK:
        # The legacy flags only: torch couples them with set_float32_matmul_precision, and
        # mixing both APIs makes torch's getter raise.
        saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
