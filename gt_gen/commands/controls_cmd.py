"""``gt-gen controls``: negative and noise-floor controls with the official pipelines."""

from __future__ import annotations

import argparse
from pathlib import Path

from gt_gen.commands.common import add_selection, select
from gt_gen.controls import run_controls


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("controls", help="generate negative and noise-floor controls")
    add_selection(p, group_required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--second-device", default=None, help="also measure the noise floor on this device")
    p.add_argument("--clip-model", default="none")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gt_gen.generate.progress import Progress

    _, cases = select(args)
    res = run_controls(cases, Path(args.out), device=args.device, second_device=args.second_device,
                       clip_model=args.clip_model, progress=Progress(quiet=args.quiet))
    print(f"controls for {len(res['cases'])} case(s) in {args.out}/controls.json")
    return 0 if all(v == 0 for v in res["generation_exit"].values()) else 1
