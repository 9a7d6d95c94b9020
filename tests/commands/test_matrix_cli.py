"""``gt-gen cases matrix``: one entry per case, or packed shards per runner label."""

from __future__ import annotations

import json
from pathlib import Path

from gt_gen.cases import load_registry
from gt_gen.commands.matrix_cmd import pack
from tests.conftest import run_cli


def test_one_entry_per_case_to_github_output(tmp_path: Path) -> None:
    out = tmp_path / "gh_output"
    proc = run_cli("cases", "matrix", "--group", "ltx", env={"GITHUB_OUTPUT": str(out)})
    assert proc.returncode == 0, proc.stderr
    line = out.read_text().strip()
    assert line.startswith("matrix=")
    inc = json.loads(line[len("matrix="):])["include"]
    assert len(inc) == 5 and {e["runner"] for e in inc} == {"1-gpu-h100", "2-gpu-h100"}


def test_shards_are_packed_longest_first_per_runner() -> None:
    cases = load_registry().select(group="ltx")
    shards = pack(cases, 3)
    assert len(shards) == 3
    assert sorted(c for s in shards for c in s["cases"].split()) == sorted(c.id for c in cases)
    for s in shards:  # never mixes runner labels
        ids = s["cases"].split()
        assert len({load_registry().get(i).runner for i in ids}) == 1
    minutes = {r: sorted(s["estimated_minutes"] for s in shards if s["runner"] == r)
               for r in ("1-gpu-h100", "2-gpu-h100")}
    # 1-gpu work: the HQ case (20); 2-gpu work (sglang names 4 ltx cases _2gpu): 15 + 15 + 12 + 10
    # minutes on two shards -> {15, 12} and {15, 10}
    assert minutes == {"1-gpu-h100": [20], "2-gpu-h100": [25, 27]}


def test_errors() -> None:
    assert run_cli("cases", "matrix", "--group", "ltx", "--case", "nope").returncode == 2
    assert run_cli("cases", "matrix", "--group", "nope").returncode == 2
    proc = run_cli("cases", "matrix", "--group", "ltx", "--max-jobs", "1")
    assert proc.returncode == 2 and "runner labels" in proc.stderr


def test_several_groups_and_official_only(tmp_path: Path) -> None:
    proc = run_cli("cases", "matrix", "--group", "ltx", "--group", "tiny", "--official-only")
    assert proc.returncode == 0, proc.stderr
    ids = {e["cases"] for e in json.loads(proc.stdout)["include"]}
    tiny = {c.id for c in load_registry().select(group="tiny")}  # every tiny case is official
    assert ids == {"ltx_2.3_two_stage_t2v_2gpus", "ltx_2.3_one_stage_ti2v"} | tiny
    assert "not planned" in proc.stderr and "ltx_2_two_stage_t2v" in proc.stderr  # named, not silent
    named = run_cli("cases", "matrix", "--group", "ltx", "--case", "ltx_2_3_hq_pipeline", "--official-only")
    assert named.returncode == 2 and "not official-comparable" in named.stderr
    outside = run_cli("cases", "matrix", "--group", "tiny", "--case", "ltx_2.3_one_stage_ti2v")
    assert outside.returncode == 2 and "not in ['tiny']" in outside.stderr
    bad_id = run_cli("cases", "matrix", "--group", "all", "--case", "../x")
    assert bad_id.returncode == 2 and "invalid case id" in bad_id.stderr


def _plan(*args: str) -> list[dict]:
    proc = run_cli("cases", "matrix", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["include"]


def test_sglang_official_source_groups() -> None:
    """sglang's ``official_source_group`` input (all|diffusers|wan21|ltx|ltx23): the official cases
    of each family, each entry on its family's runner label (FLUX.2 on H200, as sglang plans)."""
    diffusers = _plan("--source-group", "diffusers")
    assert {e["cases"] for e in diffusers} == {
        "qwen_image_t2i", "qwen_image_edit_ti2i", "qwen_image_edit_2509_ti2i", "qwen_image_edit_2511_ti2i",
        "qwen_image_layered_i2i", "flux_image_t2i", "flux_2_image_t2i", "flux_2_ti2i",
        "flux_2_klein_image_t2i", "zimage_image_t2i"}
    assert all(e["source_group"] == "diffusers" for e in diffusers)
    assert {e["cases"]: e["runner"] for e in diffusers if e["cases"].startswith("flux_2")} == {
        "flux_2_image_t2i": "8-gpu-h200", "flux_2_ti2i": "8-gpu-h200", "flux_2_klein_image_t2i": "8-gpu-h200"}
    assert [(e["cases"], e["source_group"], e["runner"]) for e in _plan("--source-group", "wan21")] == [
        ("wan2_1_t2v_1.3b", "wan21", "1-gpu-h100")]
    ltx = {e["cases"] for e in _plan("--source-group", "ltx")}
    assert ltx == {"ltx_2.3_two_stage_t2v_2gpus", "ltx_2.3_one_stage_ti2v"}  # the official ones
    assert {e["cases"] for e in _plan("--source-group", "ltx23")} == ltx
    every = _plan("--source-group", "all")
    assert {e["source_group"] for e in every} == {"diffusers", "wan21", "ltx"}
    assert len(every) == len(diffusers) + 1 + len(ltx)
    packed = _plan("--source-group", "all", "--max-jobs", "6")
    for e in packed:  # a shard holds one source group and one runner label
        assert len({_source(c) for c in e["cases"].split()}) == 1 and _source(e["cases"].split()[0]) == e["source_group"]
    one = _plan("--source-group", "diffusers", "--case", "zimage_image_t2i")
    assert [e["cases"] for e in one] == ["zimage_image_t2i"]


def _source(case_id: str) -> str:
    group = load_registry().get(case_id).group
    return {"diffusers": "diffusers", "wan": "wan21", "ltx": "ltx"}[group]


def test_source_group_errors() -> None:
    assert run_cli("cases", "matrix", "--source-group", "nope").returncode == 2
    both = run_cli("cases", "matrix", "--source-group", "all", "--group", "ltx")
    assert both.returncode == 2 and "one of the two" in both.stderr
    assert run_cli("cases", "matrix").returncode == 2
    outside = run_cli("cases", "matrix", "--source-group", "ltx23", "--case", "wan2_1_t2v_1.3b")
    assert outside.returncode == 2
    native = run_cli("cases", "matrix", "--source-group", "ltx", "--case", "ltx_2_3_hq_pipeline")
    assert native.returncode == 2 and "not official-comparable" in native.stderr
