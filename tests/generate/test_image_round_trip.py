"""Images end to end through the shared store: the tiny group's image GT (``{case}_{n}gpu.png``,
every diffusers family) is published through the quality gate, fetched at the pinned commit and
compared; the GT passes against itself and the seed+1 negative control fails every case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gt_gen import gitutil
from gt_gen.cases import load_registry
from tests.conftest import run_cli

REG = load_registry()
IMAGES = [c for c in REG.select(group="tiny") if c.modality == "image"]


@pytest.mark.slow
def test_images_publish_fetch_compare_and_a_negative_control_fails(tiny_gt: Path, tiny_controls: Path,
                                                                   tmp_path: Path) -> None:
    assert len(IMAGES) >= 6
    repo = tmp_path / "ci-data.git"
    gitutil.git("init", "-q", "--bare", "-b", "main", str(repo))
    pub = run_cli("publish", "--source", str(tiny_gt), "--target", "official_generated", "--repo", str(repo),
                  "--source-ref", "refs/heads/main")
    assert pub.returncode == 0, pub.stdout + pub.stderr
    commit = gitutil.out("rev-parse", "main", cwd=repo)
    tree = gitutil.out("ls-tree", "-r", "--name-only", commit, cwd=repo).splitlines()
    folder = "diffusion-ci/consistency_gt/official_generated"
    assert {f"{folder}/{c.id}_1gpu.png" for c in IMAGES} <= set(tree)
    from gt_gen.store.layout import parse_case_map

    cmap = parse_case_map(gitutil.git("show", f"{commit}:{folder}/case_map.json", cwd=repo).stdout, "case_map")
    assert all(cmap[c.id] == [f"{c.id}_1gpu.png"] for c in IMAGES)
    fetched = tmp_path / "fetched"
    fetch = run_cli("fetch", "--group", "tiny", "--source", str(repo), "--ref", commit, "--out", str(fetched))
    assert fetch.returncode == 0, fetch.stderr
    assert all((fetched / f"{c.id}_1gpu.png").is_file() for c in IMAGES)
    ids = [a for c in IMAGES for a in ("--case", c.id)]
    good = run_cli("compare", "--group", "tiny", *ids, "--gt", str(repo), "--ref", commit,
                   "--candidate", str(tiny_gt), "--out", str(tmp_path / "good"), "--clip-model", "none")
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-3000:]
    bad = run_cli("compare", "--group", "tiny", *ids, "--gt", str(fetched), "--candidate",
                  str(tiny_controls / "negative_seed"), "--out", str(tmp_path / "bad"), "--clip-model", "none")
    assert bad.returncode == 1, bad.stdout[-3000:] + bad.stderr[-3000:]
    results = json.loads((tmp_path / "bad" / "results.json").read_text())
    assert {c["case_id"]: c["status"] for c in results["cases"]} == {c.id: "failed" for c in IMAGES}
