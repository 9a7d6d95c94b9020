"""Retry with backoff: bounded, jittered, Retry-After honoured."""

from __future__ import annotations

import random

import pytest

from gt_gen.retry import Retryable, RetriesExhausted, parse_retry_after, retry


def test_retries_then_succeeds_with_bounded_sleeps() -> None:
    sleeps: list[float] = []
    calls = iter([Retryable("a"), Retryable("b", retry_after=0.7), "ok"])

    def fn():
        v = next(calls)
        if isinstance(v, Exception):
            raise v
        return v
    assert retry(fn, attempts=4, base=0.1, cap=1.0, sleep=sleeps.append, rng=random.Random(0)) == "ok"
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.1 and sleeps[1] >= 0.7


def test_exhausted() -> None:
    def fn():
        raise Retryable("HTTP 503")
    with pytest.raises(RetriesExhausted, match="503"):
        retry(fn, attempts=3, sleep=lambda s: None)


def test_parse_retry_after() -> None:
    assert parse_retry_after("2") == 2.0 and parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
