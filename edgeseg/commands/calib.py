"""`edgeseg calib make|show`: reproducible calibration-set manifests under calib/."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calib", help="make or show an INT8 calibration set (calib/NAME.json)")
    cs = p.add_subparsers(dest="calib_command", metavar="make|show", required=True)
    m = cs.add_parser("make", help="choose N images (stratified by foreground fraction) and write a manifest")
    m.add_argument("--data", required=True, help="data directory with images/ (and masks/)")
    m.add_argument("--n", type=int, default=128, help="number of images (default 128)")
    m.add_argument("--name", required=True, help="writes calib/NAME.json")
    m.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), help="model input size (default 256 256)")
    m.add_argument("--channels", type=int, help="model input channels (default: the images')")
    m.add_argument("--from-checkpoint", dest="checkpoint", help="take size/channels/normalisation from it")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--split", default="train",
                   help="with --from-checkpoint: choose only from this split of the checkpoint's run (default train)")
    m.set_defaults(func=run_make)
    s = cs.add_parser("show", help="print a calibration manifest (verifies the image hashes)")
    s.add_argument("name", help="NAME under calib/ or a path to a manifest")
    s.set_defaults(func=run_show)


def run_make(args: argparse.Namespace) -> int:
    from edgeseg.calib import make_calib

    out = make_calib(args.data, args.n, args.name, size=tuple(args.size) if args.size else None,
                     channels=args.channels, checkpoint=args.checkpoint, seed=args.seed, split=args.split)
    print(out)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from edgeseg.calib import load_calib

    m = load_calib(args.name, verify=True)
    summary = {k: m.get(k) for k in ("name", "manifest_path", "manifest_sha256", "root", "n", "seed", "selection",
                                     "available", "preprocess", "checkpoint")}
    summary["images"] = [i["path"] for i in m["images"]]
    summary["verified"] = True
    print(json.dumps(summary, indent=2))
    return 0
