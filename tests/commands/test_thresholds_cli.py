"""``gt-gen thresholds check``: validates, then prints each case's resolved gate and its source,
exactly the gates ``compare`` applies, on both layouts, for every platform and alias."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from gt_gen import cli
from gt_gen.cases import load_registry
from gt_gen.naming import key_frame_names
from gt_gen.thresholds import PLATFORM_ALIASES
from tests.conftest import REPO, write_png
from tests.test_thresholds import ALIASES, SGLANG_FILE, SGLANG_H100, SGLANG_OVERLAYS, sglang_current

LTX = load_registry(None).select(group="ltx")
PLATFORMS = sorted(set(PLATFORM_ALIASES.values()))


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail (not hang) when the body blocks, e.g. on opening a FIFO: the alarm's exception
    interrupts the blocking system call (PEP 475: a raising handler stops the retry)."""
    def expired(signum, frame):
        raise TimeoutError(f"blocked for {seconds}s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def row(out: str, case_id: str) -> str:
    return next(ln for ln in out.splitlines() if ln.startswith(case_id + " "))


def cli_run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``gt-gen ARGS`` in this process (the CLI's own exit-code mapping), with its output."""
    capsys.readouterr()
    rc = cli.main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_check_prints_resolved_gates_with_sources(capsys) -> None:
    rc, out, err = cli_run(capsys, "thresholds", "check", str(REPO / "thresholds" / "consistency_threshold.json"))
    assert rc == 0, err
    assert ": OK (legacy layout" in out.splitlines()[0]
    assert "0.89 [" in row(out, "ltx_2_two_stage_t2v")
    assert "0.995 [case]" in row(out, "ltx_2_3_hq_pipeline")  # sglang's own gate, shipped
    assert "default" in row(out, "wan2_2_animate_2_14b_ref2v")  # no entry: gated by defaults


def test_platform_overlay_replaces_the_whole_entry(tmp_path: Path, capsys) -> None:
    base = {"cases": {"ltx_2_two_stage_t2v": {"ssim_threshold": 0.89, "psnr_threshold": 22.0}},
            "default_ssim_threshold_video": 0.92}
    (tmp_path / "platforms").mkdir()
    (tmp_path / "consistency_threshold.json").write_text(json.dumps(base))
    (tmp_path / "platforms" / "h200.json").write_text(
        json.dumps({"cases": {"ltx_2_two_stage_t2v": {"ssim_threshold": 0.8}}}))
    rc, out, err = cli_run(capsys, "thresholds", "check", str(tmp_path / "consistency_threshold.json"),
                           "--platform", "h200")
    assert rc == 0, err
    line = row(out, "ltx_2_two_stage_t2v")
    assert "0.8 [platform:h200]" in line and "22 [" not in line  # psnr falls past the replaced entry
    rc, out, err = cli_run(capsys, "thresholds", "check", str(tmp_path / "consistency_threshold.json"),
                           "--platform", "b200")
    assert rc == 2 and "b200" in err and "h200" in err and len(err.strip().splitlines()) == 1


def test_long_case_ids_keep_the_table_aligned(tmp_path: Path, capsys) -> None:
    long_id = "case_" + "x" * 150
    th = tmp_path / "consistency_threshold.json"
    th.write_text(json.dumps({"cases": {long_id: {"ssim_threshold": 0.5}, "s": {"psnr_threshold": 150.5}}}))
    rc, out, _ = cli_run(capsys, "thresholds", "check", str(th))
    assert rc == 0
    lines = out.splitlines()[1:]
    header = lines[0]
    starts = [header.index(m) for m in ("clip", "ssim", "psnr", "mean_abs_diff")]
    for ln in lines[1:]:
        assert ln.split()[0] in {long_id, "s"} | {c.id for c in load_registry(None).cases}
        for s in starts:  # every column begins where its header does, after a space
            assert ln[s - 1] == " " and ln[s] != " ", (ln, s)
    assert "0.5 [case]" in row(out, long_id) and "(no such case in cases/)" in row(out, long_id)


def _frames(root: Path) -> Path:
    """Key-frame PNGs of every ltx case (named from the registry), GT and candidate alike."""
    rng = np.random.default_rng(3)
    for case in LTX:
        for name in key_frame_names(case).values():
            write_png(root / name, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    return root


def _distinct(i: int) -> dict[str, dict[str, float]]:
    """Complete, platform-specific entries for every ltx case (so each overlay shows)."""
    return {c.id: {"clip_threshold": round(0.5 + 0.01 * i + 0.001 * j, 4),
                   "ssim_threshold": round(0.3 + 0.01 * i, 4), "psnr_threshold": 10.0 + i,
                   "mean_abs_diff_threshold": 40.0 - i} for j, c in enumerate(LTX)}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("layouts")
    legacy = root / "legacy" / "consistency_threshold.json"
    legacy.parent.mkdir()
    legacy.write_text(json.dumps(SGLANG_FILE))
    (legacy.parent / "platforms").mkdir()
    for i, plat in enumerate(PLATFORMS, 1):
        (legacy.parent / "platforms" / f"{plat}.json").write_text(json.dumps({"cases": _distinct(i)}))
    overlays = {p: {"cases": {**SGLANG_OVERLAYS.get(p, {}).get("cases", {}), **_distinct(i)}}
                for i, p in enumerate(PLATFORMS, 1) if p != "h100"}
    current = sglang_current(root / "current", overlays, SGLANG_H100)
    return {"legacy": legacy, "current": current, "frames": _frames(root / "frames")}


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["legacy", "current"])
def test_check_and_compare_resolve_identical_gates(layouts, layout: str, tmp_path: Path, capsys) -> None:
    """One loader for both commands: on each layout, with no platform, every platform and
    every alias, compare's results.json gates equal `thresholds check`'s, source included."""
    spec = str(layouts[layout])
    seen: dict[str, dict] = {}
    for alias, canon in [("", "")] + ALIASES:
        plat = ["--platform", alias] if alias else []
        rc, out, err = cli_run(capsys, "thresholds", "check", spec, *plat, "--format", "json")
        assert rc == 0, (alias, err)
        checked = json.loads(out)
        assert checked["layout"] == layout and checked["platform"] == (canon or None)
        outdir = tmp_path / f"cmp-{len(seen)}"
        rc, _, err = cli_run(capsys, "compare", "--group", "ltx", "--gt", str(layouts["frames"]),
                             "--candidate", str(layouts["frames"]), "--thresholds", spec, *plat,
                             "--out", str(outdir), "--clip-model", "none", "--no-save-frames")
        assert rc == 0, (alias, err)
        results = json.loads((outdir / "results.json").read_text())
        assert results["meta"]["platform"] == (canon or None)
        got = {c["case_id"]: {m: {"value": g["value"], "source": g["source"]} for m, g in c["gates"].items()}
               for c in results["cases"]}
        assert got == {c.id: checked["cases"][c.id] for c in LTX}, alias
        seen.setdefault(canon, got)
        assert seen[canon] == got  # every alias of a platform: the same gates
    # Each platform's overlay shows: no two platforms resolve the ltx gates alike.
    as_text = [json.dumps(g, sort_keys=True) for g in seen.values()]
    assert len(set(as_text)) == len(as_text) - (1 if layout == "current" else 0)  # h100 == base there


BAD_FILES = {
    "fifo": None, "devzero": None, "dir": None,
    "duplicate": '{"cases": {"ltx_2_two_stage_t2v": {"ssim_threshold": 0.9, "ssim_threshold": -1.0}}}',
    "neg_inf": '{"default_ssim_threshold_video": -Infinity}',
    "negative_ssim": '{"cases": {"ltx_2_two_stage_t2v": {"ssim_threshold": -0.5}}}',
    "huge": '{"default_psnr_threshold_video": 1e999}',
}


def _bad(tmp_path: Path, kind: str) -> Path:
    if kind == "fifo":
        p = tmp_path / "fifo.json"
        os.mkfifo(p)
        return p
    if kind == "devzero":
        return Path("/dev/zero")
    if kind == "dir":
        p = tmp_path / "empty_folder"
        p.mkdir()
        return p
    p = tmp_path / f"{kind}.json"
    p.write_text(BAD_FILES[kind] or "")
    return p


def _commands(spec: str, frames: Path, out: Path) -> list[list[str]]:
    return [["thresholds", "check", spec],
            ["compare", "--group", "ltx", "--gt", str(frames), "--candidate", str(frames),
             "--thresholds", spec, "--out", str(out), "--clip-model", "none"],
            ["audit", "--thresholds", spec, "--group", "ltx", "--out", str(out)]]


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_thresholds_are_exit_2_in_every_command(tmp_path: Path, kind: str, layouts, capsys) -> None:
    """One line naming the file, exit 2, nothing written; a FIFO is never opened (under a
    deadline, so a blocking read would fail the test, not hang it)."""
    bad = _bad(tmp_path, kind)
    out = tmp_path / "out"
    for args in _commands(str(bad), layouts["frames"], out):
        with deadline(30):
            rc, _, err = cli_run(capsys, *args)
        assert rc == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in err, err
        assert not out.exists()


@pytest.mark.parametrize("layout", ["legacy", "current"])
def test_unknown_platform_is_exit_2_in_every_command(tmp_path: Path, layout: str, layouts, capsys) -> None:
    """--platform naming no overlay: never the base gates in silence, in any command."""
    out = tmp_path / "out"
    for plat in ("a100", "../etc"):
        for args in _commands(str(layouts[layout]), layouts["frames"], out):
            rc, _, err = cli_run(capsys, *args, "--platform", plat)
            assert rc == 2, (args, err)
            assert plat in err and len(err.strip().splitlines()) == 1
            assert not out.exists()
