"""The speed-up ratios the issue sets as targets, computed from a results document (benchmarks, not tests).

* ONNX Runtime FP32 vs PyTorch eager, CPU, batch 1, same threads: torch p50 / ORT p50 (target >= 1.5).
* ONNX Runtime INT8 vs FP32, CPU, batch 1, same threads: FP32 p50 / INT8 p50 (target >= 1.8 for U-Net), for
  both Q/DQ layouts: "int8_vs_fp32" (the TensorRT graph, Q/DQ on Conv inputs) and "int8io_vs_fp32" (Q/DQ on
  Conv inputs and outputs, the layout ONNX Runtime fuses into QLinearConv).
* TensorRT INT8 vs FP16 on the GPU where both were measured (no target; reported).
Ratios use median (p50) latency measured in the same run, so machine drift cancels as far as it can.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

TARGETS = {"ort_fp32_vs_torch": 1.5, "int8_vs_fp32": 1.8, "int8io_vs_fp32": 1.8}
INT8_TARGET_MODELS = ("unet",)


def _p50(r: dict[str, Any]) -> float | None:
    lat = r.get("latency_ms") or {}
    return lat.get("p50")


def _index(results: Sequence[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    return {(r["model"], r["backend"], r["precision"], r["device"], r.get("threads"), r["batch"]): r
            for r in results if _p50(r)}


def compute_ratios(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """-> [{"kind", "model", "threads", "device", "ratio", "target", "meets", "numerator", "denominator"}]."""
    idx = _index(doc.get("results", []))
    out: list[dict[str, Any]] = []

    def add(kind: str, slow: tuple, fast: tuple, target: float | None) -> None:
        a, b = idx.get(slow), idx.get(fast)
        if a is None or b is None:
            return
        ratio = _p50(a) / _p50(b)
        out.append({"kind": kind, "model": fast[0], "threads": fast[4], "device": fast[3], "ratio": ratio,
                    "target": target, "meets": None if target is None else ratio >= target,
                    "numerator": f"{slow[1]} {slow[2]} p50 {_p50(a):.3f} ms",
                    "denominator": f"{fast[1]} {fast[2]} p50 {_p50(b):.3f} ms"})

    for (model, backend, prec, device, threads, batch) in sorted(idx, key=str):
        if batch != 1:
            continue
        if backend == "onnxruntime" and prec == "fp32" and device == "cpu":
            add("ort_fp32_vs_torch", (model, "pytorch", "fp32", "cpu", threads, 1), (model, backend, prec, device,
                threads, 1), TARGETS["ort_fp32_vs_torch"])
        if backend == "onnxruntime" and prec in ("int8", "int8-io"):
            kind = "int8_vs_fp32" if prec == "int8" else "int8io_vs_fp32"
            target = TARGETS[kind] if model in INT8_TARGET_MODELS else None
            add(kind, (model, backend, "fp32", device, threads, 1), (model, backend, prec, device,
                threads, 1), target)
        if backend in ("tensorrt", "tensorrt-rtx") and prec == "int8":
            add("trt_int8_vs_fp16", (model, backend, "fp16", device, threads, 1), (model, backend, prec, device,
                threads, 1), None)
    return out


def format_ratios(ratios: Sequence[dict[str, Any]]) -> str:
    lines = ["| Ratio | Model | Threads | Speed-up | Target | Meets |", "|---|---|---:|---:|---:|---|"]
    for r in ratios:
        meets = "-" if r["meets"] is None else ("yes" if r["meets"] else "NO")
        target = "-" if r["target"] is None else f">= {r['target']}"
        lines.append(f"| {r['kind']} | {r['model']} | {r['threads'] if r['threads'] is not None else '-'} | "
                     f"{r['ratio']:.2f}x | {target} | {meets} |")
    return "\n".join(lines)
