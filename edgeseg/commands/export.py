"""`edgeseg export MODEL|CHECKPOINT --out FILE.onnx`: export, simplify, check against PyTorch, sidecar."""

from __future__ import annotations

import argparse
import json

from edgeseg.names import DEFAULT_OPSET


def _batch(v: str) -> int | str:
    if v == "dynamic":
        return v
    try:
        return int(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--batch takes an integer or 'dynamic', got {v!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a network or checkpoint to ONNX (input 'input', output 'logits')",
                       description="Export a registry model (random weights, said loudly) or a checkpoint to "
                                   "ONNX (torch.export-based exporter; TorchScript for the networks "
                                   "edgeseg.onnx_exporter.TORCHSCRIPT_KEPT names, with the measured reason), "
                                   "simplify with onnxsim, check ONNX Runtime against PyTorch, and write "
                                   "FILE.onnx.json beside it.")
    p.add_argument("source", metavar="MODEL|CHECKPOINT", help="registry name (edgeseg models) or a best.pt")
    p.add_argument("--out", help="output .onnx (default: content-addressed under the cache dir)")
    p.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), help="input size (default: checkpoint's)")
    p.add_argument("--batch", type=_batch, default=1, help="batch size, or 'dynamic' (default 1)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    p.add_argument("--rewrites", default="default",
                   help="exact graph rewrites (edgeseg.rewrites): 'default', 'none', or a comma list of bicubic[=FORM],"
                        " cmrf-split, cmrf-pad8, groupnorm-lean (default: bicubic, cmrf-split, groupnorm-lean)")
    p.add_argument("--exporter", choices=("dynamo", "torchscript"),
                   help="override the network's measured exporter choice (recorded in the sidecar)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgeseg.artifacts import read_sidecar
    from edgeseg.export import export_onnx

    out = export_onnx(args.source, args.out, tuple(args.size) if args.size else None, args.batch, args.opset,
                      rewrites=args.rewrites, exporter=args.exporter)
    meta = read_sidecar(out) or {}
    print(json.dumps({"onnx": str(out), "weights": meta.get("weights"), "check": meta.get("check")}, indent=2))
    return 0
