"""GitHub Actions workflow-command annotations (``::error``), only when on Actions."""

from __future__ import annotations

import os

from gt_gen.results import Results


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def lines(results: Results) -> list[str]:
    return [f"::error title=gt-gen {r.case_id}::{_escape(f'{r.status}: {r.message}')}"
            for r in results.cases if r.status != "passed"]


def on_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"
