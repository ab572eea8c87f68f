"""`edgeseg quantize FILE.onnx --fp16 | --int8 --calib NAME`: TensorRT-ready FP16 / Q/DQ INT8 graphs."""

from __future__ import annotations

import argparse
import json

from edgeseg.commands import preprocess_args
from edgeseg.dice_budget import HELP
from edgeseg.errors import EdgesegError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quantize", help="make an FP16 or explicit Q/DQ INT8 ONNX graph",
                       description="FP16: float32 I/O kept, sensitive ops in float32. INT8: symmetric, per-channel "
                                   "weights, Q/DQ on Conv/ConvTranspose/Gemm inputs, biases in float (TensorRT "
                                   "strongly-typed accepts it).")
    p.add_argument("onnx", metavar="FILE.onnx")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--fp16", action="store_true")
    g.add_argument("--int8", action="store_true")
    p.add_argument("--calib", help="calibration set: NAME under calib/ or a manifest path (--int8)")
    p.add_argument("--method", choices=["minmax", "entropy", "percentile"], default="minmax")
    p.add_argument("--qdq", choices=["conv-inputs", "conv-io"], default="conv-inputs",
                   help="INT8 Q/DQ layout: conv-inputs (default) = Q/DQ on Conv inputs only, for TensorRT / "
                        "TensorRT-RTX engines (slower than FP32 in ONNX Runtime); conv-io = also on Conv outputs, "
                        "for ONNX Runtime CPU (fused to QLinearConv, faster than FP32)")
    p.add_argument("--max-dice-drop", type=float, help=f"{HELP} (needs --data)")
    p.add_argument("--data", help="data directory for --max-dice-drop: the FP32 graph's (or the calibration "
                                  "run's) validation images in it, else all of its images (never a calibration one)")
    p.add_argument("--keep-over-budget", action="store_true",
                   help="write the INT8 graph even when --max-dice-drop is missed (its sidecar says so); by "
                        "default a missed budget writes nothing and exits 2")
    p.add_argument("--out", help="output .onnx (default: content-addressed under the cache dir)")
    preprocess_args.add(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgeseg.artifacts import read_sidecar
    from edgeseg.quantize import quantize_fp16, quantize_int8

    if args.fp16:
        out = quantize_fp16(args.onnx, args.out)
    else:
        if not args.calib:
            raise EdgesegError("--int8 needs --calib NAME (make one with edgeseg calib make)")
        out = quantize_int8(args.onnx, args.calib, args.out, args.method, args.max_dice_drop, args.data,
                            qdq=args.qdq, keep_over_budget=args.keep_over_budget,
                            preprocess=preprocess_args.given(args))
    meta = read_sidecar(out) or {}
    report = {"onnx": str(out), "precision": meta.get("precision")}
    if meta.get("qdq_layout"):
        report["qdq_layout"] = meta["qdq_layout"]
    if meta.get("dice_budget"):
        b = meta["dice_budget"]
        report.update(float_nodes=meta.get("float_nodes"), drop_pp=b.get("drop_pp"),
                      drop_pp_high=(b.get("drop_pp_interval") or {}).get("high"),
                      within_budget=b.get("within_budget"), kept_over_budget=bool(b.get("kept_over_budget")))
    print(json.dumps(report, indent=2))
    return 0
