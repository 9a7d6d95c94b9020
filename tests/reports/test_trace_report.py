"""`gt-gen report` shows `gt-gen trace` output: found beside results.json or named with --trace,
one section per trace (verdict, inline SVG plot, stage table), linked from the case; and the
page renders in headless Chromium with a plot of non-zero size and the first divergent stage."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gt_gen.cli import main
from gt_gen.results import CaseResult, Results, write_results
from tests.browser import dump_dom, require_chromium
from tests.trace.sample_doc import make_doc

CASE = "tiny_one_stage_t2v"


def _results(folder: Path) -> Path:
    folder.mkdir(parents=True)
    gates = {"psnr": {"value": 24.0, "direction": ">="}}
    res = Results([CaseResult(CASE, "video", "failed", gates=gates, worst={"psnr": 20.0}),
                   CaseResult("other_case", "video", "passed", gates=gates, worst={"psnr": 40.0})],
                  meta={"gt_source": "dir:gt"})
    return write_results(res, folder / "results.json")


def _trace(folder: Path, **kw: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "trace.json"
    path.write_text(json.dumps(make_doc(**kw)))  # type: ignore[arg-type]
    return path


def _sections(page: str) -> list[str]:
    return re.findall(r"<section class='case trace' id='(trace-\d+)' data-trace-case='([^']*)'", page)


def test_traces_beside_below_and_in_the_results_folder_are_found(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    results = _results(tmp_path / "out" / "compare")
    _trace(tmp_path / "out" / "trace")                    # beside (gt-gen trace --out out/trace)
    _trace(tmp_path / "out" / "trace-bf16", diverge=False)  # beside, a second trace of the case
    _trace(tmp_path / "out" / "compare" / "t", case_id="other_case")  # below
    (tmp_path / "out" / "stray").mkdir()
    (tmp_path / "out" / "stray" / "trace.json").write_text('{"schema_version": 9}')  # not a trace
    (tmp_path / "elsewhere").mkdir()
    _trace(tmp_path / "elsewhere")  # two levels away: not looked at
    assert main(["report", str(results), "--html", str(tmp_path / "html")]) == 0
    err = capsys.readouterr().err
    assert "skipped" in err and "stray" in err and "schema_version" in err
    page = (tmp_path / "html" / "index.html").read_text()
    found = _sections(page)
    assert sorted(c for _, c in found) == sorted([CASE, CASE, "other_case"])
    case_section = page.split(f"id='case-{CASE}'")[1].split("</section>")[0]
    links = re.findall(r"<a href='#(trace-\d+)'>", case_section)
    assert sorted(links) == sorted(a for a, c in found if c == CASE)  # the case links its traces
    assert "first divergent stage: s1.step01.latent.video" in case_section
    assert "every stage within tolerance" in case_section
    assert page.count("<svg") >= 3 and 'class="first"' in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_stray_file_is_reported_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = _results(tmp_path / "compare")
    (tmp_path / "compare" / "trace.json").write_text("[]")
    assert main(["report", str(results), "--html", str(tmp_path / "html")]) == 0
    err = capsys.readouterr().err
    assert "skipped" in err and "trace.json" in err
    assert "id='traces'" not in (tmp_path / "html" / "index.html").read_text()


def test_explicit_trace_paths_replace_discovery(tmp_path: Path) -> None:
    results = _results(tmp_path / "out" / "compare")
    _trace(tmp_path / "out" / "trace")  # would be discovered
    named = _trace(tmp_path / "far" / "t1", case_id="other_case")
    folder = _trace(tmp_path / "far" / "t2").parent
    assert main(["report", str(results), "--trace", str(named), "--trace", str(folder),
                 "--html", str(tmp_path / "html")]) == 0
    page = (tmp_path / "html" / "index.html").read_text()
    assert sorted(c for _, c in _sections(page)) == sorted([CASE, "other_case"])


@pytest.mark.parametrize("bad", ["missing", "empty_dir", "invalid"])
def test_a_bad_explicit_trace_is_exit_2_and_nothing_written(tmp_path: Path, bad: str) -> None:
    results = _results(tmp_path / "compare")
    target = tmp_path / bad
    if bad == "empty_dir":
        target.mkdir()
    elif bad == "invalid":
        target.write_text(json.dumps({**make_doc(), "verdict": "maybe"}))
    assert main(["report", str(results), "--trace", str(target), "--html", str(tmp_path / "html")]) == 2
    assert not (tmp_path / "html" / "index.html").exists()


def test_trace_text_is_escaped(tmp_path: Path) -> None:
    results = _results(tmp_path / "compare")
    doc = make_doc(case_id="<b>x</b>")
    doc["candidate"]["engine"] = "<script>alert(1)</script>"
    (tmp_path / "compare" / "trace.json").write_text(json.dumps(doc))
    assert main(["report", str(results), "--html", str(tmp_path / "html")]) == 0
    page = (tmp_path / "html" / "index.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;x&lt;/b&gt;" in page


#: Appended to a copy of the report: writes each trace plot's rendered size into the DOM.
PROBE = """<script>addEventListener('load', () => { document.body.dataset.plots = JSON.stringify(
[...document.querySelectorAll('.trace-plot svg')].map(s => { const r = s.getBoundingClientRect();
return [r.width, r.height]; })); });</script>"""


@pytest.mark.slow
def test_trace_section_renders_in_headless_chromium(tmp_path: Path) -> None:
    results = _results(tmp_path / "out" / "compare")
    _trace(tmp_path / "out" / "trace")
    assert main(["report", str(results), "--html", str(tmp_path / "html")]) == 0
    require_chromium()
    page = (tmp_path / "html" / "index.html").read_text()
    probe = tmp_path / "html" / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    dom = dump_dom(probe, tmp_path / "profile")
    sizes = json.loads(re.search(r'data-plots="([^"]*)"', dom).group(1).replace("&quot;", '"'))  # type: ignore[union-attr]
    assert len(sizes) == 1 and sizes[0][0] > 100 and sizes[0][1] > 100, sizes
    verdict = re.search(r'<p id="trace-1-verdict"[^>]*>(.*?)</p>', dom, re.S)
    assert verdict and "first divergent stage" in verdict.group(1)
    assert '<b class="first-divergent">s1.step01.latent.video</b>' in verdict.group(1)
    assert re.search(r'<tr class="first" data-stage="s1.step01.latent.video">', dom)
