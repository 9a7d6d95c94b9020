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
