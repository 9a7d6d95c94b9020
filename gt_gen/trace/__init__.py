"""``gt-gen trace``: where a candidate engine leaves the official numerics, stage by stage.

:mod:`stages` names the tensors and their layouts, :mod:`official_hooks` records them from the
unmodified official pipelines (and holds the fp32 runtime override), :mod:`compare` measures
each stage and names the first one out of tolerance, :mod:`report` writes ``trace.json`` and
the HTML page, :mod:`run` drives both engines for one case.
"""
