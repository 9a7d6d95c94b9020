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
class Level:
    """One level of the tree, top-down: where its leaves sit and which leaf each is, and where
    its split nodes sit (their two children, in order, make up the next level)."""

    leaf_pos: np.ndarray
    leaf_idx: np.ndarray
    split_pos: np.ndarray
    size: int


@dataclass(frozen=True)
class Tree:
    """numpy's pairwise-summation tree over ``n`` values; leaf ``i`` covers
    ``[bounds[i], bounds[i + 1])``."""

    n: int
    bounds: np.ndarray
    levels: tuple[Level, ...]


@lru_cache(maxsize=16)
def tree(n: int) -> Tree:
    """The summation tree numpy uses for a contiguous run of ``n >= 1`` values."""
    if n < 1:
        raise ValueError("an empty array has no mean")
    starts = np.array([0], np.int64)
    lens = np.array([n], np.int64)
    raw: list[tuple[np.ndarray, np.ndarray]] = []
    while len(starts):
        split = lens > LEAF
        raw.append((split, starts[~split]))
        half = lens[split] // 2
        half -= half % 8
        s, ln = starts[split], lens[split]
        starts = np.stack([s, s + half], 1).reshape(-1)
        lens = np.stack([half, ln - half], 1).reshape(-1)
    all_starts = np.sort(np.concatenate([leaf_start for _, leaf_start in raw]))
    levels = tuple(Level(leaf_pos=np.nonzero(~split)[0], split_pos=np.nonzero(split)[0],
                         leaf_idx=np.searchsorted(all_starts, leaf_start), size=len(split))
                   for split, leaf_start in raw)
    return Tree(n=n, bounds=np.append(all_starts, n), levels=levels)


def combine(leaf_sums: np.ndarray, t: Tree) -> np.ndarray:
    """float32 sums ``[B]`` from exact leaf sums ``[B, leaves]``, adding in numpy's order."""
    vals = leaf_sums.astype(np.float32)
    below: np.ndarray | None = None
    for lv in reversed(t.levels):
        cur = np.empty((vals.shape[0], lv.size), np.float32)
        cur[:, lv.leaf_pos] = vals[:, lv.leaf_idx]
        if below is not None:
            cur[:, lv.split_pos] = below[:, 0::2] + below[:, 1::2]
        below = cur
    assert below is not None
    return below[:, 0]


def mean_from_sum(total: Any, n: int) -> float:
    """numpy's last step: the float32 sum divided by ``float32(n)`` in float32."""
    return float(np.float32(total) / np.float32(n))


def absdiff_mean_numpy(a: np.ndarray, b: np.ndarray) -> float:
    """sglang's number, computed the way sglang computes it (the definition)."""
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


_DEVICE_TREES: dict[tuple[int, str], Any] = {}


def _device_tree(t: Tree, device: Any) -> Any:
    """``t``'s index arrays as torch tensors on ``device`` (cached: no copies per call)."""
    import torch

    key = (t.n, str(device))
    if key not in _DEVICE_TREES:
        if len(_DEVICE_TREES) > 16:
            _DEVICE_TREES.clear()
        on = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
        _DEVICE_TREES[key] = (on(t.bounds[1:] - 1),
                              [(on(lv.leaf_pos), on(lv.leaf_idx), on(lv.split_pos), lv.size)
                               for lv in reversed(t.levels)])
    return _DEVICE_TREES[key]


def frontier(n: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """The nodes of :func:`tree` ``(n)`` at ``depth`` (and its leaves above that depth), left
    to right: each one's length and the index of its first leaf. Their subtrees are summed
    independently, in parallel; then the top of the tree over them (the CUDA kernel)."""
    starts = np.array([0], np.int64)
    lens = np.array([n], np.int64)
    out_s: list[np.ndarray] = []
    out_l: list[np.ndarray] = []
    for level in range(depth + 1):
        stop = (lens <= LEAF) if level < depth else np.ones(len(lens), bool)
        out_s.append(starts[stop])
        out_l.append(lens[stop])
        half = lens[~stop] // 2
        half -= half % 8
        s, ln = starts[~stop], lens[~stop]
        starts = np.stack([s, s + half], 1).reshape(-1)
        lens = np.stack([half, ln - half], 1).reshape(-1)
    st, ln = np.concatenate(out_s), np.concatenate(out_l)
    order = np.argsort(st)
    return ln[order], np.searchsorted(tree(n).bounds, st[order])


#: The depth at which the CUDA kernel hands subtrees to their own threads (~1000 per frame).
KERNEL_DEPTH = 10


def device_tree(n: int, device: Any) -> tuple[Any, Any, Any, int]:
    """What the CUDA kernel needs for frames of ``n`` values, as tensors on ``device``
    (cached): the leaf bounds, the frontier's lengths and first leaves, and its depth."""
    import torch

    key = (n, f"kernel:{device}")
    if key not in _DEVICE_TREES:
        lens, first = frontier(n, KERNEL_DEPTH)
        on = lambda a: torch.from_numpy(np.ascontiguousarray(a, np.int64)).to(device)  # noqa: E731
        _DEVICE_TREES[key] = (on(tree(n).bounds), on(lens), on(first), KERNEL_DEPTH)
    return _DEVICE_TREES[key]


def absdiff_sums_torch(absd: Any) -> Any:
    """numpy's float32 pairwise sums ``[B]`` of the rows of ``absd`` (``[B, n]`` integer
    tensor of |a - b| in numpy's memory order, any device), computed on that device with no
    host sync: exact integer leaf sums from one cumulative sum, then float32 adds in
    numpy's order (float32 addition rounds to nearest-even on CPU and GPU alike)."""
    import torch

    rows, n = absd.shape
    t = tree(n)
    ends, levels = _device_tree(t, absd.device)
    # A cumulative sum that wraps in int32 still gives exact leaf sums (each < 2^15) by
    # differences modulo 2^32; int64 keeps it obvious when it could wrap at all.
    acc = torch.int32 if 255 * n < 2**31 else torch.int64
    cs = torch.cumsum(absd, dim=1, dtype=acc).index_select(1, ends)
    vals = torch.diff(cs, dim=1, prepend=torch.zeros_like(cs[:, :1])).to(torch.float32)
    below = None
    for leaf_pos, leaf_idx, split_pos, size in levels:
        cur = torch.empty((rows, size), dtype=torch.float32, device=absd.device)
        cur.index_copy_(1, leaf_pos, vals.index_select(1, leaf_idx))
        if below is not None:
            cur.index_copy_(1, split_pos, below[:, 0::2] + below[:, 1::2])
        below = cur
    assert below is not None
    return below[:, 0]


def absdiff_means_torch(g: Any, c: Any) -> list[float]:
    """numpy's float32 mean of ``|g - c|`` for each of ``B`` frames, from torch uint8
    tensors ``[B, H, W, C]`` (any device)."""
    import torch

    rows = g.shape[0]
    d = (g.reshape(rows, -1).to(torch.int32) - c.reshape(rows, -1).to(torch.int32)).abs_()
    n = d.shape[1]
    return [mean_from_sum(x, n) for x in absdiff_sums_torch(d).cpu().numpy()]
