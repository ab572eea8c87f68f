"""FP32 vs FP16 vs INT8 (Q/DQ, both layouts) in ONNX Runtime: Dice on a data set and CPU latency at batch 1.

For each network: export (a training run's checkpoint if given with --checkpoint MODEL=PATH, else random
weights, seed 0, which the row's notes say), make the FP16 and INT8 graphs with edgeseg's own steps
(`export_onnx` -> `quantize_fp16` / `quantize_int8`, reused by content hash under $EDGESEG_CACHE), measure
Dice/IoU of each graph against the masks of held-out images (not in the calibration set), and time each at
batch 1 with 1 and 2 ORT threads. Writes benchmarks/results/precision-ort.json (schema edgeseg-bench/1).

    python benchmarks/precision_ort.py --data ../shared/data/isbi2012-em --size 256 256 \
        --checkpoint unet=runs/unet/best.pt --threads 1 2
    python benchmarks/precision_ort.py --models tinyunet --size 64 64 --iters 5 --n-eval 4 --out /tmp/p.json  # proof
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.artifacts import read_sidecar, write_json_atomic
from edgeseg.calib import _list_pairs, load_calib, make_calib, read_image
from edgeseg.data.preprocess import Preprocess
from edgeseg.errors import EdgesegError
from edgeseg.metrics import dice, iou, labels_from_logits

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "precision-ort.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", help="registry names (default: all)")
    p.add_argument("--checkpoint", action="append", default=[], metavar="MODEL=PATH",
                   help="trained checkpoint for a model (repeatable); others use random weights")
    p.add_argument("--data", help="data directory with images/ and masks/ (default: generated synthetic set)")
    p.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), default=None,
                   help="input size (default: the checkpoint's, else 256 256)")
    p.add_argument("--calib", help="calibration set (name under calib/ or manifest); default: made from --data")
    p.add_argument("--calib-n", type=int, default=32, help="images in the made calibration set (default 32)")
    p.add_argument("--method", default="minmax", choices=["minmax", "entropy", "percentile"])
    p.add_argument("--n-eval", type=int, default=64, help="held-out images for Dice (default 64)")
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--iters", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--out", default=str(DEFAULT_OUT))
    return p.parse_args(argv)


def _masks_binary(path: Path, pre: Preprocess) -> np.ndarray:
    m = read_image(path)
    m = m if m.ndim == 2 else m[..., 0]
    fg = m > (127 if m.max() > 127 else 0)  # 0/255 masks (JPEG noise-proof) or label maps
    return pre.mask(fg.astype(np.uint8)) > 0


def evaluate(path: Path, xs: list[np.ndarray], gts: list[np.ndarray]) -> dict[str, float]:
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    d, j = [], []
    with OnnxRuntimeRunner(path, threads=2) as r:
        for x, g in zip(xs, gts, strict=True):
            pred = labels_from_logits(r.infer({"input": x})["logits"])[0] > 0
            d.append(dice(pred, g))
            j.append(iou(pred, g))
    return {"dice": float(np.mean(d)), "iou": float(np.mean(j))}


def run_model(name: str, ckpt: str | None, args: argparse.Namespace, data: Path, work: Path) -> list[dict[str, Any]]:
    from edgeseg.bench.harness import bench_runner
    from edgeseg.export import export_onnx
    from edgeseg.models import create_model
    from edgeseg.quantize import quantize_fp16, quantize_int8
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    source = ckpt or name
    size = tuple(args.size) if args.size else (None if ckpt else (256, 256))
    fp32 = export_onnx(source, size=size)
    meta = read_sidecar(fp32) or {}
    pre = Preprocess.from_dict(meta["preprocess"])
    cfg = meta["model"]
    if args.calib:
        calib = load_calib(args.calib)
    else:
        calib = load_calib(make_calib(data, n=min(args.calib_n, len(_list_pairs(data)) // 2),
                                      out=work / f"calib-{name}-{pre.height}x{pre.width}x{pre.channels}.json",
                                      size=(pre.height, pre.width), channels=pre.channels))
    artifacts = {"fp32": fp32, "fp16": quantize_fp16(fp32), "int8": quantize_int8(fp32, calib, method=args.method),
                 # the same calibration, Q/DQ on Conv outputs too: the layout ONNX Runtime CPU runs fast
                 "int8-io": quantize_int8(fp32, calib, method=args.method, qdq="conv-io")}
    used = {i["sha256"] for i in calib["images"]}
    calib_desc = (f"calib {args.calib}" if args.calib else "calib made from --data") + \
        f" (n={len(calib['images'])}, seed {calib.get('seed')}, sha256 {calib['manifest_sha256'][:12]})"
    from edgeseg.artifacts import sha256_file

    held = [(i, m) for i, m in _list_pairs(data) if m is not None and sha256_file(i) not in used][: args.n_eval]
    if not held:
        raise EdgesegError(f"{data}: no held-out images with masks to measure Dice on")
    xs = [pre.image(read_image(i))[None] for i, _ in held]
    gts = [_masks_binary(m, pre) for _, m in held]
    params = sum(p.numel() for p in create_model(cfg["name"], cfg["in_channels"], cfg["num_classes"],
                                                 **cfg.get("options", {})).parameters())
    weights = "checkpoint" if ckpt else "random-init (seed 0): Dice is not meaningful, latency is"
    rows = []
    for prec, path in artifacts.items():
        acc = evaluate(path, xs, gts)
        for t in args.threads:
            with OnnxRuntimeRunner(path, threads=t) as r:
                shape = [1, pre.channels, pre.height, pre.width]
                b = bench_runner(r, shape, warmup=args.warmup, iters=args.iters)
            pmeta = read_sidecar(path) or {}
            rows.append({"model": name, "backend": "onnxruntime", "precision": prec, "device": "cpu", "threads": t,
                         "batch": 1, "input_shape": shape, "latency_ms": b["latency_ms"],
                         "throughput_ips": b["throughput_ips"], "peak_mem_mb": None,
                         "size_mb": path.stat().st_size / 2**20, "params": params, "dice": acc["dice"],
                         "iou": acc["iou"], "energy_mj_per_image": None, "artifact": str(path),
                         "notes": f"weights: {weights}; dice on {len(xs)} held-out images of {data}"
                                  + {"fp16": f"; kept fp32: {','.join(pmeta.get('kept_fp32_ops', []))}",
                                     "int8": f"; {args.method}, {calib_desc}, float nodes: "
                                             f"{len(pmeta.get('float_nodes') or [])}",
                                     "int8-io": f"; Q/DQ on Conv inputs+outputs, {args.method}, {calib_desc}"
                                     }.get(prec, "")})
            print(f"{name:10s} {prec} t={t} p50 {b['latency_ms']['p50']:.2f} ms dice {acc['dice']:.4f}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    from edgeseg.bench.env import capture_env
    from edgeseg.models import list_models

    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization's pre-processing hint
    args = parse_args(argv)
    ckpts = dict(c.split("=", 1) for c in args.checkpoint)
    models = args.models or list_models()
    with tempfile.TemporaryDirectory() as td:
        work = Path(td)
        if args.data:
            data = Path(args.data)
        else:
            from edgeseg.data.synth import make_synthetic

            data = make_synthetic(work / "synth", n=2 * args.n_eval + 16, size=max(args.size or (256,)), seed=0,
                                  channels=3)
        rows: list[dict[str, Any]] = []
        for name in models:
            rows += run_model(name, ckpts.get(name), args, data, work)
    doc = {"schema": "edgeseg-bench/1", "created": dt.datetime.now(dt.timezone.utc).isoformat(),
           "command": "python benchmarks/precision_ort.py " + " ".join(sys.argv[1:] if argv is None else argv),
           "env": capture_env(args.threads), "results": rows}
    from edgeseg.bench.schema import check

    check(doc, "precision-ort results")
    write_json_atomic(args.out, doc)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EdgesegError as e:
        print(f"precision_ort: error: {e}", file=sys.stderr)
        sys.exit(2)
