"""Integrity fails closed, over the real loopback HTTP server and local folders.

A manifest whose presence is unknown makes the case ``unknown_gt``; a missing manifest in a
source gt-gen published is refused; a source with no manifests anywhere (sglang's own
ci-data) is read but marked *unverified* in results.json, summary.md and the HTML report;
bytes are verified before they are decoded; ``fetch.json`` verifies a fetched folder.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gt_gen.cases import load_registry
from gt_gen.cli import main
from gt_gen.compare import load_gt_frames
from gt_gen.errors import IntegrityError
from gt_gen.store.http_source import HttpSource
from gt_gen.store.integrity import Verifier
from gt_gen.store.source import LocalDirSource
from tests.casefiles import case_toml
from tests.conftest import pattern_frames
from tests.store.loopback import Loopback

COMMIT = "b" * 40
NATIVE = "diffusion-ci/consistency_gt/sglang_generated"
OFFICIAL = "diffusion-ci/consistency_gt/official_generated"
FRAMES = pattern_frames(3, 64, 96, seed=3)
KEYS = {"first": "0", "mid": "mid", "last": "last"}


def png(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def frame_files(case_id: str) -> dict[str, bytes]:
    return {f"{case_id}_1gpu_frame_{s}.png": png(FRAMES[i]) for i, s in enumerate(KEYS.values())}


def manifest(files: dict[str, bytes]) -> bytes:
    return json.dumps({"schema_version": 1, "files": {n: {"sha256": hashlib.sha256(d).hexdigest()}
                                                      for n, d in files.items()}}).encode()


def tamper(data: bytes) -> bytes:
    """A PNG with one pixel changed and re-encoded: decodes fine, wrong content."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    img[10, 10] = 255 - img[10, 10]
    ok, buf = cv2.imencode(".png", img)
    return buf.tobytes()


def tree(*, native_manifest: bool = True, marker: bool = False, official: bool = False,
         official_manifest: bool = True) -> dict[str, bytes]:
    """A ci-data tree: case ``vid`` (native) in sglang_generated; with ``official``, case
    ``ovid`` (official) in official_generated, listed in its case_map."""
    out: dict[str, bytes] = {}
    files = frame_files("vid")
    out.update({f"{NATIVE}/{n}": d for n, d in files.items()})
    if native_manifest:
        out[f"{NATIVE}/manifest.json"] = manifest(files)
    cmap: dict = {"cases": {"vid": sorted(files)}}
    if marker:
        cmap["published_by"] = "gt-gen"
    out[f"{NATIVE}/case_map.json"] = json.dumps(cmap).encode()
    if official:
        ofiles = frame_files("ovid")
        out.update({f"{OFFICIAL}/{n}": d for n, d in ofiles.items()})
        out[f"{OFFICIAL}/case_map.json"] = json.dumps({"cases": {"ovid": sorted(ofiles)}}).encode()
        if official_manifest:
            out[f"{OFFICIAL}/manifest.json"] = manifest(ofiles)
    return out


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("cases")
    (d / "t.toml").write_text(case_toml("vid", num_frames=9) + "\n" + case_toml("ovid", official=True, num_frames=9))
    return d, load_registry(d)


@pytest.fixture
def srv():
    s = Loopback()
    yield s
    s.close()


def serve(srv: Loopback, files: dict[str, bytes]) -> HttpSource:
    for rel, data in files.items():
        srv.script.files[f"/{COMMIT}/{rel}"] = data
    return HttpSource(srv.base, COMMIT, timeout=0.3, attempts=2, backoff=0.0, sleep=lambda s: None)


def step(srv: Loopback, rel: str, fault: str) -> None:
    srv.script.steps[f"/{COMMIT}/{rel}"] = [fault]


# -- unknown never becomes unverified -----------------------------------------------------
@pytest.mark.parametrize("fault", ["status:503", "reset", "timeout", "status:500"])
def test_unknown_manifest_makes_the_case_unknown_gt(srv, reg, fault: str) -> None:
    files = tree()
    files[f"{NATIVE}/vid_1gpu_frame_mid.png"] = tamper(files[f"{NATIVE}/vid_1gpu_frame_mid.png"])
    src = serve(srv, files)
    step(srv, f"{NATIVE}/manifest.json", fault)
    res, gt, _, _ = load_gt_frames(Verifier(src), reg[1].get("vid"), None)
    assert res is not None and res.status == "unknown_gt" and not gt
    assert "manifest.json" in res.message
    # Not one GT frame was downloaded: unknown stops before the bytes.
    assert not any(m == "GET" and p.endswith(".png") for m, p in srv.script.log)


def test_manifest_download_failing_after_a_present_probe_is_unknown(srv, reg) -> None:
    src = serve(srv, tree())
    srv.script.head_refused.add(f"/{COMMIT}/{NATIVE}/manifest.json")
    # HEAD refused -> ranged GET says present; the full GET then keeps failing.
    srv.script.steps[f"/{COMMIT}/{NATIVE}/manifest.json"] = ["ok", "status:503"]
    res, _, _, _ = load_gt_frames(Verifier(src), reg[1].get("vid"), None)
    assert res is not None and res.status == "unknown_gt"


# -- a missing manifest where gt-gen published -----------------------------------------------
@pytest.mark.parametrize("why", ["case_map marker", "sibling manifest"])
def test_404_manifest_in_a_gt_gen_published_source_is_refused(srv, reg, why: str) -> None:
    files = tree(native_manifest=False, marker=why == "case_map marker",
                 official=why == "sibling manifest")
    files[f"{NATIVE}/vid_1gpu_frame_mid.png"] = tamper(files[f"{NATIVE}/vid_1gpu_frame_mid.png"])
    src = serve(srv, files)
    res, gt, _, _ = load_gt_frames(Verifier(src), reg[1].get("vid"), None)
    assert res is not None and res.status == "error" and not gt
    assert "manifest.json" in res.message and "--no-require-manifest" in res.message


def test_unknown_whether_published_is_unknown(srv, reg) -> None:
    src = serve(srv, tree(native_manifest=False))
    step(srv, f"{NATIVE}/case_map.json", "status:503")
    res, _, _, _ = load_gt_frames(Verifier(src), reg[1].get("vid"), None)
    assert res is not None and res.status == "unknown_gt"


def test_sglang_like_source_is_read_but_unverified(srv, reg) -> None:
    src = serve(srv, tree(native_manifest=False))
    reader = Verifier(src)
    res, gt, _, files = load_gt_frames(reader, reg[1].get("vid"), None)
    assert res is None and set(gt) == {"first", "mid", "last"}
    assert reader.verification(list(files.values())) == "unverified"
    # --require-manifest turns it into an error for the case.
    res, _, _, _ = load_gt_frames(Verifier(src, require_manifest=True), reg[1].get("vid"), None)
    assert res is not None and res.status == "error" and "--require-manifest" in res.message


def test_no_require_manifest_reads_published_gt_unverified(srv, reg) -> None:
    src = serve(srv, tree(native_manifest=False, marker=True))
    reader = Verifier(src, require_manifest=False)
    res, _, _, files = load_gt_frames(reader, reg[1].get("vid"), None)
    assert res is None and reader.verification(list(files.values())) == "unverified"


def test_verified_gt_says_so(srv, reg) -> None:
    reader = Verifier(serve(srv, tree()))
    res, _, _, files = load_gt_frames(reader, reg[1].get("vid"), None)
    assert res is None and reader.verification(list(files.values())) == "manifest"


# -- verify before decode ---------------------------------------------------------------------
def _local(tmp_path: Path, files: dict[str, bytes]) -> LocalDirSource:
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    return LocalDirSource(tmp_path)


@pytest.mark.parametrize("change", ["truncate", "garbage", "flip-header"])
@pytest.mark.parametrize("where", ["http", "dir"])
def test_changed_png_is_tampering_not_a_decode_failure(srv, reg, tmp_path: Path, change: str, where: str) -> None:
    files = tree()
    rel = f"{NATIVE}/vid_1gpu_frame_last.png"
    data = files[rel]
    files[rel] = {"truncate": data[: len(data) // 3], "garbage": b"not a png at all",
                  "flip-header": b"\x00" + data[1:]}[change]
    src = serve(srv, files) if where == "http" else _local(tmp_path, files)
    with pytest.raises(IntegrityError, match="does not match the manifest"):
        load_gt_frames(Verifier(src), reg[1].get("vid"), None)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(min_value=0, max_value=10**6), xor=st.integers(min_value=1, max_value=255))
def test_any_changed_byte_is_caught_by_a_fetch_record(tmp_path_factory, pos: int, xor: int) -> None:
    d = tmp_path_factory.mktemp("fetched")
    files = frame_files("vid")
    rec = {"cases": {"vid": {"status": "present", "gt_verification": "manifest",
                             "files": {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}}}}
    name = "vid_1gpu_frame_mid.png"
    data = bytearray(files[name])
    data[pos % len(data)] ^= xor
    files[name] = bytes(data)
    src = _local(d, {**files, "fetch.json": json.dumps(rec).encode()})
    with pytest.raises(IntegrityError, match="does not match the manifest fetch.json"):
        Verifier(src).read(name)


def test_fetch_record_verification_levels(tmp_path: Path) -> None:
    files = frame_files("vid")
    sums = {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}
    for level, expected in (("manifest", "fetch.json"), ("unverified", "unverified")):
        d = tmp_path / level
        rec = {"cases": {"vid": {"status": "present", "gt_verification": level, "files": sums}}}
        reader = Verifier(_local(d, {**files, "fetch.json": json.dumps(rec).encode()}))
        for n in files:
            reader.read(n)
        assert reader.verification(list(files)) == expected
    d = tmp_path / "unlisted"
    rec = {"cases": {"vid": {"status": "present", "files": {}}}}
    with pytest.raises(IntegrityError, match="not listed in fetch.json"):
        Verifier(_local(d, {**files, "fetch.json": json.dumps(rec).encode()})).read("vid_1gpu_frame_0.png")
    with pytest.raises(IntegrityError, match="fetch record"):
        Verifier(_local(tmp_path / "bad", {**files, "fetch.json": b"{"})).read("vid_1gpu_frame_0.png")


# -- end to end: compare and report ------------------------------------------------------------
def _thresholds(tmp_path: Path) -> Path:
    th = tmp_path / "th.json"
    th.write_text(json.dumps({"cases": {}}))
    return th


def _candidate(tmp_path: Path, *ids: str) -> Path:
    cand = tmp_path / "cand"
    cand.mkdir(exist_ok=True)
    for cid in ids:
        for n, d in frame_files(cid).items():
            (cand / n).write_bytes(d)
    return cand


def _compare(reg, tmp_path: Path, gt: str, out: Path, *extra: str, ids=("vid",)) -> int:
    args = ["compare", "--cases", str(reg[0]), "--gt", str(gt), "--candidate", str(_candidate(tmp_path, *ids)),
            "--thresholds", str(_thresholds(tmp_path)), "--out", str(out), "--clip-model", "none", *extra]
    for cid in ids:
        args += ["--case", cid]
    return main(args)


def test_cli_tampered_frame_behind_404_manifest_never_passes(srv, reg, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GT_GEN_CACHE", str(tmp_path / "cache"))
    files = tree(native_manifest=False, marker=True)
    files[f"{NATIVE}/vid_1gpu_frame_mid.png"] = tamper(files[f"{NATIVE}/vid_1gpu_frame_mid.png"])
    serve(srv, files)
    out = tmp_path / "out"
    # The candidate equals the *tampered* GT, so reading it unverified would pass.
    cand = _candidate(tmp_path, "vid")
    (cand / "vid_1gpu_frame_mid.png").write_bytes(files[f"{NATIVE}/vid_1gpu_frame_mid.png"])
    rc = main(["compare", "--cases", str(reg[0]), "--case", "vid", "--gt", srv.base, "--ref", COMMIT,
               "--candidate", str(cand), "--thresholds", str(_thresholds(tmp_path)), "--out", str(out),
               "--clip-model", "none"])
    assert rc == 1
    case = json.loads((out / "results.json").read_text())["cases"][0]
    assert case["status"] == "error" and "manifest.json" in case["message"]


def test_cli_unknown_manifest_is_unknown_gt_in_results(srv, reg, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GT_GEN_CACHE", str(tmp_path / "cache"))
    serve(srv, tree(official=True))
    step(srv, f"{OFFICIAL}/manifest.json", "reset")
    out = tmp_path / "out"
    rc = _compare(reg, tmp_path, srv.base, out, "--ref", COMMIT, ids=("vid", "ovid"))
    assert rc == 1
    st_ = {c["case_id"]: c["status"] for c in json.loads((out / "results.json").read_text())["cases"]}
    assert st_ == {"vid": "passed", "ovid": "unknown_gt"}


def test_cli_unverified_gt_is_said_in_results_summary_and_report(reg, tmp_path: Path, capsys) -> None:
    gt = tmp_path / "gt"
    _local(gt, tree(native_manifest=False))  # sglang-like: no manifest anywhere
    out = tmp_path / "out"
    assert _compare(reg, tmp_path, str(gt), out) == 0
    case = json.loads((out / "results.json").read_text())["cases"][0]
    assert case["status"] == "passed" and case["gt_verification"] == "unverified"
    assert "unverified GT" in (out / "summary.md").read_text()
    assert main(["report", str(out / "results.json"), "--html", str(tmp_path / "html")]) == 0
    assert "unverified GT" in (tmp_path / "html" / "index.html").read_text()
    # A verified folder says nothing of the kind.
    gt2 = tmp_path / "gt2"
    _local(gt2, tree())
    out2 = tmp_path / "out2"
    assert _compare(reg, tmp_path, str(gt2), out2) == 0
    case = json.loads((out2 / "results.json").read_text())["cases"][0]
    assert case["gt_verification"] == "manifest" and "unverified GT" not in (out2 / "summary.md").read_text()
    # --require-manifest: a missing manifest is an error for the case (exit 1).
    out3 = tmp_path / "out3"
    assert _compare(reg, tmp_path, str(gt), out3, "--require-manifest") == 1
    assert json.loads((out3 / "results.json").read_text())["cases"][0]["status"] == "error"
    capsys.readouterr()
