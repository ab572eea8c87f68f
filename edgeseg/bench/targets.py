"""The speed-up ratios the issue sets as targets, computed from a results document (benchmarks, not tests).

* ONNX Runtime FP32 vs PyTorch eager, CPU, batch 1, same threads: torch p50 / ORT p50 (target >= 1.5).
* ONNX Runtime INT8 vs FP32, CPU, batch 1, same threads: FP32 p50 / INT8 p50 (target >= 1.8 for U-Net), for
  both Q/DQ layouts: "int8_vs_fp32" (the TensorRT graph, Q/DQ on Conv inputs) and "int8io_vs_fp32" (Q/DQ on
  Conv inputs and outputs, the layout ONNX Runtime fuses into QLinearConv).
* TensorRT INT8 vs FP16 on the GPU where both were measured (no target; reported).
* Issue 12 ("as fast as the FLOPs promise"), each network's BEST ONNX Runtime CPU artifact in the run (lowest
  p50 over its precisions; the matrix measures no Dice, so the 0.5 pp Dice budget is `edgeseg optimize`'s):
  - "best_vs_unet_fp32" = best p50 / U-Net's ORT FP32 p50, a share (lower is better): TinyU-Net <= 0.20,
    SD-UNet <= 0.25, U-Lite <= 0.04 (`BEST_SHARE_TARGETS`);
  - "best_vs_torch" = PyTorch eager p50 / best p50 >= 3 for every network;
  - U-Net INT8 (the ORT layout, int8-io) >= 2x its FP32.
Ratios use median (p50) latency measured in the same run, so machine drift cancels as far as it can.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edgeseg.names import FLAVOURS

# Issue 12's targets (they replace issue 4's 1.5x ORT-vs-torch and 1.8x INT8, which stay reported).
TARGETS = {"ort_fp32_vs_torch": None, "int8_vs_fp32": None, "int8io_vs_fp32": 2.0, "best_vs_torch": 3.0}
BEST_SHARE_TARGETS = {"tinyunet": 0.20, "sdunet": 0.25, "ulite": 0.04}  # best p50 / U-Net ORT FP32 p50, <=
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

    def add(kind: str, slow: tuple, fast: tuple, target: float | None, share: bool = False) -> None:
        a, b = idx.get(slow), idx.get(fast)
        if a is None or b is None:
            return
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
        add("best_vs_torch", (model, "pytorch", "fp32", device, threads, 1), k, TARGETS["best_vs_torch"])
        add("best_vs_unet_fp32", ("unet", "onnxruntime", "fp32", device, threads, 1), k,
            BEST_SHARE_TARGETS.get(model), share=True)

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
        if backend in FLAVOURS and prec == "int8":
            add("trt_int8_vs_fp16", (model, backend, "fp16", device, threads, 1), (model, backend, prec, device,
                threads, 1), None)
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
