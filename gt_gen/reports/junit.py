"""JUnit XML, one testcase per case, so CI systems show per-case results natively."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gt_gen.results import Results


def render(results: Results, suite: str = "gt-gen.consistency") -> str:
    s = results.summary()
    failures = s["total"] - s["passed"] - s["error"]
    root = ET.Element("testsuite", name=suite, tests=str(s["total"]), failures=str(failures),
                      errors=str(s["error"]))
    for r in results.cases:
        tc = ET.SubElement(root, "testcase", classname=suite, name=r.case_id)
        if r.status == "error":
            ET.SubElement(tc, "error", message=r.message or r.status).text = r.message
        elif r.status != "passed":
            ET.SubElement(tc, "failure", message=f"{r.status}: {r.message}").text = r.message
        elif r.message:
            ET.SubElement(tc, "system-out").text = r.message
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
