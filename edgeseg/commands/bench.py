"""`edgeseg bench` (one artifact, or `--model NAME --all` for the matrix) and `edgeseg plot`."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from edgeseg.commands import inference_args, preprocess_args
from edgeseg.errors import EdgesegError


def _ints(text: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not vals or any(v < 1 for v in vals):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return vals


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmark TensorRT / ONNX Runtime / PyTorch: latency, memory, Dice, energy",
                       description="Benchmark one artifact (--engine, --onnx, --torch) or, with --model NAME --all, "
                                   "every backend and precision this machine can run. Prints a table; --json "
                                   "writes an edgeseg-bench/1 results file.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--engine", metavar="FILE.engine", nargs="+", action="extend",
                      help="TensorRT / TensorRT-RTX engine(s) (needs their GPU); repeatable")
    what.add_argument("--onnx", metavar="FILE.onnx", nargs="+", action="extend",
                      help="ONNX file(s), run with ONNX Runtime on the CPU; repeatable")
    what.add_argument("--torch", metavar="MODEL|CHECKPOINT", help="PyTorch eager: registry name or checkpoint")
    what.add_argument("--model", nargs="+", metavar="NAME", help="with --all: models (names or checkpoints)")
    p.add_argument("--all", action="store_true", help="the matrix: every backend and precision available here")
    p.add_argument("--backends", default="onnxruntime,pytorch,tensorrt",
                   help="with --all: comma list of onnxruntime,pytorch,tensorrt (default all; unavailable ones are "
                        "skipped with a reason)")
    p.add_argument("--precisions", default="fp32,fp16,int8,int8-io",
                   help="with --all: comma list (default fp32,fp16,int8,int8-io; int8-io = INT8 with Q/DQ on Conv "
                        "inputs and outputs, ONNX Runtime only)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="--torch: where to run (default cpu); --all: only CPU or only GPU rows (default both, "
                        "where available)")
    p.add_argument("--precision", choices=("fp32", "fp16"), default="fp32", help="for --torch (fp16: CUDA only)")
    p.add_argument("--threads", type=_ints, default=None, metavar="1,2,4",
                   help="CPU threads (ORT intra-op = torch.set_num_threads); default: all cores")
    p.add_argument("--batch", type=_ints, default=[1], metavar="1,4", help="batch sizes (default 1)")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="input size (default: the artifact's)")
    p.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"),
                   help="also time whole H x W images at native size (ms per image, images/s, by --tile or "
                        "--resize; default: the training regime's), beside the per-call figure; with --data the "
                        "mean over the data set's own sizes is added")
    inference_args.add(p, tile_batch=False)
    p.add_argument("--warmup", type=int, default=10, help="warm-up iterations (default 10)")
    p.add_argument("--iters", type=int, default=None, help="timed iterations (default 50 unless --seconds)")
    p.add_argument("--seconds", type=float, default=None, help="time for this many seconds instead of --iters")
    p.add_argument("--data", metavar="DIR", help="also score Dice/IoU on DIR (images/ + masks/), as edgeseg eval")
    p.add_argument("--split", choices=("train", "val", "test", "all"), default=None,
                   help="split of --data (default: test if the artifact records a split, else all)")
    p.add_argument("--calib", metavar="NAME", help="with --all: calibration set for INT8 (default: made from "
                                                    "--data, else from generated data, and said so)")
    p.add_argument("--power", choices=("auto", "nvml", "tegrastats", "none"), default="auto",
                   help="power/energy source (auto: tegrastats on Jetson, NVML on NVIDIA GPUs, else none)")
    p.add_argument("--no-isolate", dest="isolate", action="store_false",
                   help="run configs in this process (default: each in a fresh subprocess)")
    p.add_argument("--json", "--out", dest="json", metavar="FILE", help="write the results (schema edgeseg-bench/1)")
    p.add_argument("--ratios", action="store_true", help="also print the target speed-up ratios")
    preprocess_args.add(p)
    p.set_defaults(func=cmd_bench)

    q = sub.add_parser("plot", help="plot bench results: latency vs Dice (Pareto front), latency per backend")
    q.add_argument("results", nargs="+", metavar="RESULTS.json")
    q.add_argument("--out", required=True, metavar="FILE.png")
    q.set_defaults(func=cmd_plot)


def _command_line(args: argparse.Namespace) -> str:
    argv = sys.argv[1:] if Path(sys.argv[0]).name in ("edgeseg", "__main__.py") else None
    if argv and argv[0] == "bench":
        return shlex.join(["edgeseg", *argv])
    parts = ["edgeseg", "bench"]
    for k, v in sorted(vars(args).items()):
        if k in ("func", "command") or v in (None, False) or (k == "isolate" and v):
            continue
        flag = "--" + k.replace("_", "-")
        parts += [flag] if v is True else [flag, *(map(str, v) if isinstance(v, list) else [str(v)])]
    return shlex.join(parts)


def _single_configs(args: argparse.Namespace) -> list[dict[str, Any]]:
    from edgeseg.bench.config import make_config
    from edgeseg.recipe import precision_label_of

    common = dict(warmup=args.warmup, iters=args.iters, seconds=args.seconds, power=args.power, data=args.data,
                  split=args.split, size=list(args.size) if args.size else None,
                  inference=inference_args.mode(args), image_size=list(args.image_size) if args.image_size else None,
                  overlap=args.overlap, blend=args.blend, preprocess=preprocess_args.given(args))
    if isinstance(args.tile, tuple) and not args.size:
        common["size"] = list(args.tile)  # the tile is the benchmarked input
    threads = args.threads or [None]
    cfgs = []
    for engine in args.engine or []:
        from edgeseg.sidecars import read_engine_sidecar

        side = read_engine_sidecar(engine)  # None: no sidecar; the runner then refuses it (or runs unchecked)
        backend = side.flavour if side else "tensorrt"
        prec = (side.precision if side else None) or "fp16"
        for b in args.batch:
            cfgs.append(make_config(model=Path(engine).stem, backend=backend, artifact=engine,
                                    precision=prec, device="cuda", batch=b, **common))
    for onnx in args.onnx or []:
        p = Path(onnx)
        if not p.is_file():
            raise EdgesegError(f"{p}: no such ONNX file; create it with edgeseg export")
        prec = precision_label_of(p)
        for b in args.batch:
            for t in threads:
                cfgs.append(make_config(model=p.stem, backend="onnxruntime", artifact=str(p), precision=prec,
                                        threads=t, batch=b, **common))
    if args.torch:
        for b in args.batch:
            device = args.device or "cpu"
            for t in threads if device == "cpu" else [None]:
                cfgs.append(make_config(model=Path(args.torch).stem, backend="pytorch", artifact=args.torch,
                                        precision=args.precision, device=device, threads=t, batch=b, **common))
    return cfgs


def cmd_bench(args: argparse.Namespace) -> int:
    from edgeseg.artifacts import write_json_atomic
    from edgeseg.bench.harness import WorkerFailed, precheck, run_config, run_config_isolated
    from edgeseg.bench.matrix import MATRIX_PRECISIONS, new_doc, run_matrix
    from edgeseg.bench.results import format_report
    from edgeseg.bench.schema import check
    from edgeseg.bench.speedups import compute_ratios

    if bool(args.model) != bool(args.all):
        raise EdgesegError("--all goes with --model NAME (the matrix); for one artifact use --engine/--onnx/--torch")
    if args.iters is not None and args.iters < 1 or args.warmup < 0 or (args.seconds is not None and args.seconds <= 0):
        raise EdgesegError("need --iters >= 1, --warmup >= 0 and --seconds > 0")
    if args.json:
        from edgeseg.artifacts import check_output_path

        check_output_path(args.json)
    command = _command_line(args)
    if args.all and (args.image_size or inference_args.mode(args)):
        raise EdgesegError("--image-size/--tile/--resize: per-image figures are measured for one artifact "
                           "(--onnx, --engine or --torch), not with --all")
    if args.all:
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        precisions = [x.strip() for x in args.precisions.split(",") if x.strip()]
        bad = [b for b in backends if b not in ("onnxruntime", "pytorch", "tensorrt")] + \
              [x for x in precisions if x not in MATRIX_PRECISIONS]
        if bad:
            raise EdgesegError(f"unknown --backends/--precisions value(s) {bad}")
        import os

        doc = run_matrix(args.model, backends=backends, precisions=precisions,
                         threads=args.threads or [len(os.sched_getaffinity(0))], batch=args.batch,
                         size=tuple(args.size) if args.size else None, warmup=args.warmup,
                         iters=args.iters if args.iters or args.seconds else 50, seconds=args.seconds,
                         data=args.data, split=args.split, calib=args.calib, isolate=args.isolate,
                         power=args.power, device=args.device or "auto", command=command)
    else:
        cfgs = _single_configs(args)
        for cfg in cfgs:
            precheck(cfg)
        doc = new_doc(command, args.threads)
        run = run_config_isolated if args.isolate else run_config
        for cfg in cfgs:
            print(f"edgeseg bench: {cfg['model']} {cfg['backend']} {cfg['precision']} threads={cfg['threads']} "
                  f"batch={cfg['batch']}", file=sys.stderr, flush=True)
            try:
                doc["results"].append(run(cfg))
            except WorkerFailed as e:  # a crashed / timed-out / failing worker: a FAILED row, the rest still runs
                doc["failed"].append({"model": cfg["model"], "backend": cfg["backend"],
                                      "precision": cfg["precision"], "reason": str(e)})
    doc["ratios"] = compute_ratios(doc)
    check(doc)
    print(format_report(doc, ratios=args.ratios))
    if args.json:
        write_json_atomic(args.json, doc)
        print(f"wrote {args.json}", file=sys.stderr)
    return 1 if doc["failed"] else 0


def cmd_plot(args: argparse.Namespace) -> int:
    from edgeseg.bench.results import plot

    out = plot(args.results, args.out)
    print(f"wrote {out}")
    return 0
