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
    assert {c.pipeline for c in reg.select(group="tiny")} == {"one_stage", "two_stage", "two_stage_hq"}


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
