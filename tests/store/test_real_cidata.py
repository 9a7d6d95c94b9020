"""sglang's real ci-data, as it is: fetch and compare every ltx case at a pinned commit, over git
and over raw HTTP, with both case_map shapes, platform folders, ``.jpg`` image GT, 1- and 2-GPU
names and the older ``1-gpu/`` assets folder beside them (issue 12 item 7)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gt_gen import cli, gitutil
from gt_gen.cases import Case
from gt_gen.naming import key_frame_names
from tests.casefiles import case_toml
from tests.store.loopback import Loopback
from tests.store.sglang_cidata import OFFICIAL, SGLANG, CiData, build, ltx_cases

LTX = ltx_cases()


@pytest.fixture(scope="module", params=["sglang", "gtgen"])
def cidata(request, tmp_path_factory: pytest.TempPathFactory) -> CiData:
    """The repository, with its official case map in sglang's shape or in gt-gen's."""
    return build(tmp_path_factory.mktemp(f"cidata-{request.param}"), request.param)


@pytest.fixture(scope="module")
def served(cidata: CiData) -> Iterator[str]:
    """Both commits served GitHub-raw style (``/<commit>/<path>``) on loopback."""
    srv = Loopback()
    try:
        for sha in (cidata.pinned, cidata.later):
            for path in gitutil.out("ls-tree", "-r", "--name-only", sha, cwd=cidata.repo).splitlines():
                srv.script.files[f"/{sha}/{path}"] = gitutil.git("show", f"{sha}:{path}", cwd=cidata.repo).stdout
        yield srv.base
    finally:
        srv.close()


def cli_run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = cli.main(list(args))
    out, err = capsys.readouterr()
    return rc, out + err


def _source(transport: str, cidata: CiData, served: str) -> str:
    return str(cidata.repo) if transport == "git" else served


def _check_fetched(cidata: CiData, out: Path, cases: list[Case], platform: str | None) -> None:
    """Every case fetched from the folder design.md's lookup names, with the pinned bytes."""
    record = json.loads((out / "fetch.json").read_text())
    assert record["commit"] == cidata.pinned
    for case in cases:
        entry = record["cases"][case.id]
        want = cidata.expected_folder(case, platform)
        assert entry["status"] == "present" and entry["folder"] == want, (case.id, entry)
        for name in key_frame_names(case).values():
            assert (out / name).read_bytes() == cidata.files[f"{want}/{name}"], name
            assert (out / name).read_bytes() != cidata.later_files[f"{want}/{name}"]  # pinned, not later


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["git", "http"])
@pytest.mark.parametrize("platform", [None, "h100"])
def test_fetch_and_compare_every_ltx_case(cidata: CiData, served: str, transport: str, platform: str | None,
                                          tmp_path: Path, capsys) -> None:
    src = _source(transport, cidata, served)
    plat = ["--platform", platform] if platform else []
    out = tmp_path / "fetched"
    rc, text = cli_run(capsys, "fetch", "--group", "ltx", "--source", src, "--ref", cidata.pinned,
                       "--out", str(out), *plat)
    assert rc == 0, text
    _check_fetched(cidata, out, LTX, platform)
    # The same GT through compare: every ltx case passes against the pinned bytes ...
    rc, text = cli_run(capsys, "compare", "--group", "ltx", "--gt", src, "--ref", cidata.pinned,
                       "--candidate", str(out), "--out", str(tmp_path / "cmp"), "--clip-model", "none",
                       "--no-save-frames", *plat)
    assert rc == 0, text
    res = json.loads((tmp_path / "cmp" / "results.json").read_text())
    assert res["meta"]["gt_commit"] == cidata.pinned
    assert {c["case_id"]: (c["status"], c["gt_folder"]) for c in res["cases"]} == {
        c.id: ("passed", cidata.expected_folder(c, platform)) for c in LTX}
    # ... and the later commit's GT is another GT: the pin is what was compared.
    rc, text = cli_run(capsys, "compare", "--group", "ltx", "--gt", src, "--ref", cidata.later,
                       "--candidate", str(out), "--out", str(tmp_path / "cmp-later"), "--clip-model", "none",
                       "--no-save-frames", *plat)
    assert rc == 1, text


def _image_cases(tmp_path: Path) -> Path:
    d = tmp_path / "cases"
    d.mkdir()
    (d / "images.toml").write_text(
        case_toml("flux_image_t2i", modality="image", width=32, height=32)
        + case_toml("flux_image_t2i_2_gpus", modality="image", width=32, height=32).replace(
            'runner = "r"', 'runner = "r"\ngpus = 2'))
    return d


@pytest.mark.parametrize("transport", ["git", "http"])
def test_jpg_image_gt_with_1_and_2_gpu_names(cidata: CiData, served: str, transport: str, tmp_path: Path,
                                             capsys) -> None:
    """Image GT is mostly .jpg in the real repository: found by its 1- or 2-GPU name, in the
    platform folder first, and compared (exit 0 against itself)."""
    cases = _image_cases(tmp_path)
    src = _source(transport, cidata, served)
    out = tmp_path / "fetched"
    rc, text = cli_run(capsys, "fetch", "--cases", str(cases), "--group", "images", "--source", src,
                       "--ref", cidata.pinned, "--out", str(out), "--platform", "h100")
    assert rc == 0, text
    folders = {cid: e["folder"] for cid, e in json.loads((out / "fetch.json").read_text())["cases"].items()}
    assert folders == {"flux_image_t2i": SGLANG, "flux_image_t2i_2_gpus": f"{SGLANG}/h100"}
    assert (out / "flux_image_t2i_1gpu.jpg").read_bytes() == cidata.files[f"{SGLANG}/flux_image_t2i_1gpu.jpg"]
    assert (out / "flux_image_t2i_2_gpus_2gpu.jpg").read_bytes() == \
        cidata.files[f"{SGLANG}/h100/flux_image_t2i_2_gpus_2gpu.jpg"]
    rc, text = cli_run(capsys, "compare", "--cases", str(cases), "--group", "images", "--gt", src, "--ref",
                       cidata.pinned, "--candidate", str(out), "--out", str(tmp_path / "cmp"),
                       "--clip-model", "none", "--no-save-frames", "--platform", "h100")
    assert rc == 0, text


def test_the_tree_has_the_real_shape(cidata: CiData) -> None:
    """Guards the fixture itself: what makes it sglang's ci-data and not gt-gen's output."""
    paths = set(cidata.files)
    assert not any(p.endswith("manifest.json") for p in paths)
    assert {f"{SGLANG}/{p}" for p in ("h100", "b200", "5090", "ascend")} <= {p.rsplit("/", 1)[0] for p in paths}
    assert any(p.startswith("diffusion-ci/consistency_gt/1-gpu/") for p in paths)
    assert any(p.endswith(".jpg") for p in paths) and any("_2gpu" in p for p in paths)
    assert any("_1gpu" in p for p in paths)
    official = json.loads(cidata.files[f"{OFFICIAL}/case_map.json"])
    listed = official["cases"]
    if "bundle_date" in official:  # sglang's shape
        assert all(set(e) == {"source", "script", "outputs"} for e in listed.values())
        assert {"active_gt_replacement", "consistency_gt_dir", "repro_scripts_dir"} <= set(official)
    else:  # gt-gen's shape
        assert all(isinstance(e, list) for e in listed.values())
    sglang_map = json.loads(cidata.files[f"{SGLANG}/case_map.json"])["cases"]
    assert all("notes" in e and "script" not in e for e in sglang_map.values())
