"""``gt-gen cases pin``: hub revisions become commits in the case file, asked of a loopback hub."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gt_gen.cases import load_registry
from gt_gen.pinning import rewrite, wanted
from tests.conftest import REPO, run_cli
from tests.hub_server import Hub

TOKEN = "hf_PinTestToken0123456789"
SHAS = {"Lightricks/LTX-2": "1" * 40, "Lightricks/LTX-2.3": "2" * 40,
        "google/gemma-3-12b-it-qat-q4_0-unquantized": "3" * 40}


@pytest.fixture
def hub() -> Iterator[Hub]:
    h = Hub({repo: (sha, {}) for repo, sha in SHAS.items()})
    yield h
    h.close()


def pin(cases: Path, hub: Hub, *extra: str):
    return run_cli("cases", "pin", "--cases", str(cases), "--group", "ltx", *extra,
                   env={"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_TOKEN": TOKEN,
                        "HF_HUB_DISABLE_TELEMETRY": "1"})


def test_pin_rewrites_only_revision_lines(cases_dir: Path, hub: Hub) -> None:
    before = (cases_dir / "ltx.toml").read_text()
    dry = pin(cases_dir, hub, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would pin" in dry.stdout and (cases_dir / "ltx.toml").read_text() == before
    hub.log.clear()
    proc = pin(cases_dir, hub)
    assert proc.returncode == 0, proc.stderr
    after = (cases_dir / "ltx.toml").read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(before.splitlines()) == len(after.splitlines())  # comments and layout kept
    assert len(changed) == 10 and all('"main"' in a and "revision" in b for a, b in changed)
    reg = load_registry(cases_dir)
    for c in reg.select(group="ltx"):
        assert c.model.revision == SHAS[c.model.repo]
        assert c.model.text_encoder_revision == "3" * 40
    assert all(c.model.revision.startswith("seed-") for c in reg.select(group="tiny"))  # tiny untouched
    assert len(hub.log) == 3  # each (repo, revision) asked once
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in hub.log)
    assert TOKEN not in proc.stdout + proc.stderr
    again = pin(cases_dir, hub)
    assert again.returncode == 0 and "nothing to pin" in again.stdout


def test_hub_refusal_leaves_the_file_unchanged(cases_dir: Path, hub: Hub) -> None:
    hub.gated.add("google/gemma-3-12b-it-qat-q4_0-unquantized")
    before = (cases_dir / "ltx.toml").read_text()
    proc = pin(cases_dir, hub)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "gemma-3-12b-it-qat-q4_0-unquantized@main" in proc.stderr
    assert TOKEN not in proc.stderr
    assert (cases_dir / "ltx.toml").read_text() == before
    assert not [p for p in cases_dir.iterdir() if p.name.startswith(".")]  # no temp file left


def test_offline_is_refused_before_any_request(cases_dir: Path) -> None:
    proc = run_cli("cases", "pin", "--cases", str(cases_dir), "--group", "ltx", env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2 and "HF_HUB_OFFLINE" in proc.stderr


def test_rewrite_is_scoped_to_the_named_case_and_model_table() -> None:
    text = ('[[case]]\nid = "a"\n[case.model]\nrevision = "main"  # moving\n[case.request]\nrevision = "x"\n'
            '[[case]]\nid = "b"\n[case.model]\nrevision = "main"\n')
    out, n = rewrite(text, {("a", "revision"): "f" * 40})
    assert n == 1
    assert f'revision = "{"f" * 40}"  # moving' in out and out.count('revision = "main"') == 1
    assert 'revision = "x"' in out


def test_wanted_skips_pinned_and_tiny() -> None:
    reg = load_registry(REPO / "cases")
    need = wanted(reg.select(group="all"))
    assert ("ltx_2.3_one_stage_ti2v", "revision") in need
    assert not any(cid.startswith("tiny_") for cid, _ in need)


def test_copy_fixture_is_independent(cases_dir: Path) -> None:
    assert (cases_dir / "ltx.toml").read_text() == (REPO / "cases" / "ltx.toml").read_text()
    shutil.rmtree(cases_dir)
    assert (REPO / "cases" / "ltx.toml").is_file()
