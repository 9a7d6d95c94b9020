"""``gt-gen trace`` output inside the HTML report: where an engine left the official numerics.

How ``gt-gen report`` finds traces:

* ``--trace PATH`` (repeatable): a ``trace.json`` file, or a folder holding one (``gt-gen trace
  --out``). Only these are shown; a path that is missing or not a valid trace is exit 2.
* without ``--trace``: ``trace.json`` in the results folder, in each folder directly below it,
  and in each folder beside it (directly below its parent) -- so ``out/compare/results.json``
  finds ``out/trace/`` and ``out/trace-bf16/``. A file found this way that is not a valid trace
  is skipped with one line on stderr (a stray file must not sink the report).

Each trace becomes a section (verdict with the first divergent stage, the per-step divergence
plot as inline SVG, the stage table), drawn by :func:`gt_gen.trace.report.trace_fragment`; a case
of the results that has a trace links to it from its own section.
"""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gt_gen.errors import GtGenError, MissingFileError

TRACE_FILE = "trace.json"


@dataclass(frozen=True)
class Trace:
    """One trace.json shown in the report; ``anchor`` is its section id."""

    path: Path
    doc: dict[str, Any]
    anchor: str

    @property
    def case_id(self) -> str:
        return str(self.doc["case"])


def _explicit(item: str) -> Path:
    p = Path(item)
    path = p / TRACE_FILE if p.is_dir() else p
    if not path.exists():
        raise MissingFileError(f"--trace: no {TRACE_FILE} at {item}", path=path)
    return path


def discover(results_path: Path) -> list[Path]:
    """trace.json in the results folder, one level below it, and in the folders beside it."""
    base = results_path.parent
    found = [base / TRACE_FILE]
    found += sorted(base.glob(f"*/{TRACE_FILE}"))
    found += sorted(p for p in base.parent.glob(f"*/{TRACE_FILE}") if p.parent != base)
    seen: set[Path] = set()
    out = []
    for p in found:
        key = p.resolve()
        if p.is_file() and key not in seen:
            seen.add(key)
            out.append(p)
    return out


def load_traces(results_path: Path, explicit: list[str] | None) -> list[Trace]:
    """The traces to show (see the module doc for where they are looked for)."""
    from gt_gen.trace.schema import load_trace

    traces: list[Trace] = []
    if explicit:
        paths, strict = [_explicit(item) for item in explicit], True
    else:
        paths, strict = discover(results_path), False
    for path in paths:
        try:
            doc = load_trace(path)
        except GtGenError as exc:
            if strict:
                raise
            print(f"report: skipped {path}: {exc.one_line()}", file=sys.stderr)
            continue
        traces.append(Trace(path=path, doc=doc, anchor=f"trace-{len(traces) + 1}"))
    return traces


def _label(t: Trace) -> str:
    ref, cand = t.doc["reference"], t.doc["candidate"]
    return (f"{cand.get('engine')} ({cand.get('precision', '?')}) vs {ref.get('engine')} "
            f"({ref.get('precision', '?')})")


def _verdict(t: Trace) -> str:
    first = t.doc.get("first_divergent_stage")
    return f"first divergent stage: {first}" if first else "every stage within tolerance"


def case_links(traces: list[Trace], case_id: str) -> list[str]:
    """Links from a case's section to its traces (none: nothing)."""
    e = html.escape
    mine = [t for t in traces if t.case_id == case_id]
    if not mine:
        return []
    items = "".join(f"<li><a href='#{e(t.anchor)}'>trace: {e(_label(t))}</a> — {e(_verdict(t))}</li>"
                    for t in mine)
    return [f"<ul class='trace-links'>{items}</ul>"]


def sections(traces: list[Trace]) -> list[str]:
    """One section per trace, after the cases."""
    from gt_gen.trace.report import TRACE_CSS, trace_fragment

    if not traces:
        return []
    e = html.escape
    out = [f"<style>{TRACE_CSS}</style>", "<h2 id='traces'>Traces: where the engine leaves the "
           "official numerics</h2>"]
    for t in traces:
        out.append(f"<section class='case trace' id='{e(t.anchor)}' data-trace-case='{e(t.case_id)}'>"
                   f"<h2>Trace of {e(t.case_id)} — {e(_label(t))}</h2>"
                   f"<p class='na'>{e(str(t.path))}</p>"
                   + trace_fragment(t.doc, anchor=t.anchor, heading=3) + "</section>")
    return out
