"""Per-node time from ONNX Runtime's profiler, mapped back to the exported graph's nodes.

ORT profiles its *optimized* graph: fused nodes (Conv+Relu, QLinearConv from DQ-Conv-Q), NCHWc nodes named
"<original tensor>_nchwc", and layout reorders it inserts itself. The mapping, kept honest:
1. an ORT node whose name is an exported node's name (or that name + "_token_N") runs that node;
2. "<tensor>_nchwc" (or "<tensor>_bn_nchwc", a BatchNormalization run as an NCHWc conv) runs the exported
   node that produced <tensor>;
3. otherwise an ORT node (not a reorder) that writes an exported tensor runs that tensor's producer;
4. an ORT node still matching nothing (a Gelu fused inside the blocked layout, on ORT-internal tensors) runs
   the unmapped exported nodes downstream of the exported nodes its inputs come from;
5. an exported node left unmapped was fused: it belongs to the ORT node of the first mapped node down its
   chain of single consumers (a Conv's output feeding only its Relu goes with the Relu's fused node);
6. ReorderInput/ReorderOutput, and the Transpose / QuantizeLinear / DequantizeLinear nodes ORT keeps around
   its NHWC int8 kernels, run no costed exported node: they are the runtime's own traffic, reported as such
   (their bytes: what the profiler says they read and wrote; their bound in the network: zero).
Exported nodes still unmapped (constant-folded or removed by ORT) are listed, never silently dropped.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError

REORDERS = ("ReorderInput", "ReorderOutput")


def profile_nodes(onnx_path: str | Path, threads: int, iters: int, warmup: int) -> dict[str, Any]:
    """Run `iters` profiled inferences after `warmup` -> {"nodes": {ort name: {"op", "us", "args"}}, "graph":
    [(ort name, op, outputs)], "iters"}. "us" is the mean kernel time per inference."""
    import onnx
    import onnxruntime as ort

    from edgeseg.bench.timing import make_input

    with tempfile.TemporaryDirectory() as td:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "1")
        so.optimized_model_filepath = str(Path(td) / "opt.onnx")
        so.enable_profiling, so.profile_file_prefix = True, str(Path(td) / "prof")
        so.log_severity_level = 3
        try:
            s = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - a truncated or foreign file
            raise EdgesegError(f"{onnx_path}: ONNX Runtime cannot load it ({str(e).splitlines()[0][:160]}); "
                               f"re-export with edgeseg export") from None
        inp = s.get_inputs()[0]
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        feed = {inp.name: make_input(shape)}
        for _ in range(warmup + iters):  # the warm-up runs' events are dropped below (before t0)
            s.run(None, feed)
        events = json.loads(Path(s.end_profiling()).read_text())
        opt = onnx.load(str(Path(td) / "opt.onnx")).graph
    runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
    timed = runs[-iters:] if len(runs) >= iters else runs
    t0 = timed[0]["ts"] if timed else 0
    total: dict[str, float] = defaultdict(float)
    meta: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time") and e["ts"] >= t0:
            n = e["name"][: -len("_kernel_time")]
            total[n] += e["dur"]
            meta[n] = e.get("args", {})
    k = max(len(timed), 1)
    nodes = {n: {"op": meta[n].get("op_name", "?"), "us": total[n] / k, "args": meta[n]} for n in total}
    graph = [(n.name, n.op_type, list(n.output), list(n.input)) for n in opt.node]
    return {"nodes": nodes, "graph": graph, "iters": k, "input_shape": shape,
            "run_ms": float(np.median([r["dur"] for r in timed])) / 1e3 if timed else None}


def map_to_exported(graph: list[tuple[str, str, list[str], list[str]]], cost: Any) -> tuple[dict[str, str], list[str]]:
    """-> ({exported node name: ORT node name}, [exported nodes with no ORT node]) for the ops of `cost`
    (an edgeseg.profile.costs.GraphCost: the nodes that cost something, and the whole graph's wiring)."""
    exported, consumers, outputs = cost.ops, cost.consumers, cost.node_outputs
    names = {c.name for c in exported}
    producer = {t: n for t, n in cost.producer.items() if n in names}  # a fused Q's output -> its producer
    anchor: dict[str, str] = {}
    for ort_name, op, outs, _ in graph:
        if op in REORDERS:
            continue
        base = re.sub(r"_token_\d+$", "", ort_name)  # ORT's renamed copy of an exported node (QLinearConv)
        if ort_name in names or base in names:
            anchor.setdefault(ort_name if ort_name in names else base, ort_name)
        elif re.sub(r"(_bn)?_nchwc$", "", ort_name) in producer:  # "_bn_nchwc": a BatchNormalization as conv
            anchor.setdefault(producer[re.sub(r"(_bn)?_nchwc$", "", ort_name)], ort_name)
        else:
            for o in outs:
                if o in producer:
                    anchor.setdefault(producer[o], ort_name)
    owner = dict(anchor)
    rest = _claim_by_inputs(graph, cost, owner, [c.name for c in exported if c.name not in owner])
    lost = []
    for name in rest:
        cur, seen = name, 0
        while cur not in anchor and seen < 16:  # through free nodes too (a fused Q, a DQ)
            nxt = [u for o in outputs.get(cur, []) for u in consumers.get(o, [])]
            if len(nxt) != 1:
                break
            cur, seen = nxt[0], seen + 1
        if cur in anchor:
            owner[name] = anchor[cur]
        else:
            lost.append(name)
    return owner, lost


def _claim_by_inputs(graph: list[tuple[str, str, list[str], list[str]]], cost: Any, owner: dict[str, str],
                     lost: list[str]) -> list[str]:
    """Rule 4: an ORT node that matched nothing (a Gelu fused from Div/Erf/Add/Mul inside the blocked layout,
    reading and writing ORT-internal tensors) runs the unmapped exported nodes downstream of the exported nodes
    its inputs come from (through reorders). Updates `owner`; returns the nodes still unmapped."""
    ort_prod = {o: (name, op, ins) for name, op, outs, ins in graph for o in outs}
    runs: dict[str, list[str]] = {}
    for e, u in owner.items():
        runs.setdefault(u, []).append(e)
    left = set(lost)
    names = {c.name for c in cost.ops}
    graph_inputs = {t for t in cost.consumers if t not in cost.producer}
    for ort_name, op, _, ins in graph:
        if op in REORDERS or ort_name in runs or not left:
            continue
        frontier: list[str] = []
        for t in ins:
            p = ort_prod.get(t)
            while p is not None and p[1] in REORDERS:
                p = ort_prod.get(p[2][0]) if p[2] else None
            if p is None and t in graph_inputs:
                frontier.append(t)
            for e in runs.get(p[0], []) if p else []:
                frontier += cost.node_outputs.get(e, [])
        claimed, seen = [], set()
        while frontier:
            t = frontier.pop()
            for u in cost.consumers.get(t, []):
                if u in seen or (u in names and u not in left):
                    continue
                seen.add(u)
                if u in left:
                    claimed.append(u)
                frontier += cost.node_outputs.get(u, [])
        for e in claimed:
            owner[e] = ort_name
            left.discard(e)
        if claimed:
            runs[ort_name] = claimed
    return [n for n in lost if n in left]
