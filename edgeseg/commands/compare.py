"""`edgeseg compare RESULTS [--device-bench]`: which network (and artifact) for my data (edgeseg.study)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="per network: test Dice over seeds and images, learned in k of n runs; "
                                       "with --device-bench the fastest artifact of each best seed",
                       description="Read a campaign results folder (edgeseg campaign run writes one) and write "
                                   "compare.md / compare.json / compare.png: test Dice with its two-level interval, "
                                   "'learned in k of n runs', the difference to the top network and a "
                                   "recommendation that says when the data cannot decide. --device-bench runs "
                                   "edgeseg optimize on each network's best-seed checkpoint on this machine.")
    p.add_argument("results", metavar="RESULTS", help="campaign results folder (<set>/<variant>/fF-sS.csv/json)")
    p.add_argument("--sets", nargs="+", help="only these data sets")
    p.add_argument("--networks", nargs="+", help="only these networks (variants)")
    p.add_argument("--out", default="compare-out", help="report folder (default compare-out/)")
    p.add_argument("--device-bench", action="store_true", help="optimize each network's best seed here")
    p.add_argument("--checkpoints", help="campaign checkpoint folder (<set>/<variant>/fF-sS/best.pt); needed "
                                         "with --device-bench")
    p.add_argument("--data", nargs="+", metavar="SET=DIR", default=[],
                   help="data folder per set (default: the shared set of that name)")
    p.add_argument("--max-dice-drop", type=float, default=0.5, help="optimize's budget, pp (default 0.5)")
    p.add_argument("--precisions", nargs="+", default=["fp32", "fp16", "int8"])
    p.add_argument("--rewrites", nargs="+", default=["none", "default"], help="graph variants (as optimize)")
    p.add_argument("--batches", nargs="+", type=int, default=[1])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--iters", type=int, default=20)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import shlex
    import sys
    from pathlib import Path

    from edgeseg.bench.machine import machine_line
    from edgeseg.errors import EdgesegError
    from edgeseg.study.compare import compare_results
    from edgeseg.study.compare_report import write_report
    from edgeseg.study.plan import shared_root

    doc = compare_results(args.results, datasets=args.sets, networks=args.networks)
    doc["command"] = shlex.join(["edgeseg", *sys.argv[1:]]) if sys.argv[1:2] == ["compare"] else "edgeseg compare"
    doc["machine"] = machine_line()
    if args.device_bench:
        from edgeseg.study.compare_bench import device_bench

        if not args.checkpoints:
            raise EdgesegError("--device-bench needs --checkpoints DIR (the campaign's checkpoint folder)")
        folders = dict(kv.split("=", 1) for kv in args.data if "=" in kv)
        opts = {"max_dice_drop": args.max_dice_drop, "precisions": args.precisions, "variants": args.rewrites,
                "batches": args.batches, "threads": args.threads, "rounds": args.rounds, "iters": args.iters,
                "plot": False}
        from edgeseg.bench.machine import cpu_info

        doc["cpu"] = cpu_info()
        device_bench(doc, args.checkpoints, args.out, opts=opts,
                     data=lambda ds: Path(folders.get(ds) or shared_root() / ds),
                     log=lambda m: print(f"edgeseg compare: {m}", file=sys.stderr, flush=True))
    for p in write_report(doc, args.out):
        print(p)
    return 0
