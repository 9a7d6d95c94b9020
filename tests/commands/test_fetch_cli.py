"""``gt-gen fetch``: nothing partial, and a fetched folder stays verified (fetch.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gt_gen.cli import main
from tests.casefiles import case_toml
from tests.store.test_gt_verification import NATIVE, _local, frame_files, tamper, tree


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "t.toml").write_text(case_toml("vid", num_frames=9))
    src = tmp_path / "ci-data"
    _local(src, tree())
    return {"cases": cases, "src": src, "tmp": tmp_path}


def fetch(s: dict[str, Path], out: Path, *extra: str) -> int:
    return main(["fetch", "--cases", str(s["cases"]), "--group", "t", "--source", str(s["src"]),
                 "--out", str(out), *extra])


def compare(s: dict[str, Path], gt: Path, out: Path) -> int:
    cand = s["tmp"] / "cand"
    cand.mkdir(exist_ok=True)
    for n, d in frame_files("vid").items():
        (cand / n).write_bytes(d)
    return main(["compare", "--cases", str(s["cases"]), "--group", "t", "--gt", str(gt),
                 "--candidate", str(cand), "--out", str(out), "--clip-model", "none"])


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_fetched_folder_is_verified_against_fetch_json(setup, capsys) -> None:
    out = setup["tmp"] / "fetched"
    assert fetch(setup, out) == 0
    rec = json.loads((out / "fetch.json").read_text())
    assert rec["cases"]["vid"]["gt_verification"] == "manifest"
    assert set(rec["cases"]["vid"]["files"]) == set(frame_files("vid"))
    assert compare(setup, out, setup["tmp"] / "cmp") == 0
    res = json.loads((setup["tmp"] / "cmp" / "results.json").read_text())["cases"][0]
    assert res["gt_verification"] == "fetch.json"
    # A file changed after the fetch is an integrity error, never compared.
    name = "vid_1gpu_frame_mid.png"
    (out / name).write_bytes(tamper((out / name).read_bytes()))
    capsys.readouterr()
    assert compare(setup, out, setup["tmp"] / "cmp2") == 2
    err = capsys.readouterr().err
    assert "does not match the manifest fetch.json" in err and name in err
    assert not (setup["tmp"] / "cmp2").exists()


def test_fetch_from_an_unverified_source_stays_unverified(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "t.toml").write_text(case_toml("vid", num_frames=9))
    src = tmp_path / "sglang-ci-data"
    _local(src, tree(native_manifest=False))  # no manifest anywhere, as sglang's own
    s = {"cases": cases, "src": src, "tmp": tmp_path}
    out = tmp_path / "fetched"
    assert fetch(s, out) == 0
    assert json.loads((out / "fetch.json").read_text())["cases"]["vid"]["gt_verification"] == "unverified"
    assert compare(s, out, tmp_path / "cmp") == 0
    res = json.loads((tmp_path / "cmp" / "results.json").read_text())["cases"][0]
    assert res["gt_verification"] == "unverified"
    # --require-manifest holds for what was fetched unverified too.
    assert main(["compare", "--cases", str(cases), "--group", "t", "--gt", str(out), "--candidate",
                 str(tmp_path / "cand"), "--out", str(tmp_path / "cmp-strict"), "--clip-model", "none",
                 "--require-manifest"]) == 1
    assert json.loads((tmp_path / "cmp-strict" / "results.json").read_text())["cases"][0]["status"] == "error"
    assert fetch(s, tmp_path / "strict", "--require-manifest") == 1  # the case is an error
    assert not (tmp_path / "strict").exists()  # no case fetched: nothing written
    # An incomplete fetch never replaces a complete earlier one: nothing is lost.
    assert fetch(s, out, "--require-manifest") == 1
    assert json.loads((out / "fetch.json").read_text())["cases"]["vid"]["status"] == "present"


def test_out_that_is_a_file_is_exit_2_with_nothing_written(setup, capsys) -> None:
    out = setup["tmp"] / "a-file"
    out.write_bytes(b"keep me")
    before = sorted(p.name for p in setup["tmp"].iterdir())
    assert fetch(setup, out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a-file" in err and "not a folder" in err
    assert out.read_bytes() == b"keep me"
    assert sorted(p.name for p in setup["tmp"].iterdir()) == before
    # A path *below* a file too.
    assert fetch(setup, out / "sub") == 2
    assert sorted(p.name for p in setup["tmp"].iterdir()) == before


def test_out_holding_other_files_is_refused(setup, capsys) -> None:
    out = setup["tmp"] / "busy"
    out.mkdir()
    (out / "mine.txt").write_text("user data")
    assert fetch(setup, out) == 2
    assert "did not write" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    # A "fetch.json" that is a FIFO is not an earlier fetch (and is never read: no hang).
    import os

    fifo_out = setup["tmp"] / "fifo"
    fifo_out.mkdir()
    os.mkfifo(fifo_out / "fetch.json")
    assert fetch(setup, fifo_out) == 2
    assert [p.name for p in fifo_out.iterdir()] == ["fetch.json"]


def test_refetch_replaces_an_earlier_fetch(setup) -> None:
    out = setup["tmp"] / "fetched"
    assert fetch(setup, out) == 0
    (out / "vid_1gpu_frame_0.png").write_bytes(b"stale")
    assert fetch(setup, out) == 0
    assert (out / "vid_1gpu_frame_0.png").read_bytes() == frame_files("vid")["vid_1gpu_frame_0.png"]
    assert leftovers(setup["tmp"]) == []


def test_late_error_leaves_nothing_behind(setup, monkeypatch, capsys) -> None:
    from gt_gen.commands import fetch_cmd

    def broken(path, obj, **kw):  # the disk fills up just as the record is written
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(fetch_cmd, "write_json", broken)
    out = setup["tmp"] / "deep" / "fetched"
    assert fetch(setup, out) == 2
    assert "no space left" in capsys.readouterr().err.lower()
    assert not out.exists() and not (setup["tmp"] / "deep").exists()
    assert leftovers(setup["tmp"]) == []
    # An earlier fetch survives a late error intact.
    monkeypatch.undo()
    good = setup["tmp"] / "good"
    assert fetch(setup, good) == 0
    snapshot = {p.name: p.read_bytes() for p in good.iterdir()}
    monkeypatch.setattr(fetch_cmd, "write_json", broken)
    assert fetch(setup, good) == 2
    assert {p.name: p.read_bytes() for p in good.iterdir()} == snapshot
    assert leftovers(setup["tmp"]) == []


def test_tampered_source_fetches_nothing(setup, capsys) -> None:
    rel = setup["src"] / NATIVE / "vid_1gpu_frame_last.png"
    rel.write_bytes(tamper(rel.read_bytes()))
    out = setup["tmp"] / "fetched"
    assert fetch(setup, out) == 2
    assert "does not match the manifest" in capsys.readouterr().err
    assert not out.exists() and leftovers(setup["tmp"]) == []
