"""gt_gen.metric_pool: results in submission order, errors where their result comes up,
bounded work in flight, one worker running in the caller's thread, the worker count."""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest

from gt_gen import metric_pool as mp
from gt_gen.errors import UsageError
from gt_gen.metrics import compute_pair_metrics
from gt_gen.metrics import fast


def _slow(i: int, delay: float) -> list[int]:
    time.sleep(delay)
    return [i, -i]


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_results_come_back_in_submission_order(workers: int) -> None:
    rng = random.Random(workers)
    got: list[int] = []
    with mp.OrderedPool[int](workers) as pool:
        for i in range(40):
            got += pool.submit(lambda i=i, d=rng.uniform(0, 0.004): _slow(i, d))
        got += pool.finish()
    assert got == [x for i in range(40) for x in (i, -i)]


def test_one_worker_runs_each_call_in_the_callers_thread_at_once() -> None:
    seen: list[str] = []
    with mp.OrderedPool[int](1) as pool:
        out = pool.submit(lambda: seen.append(threading.current_thread().name) or [7])
        assert out == [7] and seen == [threading.current_thread().name]
        assert pool.finish() == []


def test_work_in_flight_is_bounded() -> None:
    """The caller waits once more than 2 x workers calls are pending: frames in flight (each
    a few MB) stay bounded when the kernel is slower than the decoders."""
    running = 0
    started = 0
    lock = threading.Lock()
    release = threading.Event()

    def call(i: int) -> list[int]:
        nonlocal running, started
        with lock:
            running += 1
            started += 1
        release.wait(5)
        with lock:
            running -= 1
        return [i]

    pool = mp.OrderedPool[int](2)
    submitted = 0
    t = threading.Thread(target=lambda: [pool.submit(lambda i=i: call(i)) for i in range(20)])
    try:
        t.start()
        time.sleep(0.3)  # the submitter is blocked on the oldest pending call
        submitted = len(pool._pending)
        assert submitted <= 2 * 2 + 1
        assert started <= 2
    finally:
        release.set()
        t.join(5)
        pool.finish()
        pool.close()
    assert not t.is_alive()


def test_an_error_is_raised_where_its_result_comes_up_and_close_drops_the_rest() -> None:
    ran: list[int] = []

    def call(i: int) -> list[int]:
        time.sleep(0.002)
        ran.append(i)
        if i == 3:
            raise ValueError("pair 3 is bad")
        return [i]

    got: list[int] = []
    pool = mp.OrderedPool[int](2)
    with pytest.raises(ValueError, match="pair 3"):
        for i in range(50):
            got += pool.submit(lambda i=i: call(i))
        got += pool.finish()
    assert got == [0, 1, 2][:len(got)]  # in order, nothing from the bad pair on
    pool.close()
    n = len(ran)
    time.sleep(0.05)
    assert len(ran) == n  # nothing of the pool runs after close
    assert n < 50


def test_pooled_pairs_give_the_one_thread_values_bit_for_bit() -> None:
    """What the pool relies on: a pair's values do not depend on the kernel's thread count
    or on which thread measures it (here 3 at once, one kernel thread each)."""
    if not fast.native_available():
        pytest.skip("the C kernel is not built")
    rng = np.random.default_rng(0)
    pairs = [(rng.integers(0, 256, (64, 96, 3), np.uint8), rng.integers(0, 256, (64, 96, 3), np.uint8))
             for _ in range(12)]
    want = [compute_pair_metrics([g], [c], backend="fast")[0] for g, c in pairs]
    got: list[dict[str, float]] = []
    with mp.OrderedPool[dict[str, float]](3) as pool:
        for g, c in pairs:
            got += pool.submit(lambda g=g, c=c: compute_pair_metrics([g], [c], backend="fast", threads=1))
        got += pool.finish()
    assert got == want


def test_worker_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GT_GEN_METRIC_WORKERS", raising=False)
    for cpus, want in ((1, 1), (2, 1), (4, 1), (8, 2), (16, 4), (64, 16)):
        monkeypatch.setattr(mp.cpus.os, "sched_getaffinity", lambda _pid, n=cpus: set(range(n)))
        assert mp.metric_workers("cpu") == want
        assert mp.metric_workers("cuda:0") == 1  # GPU metrics: one stream of uploads
    monkeypatch.setenv("GT_GEN_METRIC_WORKERS", "6")
    assert mp.metric_workers("cpu") == 6
    for bad in ("0", "65", "two", "-1", "1.5"):
        monkeypatch.setenv("GT_GEN_METRIC_WORKERS", bad)
        with pytest.raises(UsageError, match="GT_GEN_METRIC_WORKERS"):
            mp.metric_workers("cpu")
