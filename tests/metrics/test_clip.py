"""CLIP: a tiny random model scores; a missing model is unavailable, never passed; where the
model comes from is decided once, quickly, without the hub's retry loop."""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from gt_gen.metrics.clip import ADVICE, ClipScorer, probe_hub
from tests.commands.test_compare_cli import compare, setup  # noqa: F401  (fixture)


def _never() -> str | None:
    raise AssertionError("the hub was probed although the answer was known without it")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed once the block ends: connecting is refused at once


def test_tiny_clip_scores(tiny_clip_dir) -> None:
    clip = ClipScorer(str(tiny_clip_dir))
    assert clip.status.available, clip.status.reason
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    b = 255 - a
    assert abs(clip.score(a, a) - 1.0) < 1e-5
    s = clip.score(a, b)
    assert -1.0 <= s < 0.99999


@pytest.mark.parametrize("name", ["none", "None", "off", "", " none "])
def test_disabled_says_disabled_never_unavailable(name: str) -> None:
    clip = ClipScorer(name, probe=_never)
    st = clip.status
    assert not st.available and st.disabled
    assert "disabled" in st.note and "unavailable" not in st.note
    assert "disabled" in st.reason and "unavailable" not in st.reason
    assert clip.score(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)) is None


@pytest.mark.parametrize("rel", ["no-such-model", "a/b/c", "./rel/dir"])
def test_missing_local_dir_is_unavailable_without_the_hub(tmp_path, rel: str) -> None:
    model = str(tmp_path / rel) if not rel.startswith(".") else rel
    clip = ClipScorer(model, probe=_never)
    st = clip.status
    assert not st.available and not st.disabled
    assert st.summary == f"CLIP not evaluated: the local model directory {model} does not exist; {ADVICE}"
    assert "unavailable" in st.note
    assert clip.score(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)) is None


def test_offline_and_not_cached_is_one_decision(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t = time.perf_counter()
    st = ClipScorer("openai/clip-vit-large-patch14", cache_dir=str(tmp_path), probe=_never).status
    assert time.perf_counter() - t < 5
    assert st.summary == ("CLIP not evaluated: model openai/clip-vit-large-patch14@main is not in the "
                          f"local cache and HF_HUB_OFFLINE is set; {ADVICE}")


def test_unreachable_hub_is_one_decision_with_the_full_reason(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    calls = []

    def probe() -> str | None:
        calls.append(1)
        return "ConnectionError: " + "name resolution failed. " * 30  # a long reason: kept whole

    st = ClipScorer("org/some-clip", "v1", cache_dir=str(tmp_path), probe=probe).status
    assert calls == [1]
    assert st.summary == ("CLIP not evaluated: model org/some-clip@v1 is not in the local cache "
                          f"and the hub is unreachable; {ADVICE}")
    assert st.reason.startswith(st.summary)
    assert st.reason.endswith("name resolution failed.)")  # never cut mid-sentence


def test_probe_of_a_closed_port_is_fast() -> None:
    t = time.perf_counter()
    why = probe_hub(f"http://127.0.0.1:{_closed_port()}", timeout=2)
    assert why and "Connection" in why
    assert time.perf_counter() - t < 2.5


def _fake_hub_cache(root: Path, repo: str, model_dir: Path, sha: str = "a" * 40) -> Path:
    """The huggingface_hub cache layout (refs/main -> snapshots/<sha>/files) holding a model."""
    base = root / f"models--{repo.replace('/', '--')}"
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(sha)
    shutil.copytree(model_dir, base / "snapshots" / sha)
    return root


def test_cached_model_loads_without_any_request(tmp_path, tiny_clip_dir, monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    cache = _fake_hub_cache(tmp_path / "hub", "org/tiny-clip", tiny_clip_dir)
    clip = ClipScorer("org/tiny-clip", cache_dir=str(cache), probe=_never)
    assert clip.status.available, clip.status.reason
    a = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    assert abs(clip.score(a, a) - 1.0) < 1e-5


def test_broken_local_model_keeps_the_whole_error(tmp_path) -> None:
    (tmp_path / "config.json").write_text("{}")  # a directory, but not a CLIP model
    st = ClipScorer(str(tmp_path), probe=_never).status
    assert not st.available and st.summary.endswith(ADVICE)
    assert st.reason.startswith(st.summary) and st.reason.endswith(")")
    assert len(st.reason) > len(st.summary) + 20


def test_compare_without_hub_decides_once_and_fast(setup, tmp_path) -> None:  # noqa: F811
    """The CLI: no network, no cached model -> one stderr line, no retry loop, reason in JSON."""
    out = tmp_path / "out"
    env = {"HF_HUB_OFFLINE": "", "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
           "HF_HOME": str(tmp_path / "hf"), "GT_GEN_CLIP_MODEL": "openai/clip-vit-large-patch14"}
    from tests.conftest import run_cli

    proc = run_cli("compare", "--cases", str(setup["cases"]), "--group", "t", "--gt", str(setup["gt"]),
                   "--candidate", str(setup["good"]), "--thresholds", str(setup["th"]),
                   "--out", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Retrying" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "CLIP" in ln]
    assert lines == ["gt-gen: CLIP not evaluated: model openai/clip-vit-large-patch14@main is not in "
                     f"the local cache and the hub is unreachable; {ADVICE}"]
    res = json.loads((out / "results.json").read_text())
    for c in res["cases"]:
        assert c["clip"]["reason"].startswith(lines[0].removeprefix("gt-gen: "))
        assert "hub probe:" in c["clip"]["reason"]


def test_compare_with_clip_off_says_disabled(setup, tmp_path) -> None:  # noqa: F811
    out = tmp_path / "out"
    proc = compare(setup, setup["good"], out)
    assert proc.returncode == 0, proc.stderr
    res = json.loads((out / "results.json").read_text())
    text = (out / "summary.md").read_text() + proc.stdout + proc.stderr + json.dumps(res)
    assert "unavailable" not in text
    assert all("disabled" in c["message"] for c in res["cases"])
