"""`edgeseg optimize` on networks trained on DSB 2018 (the campaign's checkpoints), results committed under
benchmarks/results/optimize/<variant>/ (optimize.json, optimize.md, optimize.png).

    python benchmarks/run_optimize.py                              # TinyU-Net and U-Net (quiet machine)
    python benchmarks/run_optimize.py --variants tinyunet --rounds 1 --iters 2 --batches 1 --threads 1 \\
        --out /tmp/opt                                             # smoke

Checkpoints: ../campaign-runs/dsb2018-nuclei-564/<variant>/f0-s0/best.pt (benchmarks/campaign.py); data:
../shared/data/dsb2018-nuclei-564. Dice on each checkpoint's VALIDATION split; budget 0.5 pp (issue 12).
TinyU-Net also gets the padded CMRF and the other exact bicubic forms as graph variants.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgeseg.study.paths import CAMPAIGN_RUNS, RESULTS, SHARED_DATA

RUNS = CAMPAIGN_RUNS / "dsb2018-nuclei-564"
DATA = SHARED_DATA / "dsb2018-nuclei-564"
VARIANTS = {  # graph variants (edgeseg.rewrites specs) worth racing per network
    "tinyunet": ["none", "default", "bicubic,cmrf-pad8", "bicubic=pad-nearest-conv,cmrf-split",
                 "bicubic=convtranspose,cmrf-split"],
    "unet": ["none"],
}


def main(argv: list[str] | None = None) -> int:
    from edgeseg.errors import EdgesegError
    from edgeseg.optimize import optimize

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--runs", type=Path, default=RUNS)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--max-dice-drop", type=float, default=0.5)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--out", type=Path, default=RESULTS / "optimize")
    args = ap.parse_args(argv)
    rc = 0
    for v in args.variants:
        ckpt = args.runs / v / "f0-s0" / "best.pt"
        if not ckpt.is_file():
            print(f"{v}: no checkpoint at {ckpt} (campaign not finished?); skipped", file=sys.stderr)
            rc = 1
            continue
        try:
            doc = optimize(str(ckpt), str(args.data), args.out / v, max_dice_drop=args.max_dice_drop,
                           variants=VARIANTS.get(v, ["none", "default"]), batches=args.batches,
                           threads=args.threads, rounds=args.rounds, iters=args.iters)
            print(f"{v}: selected {doc['selected']['label']} t{doc['selected']['threads']} "
                  f"({doc['selected']['p50_ms']:.2f} ms/image)", file=sys.stderr)
        except EdgesegError as e:
            print(f"{v}: {e}", file=sys.stderr)
            rc = 2
    return rc
