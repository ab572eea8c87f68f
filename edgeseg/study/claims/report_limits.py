"""The claims report's "How far from the physical limit" section: read from the committed `edgeseg profile`
results (benchmarks/results/profile, written by `python benchmarks/roofline.py measure` and `... bounds`).

Nothing is measured here. Each line is a network's measured latency over its roofline bound on the CPU that
profiled it (ISA flags printed, since the bound and the ratio change with the ISA), and the edge-device figures
are bounds from spec sheets, never measurements.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def limit_lines(results_dir: str | Path) -> list[str]:
    """'- unet int8-io (best): latency = 2.6 x its bound on this CPU ...' per profiled network."""
    folder = Path(results_dir) / "profile"
    summary = _read(folder / "summary.json")
    if not summary:
        return []
    cpu = (summary.get("ceilings") or {}).get("cpu") or {}
    ceil = summary.get("ceilings") or {}
    out = ["## How far from the physical limit", "",
           f"From `{summary.get('command', 'python benchmarks/roofline.py measure')}` "
           f"(`benchmarks/results/profile/`): ORT, {summary.get('threads')} threads, batch 1, "
           f"{'x'.join(map(str, summary.get('size') or []))}, on {cpu.get('model', '?')} "
           f"(flags: {', '.join(cpu.get('flags') or []) or '?'}); this CPU's measured ceilings "
           f"{ceil.get('gemm_fp32_gflops', 0):.0f} GFLOP/s FP32 GEMM, {ceil.get('gemm_int8_gops', 0):.0f} GOP/s "
           f"INT8 GEMM, {ceil.get('bandwidth_gbs', 0):.1f} GB/s streaming. A network's bound is the sum over its "
           "ops of max(FLOPs / peak, bytes / bandwidth); the ratio is measured latency / bound. The same graphs "
           "give other ratios on another ISA.", ""]
    for net, best in sorted((summary.get("best") or {}).items()):
        for prec in dict.fromkeys(["fp32", best]):
            doc = _read(folder / f"{net}-{prec}.json")
            n = (doc or {}).get("network") or {}
            if "latency_over_bound" not in n:
                continue
            out.append(f"- {net} {prec}{' (best)' if prec == best else ''}: latency = {n['latency_over_bound']:.1f} "
                       f"x its bound on this CPU ({n['latency_ms']:.1f} ms vs {n['per_op_bound_ms']:.1f} ms; "
                       f"{n['latency_over_fused_ideal']:.1f} x the fused ideal)")
    load = summary.get("loadavg_before")
    if load:
        out += ["", f"Load average before the run: {load[0]:.1f} on {cpu.get('logical_cores', '?')} cores."]
    return out + [""]
