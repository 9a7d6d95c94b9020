"""The case registry: the shipped groups load, and every invalid file is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from gt_gen.cases import load_group_file, load_registry, validate_case_id
from gt_gen.errors import ConfigError, UnknownCaseError

LTX_IDS = {"ltx_2_two_stage_t2v", "ltx_2.3_two_stage_t2v_2gpus", "ltx_2_3_two_stage_ti2v_2gpus",
           "ltx_2.3_one_stage_ti2v", "ltx_2_3_hq_pipeline"}

MINIMAL = '''
[[case]]
id = "{id}"
modality = "video"
backend = "ltx_official"
pipeline = "{pipeline}"
runner = "r"
comparability = "official"
[case.model]
repo = "tiny"
revision = "seed-0"
checkpoint = "c.safetensors"
spatial_upsampler = "u"
distilled_lora = "l"
[case.request]
prompt = "p"
width = {width}
height = 64
num_frames = {frames}
seed = 1
'''


def write(tmp_path: Path, name: str = "g", **kw) -> Path:
    args = {"id": "c1", "pipeline": "one_stage", "width": 64, "frames": 9} | kw
    path = tmp_path / f"{name}.toml"
    path.write_text(MINIMAL.format(**args))
    return path


def test_shipped_groups_load() -> None:
    reg = load_registry()
    assert {c.id for c in reg.select(group="ltx")} == LTX_IDS
    ltx20 = reg.get("ltx_2_two_stage_t2v")
    assert ltx20.comparability == "native_only" and ltx20.reason
    assert reg.get("ltx_2.3_two_stage_t2v_2gpus").gpus == 2
    one = reg.get("ltx_2.3_one_stage_ti2v")
    assert one.is_official and one.request.image is not None and one.request.image.crf == 33
    assert reg.get("ltx_2_3_hq_pipeline").request.num_frames == 24  # native only: no 8k+1 rule
    assert {"one_stage", "two_stage", "two_stage_hq"} <= {c.pipeline for c in reg.select(group="tiny")}


def test_minimal_case_parses(tmp_path: Path) -> None:
    [case] = load_group_file(write(tmp_path))
    assert case.id == "c1" and case.group == "g" and case.key_frames == ("first", "mid", "last")


@pytest.mark.parametrize(("kw", "needle"), [
    ({"frames": 10}, "8k+1"),
    ({"width": 48}, "divisible by 32"),
    ({"pipeline": "two_stage", "width": 96}, "divisible by 64"),
    ({"id": "../evil"}, "invalid case id"),
    ({"id": "a/b"}, "invalid case id"),
    ({"pipeline": "magic"}, "pipeline='magic'"),
])
def test_invalid_cases_are_refused(tmp_path: Path, kw: dict, needle: str) -> None:
    path = write(tmp_path, **kw)
    with pytest.raises(ConfigError) as exc:
        load_group_file(path)
    assert needle in str(exc.value)
    assert exc.value.path == str(path)


def test_unknown_key_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.write_text(path.read_text().replace('prompt = "p"', 'prompt = "p"\nsteps_typo = 3'))
    with pytest.raises(ConfigError, match=r"steps_typo"):
        load_group_file(path)


def test_malformed_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[case]\nid=")
    with pytest.raises(ConfigError, match="malformed TOML"):
        load_group_file(path)


def test_non_official_needs_reason(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.write_text(path.read_text().replace('comparability = "official"', 'comparability = "native_only"'))
    with pytest.raises(ConfigError, match="needs a reason"):
        load_group_file(path)


def test_duplicate_ids_across_groups(tmp_path: Path) -> None:
    write(tmp_path, "a")
    write(tmp_path, "b")
    with pytest.raises(ConfigError, match="duplicate case id 'c1'"):
        load_registry(tmp_path)


def test_selection_errors() -> None:
    reg = load_registry()
    with pytest.raises(UnknownCaseError, match="unknown case id"):
        reg.select(group="ltx", ids=["nope"])
    with pytest.raises(UnknownCaseError, match="unknown group"):
        reg.select(group="nope")
    with pytest.raises(UnknownCaseError, match="not in group"):
        reg.select(group="tiny", ids=["ltx_2_two_stage_t2v"])
    with pytest.raises(ConfigError):
        validate_case_id("x/../y")


def _with(path: Path, section: str, line: str) -> Path:
    """``line`` added under ``[section]`` of the minimal case (the section is created if new)."""
    text = path.read_text()
    header = f"[{section}]\n"
    text = text.replace(header, header + line + "\n") if header in text else text + header + line + "\n"
    path.write_text(text)
    return path


NUMERIC_FIELDS = [
    ("case.request", "fps"), ("case.request", "width"), ("case.request", "height"),
    ("case.request", "num_frames"), ("case.request", "steps"), ("case.request", "seed"),
    ("case.model", "distilled_lora_strength"), ("case.model", "distilled_lora_strength_stage_2"),
    ("case.request.guidance", "cfg_scale"), ("case.request.guidance", "stg_scale"),
    ("case.request.guidance", "skip_step"), ("case", "estimated_minutes"), ("case", "gpus"),
]
BAD_NUMBERS = ["nan", "inf", "-inf", "1e300", "1000000000", "1048576", "-1"]


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize(("section", "key"), NUMERIC_FIELDS)
def test_numbers_are_finite_and_bounded(tmp_path: Path, section: str, key: str, value: str) -> None:
    """NaN/inf anywhere, 10^9 frames, 1048576^2 sizes: ConfigError naming the file and field
    (a few values are sane for some fields: those must load)."""
    path = write(tmp_path)
    if section == "case":  # keys of the case table itself go before its first sub-table
        path.write_text(path.read_text().replace('comparability = "official"\n',
                                                 f'comparability = "official"\n{key} = {value}\n'))
    else:
        text = path.read_text().replace(f"{key} = ", f"old_{key} = ")
        path.write_text(text.replace(f"old_{key} = ", "# "))
        _with(path, section, f"{key} = {value}")
    finite = {"-1", "1e300", "1000000000", "1048576"}
    sane = {("case.request.guidance", "cfg_scale"): {"-1"},
            ("case.request.guidance", "stg_scale"): {"-1"},
            ("case.request.guidance", "skip_step"): {"-1"},
            ("case.model", "distilled_lora_strength"): finite,
            ("case.model", "distilled_lora_strength_stage_2"): finite,
            ("case", "estimated_minutes"): finite - {"-1"},
            ("case.request", "seed"): {"1000000000", "1048576"}}
    if value in sane.get((section, key), set()):
        load_group_file(path)
        return
    with pytest.raises(ConfigError) as exc:
        load_group_file(path)
    assert exc.value.path == str(path) and key in str(exc.value), str(exc.value)


@pytest.mark.parametrize("kind", ["directory", "fifo", "deep", "bigint"])
def test_unreadable_case_files_are_config_errors(tmp_path: Path, kind: str) -> None:
    """A directory or FIFO named *.toml (never opened for a blocking read), TOML nested 50k
    deep or an integer of 5000 digits: ConfigError naming the file, not a crash or a hang."""
    import os

    path = tmp_path / "g.toml"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.write_text("a = " + ("[" * 50_000 + "]" * 50_000 if kind == "deep" else "9" * 5000) + "\n")
    with pytest.raises(ConfigError) as exc:
        load_registry(tmp_path)
    assert exc.value.path == str(path)
