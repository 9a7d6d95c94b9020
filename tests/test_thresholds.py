"""Thresholds: sglang's format and both its layouts load unchanged; platform aliases resolve as
sglang's CI names them; a missing platform is an error; every bad value is refused, named."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_gen.errors import ConfigError, GtGenError, UsageError
from gt_gen.thresholds import (PLATFORM_ALIASES, RANGES, Thresholds, canonical_platform, find_layout,
                               load_thresholds, parse_threshold_data)

# A file in sglang's exact legacy format (no schema_version, _comment, audio defaults).
SGLANG_FILE = {
    "_comment": "Consistency thresholds for diffusion CI",
    "default_clip_threshold_image": 0.92, "default_ssim_threshold_image": 0.95,
    "default_psnr_threshold_image": 28, "default_mean_abs_diff_threshold_image": 8,
    "default_clip_threshold_video": 0.90, "default_ssim_threshold_video": 0.92,
    "default_psnr_threshold_video": 24, "default_mean_abs_diff_threshold_video": 10,
    "default_audio_spectral_similarity_threshold": 0.9,
    "default_audio_waveform_correlation_threshold": 0.8,
    "default_audio_rms_db_diff_threshold": 3.0, "default_audio_duration_diff_threshold": 0.1,
    "cases": {
        "ltx_2_two_stage_t2v": {"clip_threshold": 0.9, "ssim_threshold": 0.89,
                                "psnr_threshold": 22, "mean_abs_diff_threshold": 12},
        "wan_video": {"clip_threshold": 0.8, "ssim_threshold": 0.12, "psnr_threshold": 10,
                      "mean_abs_diff_threshold": 60},
    },
}


def _gates(clip: float, ssim: float, psnr: float, mad: float) -> dict[str, float]:
    return {"clip_threshold": clip, "ssim_threshold": ssim, "psnr_threshold": psnr,
            "mean_abs_diff_threshold": mad}


# sglang's current layout, python/sglang/multimodal_gen/test/server/consistency_thresholds/:
# h100.json is the base (defaults + every case), the other files carry only "cases". Values
# copied from sglang's files (facts, a subset of the cases).
SGLANG_H100 = {
    "_comment": "Some cases use lower thresholds; raise them if quality/perf improves later.",
    "cases": {
        "zimage_image_t2i": _gates(0.97, 0.86, 19.3, 9.8),
        "wan2_1_t2v_1.3b": _gates(0.97, 0.85, 25.0, 8.0),
        "qwen_image_t2i_2_gpus": _gates(0.97, 0.95, 30.0, 4.0),
        "fsdp-inference": _gates(0.97, 0.95, 30.0, 4.0),
        "ltx_2_two_stage_t2v": _gates(0.97, 0.89, 30.0, 5.9),
        "ltx_2.3_one_stage_ti2v": _gates(0.87, 0.78, 20.5, 11.0),
        "ltx_2.3_two_stage_t2v_2gpus": _gates(0.94, 0.45, 16.0, 27.5),
        "ltx_2_3_hq_pipeline": _gates(0.995, 0.995, 50.0, 0.5),
        "ltx_2_3_two_stage_ti2v_2gpus": _gates(0.55, 0.29, 11.7, 47.0),
    },
    "default_clip_threshold_image": 0.92, "default_clip_threshold_video": 0.90,
    "default_ssim_threshold_image": 0.95, "default_psnr_threshold_image": 28.0,
    "default_mean_abs_diff_threshold_image": 8.0, "default_ssim_threshold_video": 0.92,
    "default_psnr_threshold_video": 24.0, "default_mean_abs_diff_threshold_video": 10.0,
    "default_audio_spectral_similarity_threshold": 0.95,
    "default_audio_waveform_correlation_threshold": 0.90,
    "default_audio_rms_db_diff_threshold": 2.0, "default_audio_duration_diff_threshold": 0.1,
}
SGLANG_OVERLAYS = {
    "5090": {"cases": {"zimage_image_t2i": _gates(0.92, 0.86, 19.5, 8.5),
                       "wan2_1_t2v_1.3b": _gates(0.95, 0.85, 25.0, 8.0)}},
    "b200": {"_comment": "B200 ModelOpt NVFP4 cases should use strict defaults.",
             "cases": {"flux2_modelopt_nvfp4_t2i": _gates(0.92, 0.95, 28.0, 8.0),
                       "wan22_modelopt_nvfp4_t2v": _gates(0.90, 0.92, 24.0, 10.0)}},
    "gfx1250": {"_comment": "MI455x / gfx1250. Overlays h100.json.", "cases": {}},
    "intel_xpu_b60": {"cases": {"qwen_image_t2i_2_gpus": _gates(0.98, 0.79, 15.7, 17.2),
                                "fsdp-inference": _gates(0.97, 0.6, 11.0, 37.0)}},
}
#: Every alias and canonical name gt-gen accepts, by the platform it names.
ALIASES = sorted({(alias, canon) for canon in set(PLATFORM_ALIASES.values())
                  for alias in [canon, canon.upper(), *(k for k, v in PLATFORM_ALIASES.items() if v == canon)]}
                 | {("RTX 5090", "5090"), ("NVIDIA GeForce RTX 5090", "5090"), ("sm_120", "5090"),
                    ("SM120", "5090"), ("rtx-5090", "5090"), ("NPU", "ascend"), ("MI455X", "gfx1250"),
                    ("xpu_b60", "intel_xpu_b60")})


def write(tmp_path: Path, obj: object, name: str = "consistency_threshold.json") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def sglang_current(root: Path, overlays: dict | None = None, base: dict | None = None) -> Path:
    """A ``consistency_thresholds/`` folder in sglang's current layout under ``root``."""
    d = root / "consistency_thresholds"
    write(d, base or SGLANG_H100, "h100.json")
    for plat, data in (SGLANG_OVERLAYS if overlays is None else overlays).items():
        write(d, data, f"{plat}.json")
    return d


def test_sglang_file_loads_unchanged(tmp_path: Path) -> None:
    th = load_thresholds(write(tmp_path, SGLANG_FILE))
    assert th.layout == "legacy" and th.platform is None
    g = th.gates("ltx_2_two_stage_t2v", "video")
    assert g["ssim"].value == 0.89 and g["ssim"].source == "case"
    d = th.gates("other", "image")
    assert (d["clip"].value, d["ssim"].value, d["psnr"].value, d["mean_abs_diff"].value) == (0.92, 0.95, 28, 8)
    assert th.base.audio_defaults["default_audio_rms_db_diff_threshold"] == 3.0


def test_shipped_file_has_ltx20_gate() -> None:
    th = load_thresholds()
    assert th.gates("ltx_2_two_stage_t2v", "video")["ssim"].value == 0.89
    assert load_thresholds(None, "H100").platform == "h100"  # the shipped h100 overlay exists


def test_legacy_overlay_replaces_whole_entry(tmp_path: Path) -> None:
    base = write(tmp_path, SGLANG_FILE)
    write(tmp_path, {"cases": {"ltx_2_two_stage_t2v": {"ssim_threshold": 0.8}}}, "platforms/h100.json")
    th = load_thresholds(base, "h100")
    g = th.gates("ltx_2_two_stage_t2v", "video")
    assert g["ssim"].value == 0.8 and g["ssim"].source == "platform:h100"
    # Whole-entry replacement: the base entry's PSNR 22 is not inherited; the default applies.
    assert g["psnr"].value == 24 and g["psnr"].source == "default"
    assert th.files == (str(base), str(tmp_path / "platforms" / "h100.json"))


@pytest.mark.parametrize("layout", ["legacy", "current"])
def test_named_platform_without_overlay_is_an_error(tmp_path: Path, layout: str) -> None:
    """Never the base gates in silence: the missing file and what exists are named."""
    spec = write(tmp_path, SGLANG_FILE) if layout == "legacy" else sglang_current(tmp_path)
    if layout == "legacy":
        write(tmp_path, {"cases": {}}, "platforms/5090.json")
    with pytest.raises(ConfigError) as info:
        load_thresholds(spec, "npu")  # alias of ascend: sglang ships no ascend.json
    msg = info.value.one_line()
    assert "'ascend'" in msg and "from 'npu'" in msg and "ascend.json" in msg and "5090" in msg
    assert "refusing to fall back" in msg


@pytest.mark.parametrize(("alias", "canon"), ALIASES)
def test_current_layout_every_platform_and_alias(tmp_path: Path, alias: str, canon: str) -> None:
    """sglang's consistency_thresholds/: h100.json the base, <platform>.json merged over it."""
    folder = sglang_current(tmp_path, {**SGLANG_OVERLAYS, "ascend": {"cases": {}}})
    th = load_thresholds(folder, alias)
    assert th.layout == "current" and th.platform == canon
    overlay = SGLANG_OVERLAYS.get(canon, {"cases": {}})["cases"] if canon != "h100" else {}
    for cid in sorted(set(SGLANG_H100["cases"]) | set(overlay)):
        modality = "image" if "image" in cid or "t2i" in cid else "video"
        g = th.gates(cid, modality)
        if cid in overlay:
            want, src = overlay[cid], f"platform:{canon}"
        elif cid in SGLANG_H100["cases"]:
            want, src = SGLANG_H100["cases"][cid], "case"
        else:
            raise AssertionError(cid)
        assert {m: g[m].value for m in g} == {k[: -len("_threshold")]: v for k, v in want.items()}, cid
        assert {g[m].source for m in g} == {src}
    d = th.gates("no_entry_case", "image")  # h100.json's defaults, kept under every overlay
    assert (d["clip"].value, d["psnr"].value, d["clip"].source) == (0.92, 28.0, "default")
    assert th.files[0].endswith("h100.json") and len(th.files) == (1 if canon == "h100" else 2)


def test_current_layout_entry_points(tmp_path: Path) -> None:
    """The folder, its parent, h100.json or another platform's file: all the same layout."""
    folder = sglang_current(tmp_path)
    for spec in (folder, tmp_path, folder / "h100.json"):
        assert find_layout(spec).kind == "current"
        assert load_thresholds(spec, "RTX5090").gates("zimage_image_t2i", "image")["psnr"].value == 19.5
    th = load_thresholds(folder / "5090.json")  # the file names the platform
    assert th.platform == "5090" and th.gates("zimage_image_t2i", "image")["psnr"].value == 19.5
    assert load_thresholds(folder / "5090.json", "sm120").platform == "5090"  # same platform: fine
    with pytest.raises(UsageError, match="names the '5090' overlay"):
        load_thresholds(folder / "5090.json", "b200")
    assert load_thresholds(folder / "h100.json").platform is None


def test_current_layout_merge_keeps_base_defaults(tmp_path: Path) -> None:
    """As sglang's _merge_threshold_metadata unit test: the overlay's case wins, the base's
    top-level defaults stay."""
    folder = sglang_current(tmp_path, {"b200": {"cases": {"case_a": _gates(0.8, 0.7, 12.0, 20.0)}}},
                           base={"cases": {"case_a": _gates(0.9, 0.9, 20.0, 10.0)},
                                 "default_clip_threshold_image": 0.92})
    th = load_thresholds(folder, "b200")
    assert th.gates("case_a", "image")["psnr"].value == 12.0
    assert th.gates("case_b", "image")["clip"].value == 0.92


def test_current_layout_refuses_a_partial_overlay_entry(tmp_path: Path) -> None:
    """Inherit-from-h100 or fall-to-default would differ here: refused, case and file named."""
    folder = sglang_current(tmp_path, {"5090": {"cases": {"wan2_1_t2v_1.3b": {"ssim_threshold": 0.8}}}})
    with pytest.raises(ConfigError) as info:
        load_thresholds(folder, "5090")
    msg = info.value.one_line()
    assert "5090.json" in msg and "cases.wan2_1_t2v_1.3b" in msg and "psnr_threshold" in msg
    # An entry for a case h100.json does not know may be partial: no ambiguity there.
    sglang_current(tmp_path, {"5090": {"cases": {"new_case": {"ssim_threshold": 0.8}}}})
    assert load_thresholds(folder, "5090").gates("new_case", "video")["psnr"].source == "default"


def test_folder_with_neither_layout(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="neither h100.json"):
        load_thresholds(tmp_path)


@pytest.mark.parametrize("name", ["sm120", "SM_120", "RTX 5090", "NVIDIA GeForce RTX 5090", "rtx-5090", "5090"])
def test_5090_aliases(name: str) -> None:
    assert canonical_platform(name) == "5090"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_platform_names_are_names_never_paths(name: str) -> None:
    """Any input maps to a known platform or a safe file name, or is refused (exit 2)."""
    try:
        out = canonical_platform(name)
    except ConfigError:
        return
    if out is None:
        assert name == ""
    else:
        assert out in PLATFORM_ALIASES.values() or out == name
        assert "/" not in out and "\\" not in out and ".." not in out and not out.startswith(".")


@pytest.mark.parametrize(("text", "needle"), [
    ('{"cases": {"a": {"ssim_threshold": 0.9, "ssim_threshold": -1.0}}}', "duplicate key 'ssim_threshold'"),
    ('{"default_ssim_threshold_video": 0.9, "default_ssim_threshold_video": 0.1}', "duplicate key"),
    ('{"cases": {"a": {"ssim_threshold": -Infinity}}}', "-Infinity is not allowed"),
    ('{"cases": {"a": {"psnr_threshold": NaN}}}', "NaN is not allowed"),
    ('{"cases": {"a": {"psnr_threshold": Infinity}}}', "Infinity is not allowed"),
    ('{"cases": {"a": {"psnr_threshold": 1e999}}}', "cases.a.psnr_threshold is inf"),
    ('{"cases": {"a": {"mean_abs_diff_threshold": -1e999}}}', "cases.a.mean_abs_diff_threshold is -inf"),
    ('{"cases": {"a": {"psnr_threshold": ' + "9" * 5000 + "}}}", "digits is not allowed"),
    ('{"cases": ' + "[" * 200 + "]" * 200 + "}", "nested deeper"),
    ('{"cases": {"../x": {"ssim_threshold": 0.9}}}', "invalid case id '../x'"),
    ('{"schema_version": 0}', "schema_version 0"),
    ('{"schema_version": true}', "schema_version True"),
    ('{"default_audio_rms_db_diff_threshold": -2}', "default_audio_rms_db_diff_threshold=-2 is outside"),
    ('{"cases": {"a": {"audio_waveform_correlation_threshold": "high"}}}',
     "cases.a.audio_waveform_correlation_threshold must be a number"),
    ("[1, 2]", "must hold a JSON object"),
    ('{"cases": {', "malformed JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
])
def test_bad_thresholds_files_are_refused_naming_file_and_field(tmp_path: Path, text, needle: str) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as info:
        load_thresholds(path)
    msg = info.value.one_line()
    assert needle in msg and str(path) in msg


@pytest.mark.parametrize(("metric", "value"), [
    ("ssim", -0.5), ("ssim", 0.0), ("ssim", 1.5), ("clip", -0.2), ("clip", 0), ("psnr", 0), ("psnr", -3),
    ("psnr", 250), ("mean_abs_diff", -1), ("mean_abs_diff", 255), ("mean_abs_diff", 1e6),
])
def test_gates_outside_the_sensible_range(tmp_path: Path, metric: str, value: float) -> None:
    for key in (f"default_{metric}_threshold_video", "cases"):
        data = {key: value} if key != "cases" else {"cases": {"c": {f"{metric}_threshold": value}}}
        with pytest.raises(ConfigError, match="outside") as info:
            load_thresholds(write(tmp_path, data, "t.json"))
        assert "t.json" in info.value.one_line()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(RANGES)), st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_a_gate_loads_exactly_when_it_is_sensible(metric: str, value: float) -> None:
    data = {"cases": {"c": {f"{metric}_threshold": value}}, f"default_{metric}_threshold_image": value}
    try:
        tf = parse_threshold_data(data, "t.json")
    except ConfigError as exc:
        assert not RANGES[metric].contains(value) and "t.json" in exc.one_line()
        return
    assert RANGES[metric].contains(value)
    th = Thresholds(base=tf)
    assert th.gates("c", "video")[metric].value == value == th.gates("d", "image")[metric].value


@pytest.mark.parametrize("kind", ["fifo", "devzero", "dir", "missing"])
def test_non_files_are_refused_without_reading(tmp_path: Path, kind: str) -> None:
    """A FIFO would hang a read and /dev/zero never end: refused by their type first."""
    if kind == "fifo":
        path = tmp_path / "fifo.json"
        os.mkfifo(path)
    elif kind == "devzero":
        path = Path("/dev/zero")
    elif kind == "dir":
        path = tmp_path / "platforms"  # a folder of neither layout
        path.mkdir()
    else:
        path = tmp_path / "nope.json"
    with pytest.raises(GtGenError) as info:
        load_thresholds(path)
    assert info.value.exit_code == 2 and str(path) in info.value.one_line()
    # The same as an overlay: a FIFO h100.json in a consistency_thresholds/ folder.
    folder = tmp_path / "x" / "consistency_thresholds"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "h100.json")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_thresholds(folder)


def test_gate_direction_and_inf() -> None:
    g = load_thresholds().gates("x", "video")
    assert g["psnr"].passes(math.inf) and not g["psnr"].passes(10)
    assert g["mean_abs_diff"].passes(0.0) and not g["mean_abs_diff"].passes(50)
    assert not g["ssim"].passes(math.nan)


def test_shipped_file_gives_sglangs_h100_gate_for_every_sglang_case() -> None:
    """The shipped gates are sglang's for every case sglang's h100 file gates (facts with their
    source in tests/data/sglang_h100_gates.json), so compare gives sglang's verdict out of the box;
    and an unknown case falls back to sglang's defaults."""
    facts = json.loads((Path(__file__).parent / "data" / "sglang_h100_gates.json").read_text())
    from gt_gen.cases import load_registry
    modality = {c.id: c.modality for c in load_registry().select(group="all")}
    th = load_thresholds()
    names = {"clip_threshold": "clip", "ssim_threshold": "ssim", "psnr_threshold": "psnr",
             "mean_abs_diff_threshold": "mean_abs_diff"}
    for case_id, gates in facts["cases"].items():
        got = th.gates(case_id, modality[case_id])
        assert {k: got[v].value for k, v in names.items()} == gates, case_id
        assert all(got[v].source == "case" for v in names.values()), case_id
    for mod, gates in facts["defaults"].items():
        got = th.gates("not_a_sglang_case", mod)
        assert {k: got[v].value for k, v in names.items()} == gates, mod


@pytest.mark.parametrize("platform", ["b200", "5090", "gfx1250", "intel_xpu_b60"])
def test_shipped_platform_overlays_are_sglangs(platform: str) -> None:
    """Every platform sglang gates has a shipped overlay giving its gates (the rest: h100's)."""
    facts = json.loads((Path(__file__).parent / "data" / "sglang_h100_gates.json").read_text())
    from gt_gen.cases import load_registry
    modality = {c.id: c.modality for c in load_registry().select(group="all")}
    th = load_thresholds(None, platform)
    names = {"clip_threshold": "clip", "ssim_threshold": "ssim", "psnr_threshold": "psnr",
             "mean_abs_diff_threshold": "mean_abs_diff"}
    overlay = facts["overlays"][platform]
    for case_id, gates in overlay.items():
        got = th.gates(case_id, modality[case_id])
        assert {k: got[v].value for k, v in names.items()} == gates, case_id
        assert all(got[v].source == f"platform:{platform}" for v in names.values()), case_id
    for case_id, gates in facts["cases"].items():
        if case_id not in overlay:
            got = th.gates(case_id, modality[case_id])
            assert {k: got[v].value for k, v in names.items()} == gates, case_id
