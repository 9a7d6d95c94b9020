"""gt_gen.heap: freed frame-sized blocks are reused, not faulted in again.

Measured in a fresh process (the setting is process-wide): rounds of 8 frame-sized buffers
(1536x1024 RGB, as a whole-video compare decodes them), each page touched, then all freed.
With glibc's defaults part of that memory goes back to the kernel between rounds and comes
back as page faults; with :func:`gt_gen.heap.keep_freed_memory` none does.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

PROBE = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from gt_gen.heap import keep_freed_memory
    assert keep_freed_memory() and keep_freed_memory()  # True, and once is enough

def rounds(n):
    for _ in range(n):
        frames = [np.empty(1536 * 1024 * 3, np.uint8) for _ in range(8)]
        for f in frames:
            f[::4096] = 1
        del frames

rounds(2)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds(20)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="not glibc: nothing is tuned")
def test_freed_frames_are_reused_without_page_faults() -> None:
    kept = _faults("keep")
    # 20 rounds touch 184,320 pages: none of them should be new memory.
    assert kept <= 50, kept
    default = _faults("default")  # the control: what the tuning avoids here
    assert default > kept, (default, kept)
