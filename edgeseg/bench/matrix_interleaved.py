"""`run_interleaved_matrix`: every network in ONE process per (backend, precision, threads), timed in
interleaved rounds (`edgeseg.bench.timing`), so a shared machine's drift hits every network alike and the
ratios between them mean something (a sequential matrix times each network at another moment).

Every network gets the same input (`channels` x H x W, batch 1) and random weights (seed 0): latency does not
depend on the weights. Rows are edgeseg-bench/1 records with "timing": "interleaved" and the per-round medians;
peak memory is not measured (one process holds every network), Dice neither. Artifacts come from the same steps
as `run_matrix` (export with the default rewrites, FP16, INT8 with generated calibration data) and are reused
by content hash. Networks are registry names or {"name", "model", "options"} specs, not checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

from edgeseg.bench.matrix import ModelSpec, _log, new_doc, onnx_artifacts, resolve_model
from edgeseg.bench.schema import TIMING_INTERLEAVED
from edgeseg.bench.timing import check_counts, time_interleaved


def _as_spec(spec: ModelSpec, channels: int) -> dict[str, Any]:
    """A registry name or {"name", "model", "options"} -> the same with the common input channels."""
    if isinstance(spec, dict):
        return {**spec, "channels": channels}
    from edgeseg.models import get_model_info

    get_model_info(spec)  # an unknown name (or a checkpoint path) fails here, naming the registered networks
    return {"name": spec, "model": spec, "options": {}, "channels": channels}


def run_interleaved_matrix(models: Sequence[ModelSpec], configs: Sequence[tuple[str, str]] = (
        ("onnxruntime", "fp32"), ("onnxruntime", "int8-io"), ("pytorch", "fp32")), threads: Sequence[int] = (1, 2),
        size: tuple[int, int] = (256, 256), channels: int = 3, rounds: int = 5, iters: int = 10, warmup: int = 3,
        command: str = "run_interleaved_matrix", log: Callable[[str], None] = _log) -> dict[str, Any]:
    """configs: (backend, precision) pairs; "pytorch" runs FP32 eager on the CPU. Returns an edgeseg-bench/1
    document; a network whose export or quantization fails is listed under "failed" and left out."""
    from edgeseg.bench.config import input_shape, make_config, make_runner

    check_counts(rounds, iters, warmup)  # before the first export, not after
    specs = [_as_spec(m, channels) for m in models]  # every name checked before the first export
    doc = new_doc(command, threads)
    doc.update(timing=TIMING_INTERLEAVED, rounds=rounds, iters_per_round=iters, warmup=warmup, channels=channels,
               rewrites="default")

    def fail(model: str, backend: str, precision: str, why: str) -> None:
        log(f"FAILED {model} {backend} {precision}: {why}")
        doc["failed"].append({"model": model, "backend": backend, "precision": precision, "reason": why})

    nets = []  # (label, torch source, params, {precision: onnx path})
    onnx_precisions = [p for b, p in configs if b == "onnxruntime"]
    for spec in specs:
        label, source, params, _ = resolve_model(spec, size)
        arts = onnx_artifacts(source, label, onnx_precisions, size, 1, channels, None, None, fail)
        nets.append((label, source, params, {p: path for p, (path, _) in arts.items()}))
    for backend, precision in configs:
        for t in threads:
            cfgs = {label: make_config(model=label, backend=backend, precision=precision, threads=t,
                                       size=list(size), params=params,
                                       artifact=source if backend == "pytorch" else str(arts[precision]))
                    for label, source, params, arts in nets if backend == "pytorch" or precision in arts}
            log(f"{backend} {precision} threads={t}: {len(cfgs)} networks, {rounds} rounds x {iters} iters")
            with ExitStack() as stack:
                runners = {n: stack.enter_context(make_runner(c)) for n, c in cfgs.items()}
                shapes = {n: input_shape(runners[n], c) for n, c in cfgs.items()}
                timed = time_interleaved(runners, shapes, rounds=rounds, iters=iters, warmup=warmup)
            for n, c in cfgs.items():
                r = timed[n]
                doc["results"].append({
                    "model": n, "backend": backend, "precision": precision, "device": "cpu", "threads": t,
                    "batch": r["batch"], "input_shape": list(shapes[n]), "latency_ms": r["latency_ms"],
                    "throughput_ips": 1000.0 * r["batch"] / r["latency_ms"]["mean"], "peak_mem_mb": None,
                    "size_mb": None, "params": c["params"], "dice": None, "iou": None, "energy_mj_per_image": None,
                    "artifact": str(c["artifact"]),
                    "notes": f"interleaved with {len(cfgs) - 1} other networks in one process: {rounds} rounds x "
                             f"{iters} iters, order rotated per round; random weights",
                    "timing": TIMING_INTERLEAVED, "round_p50_ms": r["round_p50_ms"], "iters": r["iters"]})
    return doc
