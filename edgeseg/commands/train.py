"""`edgeseg train MODEL --data DIR --out RUN_DIR`: thin wrapper over edgeseg.train.train."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from edgeseg.errors import EdgesegError


def _parse_opt(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--opt {text!r}: expected KEY=VALUE, e.g. --opt base=16")
    k, v = text.split("=", 1)
    try:
        val = json.loads(v.lower() if v.lower() in ("true", "false", "null") else v)
    except json.JSONDecodeError:
        val = v
    return k.strip(), val


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a network on a folder of images/ + masks/",
                       description="Train MODEL on DIR (images/ + masks/, same stems) with BCE+Dice, Adam and a cosine "
                                   "schedule; writes RUN_DIR/best.pt, last.pt, metrics.json, split.json. Launch with "
                                   "torchrun --nproc_per_node N -m edgeseg train ... for DistributedDataParallel.")
    p.add_argument("model", nargs="?", help="registry name (edgeseg models); optional with --resume")
    p.add_argument("--data", help="data folder with images/ and masks/")
    p.add_argument("--out", required=True, help="run folder (RUN_DIR)")
    p.add_argument("--size", nargs=2, type=int, metavar=("H", "W"),
                   help="model input size (default: the images' median shorter side, at most 256)")
    p.add_argument("--epochs", type=int, help="epochs (default 30)")
    p.add_argument("--batch", type=int, help="batch size per process (default 8)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 1e-3), cosine-annealed to 0")
    p.add_argument("--device", choices=["cpu", "cuda"], help="default cpu")
    p.add_argument("--seed", type=int, help="seed for split, init, shuffling, augmentation (default 0)")
    p.add_argument("--workers", type=int, help="DataLoader worker processes (default 0)")
    p.add_argument("--foreground", help="mask mapping: auto (default; 255 or 1 = foreground, label maps as classes), "
                                        "invert (0 = foreground, e.g. ISBI membranes), a value list '255', or "
                                        "'0:1,255:0'. Recorded in the checkpoint.")
    p.add_argument("--channels", type=int, choices=[1, 3], help="input channels (default: 1 if all images are gray)")
    p.add_argument("--opt", action="append", type=_parse_opt, default=[], metavar="KEY=VALUE",
                   help="model option, e.g. --opt deep_supervision=true (repeatable)")
    p.add_argument("--val-fraction", type=float, help="share of images for validation (default 0.15)")
    p.add_argument("--test-fraction", type=float, help="share of images for the test split (default 0.15)")
    p.add_argument("--split-file", help="a split.json (lists train/val/test of image stems) to train on instead of "
                                        "the seeded fractions, e.g. one fixed split shared by several --seed runs")
    p.add_argument("--no-augment", dest="augment", action="store_const", const=False, help="no augmentation")
    p.add_argument("--native-crop", dest="native_crop", action="store_const", const=True,
                   help="train on random --size crops at the images' native scale (no resize), so tiled inference "
                        "sees objects at the training scale; eval/predict then tile by default. Validation: one "
                        "fixed seeded crop per image")
    p.add_argument("--resume", action="store_true", help="continue RUN_DIR from last.pt")
    p.add_argument("--quiet", action="store_const", const=True, help="no progress bar or per-epoch lines")
    p.add_argument("--json", action="store_true", help="print the final metrics as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edgeseg.artifacts import check_output_path
    from edgeseg.train import train

    check_output_path(Path(args.out) / "best.pt")  # RUN_DIR: a file there, or under a file, is refused
    if not args.resume and (args.model is None or args.data is None):
        raise EdgesegError("train: MODEL and --data are required (or --resume an existing --out)")
    opts: dict[str, Any] = {"model": args.model, "data": args.data, "epochs": args.epochs, "batch": args.batch,
                            "lr": args.lr, "device": args.device, "seed": args.seed, "workers": args.workers,
                            "foreground": args.foreground, "channels": args.channels, "augment": args.augment,
                            "val_fraction": args.val_fraction, "test_fraction": args.test_fraction,
                            "quiet": args.quiet, "size": tuple(args.size) if args.size else None,
                            "native_crop": args.native_crop}
    if args.opt:
        opts["model_options"] = dict(args.opt)
    if args.split_file:
        from edgeseg.data.dataset import read_split_file

        opts["split"] = {k: read_split_file(args.split_file)[k] for k in ("train", "val", "test")}
    opts = {k: v for k, v in opts.items() if v is not None}
    res = train(args.out, resume=args.resume, **opts)
    if res.get("warning") and args.quiet:  # said even with --quiet (train logs it otherwise): a useless checkpoint
        print(f"edgeseg train: warning: {Path(args.out) / 'metrics.json'}: {res['warning']}", file=sys.stderr)
    if args.json and res:
        print(json.dumps({k: v for k, v in res.items() if k not in ("history", "config", "test")}, indent=2))
    return 0
