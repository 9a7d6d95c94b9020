"""``gt-gen convert``: an official LTX-2 checkpoint family -> diffusers component folders.

Either a case (``--case ID``: its model resolved as ``generate`` does: tiny built here, full from
the hub or ``--weights-dir``) or explicit files. Every tensor is mapped or nothing is written
(exit 2, the unmapped names in the message); ``key_table.json`` lists the mapping.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from gt_gen.commands.common import add_weights


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert official LTX-2 weights to diffusers folders")
    p.add_argument("--cases", dest="cases_dir", default=None, help="cases directory")
    p.add_argument("--case", dest="case_id", help="convert the model of this case")
    p.add_argument("--checkpoint", help="official main checkpoint (.safetensors)")
    p.add_argument("--gemma-root", help="the Gemma-3 root folder the official code loads")
    p.add_argument("--spatial-upsampler", help="official spatial upsampler (.safetensors)")
    p.add_argument("--distilled-lora", help="official distilled LoRA (.safetensors)")
    p.add_argument("--tiny-gemma", action="store_true",
                   help="the Gemma root is gt-gen's tiny one (no config.json; tiny constant)")
    p.add_argument("--out", required=True, help="new or empty directory")
    add_weights(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gt_gen.convert.ltx2 import convert_ltx2
    from gt_gen.convert.official_paths import tiny_patch
    from gt_gen.errors import UsageError

    out = Path(args.out)
    if args.case_id and args.checkpoint:
        raise UsageError("give --case or --checkpoint/--gemma-root, not both")
    if args.case_id:
        from gt_gen.cases import load_registry
        from gt_gen.trace.run import resolve_model

        case = load_registry(args.cases_dir).get(args.case_id)
        model = resolve_model(case, weights_dir=Path(args.weights_dir) if args.weights_dir else None,
                              allow_unpinned=args.allow_unpinned)
        ckpt, gemma = model.checkpoint, model.gemma_root
        up, lora, tiny = model.spatial_upsampler, model.distilled_lora, case.model.is_tiny
    elif args.checkpoint and args.gemma_root:
        ckpt, gemma = Path(args.checkpoint), Path(args.gemma_root)
        up = Path(args.spatial_upsampler) if args.spatial_upsampler else None
        lora = Path(args.distilled_lora) if args.distilled_lora else None
        tiny = args.tiny_gemma
    else:
        raise UsageError("give --case ID, or --checkpoint FILE and --gemma-root DIR")
    patch = tiny_patch().tiny_gemma_constant() if tiny else contextlib.nullcontext()
    with patch:
        res = convert_ltx2(ckpt, gemma, out, spatial_upsampler=up, distilled_lora=lora)
    print(f"converted {res.tensors} tensors -> {res.root} (key table: {res.root / 'key_table.json'})")
    return 0
