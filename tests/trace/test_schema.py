"""trace.json schema version 1: what trace writes passes the reader; anything else is refused
with the file and the field named; the HTML survives every value the schema allows."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_gen.errors import ConfigError
from gt_gen.trace.report import divergence_svg, trace_html
from gt_gen.trace.schema import SCHEMA_VERSION, check_trace, load_trace
from tests.trace.sample_doc import make_doc


def test_what_trace_writes_is_valid_and_versioned(tmp_path: Path) -> None:
    for diverge in (True, False):
        doc = make_doc(diverge=diverge)
        assert doc["schema_version"] == SCHEMA_VERSION == 1
        assert check_trace(doc, "x") is doc
    doc = make_doc()
    assert doc["first_divergent_stage"] == "s1.step01.latent.video"
    frames = next(s for s in doc["stages"] if s["name"] == "decoded.frames")
    assert frames["psnr_per_frame"][0] == "inf"  # strict JSON: no Infinity literal
    (tmp_path / "trace.json").write_text(json.dumps(doc))
    assert load_trace(tmp_path / "trace.json")["case"] == "tiny_one_stage_t2v"


BAD: list[tuple[str, Any, str]] = [
    ("schema_version", 2, "schema_version"),
    ("schema_version", True, "schema_version"),
    ("kind", "other", "kind"),
    ("case", "", "case"),
    ("reference", [], "reference"),
    ("candidate", {"engine": {"nested": 1}}, "candidate"),
    ("injected_inputs", "yes", "injected_inputs"),
    ("tolerances", {"latent": {"metric": "rel_l2", "limit": "x"}}, "tolerances.latent"),
    ("notes", ["ok", 3], "notes"),
    ("verdict", "maybe", "verdict"),
    ("first_divergent_stage", "nope", "first_divergent_stage"),
    ("first_divergent_stage", None, "verdict"),
    ("stages", {}, "stages"),
]


@pytest.mark.parametrize("field,value,named", BAD, ids=[f"{b[0]}={b[1]!r}" for b in BAD])
def test_a_bad_top_level_field_is_named(field: str, value: Any, named: str) -> None:
    doc = make_doc()
    doc[field] = value
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        check_trace(doc, "t.json")


STAGE_FIELDS = {"name": [None, "", 3], "kind": [None, 1], "status": ["fine", None],
                "shape_reference": [[-1], ["2"], "3"], "max_abs": ["big", [1.0], True],
                "rel_l2": ["Infinity"], "psnr_per_frame": ["inf", [None]], "metric": [1],
                "value": [{}], "tolerance": ["1e-4"]}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(STAGE_FIELDS)).flatmap(
    lambda f: st.tuples(st.just(f), st.sampled_from(STAGE_FIELDS[f]))),
    st.integers(min_value=0, max_value=10))
def test_any_bad_stage_field_is_named(bad: tuple[str, Any], where: int) -> None:
    doc = make_doc()
    i = where % len(doc["stages"])
    doc["stages"][i][bad[0]] = bad[1]
    with pytest.raises(ConfigError, match=rf"stages\[{i}\]\.{bad[0]}"):
        check_trace(doc, "t.json")


def test_first_divergent_stage_must_be_the_first() -> None:
    doc = make_doc()
    later = copy.deepcopy(doc)
    later["first_divergent_stage"] = "decoded.frames"  # diverged too, but not the first
    with pytest.raises(ConfigError, match="not the first"):
        check_trace(later, "t")
    ok_stage = copy.deepcopy(doc)
    ok_stage["first_divergent_stage"] = "s1.sigmas"
    with pytest.raises(ConfigError, match="status 'ok'"):
        check_trace(ok_stage, "t")
    twice = copy.deepcopy(doc)
    twice["stages"].append(dict(twice["stages"][0]))
    with pytest.raises(ConfigError, match="twice"):
        check_trace(twice, "t")


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"schema_version": 1, "schema_version": 1}')
    (tmp_path / "b.json").write_text('{"schema_version": NaN}')
    for name in ("a.json", "b.json"):
        with pytest.raises(ConfigError) as info:
            load_trace(tmp_path / name)
        assert name in info.value.one_line()
    with pytest.raises(ConfigError, match="directory"):
        load_trace(tmp_path)


NUMS = st.one_of(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e30, max_value=1e30),
                 st.sampled_from(["inf", "-inf", "nan"]), st.none())


@settings(max_examples=60, deadline=None)
@given(st.lists(NUMS, min_size=8, max_size=8), NUMS)
def test_the_plot_draws_only_finite_coordinates(values: list[Any], limit: Any) -> None:
    """Any value the schema allows (0, negative, inf, nan, null rel_l2; odd limits) gives an
    SVG whose coordinates are all finite numbers, and the page escapes what it shows."""
    doc = make_doc()
    steps = [s for s in doc["stages"] if ".step" in s["name"]]
    for s, v in zip(steps, values):
        s["rel_l2"] = v
    doc["tolerances"]["latent"]["limit"] = limit if limit is not None else 0
    check_trace(doc, "t")
    svg = divergence_svg(doc)
    import re

    coords = re.findall(r'\s(?:x|y|x1|x2|y1|y2|cx|cy)="([^"]*)"', svg)
    coords += [c for pts in re.findall(r'points="([^"]*)"', svg) for p in pts.split() for c in p.split(",")]
    assert coords and all(math.isfinite(float(c)) for c in coords), svg[:400]
    page = trace_html(doc)
    assert "a &lt;note&gt;" in page and "<note>" not in page
