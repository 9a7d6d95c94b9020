"""What a user reads while generate/controls run: `--quiet` means quiet (no library warnings),
and controls' progress says which control is running."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

WARN = r"""
import sys
from gt_gen.commands.common import quiet_libraries
if sys.argv[1] == "before":
    import transformers  # noqa: F401  (already imported when --quiet is applied)
quiet_libraries()
from transformers.utils import logging
logging.get_logger("transformers.image_processing_utils").warning_once(
    "Using a slow image processor as `use_fast` is unset")
logging.get_logger("transformers.x").warning("another warning")
logging.get_logger("transformers.x").error("an error still shows")
"""


@pytest.mark.slow  # a fresh interpreter importing transformers (and torch under it): seconds
@pytest.mark.parametrize("when", ["before", "after"])
def test_quiet_silences_transformers_warnings(when: str) -> None:
    proc = subprocess.run([sys.executable, "-c", WARN, when], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "slow image processor" not in proc.stderr and "another warning" not in proc.stderr
    assert "an error still shows" in proc.stderr


@pytest.mark.slow
def test_quiet_generate_prints_nothing(tmp_path: Path) -> None:
    """The official pipelines' processor warns "Using a slow image processor ..." on every run;
    `generate --quiet` prints nothing at all on stderr."""
    proc = run_cli("generate", "--group", "tiny", "--case", "tiny_one_stage_t2v", "--out",
                   str(tmp_path / "gt"), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == ""


def test_progress_lines_carry_the_label() -> None:
    from gt_gen.generate.progress import Progress

    buf = io.StringIO()
    p = Progress(buf, tty=False)
    p.label = "control 2/4 negative_seed (another seed)"
    p.case_start(1, 3, "case_a")
    p.case_end("ok", 1.0)
    lines = buf.getvalue().splitlines()
    assert lines == ["control 2/4 negative_seed (another seed): [1/3] case_a: started",
                     "control 2/4 negative_seed (another seed): [1/3] case_a: ok in 1.0s"]


@pytest.mark.parametrize("second", [None, "cuda:1"])
def test_controls_progress_names_each_control(tmp_path: Path, monkeypatch, second) -> None:
    """Every GroupRun of `controls` runs under a label naming the control and its place."""
    from gt_gen import controls
    from gt_gen.cases import load_registry
    from gt_gen.generate.progress import Progress

    seen: list[str] = []

    class FakeRun:
        def __init__(self, cases, out, *, progress, **kw) -> None:
            self.progress = progress

        def run(self) -> int:
            seen.append(self.progress.label)
            return 0

    monkeypatch.setattr(controls, "GroupRun", FakeRun)
    cases = load_registry().select(group="tiny")
    controls.run_controls(cases, tmp_path, second_device=second, progress=Progress(quiet=True))
    n = 5 if second else 4
    assert seen[:4] == [f"control 1/{n} reference (the GT request)",
                        f"control 2/{n} negative_seed (another seed)",
                        f"control 3/{n} negative_prompt (another prompt)",
                        f"control 4/{n} noise_floor (the GT request again, models rebuilt)"]
    if second:
        assert seen[4] == "control 5/5 noise_floor_cuda1 (the GT request on cuda:1)"
    assert len(seen) == n
