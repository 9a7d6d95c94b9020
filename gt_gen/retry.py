"""One retry-with-backoff helper for everything that crosses a network.

Bounded exponential backoff with full jitter; a server's ``Retry-After`` (seconds) is
honoured, capped at ``cap``. Callers decide what is retryable by raising :class:`Retryable`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Retryable(Exception):
    """Raise inside the retried function to ask for another attempt."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class RetriesExhausted(Exception):
    """Every attempt raised :class:`Retryable`; ``reasons`` lists them."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons[-3:]))
        self.reasons = reasons


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is treated as absent)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def retry(fn: Callable[[], T], *, attempts: int = 4, base: float = 0.2, cap: float = 5.0,
          sleep: Callable[[float], None] = time.sleep,
          rng: random.Random | None = None) -> T:
    """Call ``fn`` until it returns, retrying on :class:`Retryable` up to ``attempts`` times."""
    rng = rng or random.Random()
    reasons: list[str] = []
    for attempt in range(attempts):
        try:
            return fn()
        except Retryable as exc:
            reasons.append(exc.reason)
            if attempt == attempts - 1:
                break
            delay = rng.uniform(0, min(cap, base * 2**attempt))
            if exc.retry_after is not None:
                delay = max(delay, min(cap, exc.retry_after))
            sleep(delay)
    raise RetriesExhausted(reasons)
