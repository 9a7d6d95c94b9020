"""Headless Chromium for the report tests: one place that finds the browser (a failure on CI,
where `.ci/run` installs Debian's chromium; a skip elsewhere), takes a screenshot and dumps the
rendered DOM. Each call gets its own profile folder under the test's tmp_path."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def require_chromium() -> str:
    """The browser's path; fails the test on CI when it is missing, skips it elsewhere."""
    from tests.conftest import require_tool

    return require_tool(chromium(), "chromium is not installed (.ci/run installs Debian's chromium)",
                        "chromium not installed")


def screenshot(page: Path, shot: Path, profile: Path, size: str) -> None:
    """Render ``page`` (a local file) at ``size`` (``W,H``) into the PNG ``shot``."""
    subprocess.run([require_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                    f"--window-size={size}", f"--screenshot={shot}", page.resolve().as_uri()],
                   capture_output=True, timeout=120)


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` (a local file) after its scripts ran."""
    return subprocess.run([require_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                           "--dump-dom", page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120).stdout
