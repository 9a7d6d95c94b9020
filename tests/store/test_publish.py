"""Publishing: quality gate, one atomic commit, kill-safety, racing publishers, round trip."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gt_gen import gitutil
from gt_gen.cases import load_registry
from gt_gen.errors import QualityGateError
from gt_gen.naming import key_frame_names
from gt_gen.store.publish import Provenance, Publisher, branch_for
from tests.conftest import REPO, pattern_frames, run_cli, write_png
from tests.store.loopback import Loopback

REG = load_registry()
NATIVE = REG.get("ltx_2_two_stage_t2v")  # 768x512 video case


def bare(tmp_path: Path) -> Path:
    b = tmp_path / "ci-data.git"
    gitutil.git("init", "-q", "--bare", str(b))
    return b


def head(repo: Path, branch: str = "main") -> str | None:
    p = gitutil.git("rev-parse", "--verify", "-q", f"refs/heads/{branch}", cwd=repo, check=False)
    return p.stdout.decode().strip() or None


def frames_dir(tmp_path: Path, case, frames: dict[str, np.ndarray], name: str = "src") -> Path:
    """A generate-like output folder: the key frames and a manifest listing their sha256."""
    d = tmp_path / name
    for k, n in key_frame_names(case).items():
        if k in frames:
            write_png(d / n, frames[k])
    write_generate_manifest(d, case)
    return d


def write_generate_manifest(d: Path, *cases) -> None:
    d.mkdir(parents=True, exist_ok=True)
    entries = {c.id: {"status": "ok", "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                                                for p in sorted(d.glob(f"{c.id}_*"))}} for c in cases}
    (d / "manifest.json").write_text(json.dumps({"kind": "gt-gen-generate", "cases": entries}))


def natural(h=512, w=768, seed=0) -> dict[str, np.ndarray]:
    f = pattern_frames(3, h, w, seed)
    return {"first": f[0], "mid": f[1], "last": f[2]}


def publisher(repo: Path, branch="main") -> Publisher:
    return Publisher(str(repo), branch, "sglang_generated", None, Provenance("refs/heads/main", "abc", "2.11", "u"))


def test_branch_policy() -> None:
    assert branch_for("refs/heads/main", None) == "main"
    assert branch_for("refs/heads/feature/x", None) == "gt/feature-x"
    assert branch_for("refs/pull/12/merge", None) == "gt/12-merge"
    assert branch_for("refs/heads/dev", "custom") == "custom"


@pytest.mark.parametrize("defect", ["blank", "noise", "size", "missing"])
def test_quality_gate_rejects(tmp_path: Path, defect: str) -> None:
    repo = bare(tmp_path)
    f = natural()
    if defect == "blank":
        f["mid"] = np.full_like(f["mid"], 12)
    elif defect == "noise":
        f["last"] = np.random.default_rng(0).integers(0, 256, f["last"].shape, dtype=np.uint8)
    elif defect == "size":
        f["first"] = f["first"][:256]
    else:
        del f["mid"]
    with pytest.raises(QualityGateError):
        publisher(repo).publish(frames_dir(tmp_path, NATIVE, f), [NATIVE])
    assert head(repo) is None  # nothing written


def test_drift_needs_permission_and_check_only_writes_nothing(tmp_path: Path) -> None:
    repo = bare(tmp_path)
    first = publisher(repo).publish(frames_dir(tmp_path, NATIVE, natural(seed=0), "a"), [NATIVE])
    assert head(repo) == first.commit
    drifted = frames_dir(tmp_path, NATIVE, natural(seed=5), "b")
    with pytest.raises(QualityGateError, match="drifted"):
        publisher(repo).publish(drifted, [NATIVE])
    res = publisher(repo).publish(drifted, [NATIVE], check_only=True, allow_drift=True)
    assert res.commit is None and head(repo) == first.commit
    res = publisher(repo).publish(drifted, [NATIVE], allow_drift=True)
    assert head(repo) == res.commit != first.commit
    msg = gitutil.out("log", "-1", "--format=%B", "main", cwd=repo)
    assert "source-sha: abc" in msg and "torch: 2.11" in msg and "run-url: u" in msg
    tree = gitutil.out("ls-tree", "-r", "--name-only", "main", cwd=repo).splitlines()
    assert "diffusion-ci/consistency_gt/sglang_generated/case_map.json" in tree
    assert gitutil.out("rev-list", "--count", "main", cwd=repo) == "2"  # one commit per publish


PUBLISH_SCRIPT = """
import sys
from pathlib import Path
from gt_gen.cases import load_registry
from gt_gen.store.publish import Provenance, Publisher
reg = load_registry()
cases = [reg.get(c) for c in sys.argv[3].split(",")]
Publisher(sys.argv[1], "main", "sglang_generated", None, Provenance("refs/heads/main", sys.argv[4]), attempts=20).publish(Path(sys.argv[2]), cases)
"""


def test_killed_publisher_leaves_old_or_new_commit(tmp_path: Path) -> None:
    repo = bare(tmp_path)
    old = publisher(repo).publish(frames_dir(tmp_path, NATIVE, natural(seed=0), "a"), [NATIVE]).commit

    def variant(i: int) -> Path:
        """GT that differs from every other variant (a republish of identical GT is a no-op)."""
        f = natural(seed=0)
        f["mid"] = f["mid"].copy()
        f["mid"][:4, : i + 1] = 255 - f["mid"][:4, : i + 1]
        return frames_dir(tmp_path, NATIVE, f, f"v{i}")

    rng = random.Random(1)
    seen = set()
    tmpdir = tmp_path / "tmp"  # the killed publishers' work clones land here, not in /tmp
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir)}

    def start(i: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", PUBLISH_SCRIPT, str(repo), str(variant(i)), NATIVE.id,
                                 f"kill{i}"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    # How long one whole publish takes on this machine now: kill points scale with it.
    t0 = time.monotonic()
    assert start(99).wait(timeout=300) == 0
    full = time.monotonic() - t0
    old = head(repo)
    for i in range(12):
        proc = start(i)
        if i % 4 == 1:
            # Killed the moment the new commit is on main, mid clean-up. Timed by the repository,
            # not the clock: a loaded CI runner makes one publish slower than the measured one, and
            # clock-timed late kills alone then never let one land (CI stop 17 saw only `True`).
            deadline = time.monotonic() + max(60.0, 5 * full)
            while head(repo) == old and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
        else:
            # Early kills (before any push) alternate with clock-timed late ones (around the push).
            time.sleep(rng.uniform(0.0, 0.3 * full) if i % 2 == 0 else rng.uniform(0.6 * full, 1.2 * full))
        # The whole process group, git children included (a cancelled runner kills them all;
        # an orphaned `git push` still writing would race the fsck below).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(0.2)
        now = head(repo)
        log = gitutil.out("rev-list", "main", cwd=repo).splitlines()
        assert now == old or (now in log and gitutil.out("rev-parse", f"{now}^", cwd=repo) in log)
        fsck = gitutil.git("fsck", "--no-progress", cwd=repo, check=False)
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
        seen.add(now == old)
        old = now
    assert seen == {True, False}, "the kill points should cover both outcomes"
    # No kill wedged the repository (a stale ref lock, a half-written pack): the next publish lands.
    assert start(98).wait(timeout=300) == 0
    assert head(repo) != old
    # What the killed publishers left behind is swept by the next publish.
    from gt_gen.store.publish import sweep_stale_work_dirs

    sweep_stale_work_dirs(tmpdir)
    assert not list(tmpdir.glob("gt-gen-publish-*"))
    assert gitutil.out("log", "-1", "--format=%B", "main", cwd=repo).startswith("gt-gen: publish")


def test_two_racing_publishers_both_land(tmp_path: Path) -> None:
    repo = bare(tmp_path)
    a, b = REG.get("ltx_2_two_stage_t2v"), REG.get("ltx_2_3_two_stage_ti2v_2gpus")
    da = frames_dir(tmp_path, a, natural(seed=1), "a")
    db = frames_dir(tmp_path, b, natural(seed=2), "b")
    procs = [subprocess.Popen([sys.executable, "-c", PUBLISH_SCRIPT, str(repo), str(d), c.id, c.id],
                              cwd=REPO, stderr=subprocess.PIPE) for d, c in ((da, a), (db, b))]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    cmap = json.loads(gitutil.git("show", "main:diffusion-ci/consistency_gt/sglang_generated/case_map.json",
                                  cwd=repo).stdout)
    assert set(cmap["cases"]) == {a.id, b.id}


def test_tiny_round_trip_generate_publish_fetch_compare(tiny_gt: Path, tmp_path: Path) -> None:
    repo = bare(tmp_path)
    token = "ghp_TOPSECRETTOKEN1234567890"
    env = {"GT_GEN_TOKEN": token, "GITHUB_TOKEN": token}
    pub = run_cli("publish", "--source", str(tiny_gt), "--target", "official_generated", "--repo", str(repo),
                  "--source-ref", "refs/heads/main", "--source-sha", "deadbeef",
                  "--run-url", f"https://x:{token}@example.com/run/1", env=env)
    assert pub.returncode == 0, pub.stderr
    commit = head(repo)
    out = tmp_path / "fetched"
    fetch = run_cli("fetch", "--group", "tiny", "--source", str(repo), "--ref", commit, "--out", str(out), env=env)
    assert fetch.returncode == 0, fetch.stderr
    assert json.loads((out / "fetch.json").read_text())["commit"] == commit
    cmp_out = tmp_path / "cmp"
    cmp = run_cli("compare", "--group", "tiny", "--gt", str(repo), "--ref", commit, "--candidate", str(tiny_gt),
                  "--out", str(cmp_out), "--clip-model", "none", env=env)
    assert cmp.returncode == 0, cmp.stdout + cmp.stderr
    assert json.loads((cmp_out / "results.json").read_text())["meta"]["gt_commit"] == commit
    # The GT videos were published beside the key frames (manifest, not case_map: sglang's
    # shape), so a whole-video gate runs from the pinned commit too.
    gt_dir = "diffusion-ci/consistency_gt/official_generated"
    tree = gitutil.out("ls-tree", "-r", "--name-only", commit, cwd=repo).splitlines()
    assert f"{gt_dir}/tiny_hq_ti2v_1gpu.mp4" in tree
    raw_cmap = gitutil.git("show", f"{commit}:{gt_dir}/case_map.json", cwd=repo).stdout
    from gt_gen.store.layout import parse_case_map, raw_entries

    assert not any(n.endswith(".mp4") for names in parse_case_map(raw_cmap, "cm").values() for n in names)
    # Each entry says which implementation made its GT (issue 13), as the registry runs it.
    assert {cid: e["source"] for cid, e in raw_entries(raw_cmap, "cm").items()} == {
        cid: REG.get(cid).gt_source for cid in raw_entries(raw_cmap, "cm")}
    whole = run_cli("compare", "--group", "tiny", "--gt", str(repo), "--ref", commit, "--candidate", str(tiny_gt),
                    "--out", str(tmp_path / "whole"), "--clip-model", "none", "--frames", "all",
                    "--gate-frames", "all", env=env)
    assert whole.returncode == 0, whole.stdout + whole.stderr
    for c in json.loads((tmp_path / "whole" / "results.json").read_text())["cases"]:
        if REG.get(c["case_id"]).modality != "video":
            continue  # an image has no per-frame curve
        assert len(c["curves"]["ssim"]) == REG.get(c["case_id"]).request.num_frames
        assert set(c["curves"]["ssim"]) == {1.0}
    everything = pub.stdout + pub.stderr + fetch.stdout + fetch.stderr + cmp.stdout + cmp.stderr
    everything += "".join(p.read_text(errors="replace") for p in cmp_out.rglob("*") if p.suffix in (".json", ".md", ".xml"))
    everything += gitutil.out("log", "--format=%B", "main", cwd=repo)
    everything += gitutil.git("show", "main:diffusion-ci/consistency_gt/official_generated/manifest.json", cwd=repo).stdout.decode()
    assert token not in everything


def test_tampered_gt_is_never_compared(tiny_gt: Path, tmp_path: Path) -> None:
    gt = tmp_path / "gt"
    shutil.copytree(tiny_gt, gt)
    name = "tiny_one_stage_t2v_1gpu_frame_mid.png"
    data = bytearray((gt / name).read_bytes())
    data[-20] ^= 0xFF
    (gt / name).write_bytes(bytes(data))
    proc = run_cli("compare", "--group", "tiny", "--gt", str(gt), "--candidate", str(tiny_gt),
                   "--out", str(tmp_path / "o"), "--clip-model", "none")
    assert proc.returncode == 2 and "does not match the manifest" in proc.stderr
    assert not (tmp_path / "o").exists()


@contextlib.contextmanager
def served_over_http(gt: Path, tmp_path: Path) -> Iterator[tuple[Loopback, str]]:
    """``gt`` published to a bare repo, and that commit served GitHub-raw style (loopback)."""
    repo = bare(tmp_path)
    assert run_cli("publish", "--source", str(gt), "--target", "official_generated", "--repo", str(repo),
                   "--source-ref", "refs/heads/main").returncode == 0
    commit = head(repo)
    assert commit is not None
    srv = Loopback()
    try:
        for path in gitutil.out("ls-tree", "-r", "--name-only", commit, cwd=repo).splitlines():
            srv.script.files[f"/{commit}/{path}"] = gitutil.git("show", f"{commit}:{path}", cwd=repo).stdout
        yield srv, commit
    finally:
        srv.close()


def test_fetch_over_raw_http_at_the_published_commit(tiny_gt: Path, tmp_path: Path) -> None:
    """Publish to git, serve that commit GitHub-raw style, fetch and compare over HTTP."""
    with served_over_http(tiny_gt, tmp_path) as (srv, commit):
        out = tmp_path / "fetched"
        proc = run_cli("fetch", "--group", "tiny", "--source", srv.base, "--ref", commit, "--out", str(out))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert (out / "tiny_one_stage_t2v_1gpu.mp4").read_bytes() == (tiny_gt / "tiny_one_stage_t2v_1gpu.mp4").read_bytes()
        cmp = run_cli("compare", "--group", "tiny", "--gt", srv.base, "--ref", commit, "--candidate", str(tiny_gt),
                      "--out", str(tmp_path / "cmp"), "--clip-model", "none")
        assert cmp.returncode == 0, cmp.stdout + cmp.stderr
        whole = run_cli("compare", "--group", "tiny", "--case", "tiny_one_stage_t2v", "--gt", srv.base, "--ref",
                        commit, "--candidate", str(tiny_gt), "--out", str(tmp_path / "whole"),
                        "--clip-model", "none", "--frames", "all", "--gate-frames", "all")
        assert whole.returncode == 0, whole.stdout + whole.stderr
        assert len(json.loads((tmp_path / "whole" / "results.json").read_text())["cases"][0]["curves"]["ssim"]) == 9
        # Tampered bytes on the server are caught by the manifest, never compared.
        name = f"/{commit}/diffusion-ci/consistency_gt/official_generated/tiny_hq_ti2v_1gpu_frame_0.png"
        srv.script.files[name] = srv.script.files[name][:-10] + b"0123456789"
        bad = run_cli("compare", "--group", "tiny", "--gt", srv.base, "--ref", commit, "--candidate", str(tiny_gt),
                      "--out", str(tmp_path / "cmp2"), "--clip-model", "none", env={"GT_GEN_CACHE": str(tmp_path / "c2")})
        assert bad.returncode == 2 and "does not match the manifest" in bad.stderr


def test_non_fast_forward_is_rebased_and_retried(tmp_path: Path) -> None:
    repo = bare(tmp_path)
    a, b = REG.get("ltx_2_two_stage_t2v"), REG.get("ltx_2_3_two_stage_ti2v_2gpus")
    da = frames_dir(tmp_path, a, natural(seed=1), "a")
    db = frames_dir(tmp_path, b, natural(seed=2), "b")
    pa = publisher(repo)
    original = pa._apply
    calls: list[int] = []

    def race_then_apply(work, source, cases):
        if not calls:  # another publisher lands between our checkout and our push
            publisher(repo).publish(db, [b])
        calls.append(1)
        original(work, source, cases)
    pa._apply = race_then_apply
    res = pa.publish(da, [a])
    assert res.attempts == 2
    cmap = json.loads(gitutil.git("show", "main:diffusion-ci/consistency_gt/sglang_generated/case_map.json",
                                  cwd=repo).stdout)
    assert set(cmap["cases"]) == {a.id, b.id}
    assert gitutil.out("rev-list", "--count", "main", cwd=repo) == "2"


def test_whole_video_gate_without_gt_video_is_an_error_not_a_pass(tiny_gt: Path, tmp_path: Path) -> None:
    gt = tmp_path / "gt"
    shutil.copytree(tiny_gt, gt)
    for p in gt.glob("*.mp4"):
        p.unlink()
    keys_only = run_cli("compare", "--group", "tiny", "--gt", str(gt), "--candidate", str(tiny_gt),
                        "--out", str(tmp_path / "a"), "--clip-model", "none", "--frames", "all")
    assert keys_only.returncode == 0 and "whole-video curves skipped" in keys_only.stdout
    gated = run_cli("compare", "--group", "tiny", "--gt", str(gt), "--candidate", str(tiny_gt),
                    "--out", str(tmp_path / "b"), "--clip-model", "none", "--frames", "all", "--gate-frames", "all")
    assert gated.returncode == 1
    statuses = {c["status"] for c in json.loads((tmp_path / "b" / "results.json").read_text())["cases"]
                if REG.get(c["case_id"]).modality == "video"}
    assert statuses == {"error"}


def test_fetch_network_faults_partial_and_total(tiny_gt: Path, tmp_path: Path) -> None:
    """One case's GT behind 503s: recorded unknown (with the reason), exit 1. The whole server
    failing: one line, exit 2, nothing written."""
    with served_over_http(tiny_gt, tmp_path) as (srv, commit):
        gt_dir = f"/{commit}/diffusion-ci/consistency_gt/official_generated"
        srv.script.steps[f"{gt_dir}/tiny_hq_ti2v_1gpu_frame_mid.png"] = ["status:503"]
        out = tmp_path / "partial"
        part = run_cli("fetch", "--group", "tiny", "--source", srv.base, "--ref", commit, "--out", str(out),
                       env={"GT_GEN_CACHE": str(tmp_path / "c1")})
        assert part.returncode == 1, part.stdout + part.stderr
        rec = json.loads((out / "fetch.json").read_text())["cases"]
        assert rec["tiny_hq_ti2v"]["status"] == "unknown" and "HTTP 503" in rec["tiny_hq_ti2v"]["detail"]
        assert rec["tiny_one_stage_t2v"]["status"] == "present"
        assert not (out / "tiny_hq_ti2v_1gpu_frame_0.png").exists()  # unknown is never half-fetched
        cmp = run_cli("compare", "--group", "tiny", "--gt", srv.base, "--ref", commit, "--candidate", str(tiny_gt),
                      "--out", str(tmp_path / "cmp"), "--clip-model", "none", env={"GT_GEN_CACHE": str(tmp_path / "c3")})
        assert cmp.returncode == 1  # unknown GT is never a pass
        st = {c["case_id"]: c["status"] for c in json.loads((tmp_path / "cmp" / "results.json").read_text())["cases"]}
        assert st.pop("tiny_hq_ti2v") == "unknown_gt"
        assert set(st.values()) == {"passed"} and {"tiny_one_stage_t2v", "tiny_two_stage_t2v"} <= set(st)
        srv.script.steps[f"{gt_dir}/case_map.json"] = ["status:503"]
        down = run_cli("fetch", "--group", "tiny", "--source", srv.base, "--ref", commit, "--out",
                       str(tmp_path / "down"), env={"GT_GEN_CACHE": str(tmp_path / "c2")})
        assert down.returncode == 2 and down.stderr.count("\n") == 1 and "unreachable" in down.stderr
        assert not (tmp_path / "down").exists()
        cmp_down = run_cli("compare", "--group", "tiny", "--gt", srv.base, "--ref", commit, "--candidate",
                           str(tiny_gt), "--out", str(tmp_path / "cmp-down"), "--clip-model", "none",
                           env={"GT_GEN_CACHE": str(tmp_path / "c4")})
        assert cmp_down.returncode == 2 and "unreachable" in cmp_down.stderr  # infrastructure, not a regression
        assert not (tmp_path / "cmp-down").exists()


# -- the source is verified against its generate manifest before anything is written ------
@pytest.mark.parametrize("defect", ["edited", "unlisted", "no-manifest", "other-case"])
def test_gt_edited_after_generate_is_refused(tmp_path: Path, defect: str) -> None:
    from gt_gen.errors import IntegrityError

    repo = bare(tmp_path)
    src = frames_dir(tmp_path, NATIVE, natural())
    name = key_frame_names(NATIVE)["mid"]
    if defect == "edited":  # a valid PNG, different pixels: decodes fine, still refused
        f = natural()["mid"].copy()
        f[0, 0] = 255 - f[0, 0]
        write_png(src / name, f)
    elif defect == "unlisted":
        m = json.loads((src / "manifest.json").read_text())
        del m["cases"][NATIVE.id]["files"][name]
        (src / "manifest.json").write_text(json.dumps(m))
    elif defect == "other-case":  # listed, but under another case's entry
        m = json.loads((src / "manifest.json").read_text())
        m["cases"]["someone_else"] = {"files": {name: m["cases"][NATIVE.id]["files"].pop(name)}}
        (src / "manifest.json").write_text(json.dumps(m))
    else:
        (src / "manifest.json").unlink()
    with pytest.raises(IntegrityError) as exc:
        publisher(repo).publish(src, [NATIVE])
    msg = exc.value.one_line()
    assert (name in msg) if defect != "no-manifest" else ("manifest.json" in msg)
    assert head(repo) is None


@pytest.mark.parametrize("raw", [b"{", b'{"cases": [1]}', b'{"cases": {"a": 1}}', b'{"a": NaN}',
                                 b'{"cases": {}, "cases": {}}', b"\xff\xfe"])
def test_malformed_source_manifest_is_one_line_exit_2(tmp_path: Path, raw: bytes, capsys) -> None:
    from gt_gen.cli import main

    src = tmp_path / "src"
    src.mkdir()
    (src / "manifest.json").write_bytes(raw)
    rc = main(["publish", "--source", str(src), "--target", "sglang_generated", "--repo", str(bare(tmp_path))])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "manifest.json" in err and "internal error" not in err


def test_republishing_identical_gt_is_a_no_op(tmp_path: Path) -> None:
    repo = bare(tmp_path)
    src = frames_dir(tmp_path, NATIVE, natural())
    first = publisher(repo).publish(src, [NATIVE])
    time.sleep(1.1)  # the 'published' timestamp has one-second resolution: make it differ
    other_run = Publisher(str(repo), "main", "sglang_generated", None,
                          Provenance("refs/heads/main", "another-sha", "2.11", "u2"))
    again = other_run.publish(src, [NATIVE])
    assert not again.changed and again.commit == first.commit == head(repo)
    assert gitutil.out("rev-list", "--count", "main", cwd=repo) == "1"
    cmap = json.loads(gitutil.git("show", "main:diffusion-ci/consistency_gt/sglang_generated/case_map.json",
                                  cwd=repo).stdout)
    assert cmap["published_by"] == "gt-gen"  # tells readers this repository carries manifests


def test_stale_work_clones_of_killed_publishers_are_swept(tmp_path: Path, monkeypatch) -> None:
    import os
    import tempfile

    from gt_gen.store import publish as pub_mod

    parent = tmp_path / "tmp"
    parent.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(parent))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = parent / f"gt-gen-publish-{dead.pid}-abcd1234"
    (stale / "repo" / ".git").mkdir(parents=True)
    (stale / "repo" / "big.png").write_bytes(b"x" * 1000)
    live = parent / f"gt-gen-publish-{os.getpid()}-live0000"  # a publisher still running
    live.mkdir()
    old_style = parent / "gt-gen-publish-oldstyle"
    old_style.mkdir()
    other = parent / "unrelated-dir"
    other.mkdir()
    repo = bare(tmp_path)
    publisher(repo).publish(frames_dir(tmp_path, NATIVE, natural()), [NATIVE])
    assert not stale.exists() and live.is_dir() and old_style.is_dir() and other.is_dir()
    assert sorted(p.name for p in parent.iterdir()) == sorted([live.name, old_style.name, other.name])
    # An old-style clone (no pid in its name) goes once it is a day old.
    os.utime(old_style, (time.time() - 2 * 86400,) * 2)
    assert pub_mod.sweep_stale_work_dirs(parent) == [old_style]


def test_publish_platform_alias_resolves_as_sglang_does(tmp_path: Path) -> None:
    """`--platform RTX5090` publishes into sglang's `5090` folder, never a literal `RTX5090`."""
    from gt_gen.cli import main

    repo = bare(tmp_path)
    src = frames_dir(tmp_path, NATIVE, natural(seed=3))
    rc = main(["publish", "--source", str(src), "--target", "sglang_generated", "--repo", str(repo),
               "--platform", "RTX5090", "--source-ref", "refs/heads/main", "--case", NATIVE.id])
    assert rc == 0
    names = gitutil.out("ls-tree", "-r", "--name-only", "main", cwd=repo).splitlines()
    assert any(n.startswith("diffusion-ci/consistency_gt/sglang_generated/5090/") for n in names)
    assert not any("RTX5090" in n for n in names)


def test_publish_keeps_sglang_case_map_bookkeeping(tmp_path: Path) -> None:
    """Publishing into a folder whose case_map.json has sglang's real shape keeps its keys."""
    work = tmp_path / "seed"
    gitutil.git("init", "-q", "-b", "main", str(work))
    fold = work / "diffusion-ci/consistency_gt/sglang_generated"
    fold.mkdir(parents=True)
    (fold / "case_map.json").write_text(json.dumps(
        {"bundle_date": "2026-01-02", "cases": {"other": {"source": "sglang", "notes": "n",
                                                          "outputs": ["other_1gpu.png"]}}}))
    gitutil.git("add", "-A", cwd=work)
    gitutil.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "seed", cwd=work)
    repo = tmp_path / "ci-data.git"
    gitutil.git("clone", "-q", "--bare", str(work), str(repo))
    publisher(repo).publish(frames_dir(tmp_path, NATIVE, natural(seed=4)), [NATIVE])
    cmap = json.loads(gitutil.git("show", "main:diffusion-ci/consistency_gt/sglang_generated/case_map.json",
                                  cwd=repo).stdout)
    assert cmap["bundle_date"] == "2026-01-02"
    assert cmap["cases"]["other"]["notes"] == "n"
    assert cmap["cases"][NATIVE.id]["outputs"] == sorted(key_frame_names(NATIVE).values())
