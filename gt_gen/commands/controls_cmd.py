"""``gt-gen controls``: negative and noise-floor controls with the official pipelines."""

from __future__ import annotations

import argparse
from pathlib import Path

from gt_gen.commands.common import add_selection, quiet_libraries, select


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("controls", help="generate negative and noise-floor controls",
                       description="Run each official case as GT, with another seed, with another "
                                   "prompt and again (models rebuilt), and score them against the GT "
                                   "run: `gt-gen audit --controls DIR` then tells whether each gate "
                                   "can fail at all and how far it sits above the noise floor.")
    add_selection(p, group_required=True)
    p.add_argument("--out", required=True, help="output folder (one sub-folder per control, controls.json)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--second-device", default=None,
                   help="also run the GT request on this device (e.g. cuda): the cross-device noise floor")
    p.add_argument("--clip-model", default="none",
                   help="CLIP model id or local folder for the CLIP scores (default: none, off)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress lines, and no library warnings (errors still print)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.quiet:
        quiet_libraries()
    from gt_gen.controls import run_controls
    from gt_gen.generate.progress import Progress

    from gt_gen.devices import check_device
    from gt_gen.writable import check_out_dir

    check_device(args.device)
    if args.second_device:
        check_device(args.second_device, option="--second-device")
    _, cases = select(args)
    check_out_dir(args.out, ["controls.json"] + [f"{d}/manifest.json" for d in (
        "reference", "negative_seed", "negative_prompt", "noise_floor")])
    res = run_controls(cases, Path(args.out), device=args.device, second_device=args.second_device,
                       clip_model=args.clip_model, progress=Progress(quiet=args.quiet))
    print(f"controls for {len(res['cases'])} case(s) in {args.out}/controls.json")
    return 0 if all(v == 0 for v in res["generation_exit"].values()) else 1
