"""Speed-up ratios from a results document (benchmarks, not tests), judged against targets only when given.

* ONNX Runtime FP32 vs PyTorch eager, CPU, batch 1, same threads: torch p50 / ORT p50.
* ONNX Runtime INT8 vs FP32, CPU, batch 1, same threads: FP32 p50 / INT8 p50, for both Q/DQ layouts:
  "int8_vs_fp32" (the TensorRT graph, Q/DQ on Conv inputs) and "int8io_vs_fp32" (Q/DQ on Conv inputs and
  outputs, the layout ONNX Runtime fuses into QLinearConv).
* TensorRT INT8 vs FP16 on the GPU where both were measured.
* Each network's BEST ONNX Runtime CPU artifact in the run (lowest p50 over its precisions):
  "best_vs_unet_fp32" = best p50 / U-Net's ORT FP32 p50, a share (lower is better), and "best_vs_torch" =
  PyTorch eager p50 / best p50.
Ratios use median (p50) latency measured in the same run, so machine drift cancels as far as it can. Which
ratio must reach what is a study's question, and depends on the CPU's ISA: `targets` maps a kind to
{model or "*": value} (the study's per-ISA tables: `edgeseg.study.speed_targets`); without it every ratio is
reported with no target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from edgeseg.names import FLAVOURS

Targets = Mapping[str, Mapping[str, float]]  # kind -> {model or "*": target}


def _p50(r: dict[str, Any]) -> float | None:
    lat = r.get("latency_ms") or {}
    return lat.get("p50")


def _index(results: Sequence[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    return {(r["model"], r["backend"], r["precision"], r["device"], r.get("threads"), r["batch"]): r
            for r in results if _p50(r)}


def target_of(targets: Targets | None, kind: str, model: str) -> float | None:
    by_model = (targets or {}).get(kind) or {}
    return by_model.get(model, by_model.get("*"))


def compute_ratios(doc: dict[str, Any], targets: Targets | None = None) -> list[dict[str, Any]]:
    """-> [{"kind", "model", "threads", "device", "ratio", "target", "meets", "numerator", "denominator"}]."""
    idx = _index(doc.get("results", []))
    out: list[dict[str, Any]] = []

    def add(kind: str, slow: tuple, fast: tuple, share: bool = False) -> None:
        a, b = idx.get(slow), idx.get(fast)
        if a is None or b is None:
            return
        target = target_of(targets, kind, fast[0])
        if share:  # fast / slow, lower is better
            ratio = _p50(b) / _p50(a)
            meets = None if target is None else ratio <= target
        else:
            ratio = _p50(a) / _p50(b)
            meets = None if target is None else ratio >= target
        out.append({"kind": kind, "model": fast[0], "threads": fast[4], "device": fast[3], "ratio": ratio,
                    "target": target, "direction": "<=" if share else ">=", "meets": meets,
                    "numerator": f"{slow[1]} {slow[2]} p50 {_p50(a):.3f} ms",
                    "denominator": f"{fast[1]} {fast[2]} p50 {_p50(b):.3f} ms"})

    best: dict[tuple, tuple] = {}  # (model, device, threads) -> key of the fastest ORT row at batch 1
    for k in idx:
        model, backend, prec, device, threads, batch = k
        if backend == "onnxruntime" and batch == 1 and device == "cpu":
            cur = best.get((model, device, threads))
            if cur is None or _p50(idx[k]) < _p50(idx[cur]):
                best[(model, device, threads)] = k
    for (model, device, threads), k in sorted(best.items(), key=str):
        add("best_vs_torch", (model, "pytorch", "fp32", device, threads, 1), k)
        add("best_vs_unet_fp32", ("unet", "onnxruntime", "fp32", device, threads, 1), k, share=True)

    for (model, backend, prec, device, threads, batch) in sorted(idx, key=str):
        if batch != 1:
            continue
        if backend == "onnxruntime" and prec == "fp32" and device == "cpu":
            add("ort_fp32_vs_torch", (model, "pytorch", "fp32", "cpu", threads, 1), (model, backend, prec, device,
                threads, 1))
        if backend == "onnxruntime" and prec in ("int8", "int8-io"):
            kind = "int8_vs_fp32" if prec == "int8" else "int8io_vs_fp32"
            add(kind, (model, backend, "fp32", device, threads, 1), (model, backend, prec, device, threads, 1))
        if backend in FLAVOURS and prec == "int8":
            add("trt_int8_vs_fp16", (model, backend, "fp16", device, threads, 1), (model, backend, prec, device,
                threads, 1))
    return out


def format_ratios(ratios: Sequence[dict[str, Any]]) -> str:
    lines = ["| Ratio | Model | Threads | Value | Target | Meets | Best / numerator |",
             "|---|---|---:|---:|---:|---|---|"]
    for r in ratios:
        meets = "-" if r["meets"] is None else ("yes" if r["meets"] else "NO")
        d = r.get("direction", ">=")
        target = "-" if r["target"] is None else f"{d} {r['target']}"
        value = f"{r['ratio']:.3f}" if d == "<=" else f"{r['ratio']:.2f}x"
        what = r["denominator"] if r["kind"].startswith("best_") else r["numerator"]
        lines.append(f"| {r['kind']} | {r['model']} | {r['threads'] if r['threads'] is not None else '-'} | "
                     f"{value} | {target} | {meets} | {what} |")
    return "\n".join(lines)
