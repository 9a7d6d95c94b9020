"""Installed from a wheel (``pip install .``, not ``-e``), gt-gen finds its default cases and
thresholds outside any checkout: they ship inside the package (gt_gen/_data, copied by
setup.py's build_py), and gt_gen.data_paths finds them there.

The test builds the wheel from a copy of the sources, installs it into a fresh venv whose only
other packages are this environment's (a ``.pth`` line: no torch is downloaded again, and the
checkout's editable install is not seen), and runs ``gt-gen cases list`` and a ``compare``
with the default registry and thresholds from ``/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from gt_gen.frames import read_key_frames
from tests.conftest import REPO, pattern_frames, write_mp4, write_png

pytestmark = pytest.mark.slow

SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "gt_gen", "cases", "thresholds")
CASE = "tiny_one_stage_t2v"  # 64x64, 9 frames, in the shipped cases/tiny.toml


def _copy_sources(dst: Path) -> Path:
    dst.mkdir(parents=True)
    for name in SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", "*.so", "*.egg-info", "_data"))
        elif src.is_file():
            shutil.copy2(src, dst / name)
    return dst


def _setuptools_builds_wheels() -> bool:
    """setuptools >= 70.1 builds wheels by itself (older ones need the `wheel` package)."""
    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1)


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with gt-gen installed from its wheel; returns the venv's bin folder."""
    root = tmp_path_factory.mktemp("wheel")
    src = _copy_sources(root / "src")
    dist = root / "dist"
    # Without a wheel-building setuptools here, pip fetches one into an isolated build
    # environment (the package's own dependencies are never downloaded: --no-deps).
    isolation = ["--no-build-isolation"] if _setuptools_builds_wheels() else []
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation,
                           "-w", str(dist), str(src)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (whl,) = dist.glob("gt_gen-*.whl")
    names = zipfile.ZipFile(whl).namelist()
    assert "gt_gen/_data/cases/tiny.toml" in names and "gt_gen/_data/cases/assets/tiny_ti2v_64x64.png" in names
    assert "gt_gen/_data/thresholds/consistency_threshold.json" in names
    assert "gt_gen/metrics/_native/ssim_cuda.cu" in names
    assert not any(n.startswith(("cases/", "thresholds/", "tests/")) for n in names)

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    purelib = Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                   "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    # This environment's packages (torch, cv2, pip, ...) as a plain path: its .pth files, and
    # with them the checkout's editable gt-gen, are not processed.
    (purelib / "zz_parent_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                           "--no-index", "--ignore-installed", str(whl)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return venv / "bin"


def _run(bin_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "GT_GEN_CLIP_MODEL")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([str(bin_dir / "gt-gen"), *args], capture_output=True, text=True,
                          cwd="/", env=env, timeout=600)


def test_installed_wheel_is_used_not_the_checkout(wheel_venv: Path) -> None:
    proc = subprocess.run([str(wheel_venv / "python"), "-c",
                           "import gt_gen, gt_gen.cases as c, gt_gen.thresholds as t; "
                           "print(gt_gen.__file__); print(c.DEFAULT_CASES_DIR); "
                           "print(t.DEFAULT_THRESHOLDS_FILE)"],
                          capture_output=True, text=True, cwd="/", timeout=300)
    assert proc.returncode == 0, proc.stderr
    pkg, cases, th = proc.stdout.split()
    assert str(REPO) not in pkg and "site-packages" in pkg
    assert cases.endswith("gt_gen/_data/cases") and th.endswith("gt_gen/_data/thresholds/consistency_threshold.json")


def test_cases_list_from_root(wheel_venv: Path) -> None:
    proc = _run(wheel_venv, "cases", "list")
    assert proc.returncode == 0, proc.stderr
    assert CASE in proc.stdout and "ltx_2.3_one_stage_ti2v" in proc.stdout


def test_compare_from_root_with_the_shipped_cases_and_thresholds(wheel_venv: Path, tmp_path: Path) -> None:
    frames = pattern_frames(9, 64, 64)
    cand = tmp_path / "cand"
    mp4 = write_mp4(cand / f"{CASE}_1gpu.mp4", frames)
    gt = tmp_path / "gt"
    for key, frame in read_key_frames(mp4).items():
        write_png(gt / f"{CASE}_1gpu_frame_{ {'first': '0', 'mid': 'mid', 'last': 'last'}[key]}.png", frame)
    out = tmp_path / "out"
    proc = _run(wheel_venv, "compare", "--case", CASE, "--gt", str(gt), "--candidate", str(cand),
                "--out", str(out), "--clip-model", "none")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    res = json.loads((out / "results.json").read_text())
    assert [c["status"] for c in res["cases"]] == ["passed"]
    assert "_data/thresholds" in json.dumps(res["meta"]["thresholds"])
