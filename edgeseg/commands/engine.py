"""`edgeseg build-engine MODEL|CHECKPOINT|FILE.onnx`: export -> FP16/INT8 -> TensorRT / TensorRT-RTX engine."""

from __future__ import annotations

import argparse
import json

from edgeseg.names import DEFAULT_OPSET, FLAVOURS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build-engine", help="build a TensorRT / TensorRT-RTX engine (strongly typed) with a JSON sidecar",
        description="Run (or reuse, by content hash) export and FP16/INT8 Q/DQ quantization, then build a "
                    "strongly typed engine: the precision is the ONNX graph's. TensorRT-RTX builds ahead of time "
                    "on the CPU for --compute-capability targets; TensorRT builds on (and for) the local GPU. "
                    "Writes FILE.engine and FILE.engine.json; a rerun with the same inputs reuses the engine.")
    p.add_argument("source", metavar="MODEL|CHECKPOINT|FILE.onnx")
    prec = p.add_mutually_exclusive_group()
    prec.add_argument("--fp16", dest="precision", action="store_const", const="fp16",
                      help="convert the FP32 graph to FP16 first (edgeseg quantize --fp16)")
    prec.add_argument("--int8", dest="precision", action="store_const", const="int8",
                      help="INT8 Q/DQ graph calibrated on --calib first (edgeseg quantize --int8)")
    p.add_argument("--calib", metavar="NAME", help="calibration set for --int8 (edgeseg calib make --name NAME)")
    p.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), help="input size (default: the model's/ONNX's)")
    batch = p.add_mutually_exclusive_group()
    batch.add_argument("--batch", type=int, default=1, help="fixed batch size (default 1)")
    batch.add_argument("--shapes", metavar="MIN:OPT:MAX",
                       help="dynamic-batch optimization profile, e.g. 1:4:8 (exports with a dynamic batch)")
    p.add_argument("--out", metavar="FILE.engine", help="output engine (default: content-addressed in the cache dir)")
    p.add_argument("--backend", choices=["auto", *FLAVOURS], default="auto",
                   help="auto: TensorRT if installed (Jetson/JetPack, datacenter GPUs), else TensorRT-RTX")
    p.add_argument("--timing-cache", metavar="FILE",
                   help="TensorRT build timing cache, read and updated (TensorRT-RTX has none: it caches JIT "
                        "kernels at run time instead)")
    p.add_argument("--compute-capability", metavar="8.6,8.9,...",
                   help="TensorRT-RTX target GPUs (default: TensorRT-RTX's own: 8.0, 8.6, 8.9, 12.x; 7.5 on request)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                   help=f"ONNX opset when exporting (default {DEFAULT_OPSET})")
    p.add_argument("--workspace-mb", type=int, help="builder workspace memory limit (MiB)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgeseg.engine import build_engine_info, parse_shapes

    ccs = [c for c in (args.compute_capability or "").split(",") if c.strip()] or None
    res = build_engine_info(
        args.source, precision=args.precision, calib=args.calib, size=tuple(args.size) if args.size else None,
        batch=args.batch, shapes=parse_shapes(args.shapes) if args.shapes else None, out=args.out,
        backend=args.backend, timing_cache=args.timing_cache, compute_capabilities=ccs, opset=args.opset,
        workspace_mb=args.workspace_mb)
    m = res.meta
    print(json.dumps({
        "engine": str(res.path), "reused": res.reused, "flavour": m.get("flavour"), "version": m.get("trt_version"),
        "precision": m.get("precision"), "targets": m.get("target_compute_capabilities") or m.get("built_on_gpu"),
        "profiles": m.get("profiles"), "build_seconds": m.get("build_seconds"), "size_bytes": m.get("size_bytes"),
        "warnings": len(m.get("warnings") or []),
    }, indent=2))
    return 0
