"""`edgeseg data synth OUT`: the generated default data set."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="data sets (generate the default one)")
    dsub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    s = dsub.add_parser("synth", help="generate cell/nucleus-like images with exact masks",
                        description="Write OUT/images, OUT/masks (PNG, same stems) and OUT/SOURCE.md; "
                                    "byte-identical for the same arguments.")
    s.add_argument("out", help="output folder (must not exist or be empty)")
    s.add_argument("--n", type=int, default=64, help="number of images (default 64)")
    s.add_argument("--size", type=int, default=128, help="side in pixels (default 128)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--channels", type=int, choices=[1, 3], default=1, help="1 = grayscale, 3 = RGB (default 1)")
    s.set_defaults(func=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    from edgeseg.data.synth import make_synthetic

    out = make_synthetic(args.out, n=args.n, size=args.size, seed=args.seed, channels=args.channels)
    print(f"{out}: {args.n} images of {args.size}x{args.size} ({'gray' if args.channels == 1 else 'RGB'}), seed "
          f"{args.seed}")
    return 0
