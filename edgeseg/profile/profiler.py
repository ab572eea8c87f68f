"""`profile_artifact`: how far one ONNX artifact runs from this machine's roofline, per ORT node and per network.

Measured latency is the median wall time of un-profiled runs (the profiler adds overhead); per-node times are
the profiler's kernel times, so per-node shares are read from the profile and the network ratio from the wall
time. Layout reorders ORT inserts are shown as their own rows, with a bound of zero in the network's bound (the
exported graph does not contain them): their time is the runtime's, not the network's.
"""

from __future__ import annotations

import shlex
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError
from edgeseg.profile.costs import graph_costs
from edgeseg.profile.roofline import Ceilings, bound_kind, fused_ideal_s, network_bound_s, op_bound_s
from edgeseg.profile.trace import REORDERS, map_to_exported, profile_nodes

RUNTIME_OPS = (*REORDERS, "Transpose", "QuantizeLinear", "DequantizeLinear")


def wall_latency_ms(onnx_path: str | Path, threads: int, iters: int, warmup: int) -> float:
    """Median latency of un-profiled ORT runs (edgeseg's ORT runner, same options as the benchmarks)."""
    import numpy as np

    from edgeseg.bench.timing import make_input, timed_loop
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    with OnnxRuntimeRunner(onnx_path, threads=threads) as r:
        name, meta = next(iter(r.input_metadata().items()))
        feed = {name: make_input([d or 1 for d in meta.shape])}
        samples, _, _ = timed_loop(lambda: r.infer_impl(feed), warmup, iters, None)
    return float(np.median(samples))


def roofline_rows(cost: Any, prof: dict[str, Any], owner: dict[str, str], c: Ceilings) -> list[dict[str, Any]]:
    """One row per profiled ORT node: what it covers, time, FLOPs, bytes, achieved rates, bound, ratio."""
    covered: dict[str, list[Any]] = {}
    for op in cost.ops:
        if op.name in owner:
            covered.setdefault(owner[op.name], []).append(op)
    total_us = sum(n["us"] for n in prof["nodes"].values()) or 1.0
    rows = []
    for name, n in prof["nodes"].items():
        ops = covered.get(name, [])
        if not ops:  # ORT's own nodes (reorders, Q/DQ and Transposes around int8 kernels) or unmapped
            a = n["args"]
            nbytes = float(a.get("activation_size", 0)) + float(a.get("output_size", 0))
            flops, bound, compute = 0.0, 0.0, "runtime"
        else:
            flops, nbytes = sum(o.flops for o in ops), sum(o.bytes for o in ops)
            compute = "int8" if any(o.compute == "int8" for o in ops) else "float"
            bound = sum(op_bound_s(o.flops, o.bytes, o.compute, c) for o in ops)
        s = n["us"] / 1e6
        rows.append({
            "ort_node": name, "ort_op": n["op"], "covers": dict(Counter(o.op_type for o in ops)),
            "compute": compute, "us": n["us"], "share": n["us"] / total_us, "flops": flops, "bytes": nbytes,
            "intensity": flops / nbytes if nbytes else None,
            "gflops_s": flops / s / 1e9 if s > 0 else None, "gbs": nbytes / s / 1e9 if s > 0 else None,
            "bound_us": bound * 1e6, "ratio": n["us"] / (bound * 1e6) if bound > 0 else None,
            "kind": bound_kind(flops, nbytes, compute, c) if ops else
            "ORT's own (not in the graph)" if n["op"] in RUNTIME_OPS else "unmapped"})
    return sorted(rows, key=lambda r: -r["us"])


def by_op_type(rows: list[dict[str, Any]], cost: Any, owner: dict[str, str], c: Ceilings) -> list[dict[str, Any]]:
    """Time and bound per exported op type (an ORT node's time split over the ops it covers by their bounds)."""
    t: Counter = Counter()
    b: Counter = Counter()
    per_node = {r["ort_node"]: r for r in rows}
    ops_of: dict[str, list[Any]] = {}
    for op in cost.ops:
        if op.name in owner:
            ops_of.setdefault(owner[op.name], []).append(op)
    for node, ops in ops_of.items():
        r = per_node.get(node)
        bounds = [op_bound_s(o.flops, o.bytes, o.compute, c) for o in ops]
        tot = sum(bounds) or 1.0
        for o, ob in zip(ops, bounds, strict=True):
            b[o.op_type] += ob * 1e6
            if r is not None:
                t[o.op_type] += r["us"] * (ob / tot if sum(bounds) else 1 / len(ops))
    for r in rows:
        if not r["covers"]:
            who = "unmapped" if r["kind"] == "unmapped" else "ORT's"
            t[f"({who} {r['ort_op']})"] += r["us"]
    return sorted(({"op_type": k, "us": t[k], "bound_us": b[k], "ratio": t[k] / b[k] if b[k] else None}
                   for k in set(t) | set(b)), key=lambda r: -r["us"])


def profile_artifact(onnx_path: str | Path, threads: int = 2, iters: int = 10, warmup: int = 3,
                     ceilings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole profile of one artifact (ceilings measured here unless given)."""
    from edgeseg.bench.machine import capture_env
    from edgeseg.profile.ceilings import measure_ceilings

    p = Path(onnx_path)
    if not p.is_file():
        raise EdgesegError(f"{p}: no such ONNX file; create one with edgeseg export / edgeseg quantize")
    if iters < 1 or warmup < 0 or threads < 1:
        raise EdgesegError(f"edgeseg profile: --iters >= 1, --warmup >= 0, --threads >= 1 (got {iters}, {warmup}, "
                           f"{threads})")
    try:
        cost = graph_costs(p)
    except Exception as e:  # noqa: BLE001 - not an ONNX file
        raise EdgesegError(f"{p}: not a readable ONNX graph ({str(e).splitlines()[0][:160]}); re-export it") from None
    ceil = ceilings or measure_ceilings(threads)
    c = Ceilings({"float": ceil["gemm_fp32_gflops"], "int8": ceil["gemm_int8_gops"]}, ceil["bandwidth_gbs"],
                 "this CPU")
    prof = profile_nodes(p, threads, iters, warmup)
    wall = wall_latency_ms(p, threads, iters, warmup)
    owner, lost = map_to_exported(prof["graph"], cost)
    rows = roofline_rows(cost, prof, owner, c)
    triples = [(o.flops, o.bytes, o.compute) for o in cost.ops]
    bound = network_bound_s(triples, c) * 1e3
    fused = fused_ideal_s(triples, cost.input_bytes + cost.output_bytes + cost.weight_bytes, c) * 1e3
    reorder_us = sum(r["us"] for r in rows if r["ort_op"] in REORDERS)
    own_us = sum(r["us"] for r in rows if not r["covers"])
    return {
        "artifact": str(p), "threads": threads, "iters": iters, "warmup": warmup,
        "input_shape": prof["input_shape"], "ceilings": ceil,
        "network": {"latency_ms": wall, "profiled_kernel_ms": sum(r["us"] for r in rows) / 1e3,
                    "reorder_share": reorder_us / max(sum(r["us"] for r in rows), 1e-9),
                    "runtime_own_share": own_us / max(sum(r["us"] for r in rows), 1e-9),
                    "flops": cost.flops, "bytes_per_op_sum": cost.bytes, "weight_bytes": cost.weight_bytes,
                    "io_bytes": cost.input_bytes + cost.output_bytes,
                    "per_op_bound_ms": bound, "fused_ideal_ms": fused,
                    "latency_over_bound": wall / bound if bound else None,
                    "latency_over_fused_ideal": wall / fused if fused else None},
        "rows": rows, "by_op_type": by_op_type(rows, cost, owner, c),
        "unmapped_exported_nodes": lost, "env": capture_env(threads),
        "command": shlex.join(["edgeseg", *sys.argv[1:]]) if sys.argv and "profile" in sys.argv else None}
