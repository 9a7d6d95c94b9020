"""``gt-gen trace``: record a case stage by stage in the official pipeline and in a candidate,
and name the first stage where the candidate leaves tolerance (exit 1), else exit 0.

The candidate is ``diffusers`` (gt-gen runs diffusers' LTX-2 pipeline on the converted weights,
with the reference's initial noise and sigmas injected) or a directory of
``<stage>.safetensors`` files written by any engine (names and layouts:
:mod:`gt_gen.trace.stages`); ``--save-tensors`` writes the reference's stages and its
``inputs.safetensors`` (initial noise, sigmas) for such an engine to replay.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gt_gen.commands.common import add_weights


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trace", help="where a candidate engine leaves the official numerics")
    p.add_argument("--cases", dest="cases_dir", default=None, help="cases directory")
    p.add_argument("--case", dest="case_id", required=True, help="case id")
    p.add_argument("--reference", choices=("official",), default="official",
                   help="the implementation traced as the reference (the official pipelines)")
    p.add_argument("--candidate", required=True,
                   help="'diffusers', or a directory of <stage>.safetensors files")
    p.add_argument("--precision", choices=("bf16", "fp32"), default=None,
                   help="the official reference's precision (default: the case's)")
    p.add_argument("--candidate-precision", choices=("bf16", "fp32"), default="fp32",
                   help="the diffusers candidate's precision (default fp32)")
    p.add_argument("--out", required=True, help="writes trace.json and trace.html here")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--tolerance", action="append", default=[], metavar="KIND=VALUE",
                   help="override a stage kind's limit (text, noise, positions, sigmas, denoised, "
                        "latent, upsampled, frames [PSNR dB], audio)")
    p.add_argument("--no-inject", action="store_true",
                   help="let diffusers draw its own noise (then the trace parts at s1.noise)")
    p.add_argument("--save-tensors", action="store_true",
                   help="also write reference/ and candidate/ stage directories and inputs")
    add_weights(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gt_gen.cases import load_registry
    from gt_gen.devices import check_device
    from gt_gen.errors import UsageError
    from gt_gen.trace.compare import parse_tolerances
    from gt_gen.trace.run import check_traceable
    from gt_gen.trace.stages import load_dir
    from gt_gen.writable import check_writable

    check_device(args.device)
    tolerances = parse_tolerances(args.tolerance)
    reg = load_registry(args.cases_dir)
    cases = reg.select(group=None, ids=[args.case_id])
    if len(cases) != 1:
        raise UsageError(f"--case {args.case_id!r} selects {len(cases)} cases")
    case = cases[0]
    check_traceable(case)
    if args.candidate == "diffusers":
        from gt_gen.engine.diffusers_ltx import unsupported_reason

        why = unsupported_reason(case)
        if why:  # refused before the official run, not after it
            raise UsageError(f"case {case.id}: --candidate diffusers cannot run it: {why}")
    out = Path(args.out)
    check_writable([out / "trace.json", out / "trace.html"])
    candidate_dir = None
    if args.candidate != "diffusers":
        candidate_dir = Path(args.candidate)
        load_dir(candidate_dir)  # bad input fails here, before any model runs
    return _trace(case, args, tolerances, candidate_dir, out)


def _trace(case, args: argparse.Namespace, tolerances, candidate_dir: Path | None, out: Path) -> int:
    from gt_gen.trace.compare import compare_traces
    from gt_gen.trace.report import trace_json, write_report
    from gt_gen.trace.run import (diffusers_engine, record_diffusers, record_official,
                                  resolve_model)
    from gt_gen.trace.stages import load_dir, save_dir

    precision = args.precision or case.precision
    model = resolve_model(case, weights_dir=Path(args.weights_dir) if args.weights_dir else None,
                          allow_unpinned=args.allow_unpinned)
    ref = record_official(case, model, precision=precision, device=args.device)
    notes: list[str] = []
    if candidate_dir is None:
        engine = diffusers_engine(case, model, precision=args.candidate_precision, device=args.device)
        cand = record_diffusers(case, model, engine, inputs=None if args.no_inject else ref.inputs)
        cand_tensors, cand_meta = cand.tensors, cand.meta
        notes += cand.notes
    else:
        cand_tensors = load_dir(candidate_dir)
        cand_meta = {"engine": "directory", "path": str(candidate_dir)}
    comparison = compare_traces(ref.tensors, cand_tensors, tolerances)
    doc = trace_json(comparison, case_id=case.id, reference=ref.meta, candidate=cand_meta,
                     injected=candidate_dir is None and not args.no_inject,
                     tolerances=tolerances, notes=notes)
    if args.save_tensors:
        from safetensors.torch import save_file

        save_dir(ref.tensors, out / "reference")
        save_file({k: v.contiguous() for k, v in ref.inputs.items()}, str(out / "inputs.safetensors"))
        if candidate_dir is None:
            save_dir(cand_tensors, out / "candidate")
    j, h = write_report(doc, out)
    first = comparison.first_divergent
    print(f"{case.id}: {'first divergent stage: ' + first if first else 'all stages within tolerance'}"
          f" ({j}, {h})")
    return 1 if first else 0
