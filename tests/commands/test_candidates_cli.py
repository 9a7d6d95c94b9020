"""``candidates`` against a loopback sglang server, then ``compare``: end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gt_gen.cases import load_registry
from gt_gen.engine.sglang_client import ClientOptions, JobError, SglangClient, request_body
from gt_gen.errors import NetworkError
from tests.casefiles import case_toml
from tests.conftest import run_cli, write_png
from tests.engine.fake_sglang import FakeSglang



@pytest.fixture
def server():
    s = FakeSglang()
    yield s
    s.close()


def cases_dir(tmp_path: Path, p1: str = "first", p2: str = "second") -> Path:
    d = tmp_path / "cases"
    d.mkdir()
    (d / "e.toml").write_text("\n".join([
        case_toml("v1", prompt=p1, num_frames=9, fps=24, seed=3),
        case_toml("v2", prompt=p2, num_frames=9, fps=24, seed=4),
        case_toml("im", modality="image", prompt="image", seed=5)]))
    return d


def gt_for(tmp_path: Path, server: FakeSglang, cdir: Path) -> Path:
    """GT = the fake engine's own output, as key-frame PNGs (what ci-data would hold)."""
    from gt_gen.frames import read_key_frames

    gt = tmp_path / "gt"
    reg = load_registry(cdir)
    for case in reg.select(group="e"):
        if case.modality == "video":
            v = tmp_path / f"{case.id}.mp4"
            v.write_bytes(server.video_bytes(request_body(case)))
            for k, f in read_key_frames(v).items():
                write_png(gt / f"{case.id}_1gpu_frame_{ {'first': '0', 'mid': 'mid', 'last': 'last'}[k]}.png", f)
    from tests.conftest import pattern_frames

    write_png(gt / "im_1gpu.png", pattern_frames(1, 64, 96, 5)[0][..., ::-1].copy())
    return gt


def test_candidates_then_compare_passes(server, tmp_path: Path) -> None:
    cdir = cases_dir(tmp_path)
    server.modes["first"] = "flaky500"  # a 500 on create, retried
    out = tmp_path / "cand"
    proc = run_cli("candidates", "--cases", str(cdir), "--group", "e", "--server", server.url,
                   "--out", str(out), "--poll-interval", "0.01")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {p.name for p in out.iterdir()} >= {"v1_1gpu.mp4", "v2_1gpu.mp4", "im_1gpu.png"}
    body = next(b for b in server.bodies if b["prompt"] == "second")
    assert body["size"] == "96x64" and body["num_frames"] == 9 and body["seed"] == 4
    gt = gt_for(tmp_path, server, cdir)
    cmp = run_cli("compare", "--cases", str(cdir), "--group", "e", "--gt", str(gt), "--candidate", str(out),
                  "--out", str(tmp_path / "cmp"), "--clip-model", "none")
    assert cmp.returncode == 0, cmp.stdout + cmp.stderr


def test_failed_timed_out_and_malformed_jobs_are_per_case(server, tmp_path: Path) -> None:
    cdir = cases_dir(tmp_path, "first", "second")
    reg = load_registry(cdir)
    client = SglangClient(server.url, ClientOptions(job_deadline=0.5, poll_interval=0.01, backoff=0.0))
    server.modes["first"] = "fail"
    with pytest.raises(JobError, match="device-side assert"):
        client.video(reg.get("v1"))
    server.modes["first"] = "never"
    with pytest.raises(JobError, match="not completed within"):
        client.video(reg.get("v1"))
    server.modes["first"] = "badjson"
    with pytest.raises(JobError, match="malformed JSON"):
        client.video(reg.get("v1"))
    # Through the CLI: one bad mp4 fails its case only.
    server.modes["first"] = "badmp4"
    out = tmp_path / "cand"
    proc = run_cli("candidates", "--cases", str(cdir), "--group", "e", "--server", server.url,
                   "--out", str(out), "--poll-interval", "0.01")
    assert proc.returncode == 1
    rec = json.loads((out / "candidates.json").read_text())["cases"]
    assert rec["v1"]["status"] == "failed" and "not a valid video" in rec["v1"]["error"]
    assert rec["v2"]["status"] == "ok" and not (out / "v1_1gpu.mp4").exists()


def test_regressed_engine_fails_the_gate(server, tmp_path: Path) -> None:
    cdir = cases_dir(tmp_path)
    gt = gt_for(tmp_path, server, cdir)
    server.modes["first"] = "offset"  # +40 levels: a colour regression
    out = tmp_path / "cand"
    assert run_cli("candidates", "--cases", str(cdir), "--group", "e", "--case", "v1", "--server", server.url,
                   "--out", str(out), "--poll-interval", "0.01").returncode == 0
    cmp = run_cli("compare", "--cases", str(cdir), "--case", "v1", "--gt", str(gt), "--candidate", str(out),
                  "--out", str(tmp_path / "cmp"), "--clip-model", "none")
    assert cmp.returncode == 1


def test_unreachable_server_is_a_network_error() -> None:
    client = SglangClient("http://127.0.0.1:9", ClientOptions(timeout=0.2, attempts=2, backoff=0.0))
    with pytest.raises(NetworkError, match="unreachable"):
        client.image(load_registry().get("ltx_2_two_stage_t2v"))


def test_no_server_at_all_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "cands"
    proc = run_cli("candidates", "--server", "http://127.0.0.1:9", "--group", "tiny", "--out", str(out))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "unreachable" in proc.stderr
    assert "is the server up" in proc.stderr and not out.exists()
