"""Shared fixtures: a private gt-gen cache, test videos encoded here, the tiny group's GT."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
# One private folder per session, removed when the session's process exits: the gt-gen
# cache (so tests never touch the user's ~/.cache/gt-gen) and the temporary folder of everything
# the tests run, in-process and in subprocesses (TMPDIR), so that nothing the code under test
# leaves in "/tmp" (publish work clones of a killed publisher, ...) outlives the session.
# pytest's own tmp_path folders stay where pytest keeps them (PYTEST_DEBUG_TEMPROOT).
os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())
_SESSION = Path(tempfile.mkdtemp(prefix="gt-gen-test-"))
# At exit, not in pytest_unconfigure: a session that stops before pytest configures it (an
# unknown option, say) never unconfigures, and used to leave this folder behind.
atexit.register(shutil.rmtree, _SESSION, ignore_errors=True)
_CACHE = Path(os.environ.get("GT_GEN_TEST_CACHE") or _SESSION / "cache")
(_SESSION / "tmp").mkdir()
os.environ["TMPDIR"] = tempfile.tempdir = str(_SESSION / "tmp")
os.environ["GT_GEN_CACHE"] = str(_CACHE)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.pop("GITHUB_ACTIONS", None)
os.environ.pop("GITHUB_STEP_SUMMARY", None)


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m gt_gen`` as a user would; returns the completed process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "gt_gen", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=600)


def pattern_frames(n: int, h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    """Smooth moving patterns (codec friendly), ``[n, h, w, 3]`` uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = rng.uniform(0, 6.28, 3)
    out = []
    for t in range(n):
        chans = [127 + 100 * np.sin(x / (7 + 3 * c) + y / (11 + c) + phase[c] + t * 0.3) for c in range(3)]
        out.append(np.clip(np.stack(chans, -1), 0, 255).astype(np.uint8))
    return np.stack(out)


def write_mp4(path: Path, frames: np.ndarray, fps: int = 24, crf: int = 18) -> Path:
    """Encode RGB frames with libx264 (PyAV), as engines do."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf)}
        for f in frames:
            for pkt in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(pkt)
        for pkt in stream.encode():
            container.mux(pkt)
    return path


def write_png(path: Path, rgb: np.ndarray) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def _cli_folder(factory: pytest.TempPathFactory, name: str, *args: str) -> Path:
    """A session folder filled by one successful ``gt-gen <args> --out DIR --quiet``."""
    out = factory.mktemp(name)
    proc = run_cli(*args, "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def tiny_gt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny group's GT, generated once per session by the official pipelines (CLI)."""
    return _cli_folder(tmp_path_factory, "tiny-gt", "generate", "--group", "tiny")


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP model saved from a config (no weights can be downloaded here)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config={"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "vocab_size": 99, "projection_dim": 16},
        vision_config={"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8,
                       "projection_dim": 16},
        projection_dim=16)
    out = tmp_path_factory.mktemp("tiny-clip")
    CLIPModel(cfg).eval().save_pretrained(out)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(out)
    return out


@pytest.fixture
def cases_dir(tmp_path: Path) -> Path:
    """A copy of the repository's cases/ that a test may edit."""
    dst = tmp_path / "cases"
    shutil.copytree(REPO / "cases", dst)
    return dst


@pytest.fixture(scope="session")
def tiny_controls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Negative and noise-floor controls of the tiny group (official pipelines)."""
    return _cli_folder(tmp_path_factory, "tiny-controls", "controls", "--group", "tiny")


def require_tool(found: T | None, on_ci: str, elsewhere: str) -> T:
    """``found`` (a tool's path or command) when there is one. Without it the test fails on
    CI, where .ci/run installs the tool and a skipped check would pass unseen, and is skipped
    elsewhere; ``on_ci`` / ``elsewhere`` say why."""
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(on_ci)
        pytest.skip(elsewhere)
    return found
