"""Stage 5: the doctor's GPU timings as an edgeseg-bench/1 file (`edgeseg claims` evidence, labelled with the
GPU), and each network's latency share of U-Net's (same backend, precision, GPU and run), the ratio the claims
use. Dice stays null in the rows: the bundle's weights are seeded, not trained (the doctor's Dice checks the
engine against ONNX Runtime, not the network)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from edgeseg.doctor.common import StageContext, StageSkipped

SOURCES = ("torch", "tensorrt", "rtx")
NOTE = ("edgeseg doctor --gpu: seeded (untrained) weights, batch 1, CUDA-event compute-only latency; "
        "latency_graph_ms: the same replayed as a CUDA graph")


def gpu_slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:60] or "gpu"


def bench_rows(items: list[dict[str, Any]], gpu_label: str) -> list[dict[str, Any]]:
    """edgeseg-bench/1 result rows from passed doctor items that were timed."""
    from edgeseg.bench.timing import throughput_ips

    rows = []
    for it in items:
        lat = it.get("latency_ms")
        if it.get("status") != "pass" or not lat:
            continue
        rows.append({
            "model": it["model"], "backend": it["backend"], "precision": it["precision"], "device": "cuda",
            "threads": None, "batch": 1, "input_shape": it["input_shape"], "latency_ms": lat,
            "throughput_ips": throughput_ips([lat["p50"]], 1), "peak_mem_mb": None,
            "size_mb": it.get("size_mb"), "params": None, "dice": None, "iou": None,
            "energy_mj_per_image": it.get("energy_mj_per_image"), "artifact": it.get("engine"),
            "notes": [NOTE], "gpu": gpu_label, "latency_graph_ms": it.get("latency_graph_ms"),
            "power_source": it.get("power_source"), "timing": "doctor"})
    return rows


def shares_vs_unet(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """p50 / U-Net's p50 for every (backend, precision) where both were timed (lower is better)."""
    base = {(r["backend"], r["precision"]): r for r in rows if r["model"] == "unet"}
    out = []
    for r in rows:
        b = base.get((r["backend"], r["precision"]))
        if r["model"] == "unet" or b is None:
            continue
        out.append({"model": r["model"], "backend": r["backend"], "precision": r["precision"],
                    "share_of_unet_p50": r["latency_ms"]["p50"] / b["latency_ms"]["p50"],
                    "speedup_vs_unet": b["latency_ms"]["p50"] / r["latency_ms"]["p50"], "gpu": r["gpu"]})
    return out


def make_doc(run_dir: Path, gpu_label: str) -> dict[str, Any]:
    from datetime import datetime, timezone

    from edgeseg.bench.machine import capture_env
    from edgeseg.bench.schema import SCHEMA, check

    items = []
    for name in SOURCES:
        p = run_dir / "stages" / f"{name}.json"
        if p.is_file():
            items += json.loads(p.read_text()).get("items", [])
    rows = bench_rows(items, gpu_label)
    doc = {"schema": SCHEMA, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "command": "edgeseg doctor --gpu", "env": capture_env(), "results": rows,
           "ratios_vs_unet": shares_vs_unet(rows), "gpu": gpu_label}
    check(doc, "doctor bench rows")
    return doc


def run(ctx: StageContext) -> None:
    from edgeseg.artifacts import write_json_atomic
    from edgeseg.runtime.gpu import first_gpu

    gpu = first_gpu()
    if gpu is None:
        raise StageSkipped("no CUDA-visible GPU")
    run_dir = ctx.out.parent.parent
    doc = make_doc(run_dir, gpu.label())
    if not doc["results"]:
        raise StageSkipped("no stage timed a network (nothing passed): no ratios")
    path = run_dir / f"bench-{gpu_slug(gpu.label())}.json"
    write_json_atomic(path, doc)
    ctx.info["bench_file"] = str(path)
    for r in doc["ratios_vs_unet"]:
        ctx.record({"check": "share of U-Net", "status": "pass", **r})
    if not doc["ratios_vs_unet"]:
        ctx.record({"check": "share of U-Net", "status": "skipped",
                    "reason": "U-Net was not timed with any backend/precision another network was"})
