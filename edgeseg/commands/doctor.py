"""`edgeseg doctor --gpu [--out DIR] [--budget-s 420] [--dry-run]` and `edgeseg doctor --make-bundle`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor", help="check every GPU path (PyTorch CUDA, TensorRT, TensorRT-RTX, CUDA graphs, NVML) in one run",
        description="--gpu: run the stages (environment, PyTorch CUDA, TensorRT, TensorRT-RTX, ratios vs U-Net), "
                    "each in its own process under its own time limit, all within --budget-s; write DIR/doctor.json "
                    "and DIR/doctor.md whatever happens. --make-bundle: make the folder the GPU machine needs "
                    "(seeded ONNX graphs, generated data, TensorRT-RTX engines built on this CPU), under 64 MiB.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--gpu", action="store_true", help="run the GPU checks")
    what.add_argument("--make-bundle", action="store_true", help="make the bundle in --bundle (on any CPU)")
    p.add_argument("--bundle", default=".doctor-bundle", metavar="DIR", help="bundle folder (default .doctor-bundle)")
    p.add_argument("--out", default="doctor-out", metavar="DIR", help="reports folder (default doctor-out)")
    p.add_argument("--budget-s", type=float, default=420.0, metavar="S",
                   help="the whole run ends within S seconds (default 420); stage limits are scaled to fit")
    p.add_argument("--work", metavar="DIR", help="keep engines, caches and references here (default: a temporary "
                                                 "folder, removed at the end)")
    p.add_argument("--power", default="auto", choices=["auto", "nvml", "tegrastats", "none"],
                   help="energy per image: auto = tegrastats on a Jetson, NVML elsewhere (default auto)")
    p.add_argument("--dry-run", action="store_true", help="list the stages and their time limits; run nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.make_bundle:
        import json

        from edgeseg.doctor.bundle import make_bundle

        doc = make_bundle(args.bundle)
        print(json.dumps({"bundle": args.bundle, "total_mb": doc["total_mb"], "files": len(doc["files"]),
                          "networks": list(doc["networks"])}, indent=2))
        return 0
    if args.dry_run:
        from edgeseg.doctor.report import plan

        print(plan(args.budget_s, args.bundle, args.out))
        return 0
    from edgeseg.doctor.run import run_doctor

    return run_doctor(args.out, args.bundle, args.budget_s, args.work, args.power)
