"""--mean/--std (--foreground) or --preprocess FILE.json: the preprocessing of an ONNX file from elsewhere (no
edgeseg sidecar), for `eval`, `predict`, `bench` and `quantize`. Given over a recorded one, they replace it."""

from __future__ import annotations

import argparse
from typing import Any


def add(p: argparse.ArgumentParser, foreground: bool = False) -> None:
    g = p.add_argument_group("preprocessing of an ONNX file without an edgeseg sidecar (replaces a recorded one)")
    g.add_argument("--mean", type=float, nargs="+", metavar="M",
                   help="per-channel mean of the [0, 1]-scaled input (1 or C values; default 0.5)")
    g.add_argument("--std", type=float, nargs="+", metavar="S", help="per-channel std (1 or C values; default 0.5)")
    if foreground:
        g.add_argument("--foreground",
                       help="raw mask value(s) of the foreground to write masks in (e.g. 255, or invert, or 0:1,255:0)")
    g.add_argument("--preprocess", metavar="FILE.json",
                   help='JSON with any of height, width, channels, mean, std, labels (e.g. {"mean": [0.5], '
                        '"std": [0.5]}); an edgeseg sidecar works too. Size and channels default to the input\'s')


def given(args: argparse.Namespace, foreground: bool = False) -> dict[str, Any] | None:
    """The user-given preprocessing keys, or None when none was given."""
    from edgeseg.data.preprocess import read_preprocess_file

    d: dict[str, Any] = read_preprocess_file(args.preprocess) if args.preprocess else {}
    if args.mean:
        d["mean"] = list(args.mean)
    if args.std:
        d["std"] = list(args.std)
    if foreground and getattr(args, "foreground", None):
        from edgeseg.data.dataset import parse_foreground

        d["labels"] = [list(t) for t in parse_foreground(args.foreground, {0, 255}).to_pairs()]
    return d or None
