"""`edgeseg models`: the registered networks with params, MACs, FLOPs and FP32 size."""

from __future__ import annotations

import argparse
import json

HEADER = ("MACs: conv/linear (+bias) and norm layers (thop>=0.1 style: 4 per affine BN/GN element), nothing for "
          "activations/pooling/upsampling; FLOPs = 2 x MACs; batch 1. FP32 MB = 4 bytes x (params + float buffers).")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the networks with params, MACs, FLOPs and size",
                       description="List the registered networks. " + HEADER)
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.add_argument("--size", nargs=2, type=int, metavar=("H", "W"),
                   help="count MACs at H x W (default: each network's reference input)")
    p.add_argument("--model", action="append", metavar="NAME",
                   help="only this network (repeatable; registry name or e.g. unetsharp-l2)")
    p.set_defaults(func=run)


def format_table(rows: list[dict]) -> str:
    lines = [f"{'name':<14} {'params':>12} {'MACs (G)':>9} {'FLOPs (G)':>10} {'input':>12} {'FP32 MB':>8}  source"]
    for r in rows:
        shape = "x".join(str(s) for s in r["input_shape"])
        lines.append(f"{r['name']:<14} {r['params']:>12,} {r['macs'] / 1e9:>9.3f} {r['flops'] / 1e9:>10.3f} "
                     f"{shape:>12} {r['size_mb_fp32']:>8.2f}  {r['source']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from edgeseg.models.counting import model_table  # torch import deferred until the command runs

    rows = model_table(args.model, tuple(args.size) if args.size else None)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(HEADER)
        print(format_table(rows))
    return 0
