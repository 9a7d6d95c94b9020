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

    write_png(gt / "im_1gpu.png", pattern_frames(1, 64, 96, 5)[0])
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
    with pytest.raises(JobError, match="device-side assert") as exc:
        client.video(reg.get("v1"))
    assert "{'message'" not in str(exc.value)  # the message text, not the error object
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


def _record(out: Path) -> dict:
    return json.loads((out / "candidates.json").read_text())["cases"]


def cli(*args: str) -> int:
    """``gt-gen`` in this process (the subprocess start-up dominates these small runs)."""
    from gt_gen.cli import main

    return main(list(args))


def test_every_tiny_case_against_sglangs_request_models(tmp_path: Path) -> None:
    """sglang 0.5.23 cannot take the tiny LTX cases' STG blocks: those cases fail with the reason
    and nothing is sent for them; every other tiny case (diffusers families included) goes out as
    the case, field by field; a server whose model declares the block fields gets them all."""
    tiny = REG.select(group="tiny")
    blocked = {"tiny_one_stage_t2v", "tiny_two_stage_t2v"}
    plain = FakeSglang(model_path="tiny", default_size=(64, 64))
    try:
        out = tmp_path / "plain"
        assert cli("candidates", "--group", "tiny", "--server", plain.url, "--out", str(out),
                   "--poll-interval", "0.01") == 1
        rec = _record(out)
        for cid in blocked:
            assert rec[cid]["status"] == "failed"
            assert "server cannot honour request.guidance.audio_stg_blocks=[1]" in rec[cid]["error"]
        assert all(rec[c.id]["status"] == "ok" for c in tiny if c.id not in blocked), rec
        assert not plain.rejected and len(plain.requests) == len(tiny) - len(blocked)
        want = sorted((c.modality, c.request.prompt, c.request.seed, c.request.steps, c.request.negative_prompt)
                      for c in tiny if c.id not in blocked)
        got = sorted(("video" if path == "/v1/videos" else "image", b["prompt"], b["seed"],
                      b["num_inference_steps"], b["negative_prompt"]) for path, b in plain.requests)
        assert got == want  # negative prompts sent even when empty or " "
        for path, body in plain.requests:
            if path == "/v1/videos":
                r = next(c for c in tiny if c.request.prompt == body["prompt"]).request
                assert (body["size"], body["num_frames"], body["fps"]) == (
                    f"{r.width}x{r.height}", r.num_frames, int(r.fps))
            else:
                assert body["output_format"] == "png"
    finally:
        plain.close()
    declared = FakeSglang(model_path="tiny", model_fields={"video_stg_blocks", "audio_stg_blocks"})
    try:
        out = tmp_path / "declared"
        assert cli("candidates", "--group", "tiny", "--server", declared.url, "--out", str(out),
                   "--poll-interval", "0.01", "--server-fields", "video_stg_blocks,audio_stg_blocks") == 0
        assert not declared.rejected and len(declared.requests) == len(tiny)
        sent = {b["prompt"]: (b["video_stg_blocks"], b["audio_stg_blocks"])
                for _, b in declared.requests if "video_stg_blocks" in b}
        assert sent == {c.request.prompt: (c.request.guidance["stg_blocks"], c.request.guidance["audio_stg_blocks"])
                        for c in tiny if c.request.guidance}  # the case's own blocks, [1] and []
        assert all(_record(out)[c.id]["status"] == "ok" for c in tiny)
    finally:
        declared.close()


REG = load_registry()


def test_non_integer_fps_fails_the_case_and_sends_nothing(server, tmp_path: Path) -> None:
    d = tmp_path / "cases"
    d.mkdir()
    (d / "e.toml").write_text(case_toml("v1", num_frames=9, fps=24, seed=3).replace("fps = 24", "fps = 23.976"))
    out = tmp_path / "cand"
    assert cli("candidates", "--cases", str(d), "--group", "e", "--server", server.url, "--out", str(out)) == 1
    assert "fps=23.976" in _record(out)["v1"]["error"] and "integer fps" in _record(out)["v1"]["error"]
    assert server.posts == 0


def test_images_are_named_by_what_the_server_returned(server, tmp_path: Path) -> None:
    cdir = cases_dir(tmp_path)
    out = tmp_path / "cand"
    args = ("candidates", "--cases", str(cdir), "--group", "e", "--case", "im", "--server", server.url,
            "--out", str(out))
    assert cli(*args) == 0
    assert (out / "im_1gpu.png").read_bytes().startswith(b"\x89PNG")
    assert server.bodies[-1]["output_format"] == "png"
    server.modes["image"] = "jpeg"  # a server that ignores output_format
    assert cli(*args) == 0
    assert (out / "im_1gpu.jpg").read_bytes().startswith(b"\xff\xd8\xff") and not (out / "im_1gpu.png").exists()
    assert "asked for png, the server returned jpg" in _record(out)["im"]["note"]
    server.modes["image"] = "url"  # the image comes back as a URL
    assert cli(*args) == 0
    assert (out / "im_1gpu.png").is_file() and not (out / "im_1gpu.jpg").exists()


def test_result_urls_are_followed_and_the_key_stays_on_the_server(server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SGLANG_API_KEY", "sk-secret-key")
    reg = load_registry(cases_dir(tmp_path))
    client = SglangClient(server.url, ClientOptions(poll_interval=0.01, backoff=0.0))
    server.modes["first"] = "cloud"
    assert client.video(reg.get("v1")).startswith(b"\x00\x00\x00")  # an mp4 box
    server.modes["first"] = "cloud_other"
    assert client.video(reg.get("v1"))
    seen = dict(server.auth_seen)
    assert seen["job0.mp4"] == "Bearer sk-secret-key"  # same host as the server
    assert seen["job1.mp4"] is None  # another host never gets the key


def test_server_launched_otherwise_fails_the_case_with_the_serve_command(tmp_path: Path) -> None:
    case = REG.get("wan2_1_t2v_1.3b_teacache_enabled")
    wrong = FakeSglang(model_path="Qwen/Qwen-Image")
    try:
        out = tmp_path / "wrong"
        assert cli("candidates", "--group", "sglang_native", "--case", case.id, "--server", wrong.url,
                   "--out", str(out)) == 1 and wrong.posts == 0
        err = _record(out)[case.id]["error"]
        assert "serves Qwen/Qwen-Image" in err and "launch: SGLANG" not in err
        assert case.sglang.server_args.serve_command() in err
    finally:
        wrong.close()
    right = FakeSglang(model_path=case.sglang.server_args.model_path, default_size=(64, 32))
    try:
        out = tmp_path / "right"
        assert cli("candidates", "--group", "sglang_native", "--case", case.id, "--server", right.url,
                   "--out", str(out), "--poll-interval", "0.01") == 0
        assert right.bodies == [{"model": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "prompt": "A curious raccoon",
                                 "size": "", "seconds": 1, "generator_device": "cuda",
                                 "output_quality": "default", "enable_teacache": True, "quality": "exact"}]
        assert _record(out)[case.id]["request"]["mode"] == "sglang"
    finally:
        right.close()


def test_print_serve_command_asks_nothing(capsys) -> None:
    assert cli("candidates", "--group", "ltx", "--print-serve-command") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5
    hq = next(line for line in lines if line.startswith("ltx_2_3_hq_pipeline:"))
    assert "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True sglang serve --model-path Lightricks/LTX-2.3" in hq
    assert "--pipeline-class-name LTX2TwoStageHQPipeline" in hq
    assert cli("candidates", "--group", "tiny") == 2
    assert "--server" in capsys.readouterr().err


def test_an_edit_with_an_uploaded_input_image_reaches_the_server(server, tmp_path: Path) -> None:
    import hashlib

    from gt_gen.generate.backends.diffusers.spec import InputImage
    from tests.conftest import pattern_frames
    from tests.engine.test_sglang_request import _family_case

    png = (tmp_path / "in.png")
    write_png(png, pattern_frames(1, 32, 32, 1)[0])
    case = _family_case(tmp_path, true_cfg_scale=4.0, images=(
        InputImage(path="in.png", sha256=hashlib.sha256(png.read_bytes()).hexdigest()),))
    client = SglangClient(server.url, ClientOptions(backoff=0.0))
    data = client.image(case)
    assert data.startswith(b"\x89PNG") and not server.rejected
    path, body = server.requests[-1]
    assert path == "/v1/images/edits" and body["uploads"] == 1 and body["true_cfg_scale"] == 4.0


def test_a_case_that_fails_now_is_never_compared_on_its_previous_output(server, tmp_path: Path) -> None:
    """The stale v1 mp4 of an earlier run is removed when v1 fails (candidates.json says
    failed): compare then finds no candidate for v1, instead of passing the old one."""
    cdir = cases_dir(tmp_path)
    out = tmp_path / "cand"
    args = ("candidates", "--cases", str(cdir), "--group", "e", "--case", "v1", "--server", server.url,
            "--out", str(out), "--poll-interval", "0.01")
    assert run_cli(*args).returncode == 0 and (out / "v1_1gpu.mp4").is_file()
    for name in ("v1_1gpu_frame_0.png", "v1.mp4"):  # other names compare would read
        (out / name).write_bytes(b"stale")
    server.modes["first"] = "badmp4"
    assert run_cli(*args).returncode == 1
    assert not any((out / n).exists() for n in ("v1_1gpu.mp4", "v1.mp4", "v1_1gpu_frame_0.png"))
    gt = gt_for(tmp_path, server, cdir)
    cmp = run_cli("compare", "--cases", str(cdir), "--case", "v1", "--gt", str(gt), "--candidate", str(out),
                  "--out", str(tmp_path / "cmp"), "--clip-model", "none")
    assert cmp.returncode == 1 and "missing candidate" in cmp.stdout


def test_credentials_and_keys_never_reach_candidates_json_or_the_console(tmp_path: Path, monkeypatch) -> None:
    """A server URL with user:password, and a server whose error echoes the Authorization
    header it was sent (SGLANG_API_KEY): neither secret is printed or written."""
    import http.server
    import threading

    class Echo(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def _send(self, code: int, obj: object) -> None:
            b = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)

        def do_GET(self) -> None:
            self._send(404, {"detail": "Not Found"})

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._send(400, {"error": {"message": f"rejected; Authorization was {self.headers.get('Authorization')}"}})

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "cand"
        url = f"http://user:pw_SECRET_1@127.0.0.1:{srv.server_address[1]}"
        proc = run_cli("candidates", "--cases", str(cases_dir(tmp_path)), "--group", "e", "--case", "v1",
                       "--server", url, "--out", str(out), env={"SGLANG_API_KEY": "sk_SECRET_2"})
    finally:
        srv.shutdown()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    written = (out / "candidates.json").read_text()
    assert "rejected" in proc.stdout and "Authorization was" in written  # the error is there...
    for text in (proc.stdout, proc.stderr, written):
        assert "SECRET" not in text  # ...but not the secrets


def test_a_stalled_server_costs_one_round_of_timeouts_not_one_per_case(tmp_path: Path) -> None:
    """A server that answers GET but never answers a POST: the first case's round of attempts
    times out, and the cases after it fail at once ("not asked again") instead of each costing
    another round (11 tiny cases took ~23 minutes)."""
    import http.server
    import threading
    import time

    release = threading.Event()
    posts: list[str] = []

    class Stall(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            posts.append(self.path)
            release.wait(30)  # never answered while the client waits

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stall)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        t0 = time.monotonic()
        proc = run_cli("candidates", "--cases", str(cases_dir(tmp_path)), "--group", "e",
                       "--server", f"http://127.0.0.1:{srv.server_address[1]}", "--out", str(tmp_path / "c"),
                       "--timeout", "0.3", "--poll-interval", "0.01")
        took = time.monotonic() - t0
    finally:
        release.set()
        srv.shutdown()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert took < 20, took
    rec = json.loads((tmp_path / "c" / "candidates.json").read_text())["cases"]
    assert sorted(c for c in rec if "not asked again" in rec[c]["error"]) == ["im", "v2"]
    assert len(posts) == 4  # one round for the first case, none after it


def test_a_trickling_video_body_is_timed_out(tmp_path: Path) -> None:
    """The client reads every body against one deadline (gt_gen.http_body): a byte every 0.1 s
    never trips a 0.3 s read timeout, but the body's deadline does."""
    import time

    from gt_gen.engine.sglang_client import ClientOptions, SglangClient
    from tests.store.loopback import Loopback

    srv = Loopback()
    try:
        srv.script.files["/v1/models"] = b'{"data": []}' * 20
        srv.script.steps["/v1/models"] = ["trickle"] * 8
        client = SglangClient(srv.base, ClientOptions(timeout=0.3, attempts=2, backoff=0.0))
        t0 = time.monotonic()
        with pytest.raises(NetworkError, match="body too slow"):
            client.server_info()
        assert time.monotonic() - t0 < 2 * (0.3 + 0.3) + 1
    finally:
        srv.close()


def test_a_models_answer_that_names_nothing_is_no_report() -> None:
    """/v1/models answering an HTML page with status 200 (a proxy's, say): the launch is not
    checked, and that is said, rather than checking nothing silently."""
    from tests.store.loopback import Loopback

    srv = Loopback()
    try:
        srv.script.files["/v1/models"] = b"<html>welcome</html>"
        assert SglangClient(srv.base, ClientOptions(timeout=2, attempts=1)).server_info() is None
        srv.script.files["/v1/models"] = b'{"data": [{"id": "m", "num_gpus": 1}]}'
        info = SglangClient(srv.base, ClientOptions(timeout=2, attempts=1)).server_info()
        assert info is not None and info.model_id == "m" and info.num_gpus == 1
    finally:
        srv.close()
