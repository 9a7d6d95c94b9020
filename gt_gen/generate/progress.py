"""Progress per case and per denoising step: a live line on a terminal, plain lines otherwise.

Why plain lines off a terminal: CI logs keep every carriage-return frame of a progress bar
as noise; one line per step is readable and greppable there.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO


class Progress:
    """Reports case and step progress to ``stream`` (stderr by default)."""

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None,
                 quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.quiet = quiet
        self.label = ""  # what the cases run for, e.g. "control 2/4 negative_seed (another seed)"
        self.case = ""
        self.stage = 0
        self._t0 = time.perf_counter()

    def _emit(self, text: str, *, final: bool = True) -> None:
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def case_start(self, index: int, total: int, case_id: str) -> None:
        prefix = f"{self.label}: " if self.label else ""
        self.case, self.stage, self._t0 = f"{prefix}[{index}/{total}] {case_id}", 0, time.perf_counter()
        self._emit(f"{self.case}: started")

    def steps(self, iterable: Iterable[Any], total: int | None = None) -> Iterator[Any]:
        """Wrap a denoising loop's iterable (drop-in for the ``tqdm`` the pipelines use)."""
        items = list(iterable) if total is None and not hasattr(iterable, "__len__") else iterable
        n = total if total is not None else len(items)  # type: ignore[arg-type]
        self.stage += 1
        for i, item in enumerate(items):
            yield item
            self._emit(f"{self.case}: denoising pass {self.stage} step {i + 1}/{n}",
                       final=not self.tty or i + 1 == n)

    def tick(self, done: int, total: int) -> None:
        """One denoising step done (for pipelines that report steps through a callback)."""
        if done == 1:
            self.stage += 1
        self._emit(f"{self.case}: denoising pass {self.stage} step {done}/{total}",
                   final=not self.tty or done == total)

    def case_end(self, status: str, seconds: float, detail: str = "") -> None:
        self._emit(f"{self.case}: {status} in {seconds:.1f}s" + (f" ({detail})" if detail else ""))

    @contextlib.contextmanager
    def patch_official_loops(self) -> Iterator[None]:
        """Route the official samplers' ``tqdm`` through :meth:`steps` while active."""
        from ltx_pipelines.utils import media_io, samplers

        saved = samplers.tqdm, media_io.tqdm
        samplers.tqdm = lambda it, *a, **k: self.steps(it, k.get("total"))
        media_io.tqdm = lambda it, *a, **k: it
        try:
            yield
        finally:
            samplers.tqdm, media_io.tqdm = saved
