"""Progress: plain lines off a terminal, an updating line on one."""

from __future__ import annotations

import io

from gt_gen.generate.progress import Progress


def test_plain_lines_when_not_a_tty() -> None:
    buf = io.StringIO()
    p = Progress(buf, tty=False)
    p.case_start(1, 2, "c")
    assert list(p.steps(range(3))) == [0, 1, 2]
    p.case_end("ok", 1.25)
    lines = buf.getvalue().splitlines()
    assert lines == ["[1/2] c: started", "[1/2] c: denoising pass 1 step 1/3",
                     "[1/2] c: denoising pass 1 step 2/3", "[1/2] c: denoising pass 1 step 3/3",
                     "[1/2] c: ok in 1.2s"]


def test_terminal_rewrites_one_line() -> None:
    buf = io.StringIO()
    p = Progress(buf, tty=True)
    p.case_start(1, 1, "c")
    list(p.steps([1, 2]))
    assert "\r\033[K[1/1] c: denoising pass 1 step 1/2" in buf.getvalue()
    assert buf.getvalue().count("\n") == 2  # 'started' and the last step only
