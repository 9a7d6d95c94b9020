"""JUnit XML parses, counts failures and errors apart, and carries each case's message."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gt_gen.reports.junit import render
from gt_gen.results import CaseResult, Results


def test_junit() -> None:
    res = Results([CaseResult("a", "video", "passed", message="CLIP not evaluated"),
                   CaseResult("b", "video", "failed", message="ssim 0.5 < 0.89"),
                   CaseResult("c", "image", "missing_gt", message="no GT <&>"),
                   CaseResult("d", "video", "error", message="decode failed")])
    root = ET.fromstring(render(res).split("?>", 1)[1])
    assert root.attrib == {"name": "gt-gen.consistency", "tests": "4", "failures": "2", "errors": "1"}
    by = {tc.attrib["name"]: tc for tc in root.iter("testcase")}
    assert by["a"].find("failure") is None and by["a"].find("system-out").text == "CLIP not evaluated"
    assert by["b"].find("failure").attrib["message"] == "failed: ssim 0.5 < 0.89"
    assert by["c"].find("failure").text == "no GT <&>"  # escaped in XML, intact once parsed
    assert by["d"].find("error").attrib["message"] == "decode failed"
