"""Full profile of every diffusers family over real HTTP: ``generate --profile full`` fetches each
pipeline from a loopback hub at its pinned commit (token from the environment), records the
commit and every file's sha256, makes the same pictures as the tiny profile from the same
files, and then runs offline from the cache without one request."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gt_gen.cases import load_registry
from gt_gen.generate.backends.diffusers.tiny import build_tiny
from gt_gen.generate.backends.diffusers.tiny.families import TINY_KEY
from tests.conftest import run_cli
from tests.hub_server import Hub

TOKEN = "hf_LoopbackDiffusersToken0123456789"
#: The layered pipeline sizes its output to its resolution bucket (640**2 at least) in the full
#: profile, minutes of CPU for a tiny VAE: its full-profile path (pinned download, record,
#: offline, from_pretrained) is tested without the call in test_diffusers_layered.py.
CASES = [c for c in load_registry().select(group="tiny") if c.backend == "diffusers"
         and c.pipeline != "QwenImageLayeredPipeline"]


def _commit(i: int) -> str:
    return f"{i + 1:x}" * 40


@pytest.mark.slow
def test_every_family_downloads_pinned_then_serves_offline(tiny_gt: Path, cases_dir: Path,
                                                           tmp_path: Path) -> None:
    repos: dict[str, tuple[str, dict[str, bytes]]] = {}
    text = (cases_dir / "tiny.toml").read_text()
    keys = sorted({TINY_KEY[c.pipeline] for c in CASES})
    assert len(keys) == 7  # wan, flux, flux2 (dev + klein), qwen_image (t2i + edit), zimage
    for i, key in enumerate(keys):
        folder = build_tiny(key, 0)
        files = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
                 if p.is_file() and p.name != "files.json"}
        repos[f"acme/{key}-tiny"] = (_commit(i), files)
    for case in CASES:  # the same cases, as full-profile cases pinned to the hub's commits
        key = TINY_KEY[case.pipeline]
        commit = repos[f"acme/{key}-tiny"][0]
        block = re.search(rf'id = "{re.escape(case.id)}".*?repo = "tiny"\nrevision = "seed-0"', text, re.S)
        assert block is not None
        text = text.replace(block.group(0), block.group(0).replace(
            'repo = "tiny"\nrevision = "seed-0"', f'repo = "acme/{key}-tiny"\nrevision = "{commit}"'))
    (cases_dir / "tiny.toml").write_text(text)
    hub = Hub(repos)
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0",
           "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_XET": "1"}
    ids = [a for c in CASES for a in ("--case", c.id)]
    try:
        out = tmp_path / "full"
        proc = run_cli("generate", "--cases", str(cases_dir), "--group", "tiny", *ids, "--out", str(out),
                       "--profile", "full", "--quiet", env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        m = json.loads((out / "manifest.json").read_text())
        tiny = json.loads((tiny_gt / "manifest.json").read_text())
        for case in CASES:
            e = m["cases"][case.id]
            repo = f"acme/{TINY_KEY[case.pipeline]}-tiny"
            assert e["profile"] == "full" and e["model"]["repo"] == repo
            assert e["model"]["resolved_commit"] == repos[repo][0] and e["model"]["source"] == "hub"
            got, served = set(e["model"]["files_sha256"]), set(repos[repo][1])
            # what the pipeline needs (diffusers skips e.g. generation_config.json), hashed
            assert got <= served and {f for f in served if f.endswith((".safetensors", "model_index.json"))} <= got
            same = e["raw_frames_sha256"] == tiny["cases"][case.id]["raw_frames_sha256"]
            if case.pipeline == "QwenImageEditPlusPipeline":
                # the tiny-only override of its hard-coded input areas is off in the full profile
                assert "tiny_overrides" not in e and not same
            else:  # the same files make the same pictures as the tiny profile
                assert same, case.id
        assert hub.log and all(auth == f"Bearer {TOKEN}" for _, _, auth in hub.log)
        assert TOKEN not in (out / "manifest.json").read_text() + proc.stderr + proc.stdout
        n = len(hub.log)
        offline = run_cli("generate", "--cases", str(cases_dir), "--group", "tiny", *ids, "--out",
                          str(tmp_path / "offline"), "--profile", "full", "--quiet",
                          env=env | {"HF_HUB_OFFLINE": "1"})
        assert offline.returncode == 0, offline.stderr[-3000:]
        assert len(hub.log) == n  # served from the cache: not one request
        m2 = json.loads((tmp_path / "offline" / "manifest.json").read_text())
        assert all(m2["cases"][c.id]["raw_frames_sha256"] == m["cases"][c.id]["raw_frames_sha256"]
                   for c in CASES)
        # An unpinned revision is refused unless --allow-unpinned.
        first = repos[f"acme/{TINY_KEY[CASES[0].pipeline]}-tiny"][0]
        (cases_dir / "tiny.toml").write_text(text.replace(f'revision = "{first}"', 'revision = "main"', 1))
        unpinned = run_cli("generate", "--cases", str(cases_dir), "--group", "tiny", "--case", CASES[0].id,
                           "--out", str(tmp_path / "unpinned"), "--profile", "full", "--quiet", env=env)
        entry = json.loads((tmp_path / "unpinned" / "manifest.json").read_text())["cases"]
        assert unpinned.returncode == 1 and any("not a 40-hex commit" in e.get("error", "")
                                                for e in entry.values())
    finally:
        hub.close()
