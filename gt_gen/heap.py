"""Keep freed frame-sized memory in the process instead of handing it back to the kernel.

Why: a whole-video compare allocates and frees one decoded frame per frame per video (PyAV's
converted frame, 4.7 MB at 1536x1024), in decoder threads. glibc's malloc gives such blocks
back to the kernel when they are freed (a block above its mmap threshold is unmapped; a large
free chunk at the top of a heap is trimmed), so the next frame's block is fresh memory that
the kernel must fault in and zero page by page: on the 2-core runner that was 0.1 CPU-s of
system time per 121-frame 1536x1024 case, and a busier memory bus for everything else.

:func:`keep_freed_memory` raises both limits once per process (``mallopt``, glibc only;
elsewhere nothing is changed): blocks up to 32 MB come from malloc's heaps and freed memory
stays there for the next frame. The process's footprint is then its peak, which a compare
reaches anyway (a few chunks of frames per video). Nothing else changes: the same bytes are
allocated, only not returned early.
"""

from __future__ import annotations

import ctypes
import functools
import sys

#: glibc's mallopt parameters (malloc.h): M_TRIM_THRESHOLD, M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: The largest mmap threshold glibc accepts on 64-bit (HEAP_MAX_SIZE / 2): a block up to this
#: size (a frame of up to ~11 Mpx of RGB, or a decoder's chunk) comes from a heap.
MMAP_THRESHOLD = 32 << 20
#: Free memory at the top of a heap kept rather than trimmed.
TRIM_THRESHOLD = 1 << 30


@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module docstring) once; True when
    both were set, False where the C library is not glibc or refused."""
    if not sys.platform.startswith("linux"):
        return False
    try:  # the process's own symbols: libc is loaded already (no library search, no subprocess)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (musl has no mallopt): nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success; setting either also stops glibc's dynamic adjustment.
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) & bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
