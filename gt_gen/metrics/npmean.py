"""numpy's float32 ``.mean()`` of ``|a - b|``, reproduced bit for bit from exact integer sums.

Why: sglang's mean absolute difference is ``np.abs(x.astype(np.float32) -
y.astype(np.float32)).mean()``. numpy sums a contiguous float32 array by *pairwise
summation* in float32 and divides by ``float32(n)``; the exact mean can differ from that by
up to half a float32 ulp of the result (7.6e-6 at 128..255) and so flip a verdict at the
gate. The fast backends must give sglang's number, not the exact one.

How numpy sums (``numpy/_core/src/umath/loops_utils.h.src``, ``pairwise_sum``; checked bit
for bit against numpy in ``tests/metrics/test_npmean.py``): a run of ``n <= 128`` values is a
*leaf*, summed with eight accumulators; a longer run is split at ``n2 = n // 2`` rounded
down to a multiple of 8 and the two halves' sums are added in float32. The values are
integers 0..255, so every leaf sum (at most 128 * 255) is exact in float32, whatever its
internal order: only the adds above the leaves round. Hence the float32 result is a
function of the *integer* leaf sums, which any backend can compute exactly (the C kernel,
torch on CPU or CUDA), and of the fixed tree for ``n``, which is built here once per size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

LEAF = 128  # numpy's PW_BLOCKSIZE


@dataclass(frozen=True)
class Tree:
    """numpy's pairwise-summation tree over ``n`` values.

    ``bounds``: leaf ``i`` covers ``[bounds[i], bounds[i + 1])``. ``levels`` top-down: per
    level, ``split`` (which nodes have two children on the next level, in order) and
    ``leaf`` (for the other nodes, their leaf index)."""

    n: int
    bounds: np.ndarray
    levels: tuple[tuple[np.ndarray, np.ndarray], ...]


@lru_cache(maxsize=16)
def tree(n: int) -> Tree:
    """The summation tree numpy uses for a contiguous run of ``n >= 1`` values."""
    if n < 1:
        raise ValueError("an empty array has no mean")
    starts = np.array([0], np.int64)
    lens = np.array([n], np.int64)
    levels: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    leaf_starts: list[np.ndarray] = []
    while len(starts):
        split = lens > LEAF
        levels.append((split, starts[~split], np.nonzero(~split)[0]))
        leaf_starts.append(starts[~split])
        half = lens[split] // 2
        half -= half % 8
        s, ln = starts[split], lens[split]
        starts = np.stack([s, s + half], 1).reshape(-1)
        lens = np.stack([half, ln - half], 1).reshape(-1)
    all_starts = np.sort(np.concatenate(leaf_starts))
    bounds = np.append(all_starts, n)
    out = []
    for split, leaf_start, _ in levels:
        out.append((split, np.searchsorted(all_starts, leaf_start)))
    return Tree(n=n, bounds=bounds, levels=tuple(out))


def combine(leaf_sums: Any, t: Tree, xp: Any = np) -> Any:
    """float32 sums ``[B]`` from exact leaf sums ``[B, leaves]`` along ``t``, adding in
    float32 in numpy's order. ``xp`` is ``numpy`` or ``torch`` (any device: float32
    addition rounds to nearest-even on both)."""
    is_torch = xp is not np
    vals = leaf_sums.to(xp.float32) if is_torch else leaf_sums.astype(np.float32)
    below = None
    for split, leaf_idx in reversed(t.levels):
        rows = vals.shape[0]
        if is_torch:
            cur = xp.empty((rows, len(split)), dtype=xp.float32, device=vals.device)
            sp = xp.from_numpy(split).to(vals.device)
            cur[:, ~sp] = vals[:, xp.from_numpy(leaf_idx).to(vals.device)]
        else:
            cur = np.empty((rows, len(split)), np.float32)
            sp = split
            cur[:, ~sp] = vals[:, leaf_idx]
        if below is not None:
            cur[:, sp] = below[:, 0::2] + below[:, 1::2]
        below = cur
    assert below is not None
    return below[:, 0]


def mean_from_sum(total: Any, n: int) -> float:
    """numpy's last step: the float32 sum divided by ``float32(n)`` in float32."""
    return float(np.float32(total) / np.float32(n))


def absdiff_mean_numpy(a: np.ndarray, b: np.ndarray) -> float:
    """sglang's number, computed the way sglang computes it (the definition)."""
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def absdiff_means_torch(g: Any, c: Any) -> list[float]:
    """numpy's float32 mean of ``|g - c|`` for each of ``B`` frames, from torch uint8
    tensors ``[B, H, W, C]`` (any device): exact int64 leaf sums on the device, the float32
    tree there too, the last division on the host."""
    import torch

    rows = g.shape[0]
    d = (g.reshape(rows, -1).to(torch.int32) - c.reshape(rows, -1).to(torch.int32)).abs_()
    n = d.shape[1]
    t = tree(n)
    cs = torch.nn.functional.pad(torch.cumsum(d, dim=1, dtype=torch.int64), (1, 0))
    b = torch.from_numpy(t.bounds).to(d.device)
    leaves = cs[:, b[1:]] - cs[:, b[:-1]]
    totals = combine(leaves, t, torch).cpu().numpy()
    return [mean_from_sum(x, n) for x in totals]
