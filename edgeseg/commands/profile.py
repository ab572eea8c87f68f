"""`edgeseg profile ARTIFACT`: how far an ONNX artifact runs from this CPU's roofline (edgeseg.profile)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="per-op time vs the roofline bound of this CPU (ONNX Runtime profiler)",
                       description="Profile an ONNX artifact in ONNX Runtime: per-op time, FLOPs and bytes from the "
                                   "graph's shapes, this machine's GEMM and bandwidth ceilings measured in the same "
                                   "run, each op's roofline bound and the network's, a Markdown table and a "
                                   "roofline plot.")
    p.add_argument("artifact", metavar="ARTIFACT", help="an .onnx file (FP32, FP16 or INT8 Q/DQ)")
    p.add_argument("--threads", type=int, default=2, help="ORT intra-op threads, also for the ceilings (default 2)")
    p.add_argument("--iters", type=int, default=10, help="profiled and timed runs (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up runs (default 3)")
    p.add_argument("--top", type=int, default=12, help="ORT nodes in the Markdown table (default 12)")
    p.add_argument("--out", default="profile", help="output folder (default ./profile)")
    p.add_argument("--name", help="file stem (default: the artifact's stem)")
    p.add_argument("--no-plot", dest="plot", action="store_false", help="skip the PNG (no matplotlib needed)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgeseg.profile.output import write_profile
    from edgeseg.profile.profiler import profile_artifact

    doc = profile_artifact(args.artifact, args.threads, args.iters, args.warmup)
    paths = write_profile(doc, args.out, args.name or Path(args.artifact).stem, args.top, args.plot)
    n = doc["network"]
    print(f"{Path(args.artifact).name}: latency {n['latency_ms']:.2f} ms = {n['latency_over_bound']:.2f} x its "
          f"bound ({n['per_op_bound_ms']:.2f} ms; fused ideal {n['fused_ideal_ms']:.2f} ms) on this CPU")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
