"""Frame pairs measured on several CPU threads at once, their results in frame order.

Why: on a many-core host the whole-video compare on the CPU was bound by the metric kernel,
not by decoding. The kernel shares one pair's bands among threads, but beside two busy
decoders its helpers waited for cores and it fell back to one thread (its own rule, see
``auto_learn`` in ``_native/fastssim.c``): on the lent H100 host's 16 cores a 121-frame
1536x1024 case took 1.36 s, 11 ms a pair, 2.2x its decode floor, with cores idle. Whole pairs
on separate threads, one kernel thread each, need no hand-over inside a pair and keep several
pairs in flight, so the kernel's throughput grows with the cores the decoders leave. Measured
on a lent H200 host's 16 cores (``scripts/bench_compare.py --device cpu --only big --cases 10``,
medians of 3 rounds, each beside its decode floor): 1 worker 1.456 s a case (2.58x the floor),
4 workers 0.410 s (0.69x), 8 workers 0.431 s (0.76x).

A pair's numbers do not depend on which thread measured it or on the kernel's thread count
(the kernel adds its bands in a fixed order), so the results are those of the one-thread
path, bit for bit; they are returned in the order the pairs were submitted. At most
``2 x workers`` pairs are in flight: the caller waits for the oldest beyond that, so memory
stays bounded when the kernel is slower than the decoders. With one worker (a 2-core runner,
or ``GT_GEN_METRIC_WORKERS=1``) nothing runs on another thread: each pair is measured when
it is submitted, as before this module existed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from gt_gen import cpus

T = TypeVar("T")

#: CPUs per metric worker where nothing says otherwise: a whole-video compare's two decoders
#: keep much of a host busy (FFmpeg frame threads, half the CPUs each), and on 16 cores a worker
#: per 4 CPUs measured faster than one per 2 (module docstring). A 2-core runner keeps one.
CPUS_PER_WORKER = 4


def metric_workers(device: str = "cpu") -> int:
    """Threads measuring frame pairs at once in a whole-video compare: 1 for GPU metrics (one
    stream of uploads), else one per :data:`CPUS_PER_WORKER` CPUs this process may use, at
    least 1. ``GT_GEN_METRIC_WORKERS`` (1 to 64) sets it."""
    env = cpus.from_env("GT_GEN_METRIC_WORKERS")
    if env is not None:
        return env
    if str(device).startswith("cuda"):
        return 1
    return max(1, cpus.available() // CPUS_PER_WORKER)


class OrderedPool(Generic[T]):
    """Runs submitted calls on ``workers`` threads and hands their results back in
    submission order (see the module docstring); a call's exception is raised where its
    result is handed back. Use as a context manager, or call :meth:`close`."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._pool = (ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="gt-gen-metrics")
                      if self.workers > 1 else None)
        self._pending: deque[Future[list[T]]] = deque()

    def submit(self, fn: Callable[[], list[T]]) -> list[T]:
        """Start ``fn`` and return the results now ready, oldest first: with one worker,
        ``fn``'s own (run here); else those of the calls finished in order so far, waiting
        for the oldest while more than ``2 x workers`` are in flight."""
        if self._pool is None:
            return fn()
        self._pending.append(self._pool.submit(fn))
        out: list[T] = []
        while self._pending and (self._pending[0].done() or len(self._pending) > 2 * self.workers):
            out += self._pending.popleft().result()
        return out

    def finish(self) -> list[T]:
        """Wait for every call still in flight; their results in order."""
        out: list[T] = []
        while self._pending:
            out += self._pending.popleft().result()
        return out

    def close(self) -> None:
        """Drop the calls not started and wait for the running ones (idempotent): nothing of
        this pool runs after it, e.g. on frames an error made the caller give up."""
        for f in self._pending:
            f.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> OrderedPool[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
