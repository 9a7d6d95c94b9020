"""How many CPUs this process may use, and thread counts set from the environment.

Why one place: the decoders' FFmpeg threads (:func:`gt_gen.video_decode.pair_decode_threads`)
and the metric workers (:func:`gt_gen.metric_pool.metric_workers`) are both sized from the CPUs
the process may run on (its affinity, not the machine's count: a CI container pinned to 2 of
64 cores has 2) and both take an override from the environment, checked the same way.
"""

from __future__ import annotations

import os

from gt_gen.errors import UsageError


def available() -> int:
    """CPUs this process may run on (its affinity where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 2


def from_env(name: str, *, most: int = 64) -> int | None:
    """The whole number 1..``most`` that ``name`` sets, None when it is unset or empty; any
    other value is a :class:`UsageError` naming the variable."""
    env = os.environ.get(name, "").strip()
    if not env:
        return None
    if not env.isdigit() or not 1 <= int(env) <= most:
        raise UsageError(f"{name} must be a whole number from 1 to {most}, not {env[:20]!r}")
    return int(env)
