"""The test suite leaves nothing behind in the system's temporary folder.

It used to leave a ``gt-gen-test-cache-*`` folder per session and the work clones of publishers
it killed (``gt-gen-publish-*``). A pytest session with this repository's conftest, pointed at
an empty TMPDIR, must leave that folder empty: the cache and every temporary file of the code
under test (in-process or in a subprocess) live in one session folder removed at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

PROBE = '''
import os, subprocess, sys, tempfile
from pathlib import Path


def test_leaves_temp_files_behind():
    Path(tempfile.mkdtemp(prefix="gt-gen-publish-999999-"), "clone").mkdir()  # a killed publisher's
    subprocess.run([sys.executable, "-c",
                    "import tempfile; tempfile.mkdtemp(prefix='gt-gen-publish-1-')"], check=True)
    (Path(os.environ["GT_GEN_CACHE"]) / "tiny" / "ckpt").mkdir(parents=True)
'''


def test_a_session_leaves_the_temp_folder_empty(tmp_path: Path) -> None:
    systmp, pytest_root = tmp_path / "systmp", tmp_path / "pytest-root"
    systmp.mkdir()
    pytest_root.mkdir()
    probe = tmp_path / "probe" / "test_probe.py"
    probe.parent.mkdir()
    probe.write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k not in ("GT_GEN_TEST_CACHE", "GT_GEN_CACHE")}
    env.update(TMPDIR=str(systmp), PYTEST_DEBUG_TEMPROOT=str(pytest_root))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "tests.conftest", str(probe)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.name for p in systmp.iterdir()) == []


def test_a_session_that_stops_at_its_options_leaves_nothing(tmp_path: Path) -> None:
    """pytest stopped by a usage error (an option of a plugin that is not installed) has loaded
    the conftest, which made its session folder, but never configured the session: the folder
    must go all the same."""
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("GT_GEN_TEST_CACHE", "GT_GEN_CACHE")}
    env.update(TMPDIR=str(systmp), PYTEST_DEBUG_TEMPROOT=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "tests.conftest", "--no-such-option", str(tmp_path)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 4, proc.stdout[-3000:] + proc.stderr[-3000:]  # pytest's usage error
    assert sorted(p.name for p in systmp.iterdir()) == []
