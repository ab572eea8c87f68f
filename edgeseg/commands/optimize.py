"""`edgeseg optimize MODEL|CHECKPOINT --data DIR --max-dice-drop 0.5`: the fastest artifact within a Dice budget."""

from __future__ import annotations

import argparse
import json

from edgeseg.dice_budget import HELP
from edgeseg.optimize import PRECISIONS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("optimize", help="build FP32/FP16/INT8/mixed candidates, time them, pick the fastest "
                                        "within a Dice budget",
                       description="Export and quantize every candidate artifact, score Dice on the VALIDATION "
                                   "split (bootstrap interval of the drop vs FP32), time all of them interleaved "
                                   "in one process, write the Pareto table (JSON + markdown) and a plot, and name "
                                   "the fastest artifact within the budget. Exit 2 when none fits.")
    p.add_argument("source", metavar="MODEL|CHECKPOINT", help="a trained best.pt (or a registry name with "
                                                               "--split-file)")
    p.add_argument("--data", required=True, help="the data directory the checkpoint was trained on")
    p.add_argument("--max-dice-drop", type=float, default=0.5,
                   help=f"{HELP} (default 0.5; the same rule as edgeseg quantize)")
    p.add_argument("--out", default="optimize-out", help="output directory (default optimize-out/)")
    p.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    p.add_argument("--rewrites", nargs="+", default=["none", "default"],
                   help="graph variants (edgeseg.rewrites specs, e.g. none default bicubic,cmrf-pad8)")
    p.add_argument("--batches", nargs="+", type=int, default=[1, 4])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (default 5)")
    p.add_argument("--iters", type=int, default=20, help="timed iterations per configuration per round")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--split-file", help="split.json whose 'val' list is scored (default: the checkpoint's)")
    p.add_argument("--calib", help="INT8 calibration set (default: from the checkpoint's training split)")
    p.add_argument("--no-plot", dest="plot", action="store_false")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgeseg.optimize import optimize

    doc = optimize(args.source, args.data, args.out, max_dice_drop=args.max_dice_drop, precisions=args.precisions,
                   variants=args.rewrites, batches=args.batches, threads=args.threads, rounds=args.rounds,
                   iters=args.iters, warmup=args.warmup, split_file=args.split_file, calib=args.calib,
                   plot=args.plot)
    print(json.dumps({"selected": doc["selected"], "table": f"{args.out}/optimize.md"}, indent=2, default=str))
    return 0
