"""Which implementation made a case's GT: publish records it and never replaces GT of another
implementation silently; fetch and compare read it back and tell, without another verdict
(issue 13: "GT from one is not silently mixed with the other")."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gt_gen import cli, gitutil, jsonio
from gt_gen.cases import Case, load_registry
from gt_gen.errors import ConfigError, IntegrityError, UsageError
from gt_gen.naming import expected_outputs, key_frame_names
from gt_gen.store import provenance
from gt_gen.store.layout import folder, parse_case_map, raw_entries
from gt_gen.store.publish import Provenance, Publisher
from tests.casefiles import case_toml
from tests.conftest import pattern_frames, write_png

REG = load_registry()
WAN = REG.get("wan2_1_t2v_1.3b")  # gt-gen: diffusers; sglang: the Wan2.1 repository's WanT2V
LTX = REG.get("ltx_2.3_one_stage_ti2v")  # both: the official LTX-2 packages
QWEN = REG.get("qwen_image_t2i")  # both: diffusers
NATIVE = REG.get("ltx_2_two_stage_t2v")  # sglang-native: no official GT
OFFICIAL = folder("official_generated")
SGLANG = folder("sglang_generated")
SHAPES = ("sglang", "gtgen", "flat")
# sgl-project/ci-data-diffusion official_generated/case_map.json (commit b8f753ff): the Wan entry.
WAN_SCRIPT = "repro_scripts/run_official_wan21.sh"


def frames_of(case: Case, seed: int = 0) -> dict[str, np.ndarray]:
    f = pattern_frames(3, case.request.height, case.request.width, seed)
    return dict(zip(("first", "mid", "last"), f)) if case.modality == "video" else {"first": f[0]}


def png_bytes(rgb: np.ndarray, path: Path) -> bytes:
    return write_png(path, rgb).read_bytes()


def generate_dir(tmp: Path, cases: list[Case], name: str = "src", seed: int = 0,
                 **override: dict[str, Any]) -> Path:
    """A `gt-gen generate`-like folder: key frames (or the image) and a manifest recording
    sha256, backend, pipeline, precision and (diffusers) implementation, as the runner does."""
    d = tmp / name
    entries = {}
    for case in cases:
        names = (key_frame_names(case) if case.modality == "video" else {"first": expected_outputs(case)[0]})
        fr = frames_of(case, seed)
        files = {n: hashlib.sha256(png_bytes(fr[k], d / n)).hexdigest() for k, n in names.items()}
        extra = ({"implementation": case.implementation, "dtype": case.precision}
                 if case.backend == "diffusers" else {"precision": case.precision})
        entries[case.id] = {"status": "ok", "files": files, "backend": case.backend,
                            "pipeline": case.pipeline, **extra, **override.get(case.id, {})}
    (d / "manifest.json").write_text(json.dumps({"cases": entries}))
    return d


def case_map(shape: str, entries: dict[str, tuple[str, str, list[str]]]) -> bytes:
    """A case_map.json in one of the three shapes (sglang's real one; gt-gen's; flat)."""
    if shape == "sglang":
        obj: Any = {"bundle_date": "2026-04-25", "active_gt_replacement": False,
                    "cases": {c: {"source": s, "script": sc, "outputs": o} for c, (s, sc, o) in entries.items()}}
    elif shape == "gtgen":
        obj = {"cases": {c: o for c, (_, _, o) in entries.items()}}
    else:
        obj = {c: o for c, (_, _, o) in entries.items()}
    return json.dumps(obj, indent=4).encode()


def sglang_official(shape: str, tmp: Path, *cases: Case) -> dict[str, bytes]:
    """sglang's official folder for ``cases``: GT files (no manifest) and a case map naming the
    implementation of each as the real one does."""
    source = {WAN.id: ("wan2.1_official_repo", WAN_SCRIPT),
              LTX.id: ("ltx_official_repo", "repro_scripts/gen_official_ltx23.py"),
              QWEN.id: ("diffusers", "repro_scripts/gen_official_diffusion_gt.py")}
    files: dict[str, bytes] = {}
    entries = {}
    for case in cases:
        fr = frames_of(case, seed=7)
        if case.modality == "video":
            names = key_frame_names(case)
            for k, n in names.items():
                files[f"{OFFICIAL}/{n}"] = png_bytes(fr[k], tmp / "sg" / n)
            outputs = list(names.values())
        else:  # sglang's image GT is a .jpg
            import cv2

            n = f"{case.id}_{case.gpus}gpu.jpg"
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(fr["first"], cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
            assert ok
            files[f"{OFFICIAL}/{n}"] = buf.tobytes()
            outputs = [n]
        entries[case.id] = (*source[case.id], outputs)
    files[f"{OFFICIAL}/case_map.json"] = case_map(shape, entries)
    return files


def seed_repo(tmp: Path, files: dict[str, bytes]) -> Path:
    """A bare repository whose main holds ``files`` (one commit)."""
    work = tmp / "seed"
    gitutil.git("init", "-q", "-b", "main", str(work))
    for rel, data in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(data)
    gitutil.git("add", "-A", cwd=work)
    gitutil.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "seed", cwd=work)
    repo = tmp / "ci-data.git"
    gitutil.git("clone", "-q", "--bare", str(work), str(repo))
    return repo


def main_head(repo: Path) -> str:
    return gitutil.out("rev-parse", "main", cwd=repo)


def show(repo: Path, rel: str) -> Any:
    return json.loads(gitutil.git("show", f"main:{rel}", cwd=repo).stdout)


def cli_run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = cli.main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def publish_args(src: Path, repo: Path, *cases: Case, target: str = "official_generated") -> list[str]:
    return ["publish", "--source", str(src), "--target", target, "--repo", str(repo),
            "--source-ref", "refs/heads/main", *[a for c in cases for a in ("--case", c.id)]]


# -- publish --------------------------------------------------------------------------------
def refused(capsys, src: Path, repo: Path, *extra: str) -> None:
    """Publishing gt-gen's Wan GT over ``repo`` is refused: one line naming the case and both
    implementations, exit 2, no commit."""
    before = main_head(repo)
    rc, out, err = cli_run(capsys, *publish_args(src, repo, WAN), *extra)
    assert rc == 2 and err.count("\n") == 1, out + err
    assert WAN.id in err and "wan2.1_official_repo" in err and "by diffusers" in err
    assert "--replace-implementation" in err
    assert main_head(repo) == before


@pytest.mark.parametrize("shape", SHAPES)
def test_publishing_over_sglangs_wan_gt_is_refused(shape: str, tmp_path: Path, capsys) -> None:
    """sglang's Wan GT (WanT2V) is never replaced by gt-gen's diffusers GT silently, whatever the
    case map's shape (an unmarked entry is sglang's, made as the registry says); --check-only
    (the workflow's validate job) is refused alike."""
    repo = seed_repo(tmp_path, sglang_official(shape, tmp_path, WAN))
    src = generate_dir(tmp_path, [WAN])
    refused(capsys, src, repo)
    refused(capsys, src, repo, "--check-only", "--allow-drift")


@pytest.mark.parametrize("shape", ["sglang", pytest.param("gtgen", marks=pytest.mark.slow),
                                   pytest.param("flat", marks=pytest.mark.slow)])
def test_replace_implementation_replaces_and_records(shape: str, tmp_path: Path, capsys) -> None:
    """The flag replaces sglang's Wan GT, records what it replaced (entry, commit message), and a
    republish of the same implementation then needs no flag."""
    repo = seed_repo(tmp_path, sglang_official(shape, tmp_path, WAN, LTX))
    src = generate_dir(tmp_path, [WAN])
    # Another implementation's GT differs: the drift gate still asks for its own flag.
    rc, out, err = cli_run(capsys, *publish_args(src, repo, WAN), "--replace-implementation", "--allow-drift")
    assert rc == 0, out + err
    assert f"replaced {WAN.id}: GT made by wan2.1_official_repo replaced by diffusers" in out
    cmap = show(repo, f"{OFFICIAL}/case_map.json")
    table = cmap if shape == "flat" else cmap["cases"]
    entry = table[WAN.id]
    assert entry["source"] == "diffusers" and entry["implementation"] == WAN.implementation
    assert (entry["backend"], entry["pipeline"], entry["precision"]) == ("diffusers", "WanPipeline", "bf16")
    assert entry["outputs"] == sorted(key_frame_names(WAN).values()) and entry["published_by"] == "gt-gen"
    assert entry["replaced"]["source"] == "wan2.1_official_repo"
    assert "script" not in entry  # sglang's script made the replaced GT, not this one
    if shape == "sglang":
        assert entry["replaced"]["script"] == WAN_SCRIPT and cmap["bundle_date"] == "2026-04-25"
        assert table[LTX.id]["script"] == "repro_scripts/gen_official_ltx23.py"  # untouched
    else:
        assert table[LTX.id] == list(key_frame_names(LTX).values())  # other entries keep their shape
    assert parse_case_map(json.dumps(cmap).encode(), "cm")[WAN.id] == entry["outputs"]
    manifest = show(repo, f"{OFFICIAL}/manifest.json")["files"]
    assert {manifest[n]["implementation_source"] for n in key_frame_names(WAN).values()} == {"diffusers"}
    msg = gitutil.out("log", "-1", "--format=%B", "main", cwd=repo)
    assert f"replaced-implementation: {WAN.id}: wan2.1_official_repo -> diffusers" in msg
    assert f"implementation: {WAN.id}: diffusers" in msg

    after = main_head(repo)
    rc, out, err = cli_run(capsys, *publish_args(src, repo, WAN))  # same implementation: no flag
    assert rc == 0 and "unchanged" in out, out + err
    assert main_head(repo) == after


def test_same_implementation_republish_keeps_sglangs_bookkeeping(tmp_path: Path, capsys) -> None:
    """LTX GT comes from the implementation sglang uses too: published without a flag, sglang's
    script kept, the implementation added."""
    repo = seed_repo(tmp_path, sglang_official("sglang", tmp_path, WAN, LTX))
    src = generate_dir(tmp_path, [LTX], seed=7)
    rc, out, err = cli_run(capsys, *publish_args(src, repo, LTX))
    assert rc == 0, out + err
    cmap = show(repo, f"{OFFICIAL}/case_map.json")
    ltx = cmap["cases"][LTX.id]
    assert ltx["source"] == "ltx_official_repo" and ltx["script"] == "repro_scripts/gen_official_ltx23.py"
    assert ltx["backend"] == "ltx_official" and ltx["pipeline"] == "one_stage" and "replaced" not in ltx
    assert ltx["precision"] == "bf16" and ltx["published_by"] == "gt-gen"
    assert "implementation" not in ltx  # the LTX manifest records no implementation sentence
    assert cmap["cases"][WAN.id]["source"] == "wan2.1_official_repo"  # not selected: untouched


@pytest.mark.slow
def test_sglangs_jpg_goes_with_a_png_of_the_same_implementation(tmp_path: Path, capsys) -> None:
    """Qwen-Image GT comes from diffusers on both sides: published without a flag, and
    sglang's .jpg, which its lookup would read before gt-gen's .png, goes with the publish."""
    repo = seed_repo(tmp_path, sglang_official("sglang", tmp_path, WAN, QWEN))
    src = generate_dir(tmp_path, [QWEN], seed=7)
    rc, out, err = cli_run(capsys, *publish_args(src, repo, QWEN))
    assert rc == 0, out + err
    cmap = show(repo, f"{OFFICIAL}/case_map.json")
    qwen = cmap["cases"][QWEN.id]
    assert qwen["source"] == "diffusers" and qwen["outputs"] == [f"{QWEN.id}_1gpu.png"]
    assert qwen["implementation"] == QWEN.implementation
    tree = gitutil.out("ls-tree", "-r", "--name-only", "main", cwd=repo).splitlines()
    assert f"{OFFICIAL}/{QWEN.id}_1gpu.png" in tree and f"{OFFICIAL}/{QWEN.id}_1gpu.jpg" not in tree
    assert cmap["cases"][WAN.id]["source"] == "wan2.1_official_repo"  # not selected: untouched


def test_sglang_generated_gt_without_a_mark_is_sglangs_own(tmp_path: Path, capsys) -> None:
    """GT in sglang_generated with no case_map entry was made by sglang itself: official GT
    does not replace it silently either."""
    files = {f"{SGLANG}/{n}": png_bytes(frames_of(LTX, 3)[k], tmp_path / "s" / n)
             for k, n in key_frame_names(LTX).items()}
    files[f"{SGLANG}/case_map.json"] = b'{"bundle_date": "2026-05-01", "cases": {}}'
    repo = seed_repo(tmp_path, files)
    src = generate_dir(tmp_path, [LTX], seed=3)
    rc, out, err = cli_run(capsys, *publish_args(src, repo, LTX, target="sglang_generated"))
    assert rc == 2 and LTX.id in err and "made by sglang " in err and "by ltx_official_repo" in err, err


@pytest.mark.parametrize(("field", "value"), [("backend", "ltx_official"), ("pipeline", "WanImageToVideoPipeline"),
                                              ("dtype", "fp32"), ("implementation", "Wan2.1 WanT2V"),
                                              ("implementation", 3), ("backend", "")])
def test_generate_manifest_contradicting_the_registry_is_refused(field: str, value: Any, tmp_path: Path) -> None:
    repo = seed_repo(tmp_path, {"README.md": b"x"})
    src = generate_dir(tmp_path, [WAN], **{WAN.id: {field: value}})
    pub = Publisher(str(repo), "main", "official_generated", None, Provenance())
    with pytest.raises(IntegrityError) as info:
        pub.publish(src, [WAN])
    assert WAN.id in info.value.one_line() and "\n" not in info.value.one_line()
    assert gitutil.out("rev-list", "--count", "main", cwd=repo) == "1"


# -- who made the GT already there ----------------------------------------------------------
def _files(case: Case, **marks: str | None) -> dict[str, Any]:
    return {n: {"sha256": "0" * 64, "case": case.id, **({"implementation_source": marks[n]} if marks.get(n) else {})}
            for n in key_frame_names(case).values()}


def test_existing_gt_is_told_by_entry_then_manifest_then_registry() -> None:
    names = list(key_frame_names(WAN).values())
    got = provenance.existing(WAN, "official_generated", {"source": "wan2.1_official_repo", "outputs": names},
                              {}, names, "cm")
    assert got and (got.source, got.declared_by) == ("wan2.1_official_repo", "case_map source")
    got = provenance.existing(WAN, "official_generated", names, {}, names, "cm")  # a list entry: sglang's
    assert got and got.source == "wan2.1_official_repo" and "registry" in got.declared_by
    got = provenance.existing(LTX, "official_generated", None, {}, list(key_frame_names(LTX).values()), "cm")
    assert got and got.source == "ltx_official_repo"
    got = provenance.existing(WAN, "official_generated", names, _files(WAN, **dict.fromkeys(names, "diffusers")),
                              names, "cm")
    assert got and (got.source, got.declared_by) == ("diffusers", "manifest")
    for legacy in ({"source": "gt-gen", "outputs": names}, names):  # what an older gt-gen left
        got = provenance.existing(WAN, "official_generated", legacy, _files(WAN) if legacy is names else {},
                                  names, "cm")
        assert got and got.source == "diffusers" and "older gt-gen" in got.declared_by
    got = provenance.existing(LTX, "sglang_generated", None, {}, list(key_frame_names(LTX).values()), "cm")
    assert got and got.source == "sglang"
    assert provenance.existing(WAN, "official_generated", None, {}, [], "cm") is None


@pytest.mark.parametrize("how", ["entry_vs_manifest", "two_files", "legacy_files_under_wan21_entry",
                                 "source_not_a_name"])
def test_contradictory_provenance_fails_closed(how: str) -> None:
    names = list(key_frame_names(WAN).values())
    entry: Any = {"source": "wan2.1_official_repo", "outputs": names}
    files = _files(WAN, **dict.fromkeys(names, "diffusers"))
    if how == "two_files":
        entry, files = names, _files(WAN, **{names[0]: "diffusers", names[1]: "wan2.1_official_repo"})
    elif how == "legacy_files_under_wan21_entry":  # an older gt-gen put diffusers GT under sglang's entry
        files = _files(WAN)
    elif how == "source_not_a_name":
        entry, files = {"source": ["x"], "outputs": names}, {}
    with pytest.raises(IntegrityError) as info:
        provenance.existing(WAN, "official_generated", entry, files, names, "f/case_map.json")
    line = info.value.one_line()
    assert WAN.id in line and "\n" not in line


def test_registry_field_is_a_name(tmp_path: Path) -> None:
    d = tmp_path / "cases"
    d.mkdir()
    good = case_toml("c", official=True, width=64, height=64, num_frames=9)
    (d / "g.toml").write_text(good.replace('runner = "r"', 'runner = "r"\nsglang_gt_source = "wan2.1_official_repo"'))
    case = load_registry(d).get("c")
    assert (case.gt_source, case.sglang_gt) == ("ltx_official_repo", "wan2.1_official_repo")
    for bad in ("../x", "a b", "", "x" * 101):
        (d / "g.toml").write_text(good.replace('runner = "r"', f'runner = "r"\nsglang_gt_source = "{bad}"'))
        if bad == "":  # empty: the implementation gt-gen runs
            assert load_registry(d).get("c").sglang_gt == "ltx_official_repo"
            continue
        with pytest.raises(ConfigError, match="sglang_gt_source"):
            load_registry(d)


_texts = st.one_of(st.text(max_size=60), st.sampled_from(["../../etc/passwd", "/abs", "a\nb", "x" * 300,
                                                          "diffusers", "wan2.1_official_repo", "", " ",
                                                          "\u202egt", "\"quoted\"", "\\", "gt-gen"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sentence=_texts, old_source=st.one_of(st.none(), _texts), shape=st.sampled_from(SHAPES),
       replace=st.booleans())
def test_implementation_strings_are_names_never_paths(sentence: str, old_source: str | None, shape: str,
                                                      replace: bool, tmp_path_factory) -> None:
    """Any implementation string, in the generate manifest or in the case map already there:
    written as a JSON string the strict reader gives back unchanged, compared as a whole,
    printed on one line, and never a path (the folder holds only the case's files)."""
    tmp = tmp_path_factory.mktemp("h")
    case = dataclasses.replace(WAN, implementation=sentence, sglang_gt_source="")
    names = sorted(key_frame_names(case).values())
    work = tmp / "work"
    d = work / OFFICIAL
    d.mkdir(parents=True)
    # No source: an unmarked list entry (sglang's, made as the registry says: diffusers here).
    old: Any = names if old_source is None else {"source": old_source, "outputs": names}
    cm = json.dumps({"bundle_date": "d", "cases": {case.id: old}} if shape == "sglang" else
                    {"cases": {case.id: old}} if shape == "gtgen" else {case.id: old}).encode()
    (d / "case_map.json").write_bytes(cm)
    assert raw_entries(cm, "cm")[case.id] == old
    blobs = {n: n.encode() for n in names}  # written, not decoded: the quality gate ran before
    gen = {"backend": "diffusers", "pipeline": case.pipeline, "dtype": "bf16", "implementation": sentence}
    pub = Publisher(str(tmp / "unused.git"), "main", "official_generated", None, Provenance())
    pub.replace_implementation = replace
    try:
        pub.impls = {case.id: provenance.new_gt(case, gen, "manifest.json")}
        pub._apply(work, {case.id: blobs}, [case])
    except (IntegrityError, UsageError) as exc:
        line = exc.one_line()
        assert "\n" not in line and case.id in line
        bad_sentence = not sentence.strip() or len(sentence) > provenance.MAX_DETAIL
        bad_old = old_source is not None and (not old_source.strip() or len(old_source) > 200)
        other = old_source not in (None, "diffusers", "gt-gen")
        assert bad_sentence or bad_old or (other and not replace and isinstance(exc, UsageError))
        assert sorted(p.name for p in d.iterdir()) == ["case_map.json"]  # nothing written
        return
    written = jsonio.loads((d / "case_map.json").read_bytes(), "cm")
    new = (written if shape == "flat" or "cases" not in written else written["cases"])[case.id]
    assert new["implementation"] == sentence and new["source"] == "diffusers"
    assert ("replaced" in new) == (old_source not in (None, "diffusers", "gt-gen"))
    if "replaced" in new:
        assert new["replaced"]["source"] == old_source
    assert sorted(p.name for p in d.iterdir()) == sorted([*names, "case_map.json", "manifest.json"])
    assert not any(p for p in work.rglob("*") if p.is_file() and p.parent != d)


# -- fetch / compare: told, never another verdict ---------------------------------------------
def gt_dir(tmp: Path, shape: str, *, manifest_source: str | None = None) -> Path:
    """A plain directory in ci-data's layout holding sglang's official Wan and LTX GT."""
    root = tmp / f"cidata-{shape}"
    for rel, data in sglang_official(shape, tmp, WAN, LTX).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    if manifest_source is not None:  # as if gt-gen had published the Wan frames, marked so
        d = root / OFFICIAL
        files = {n: {"sha256": hashlib.sha256((d / n).read_bytes()).hexdigest(), "case": WAN.id,
                     "implementation_source": manifest_source} for n in key_frame_names(WAN).values()}
        files.update({n: {"sha256": hashlib.sha256((d / n).read_bytes()).hexdigest(), "case": LTX.id}
                      for n in key_frame_names(LTX).values()})
        (d / "manifest.json").write_text(json.dumps({"schema_version": 1, "files": files}))
    return root


def candidate_dir(root: Path, tmp: Path) -> Path:
    cand = tmp / "cand"
    cand.mkdir()
    for case in (WAN, LTX):
        for n in key_frame_names(case).values():
            (cand / n).write_bytes((root / OFFICIAL / n).read_bytes())
    return cand


@pytest.mark.parametrize("shape", SHAPES)
def test_fetch_and_compare_tell_the_gts_implementation(shape: str, tmp_path: Path, capsys) -> None:
    """sglang's Wan GT is compared as sglang compares it (passed against itself), and
    results.json / fetch.json say it was made by the Wan2.1 repository, not by the diffusers
    release gt-gen runs for the case; the LTX GT's implementation is the registry's."""
    root = gt_dir(tmp_path, shape)
    sel = ["--case", WAN.id, "--case", LTX.id]
    fetched = tmp_path / "fetched"
    rc, out, err = cli_run(capsys, "fetch", *sel, "--group", "all", "--source", str(root), "--out", str(fetched))
    assert rc == 0, out + err
    assert f"note: {WAN.id}: GT made by wan2.1_official_repo" in out
    rec = json.loads((fetched / "fetch.json").read_text())["cases"]
    assert rec[WAN.id]["gt_implementation"]["source"] == "wan2.1_official_repo"
    assert rec[WAN.id]["gt_implementation"]["same_as_registry"] is False
    assert rec[LTX.id]["gt_implementation"]["same_as_registry"] is True
    cand = candidate_dir(root, tmp_path)
    for gt, declared in ((root, "case_map source" if shape == "sglang" else "no mark"), (fetched, "fetch.json")):
        out_dir = tmp_path / f"cmp-{gt.name}"
        rc, out, err = cli_run(capsys, "compare", *sel, "--group", "all", "--gt", str(gt), "--candidate", str(cand),
                               "--out", str(out_dir), "--clip-model", "none", "--no-save-frames")
        assert rc == 0, out + err  # sglang's verdict, unchanged
        cases = {c["case_id"]: c for c in json.loads((out_dir / "results.json").read_text())["cases"]}
        wan, ltx = cases[WAN.id], cases[LTX.id]
        assert wan["status"] == ltx["status"] == "passed"
        assert wan["gt_implementation"]["source"] == "wan2.1_official_repo"
        assert wan["gt_implementation"]["declared_by"].startswith(declared)
        assert wan["gt_implementation"]["registry"] == "diffusers"
        assert "another official implementation (verdict unchanged)" in wan["message"]
        assert ltx["gt_implementation"]["source"] == "ltx_official_repo" and "implementation" not in ltx["message"]
        assert "wan2.1_official_repo" in (out_dir / "summary.md").read_text()


def test_contradictory_gt_provenance_is_never_compared(tmp_path: Path, capsys) -> None:
    """The case map says WanT2V made the Wan GT, the folder manifest says diffusers: exit 2,
    nothing written, for fetch and compare alike. Marked consistently, it is compared."""
    root = gt_dir(tmp_path, "sglang", manifest_source="diffusers")
    cand = candidate_dir(root, tmp_path)
    rc, out, err = cli_run(capsys, "fetch", "--case", WAN.id, "--group", "all", "--source", str(root),
                           "--out", str(tmp_path / "f"))
    assert rc == 2 and "contradictory" in err and WAN.id in err and not (tmp_path / "f").exists()
    rc, out, err = cli_run(capsys, "compare", "--case", WAN.id, "--group", "all", "--gt", str(root),
                           "--candidate", str(cand), "--out", str(tmp_path / "c"), "--clip-model", "none")
    assert rc == 2 and "contradictory" in err and not (tmp_path / "c").exists()
    good = gt_dir(tmp_path / "ok", "sglang", manifest_source="wan2.1_official_repo")
    rc, out, err = cli_run(capsys, "compare", "--case", WAN.id, "--group", "all", "--gt", str(good),
                           "--candidate", str(cand), "--out", str(tmp_path / "c2"), "--clip-model", "none")
    assert rc == 0, out + err
