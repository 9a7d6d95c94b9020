"""ci-data layout: folders, and case_map.json in both shapes sglang's repository has used."""

from __future__ import annotations

import json

import pytest

from gt_gen.errors import ConfigError
from gt_gen.store.layout import GT_ROOT, dump_case_map, folder, parse_case_map


def test_folders() -> None:
    assert folder("official_generated") == f"{GT_ROOT}/official_generated"
    assert folder("sglang_generated", "h100") == "diffusion-ci/consistency_gt/sglang_generated/h100"
    with pytest.raises(ConfigError, match="unknown target"):
        folder("engine_generated")


def test_case_map_round_trip_and_flat_form() -> None:
    text = dump_case_map({"b": ["b_1gpu.png"], "a": ["z.png", "a.png"]})
    assert list(json.loads(text)["cases"]) == ["a", "b"]
    assert parse_case_map(text.encode(), "x") == {"a": ["a.png", "z.png"], "b": ["b_1gpu.png"]}
    assert parse_case_map(b'{"a": ["a.png"]}', "x") == {"a": ["a.png"]}


@pytest.mark.parametrize("raw", [b"{", b"\xff", b'["a"]', b'{"a": "a.png"}', b'{"cases": {"a": [1]}}'])
def test_malformed_case_map(raw: bytes) -> None:
    with pytest.raises(ConfigError) as info:
        parse_case_map(raw, "ci/case_map.json")
    assert "ci/case_map.json" in info.value.one_line()
