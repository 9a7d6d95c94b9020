"""``gt-gen generate``: GT from each family's official code for a group of cases (tiny or full profile)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gt_gen.commands.common import add_selection, add_weights, quiet_libraries, select


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate",
                       help="generate GT with each family's official code (LTX-2, diffusers)")
    add_selection(p, group_required=True)
    p.add_argument("--out", required=True, help="output directory (mp4, key-frame PNGs, manifest)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--profile", choices=("auto", "tiny", "full", "random-full"), default="auto",
                   help="tiny: offline tiny checkpoints; full: hub weights; auto: by case; "
                        "random-full: the real LTX-2 architectures with random weights made on "
                        "the device (cost and fit of a full-size case, not GT)")
    add_weights(p)
    p.add_argument("--reuse", choices=("models", "state_dicts", "none"), default="models",
                   help="load once per group: keep built models (default), only state dicts, or nothing")
    p.add_argument("--quiet", action="store_true",
                   help="no progress lines, and no library warnings (errors still print)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.quiet:
        quiet_libraries()
    from gt_gen.generate.progress import Progress
    from gt_gen.generate.runner import env_run_url, run_group

    from gt_gen.devices import check_device
    from gt_gen.naming import expected_outputs, video_name
    from gt_gen.writable import check_out_dir

    check_device(args.device)
    _, cases = select(args)
    check_out_dir(args.out, ["manifest.json"] + [n for c in cases for n in expected_outputs(c)
                                                 + ([video_name(c)] if c.modality == "video" else [])])
    return run_group(cases, Path(args.out), device=args.device, profile=args.profile,
                     weights_dir=Path(args.weights_dir) if args.weights_dir else None,
                     allow_unpinned=args.allow_unpinned, reuse=args.reuse,
                     progress=Progress(quiet=args.quiet), run_url=env_run_url())
