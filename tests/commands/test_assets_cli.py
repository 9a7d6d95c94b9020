"""``gt-gen assets pin|list|verify`` over real HTTP against a loopback server.

Every network fault is one line, exit 2, and leaves the assets folder and its lock exactly as
they were; a pinned file changed afterwards stops ``verify`` and generation alike; candidates
keep sending sglang's URL.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gt_gen.assets import LOCK_NAME
from gt_gen.cli import main
from gt_gen.errors import ConfigError, IntegrityError
from tests.assets.image_server import ImageServer, edit_case, image_bytes
from tests.conftest import REPO

JPEG = image_bytes("JPEG", size=(96, 64), seed=3)
PNG = image_bytes("PNG", size=(64, 48), seed=7)


@dataclass
class Env:
    srv: ImageServer
    cases: Path
    url_a: str
    url_b: str

    @property
    def assets(self) -> Path:
        return self.cases / "assets"

    def snapshot(self) -> dict[str, bytes]:
        """Every file of the assets folder (hidden ones too) with its bytes."""
        if not self.assets.exists():
            return {}
        return {p.name: p.read_bytes() for p in sorted(self.assets.iterdir())}

    def add_case(self, case_id: str, urls: list[str]) -> None:
        with open(self.cases / "g.toml", "a") as fh:
            fh.write(edit_case(case_id, urls))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setattr("gt_gen.assets.download.BACKOFF", 0.01)
    srv = ImageServer()
    url_a = srv.add("/test/TI2I_Input.jpg", JPEG)
    url_b = srv.add("/edit/second.png", PNG)
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "g.toml").write_text(edit_case("edit_one", [url_a]) + edit_case("edit_two", [url_a, url_b]))
    yield Env(srv, cases, url_a, url_b)
    srv.close()


def gt(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _lock(env: Env) -> dict:
    return json.loads((env.assets / LOCK_NAME).read_text())


def test_pin_list_verify_round_trip(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = gt(capsys, "assets", "list", "--cases", str(env.cases))
    assert code == 0 and out.count("unpinned") >= 3 and "gt-gen assets pin --group g" in out
    code, out, err = gt(capsys, "assets", "pin", "--cases", str(env.cases), "--group", "g")
    assert code == 0, err
    assert "pinned" in out and "[edit_one, edit_two]" in out and "review the diff" in out
    lock = _lock(env)
    assert lock["schema_version"] == 1 and set(lock["pins"]) == {env.url_a, env.url_b}
    a, b = lock["pins"][env.url_a], lock["pins"][env.url_b]
    assert a["file"] == f"TI2I_Input-{hashlib.sha256(JPEG).hexdigest()[:12]}.jpg"
    assert (a["sha256"], a["size_bytes"], a["format"], a["width"], a["height"]) == (
        hashlib.sha256(JPEG).hexdigest(), len(JPEG), "JPEG", 96, 64)
    assert (b["format"], b["served_from"]) == ("PNG", env.url_b)
    assert (env.assets / a["file"]).read_bytes() == JPEG and (env.assets / b["file"]).read_bytes() == PNG
    assert sorted(env.snapshot()) == sorted([LOCK_NAME, a["file"], b["file"]])
    requests_made = len(env.srv.log)
    assert requests_made == 2  # the shared URL once

    before = env.snapshot()
    code, out, _ = gt(capsys, "assets", "pin", "--cases", str(env.cases))
    assert code == 0 and out.count("kept") == 2 and len(env.srv.log) == requests_made
    assert env.snapshot() == before  # nothing rewritten, the date does not churn
    code, out, _ = gt(capsys, "assets", "list", "--cases", str(env.cases))
    assert code == 0 and "unpinned" not in out and out.count("pinned") == 3
    code, out, _ = gt(capsys, "assets", "verify", "--cases", str(env.cases), "--require-pinned")
    assert code == 0 and "verified: 2 file(s) ok" in out


def test_generation_reads_the_pinned_copy_and_candidates_keep_the_url(
        env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    from gt_gen.assets.resolve import local_input
    from gt_gen.cases import load_registry
    from gt_gen.engine.sglang_request import prepare
    from gt_gen.generate.backends.diffusers import inputs

    assert gt(capsys, "assets", "pin", "--cases", str(env.cases))[0] == 0
    case = load_registry(env.cases).get("edit_two")
    assert list(case.input_pins) == [env.url_a, env.url_b]
    got = local_input(case, url=env.url_b)
    assert got.data == PNG and got.pin is not None and got.path.parent == env.assets
    images, record = inputs.load_images(case)
    assert [im.size for im in images] == [(96, 64), (64, 48)]
    assert [r["sha256"] for r in record] == [hashlib.sha256(d).hexdigest() for d in (JPEG, PNG)]
    assert record[0]["path"].startswith("assets/TI2I_Input-") and record[0]["url"] == env.url_a
    env.srv.log.clear()
    req = prepare(case)  # what the engine is sent: sglang's URLs, no upload of our copy
    assert req.path == "/v1/images/edits" and [v for k, v in req.form if k == "url"] == [
        env.url_a, env.url_b] and req.files == []
    assert env.srv.log == []  # and no network for GT either


def test_unpinned_case_fails_closed_naming_the_command(env: Env) -> None:
    from gt_gen.assets.resolve import local_input
    from gt_gen.cases import load_registry
    from gt_gen.generate.backends.diffusers import inputs

    case = load_registry(env.cases).get("edit_one")
    with pytest.raises(ConfigError, match="is not pinned") as err:
        local_input(case, url=env.url_a)
    assert f"`gt-gen assets pin --case edit_one --cases {env.cases}`" in err.value.one_line()
    official = load_registry().get("qwen_image_edit_ti2i")  # the shipped cases: no --cases
    with pytest.raises(ConfigError, match=r"run `gt-gen assets pin --case qwen_image_edit_ti2i` "
                                          r"once with network"):
        inputs.load_images(official)
    assert env.srv.log == []


@pytest.mark.parametrize("fault", ["404", "reset", "timeout", "oversized", "oversized_stream",
                                   "not_an_image", "redirect_elsewhere", "credentials", "plain_http"])
def test_network_faults_are_one_line_and_leave_nothing(env: Env, fault: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert gt(capsys, "assets", "pin", "--cases", str(env.cases), "--case", "edit_one")[0] == 0
    before, lock_before = env.snapshot(), (env.assets / LOCK_NAME).read_bytes()
    secret = "hunter2-pa55word"
    srv = env.srv
    url = {
        "404": srv.url("/gone.png"),
        "reset": srv.add("/reset.png", PNG, ("reset",)),
        "timeout": srv.add("/slow.png", PNG, ("sleep", 10)),
        "oversized": srv.add("/big.png", PNG, ("huge", 64 * 2**20)),
        "oversized_stream": srv.add("/stream.png", PNG, ("chunked", 600_000)),
        "not_an_image": srv.add("/page.png", b"<html><body>Too Many Requests</body></html>"),
        "redirect_elsewhere": srv.add("/r.png", b"", ("redirect", srv.url("/test/TI2I_Input.jpg",
                                                                          host="localhost"))),
        "credentials": srv.url("/test/TI2I_Input.jpg").replace("http://", f"http://bob:{secret}@"),
        "plain_http": "http://images.example.invalid/x.png",
    }[fault]
    env.add_case("edit_bad", [env.url_b, url])  # a good URL beside the bad one: neither is kept
    srv.log.clear()
    code, out, err = gt(capsys, "assets", "pin", "--cases", str(env.cases), "--case", "edit_bad",
                        "--timeout", "0.4", "--attempts", "2", "--max-bytes", "500000")
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gt-gen: error: "), err
    expect = {"404": "not found (HTTP 404)", "reset": "no answer after 2 attempt(s)",
              "timeout": "no answer after 2 attempt(s) (ReadTimeout)",
              "oversized": "67108864 bytes, more than the 500000",
              "oversized_stream": "more than the 500000 bytes",
              "not_an_image": "not an image", "redirect_elsewhere": "redirected to another host",
              "credentials": "must not carry credentials", "plain_http": "plain http is refused"}[fault]
    assert expect in lines[0]
    assert env.snapshot() == before and (env.assets / LOCK_NAME).read_bytes() == lock_before
    assert secret not in out + err and "bob" not in out + err
    assert all(auth == "" for _, _, auth in srv.log)
    for cmd in (["list"], ["verify"], ["pin", "--dry-run"]):  # the URL is shown redacted
        _, out, err = gt(capsys, "assets", *cmd, "--cases", str(env.cases))
        assert secret not in out + err
    if fault in ("credentials", "plain_http"):
        assert not any(path != "/edit/second.png" for _, path, _ in srv.log)


def test_503_then_success_is_pinned(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    url = env.srv.add("/flaky.jpg", JPEG, ("status", 503), ("status", 503), ("ok",))
    env.add_case("edit_flaky", [url])
    code, out, err = gt(capsys, "assets", "pin", "--cases", str(env.cases), "--case", "edit_flaky")
    assert code == 0, err
    assert env.srv.routes["/flaky.jpg"].hits == 3 and url in _lock(env)["pins"]


def test_tampered_file_stops_verify_generation_and_pin(env: Env,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from gt_gen.assets.resolve import local_input
    from gt_gen.cases import load_registry

    assert gt(capsys, "assets", "pin", "--cases", str(env.cases))[0] == 0
    name = _lock(env)["pins"][env.url_b]["file"]
    (env.assets / name).write_bytes(image_bytes("PNG", size=(64, 48), seed=8))
    code, out, err = gt(capsys, "assets", "verify", "--cases", str(env.cases))
    assert code == 2 and f"assets/{name}" in err and "changed after pinning" in err
    assert len(err.strip().splitlines()) == 1 and "FAILED" in out
    case = load_registry(env.cases).get("edit_two")
    with pytest.raises(IntegrityError, match="changed after pinning") as exc:
        local_input(case, url=env.url_b)
    assert "--force" in exc.value.one_line() and name in exc.value.one_line()
    requests_made = len(env.srv.log)
    code, _, err = gt(capsys, "assets", "pin", "--cases", str(env.cases))
    assert code == 2 and "no longer hold the pinned bytes" in err and len(env.srv.log) == requests_made
    code, out, _ = gt(capsys, "assets", "pin", "--cases", str(env.cases), "--force")
    assert code == 0 and out.count("unchanged") == 2  # the URL still serves the pinned bytes
    assert gt(capsys, "assets", "verify", "--cases", str(env.cases))[0] == 0
    (env.assets / name).unlink()
    code, _, err = gt(capsys, "assets", "verify", "--cases", str(env.cases))
    assert code == 2 and f"{name} (edit_two: missing)" in err


def test_force_shows_a_url_that_now_serves_other_bytes(env: Env,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert gt(capsys, "assets", "pin", "--cases", str(env.cases))[0] == 0
    old = _lock(env)["pins"][env.url_b]["file"]
    env.srv.routes["/edit/second.png"].body = image_bytes("PNG", size=(64, 48), seed=9)
    code, out, _ = gt(capsys, "assets", "pin", "--cases", str(env.cases), "--case", "edit_two",
                      "--force")
    assert code == 0 and "changed" in out and "the URL now serves other bytes" in out
    new = _lock(env)["pins"][env.url_b]["file"]
    assert new != old and not (env.assets / old).exists() and (env.assets / new).is_file()


def test_dry_run_and_partial_files(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = gt(capsys, "assets", "pin", "--cases", str(env.cases), "--dry-run")
    assert code == 0 and out.count("would pin") == 2 and env.srv.log == [] and not env.assets.exists()
    assert gt(capsys, "assets", "pin", "--cases", str(env.cases))[0] == 0
    stray = env.assets / ".second-0123.png.k2j3h4.part.png"
    stray.write_bytes(b"half")
    code, _, err = gt(capsys, "assets", "verify", "--cases", str(env.cases))
    assert code == 2 and "partial file left by an interrupted pin" in err
    env.srv.routes["/edit/second.png"].body = image_bytes("PNG", size=(64, 48), seed=11)
    assert gt(capsys, "assets", "pin", "--cases", str(env.cases), "--force")[0] == 0
    assert not stray.exists()  # swept by the next pin that writes
    assert gt(capsys, "assets", "verify", "--cases", str(env.cases))[0] == 0


def test_a_killed_pin_leaves_no_half_file(env: Env, tmp_path: Path) -> None:
    url = env.srv.add("/stall.jpg", JPEG, ("stall", 30))
    env.add_case("edit_stall", [env.url_b, url])
    proc = subprocess.Popen([sys.executable, "-m", "gt_gen", "assets", "pin", "--cases",
                             str(env.cases), "--case", "edit_stall"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        assert env.srv.started.wait(60), "the pin never reached the stalling download"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert env.snapshot() == {}  # nothing: not the good image, not a temp file, no lock


def test_assets_dir_option_and_usage_errors(env: Env, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "staging"
    code, out, _ = gt(capsys, "assets", "pin", "--cases", str(env.cases), "--assets-dir", str(other))
    assert code == 0 and (other / LOCK_NAME).is_file() and "generation reads" in out
    assert not env.assets.exists()
    code, out, _ = gt(capsys, "assets", "list", "--cases", str(env.cases), "--assets-dir", str(other))
    assert code == 0 and "unpinned" not in out
    for bad in (["--timeout", "0"], ["--attempts", "0"], ["--max-bytes", str(2**40)]):
        code, _, err = gt(capsys, "assets", "pin", "--cases", str(env.cases), *bad)
        assert code == 2 and err.startswith("gt-gen: error: ") and bad[0] in err


@pytest.mark.slow  # two `gt-gen generate` runs of a tiny Qwen-Image edit case (torch, diffusers)
def test_generate_uses_the_pinned_copy_and_refuses_a_changed_one(
        env: Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import run_cli

    out = tmp_path / "gt"
    assert gt(capsys, "assets", "pin", "--cases", str(env.cases))[0] == 0
    env.srv.log.clear()
    proc = run_cli("generate", "--cases", str(env.cases), "--case", "edit_two", "--group", "g",
                   "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    entry = json.loads((out / "manifest.json").read_text())["cases"]["edit_two"]
    lock = _lock(env)["pins"]
    assert entry["input_pins"] == {env.url_a: lock[env.url_a], env.url_b: lock[env.url_b]}
    assert env.srv.log == []  # generation never fetches a URL
    name = lock[env.url_a]["file"]
    (env.assets / name).write_bytes(JPEG[:-10] + b"tampered!!")
    proc = run_cli("generate", "--cases", str(env.cases), "--case", "edit_two", "--group", "g",
                   "--out", str(tmp_path / "gt2"), "--quiet")
    assert proc.returncode == 1
    err = json.loads((tmp_path / "gt2" / "manifest.json").read_text())["cases"]["edit_two"]["error"]
    assert name in err and "changed after pinning" in err and "--force" in err
