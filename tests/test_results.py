"""results.json: fixed schema, explicit infinities, round trip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gt_gen.errors import ConfigError
from gt_gen.results import CaseResult, FrameResult, Results, read_results, write_results


def test_round_trip_with_inf(tmp_path: Path) -> None:
    r = Results(cases=[CaseResult("c", "video", "passed", worst={"psnr": math.inf, "ssim": 1.0},
                                  frames=[FrameResult("first", 0, {"psnr": math.inf}, {"psnr": True})])],
                meta={"gt_commit": "a" * 40})
    write_results(r, tmp_path / "results.json")
    raw = json.loads((tmp_path / "results.json").read_text())
    assert raw["schema_version"] == 1 and raw["cases"][0]["worst"]["psnr"] == "inf"
    assert raw["summary"]["passed"] == 1 and raw["summary"]["total"] == 1
    back = read_results(tmp_path / "results.json")
    assert back.cases[0].worst["psnr"] == math.inf and back.cases[0].frames[0].passed["psnr"] is True


def test_foreign_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text('{"cases": []}')
    with pytest.raises(ConfigError, match="schema_version"):
        read_results(tmp_path / "r.json")


# --- Wrong types (issue 11 §3): results.json may come from anywhere --------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12) | st.sampled_from(["inf", "-inf", "nan", "../x", "/etc/hostname", "a.png"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)
FIELDS = ["case_id", "modality", "status", "message", "gates", "worst", "frames", "clip", "gt_folder",
          "gt_files", "candidate", "diff_image", "curves", "gt_verification", "gt_implementation",
          "gt_implementation.source", "gt_implementation.details"]


def _valid_doc() -> dict:
    r = Results(cases=[CaseResult("c", "video", "failed", "m",
                                  gates={"ssim": {"value": 0.9, "direction": ">=", "source": "default"}},
                                  worst={"ssim": 0.5, "psnr": math.inf},
                                  frames=[FrameResult("first", 0, {"ssim": 0.5}, {"ssim": False})],
                                  curves={"ssim": [0.5, None]}, diff_image="c_diff.png")],
                meta={"created": "2026-01-01"})
    from gt_gen.results import to_json_obj

    return json.loads(json.dumps(to_json_obj(r)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS + ["frames[0]", "frames[0].metrics", "frames[0].passed",
                                       "frames[0].index", "gates.ssim", "gates.ssim.value", "meta",
                                       "meta.created", "cases", "cases[0]"]),
       value=JSON_VALUES)
def test_any_value_in_any_field_is_read_or_refused_by_name(tmp_path: Path, field: str, value: object) -> None:
    """Put any JSON value in any field: read_results returns Results that the report and the
    history can use, or raises ConfigError naming the file; never another exception."""
    from gt_gen import history
    from gt_gen.reports.html import render

    doc = _valid_doc()
    if field.startswith("meta") or field.startswith("cases"):
        if field == "meta":
            doc["meta"] = value
        elif field == "meta.created":
            doc["meta"]["created"] = value
        elif field == "cases":
            doc["cases"] = value
        else:
            doc["cases"][0] = value
    else:
        target = doc["cases"][0]
        parts = field.replace("[0]", ".0").split(".")
        for p in parts[:-1]:
            target = target[int(p)] if p.isdigit() else target[p]
        last = parts[-1]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    try:
        res = read_results(path)
    except ConfigError as exc:
        assert str(path) in exc.one_line()
        return
    render(res, tmp_path)  # no crash in the report
    db = tmp_path / "h.sqlite"
    db.unlink(missing_ok=True)
    history.record_results(db, res)


def test_wrong_types_name_the_field(tmp_path: Path) -> None:
    doc = _valid_doc()
    doc["cases"][0]["worst"]["ssim"] = "high"
    (tmp_path / "r.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=r"cases\[0\] \(c\)\.worst\.ssim must be a number"):
        read_results(tmp_path / "r.json")


@pytest.mark.parametrize("name", ["/etc/hostname", "../x.png", "a/../../b.png", "..", ".hidden.png"])
def test_diff_image_is_a_name_inside_the_results_folder(tmp_path: Path, name: str) -> None:
    doc = _valid_doc()
    doc["cases"][0]["diff_image"] = name
    (tmp_path / "r.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="diff_image"):
        read_results(tmp_path / "r.json")
