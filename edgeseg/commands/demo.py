"""`edgeseg demo`: the whole pipeline on the generated default data set (the README's first command)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on generated data: train, export, FP16/INT8, "
                                    "TensorRT-RTX engines, benchmark, claims check")
    p.add_argument("--out", default="demo", help="folder for everything the demo makes (default: demo/)")
    p.add_argument("--model", default="tinyunet", help="network to train (default: tinyunet)")
    p.add_argument("--baselines", nargs="+", default=["unet", "ulite"],
                   help="untrained networks timed in the same run for the speed ratios (default: unet ulite)")
    p.add_argument("--size", type=int, default=96, help="square input side (default 96)")
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--iters", type=int, default=20, help="timed iterations per benchmark row")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from edgeseg.study.demo import run_demo

    res = run_demo(out=args.out, model=args.model, baselines=tuple(args.baselines), size=args.size,
                   epochs=args.epochs, iters=args.iters)
    return 1 if res["bench"].get("failed") else 0  # a FAILED benchmark row (printed with its reason)
