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


def profile_folders(results_dir: str | Path) -> list[Path]:
    """Every committed profile run: `profile/` and `profile-*/` folders holding a summary.json, one per CPU."""
    base = Path(results_dir)
    return [f for f in sorted([base / "profile", *base.glob("profile-*")]) if (f / "summary.json").is_file()]


def _target_lines(summary: dict[str, Any], cls: str | None) -> list[str]:
    """The study's issue-24 targets on this CPU's ISA class, from the interleaved p50s: SD-UNet's best artifact
    <= its share of U-Net FP32, U-Net INT8 conv-io >= its factor over FP32 (VNNI only); else the figure alone."""
    from edgeseg.study.speed_targets import TARGETS

    lat, best = summary.get("latency_p50_ms") or {}, summary.get("best") or {}
    if "unet fp32" not in lat:
        return []
    t = TARGETS.get(cls or "", {})
    shares, int8 = t.get("best_vs_unet_fp32", {}), t.get("int8io_vs_fp32", {})
    out = []
    for net in sorted(best):
        if net == "unet" or f"{net} {best[net]}" not in lat:
            continue
        r = lat[f"{net} {best[net]}"] / lat["unet fp32"]
        goal = shares.get(net)
        verdict = "not judged: ISA class unknown" if cls is None else (
            "no target" if goal is None else ("meets" if r <= goal else "misses") + f" the {cls} target <= {goal}")
        out.append(f"{net} best ({best[net]}) / unet fp32 = {r:.3f} ({verdict})")
    if "unet int8-io" in lat:
        r = lat["unet fp32"] / lat["unet int8-io"]
        goal = int8.get("unet")
        verdict = (f"{'meets' if r >= goal else 'misses'} the {cls} target >= {goal}x" if goal else
                   f"reported, not judged: the >= 2x target is kept for AVX-512 VNNI, this CPU is {cls or 'unknown'}")
        out.append(f"unet int8-io speed-up over fp32 = {r:.2f}x ({verdict})")
    return ["Interleaved p50 ratios: " + "; ".join(out) + ".", ""] if out else []


def _cpu_block(folder: Path, summary: dict[str, Any]) -> list[str]:
    from edgeseg.bench.machine import isa_class

    ceil = summary.get("ceilings") or {}
    cpu = ceil.get("cpu") or {}
    cls = isa_class(cpu.get("flags"))
    load = summary.get("loadavg_before")
    out = [f"### {cpu.get('model', '?')}, ISA class {cls or 'unknown'} (`benchmarks/results/{folder.name}/`)", "",
           f"From `{summary.get('command', 'python benchmarks/roofline.py measure')}`: ORT, "
           f"{summary.get('threads')} threads, batch 1, {'x'.join(map(str, summary.get('size') or []))} "
           f"(flags: {', '.join(cpu.get('flags') or []) or '?'}); this CPU's measured ceilings "
           f"{ceil.get('gemm_fp32_gflops', 0):.0f} GFLOP/s FP32 GEMM, {ceil.get('gemm_int8_gops', 0):.0f} GOP/s "
           f"INT8 GEMM, {ceil.get('bandwidth_gbs', 0):.1f} GB/s streaming"
           + (f"; load average {load[0]:.1f} on {cpu.get('logical_cores', '?')} cores before the run" if load else "")
           + ".", ""]
    for net, best in sorted((summary.get("best") or {}).items()):
        for prec in dict.fromkeys(["fp32", best]):
            doc = _read(folder / f"{net}-{prec}.json")
            n = (doc or {}).get("network") or {}
            if "latency_over_bound" not in n:
                continue
            out.append(f"- {net} {prec}{' (best)' if prec == best else ''}: latency = {n['latency_over_bound']:.1f} "
                       f"x its bound on this CPU ({n['latency_ms']:.1f} ms vs {n['per_op_bound_ms']:.1f} ms; "
                       f"{n['latency_over_fused_ideal']:.1f} x the fused ideal)")
    cores = cpu.get("logical_cores")
    if load and isinstance(cores, int) and load[0] > cores:
        out += ["", f"This machine was loaded during the run (load average {load[0]:.1f} on {cores} cores): its "
                "latencies and ratios are inflated unevenly. Rerun on a quiet machine of this class before relying "
                "on them."]
    return [*out, "", *_target_lines(summary, cls)]


def limit_lines(results_dir: str | Path) -> list[str]:
    """'- unet int8-io (best): latency = 2.6 x its bound on this CPU ...' per profiled network, one block per
    profiled CPU (the bound and the ratio change with the ISA)."""
    blocks = [(f, s) for f in profile_folders(results_dir) if (s := _read(f / "summary.json"))]
    if not blocks:
        return []
    out = ["## How far from the physical limit", "",
           "A network's bound is the sum over its ops of max(FLOPs / peak, bytes / bandwidth), with the peak and "
           "the bandwidth measured on the CPU that ran it; the ratio is measured latency / bound. The same graphs "
           "give other ratios on another ISA, so each CPU has its own block and its own targets "
           "(`edgeseg/study/speed_targets.py`). A run on a loaded machine inflates its latencies: the load average "
           "is printed.", ""]
    for folder, summary in blocks:
        out += _cpu_block(folder, summary)
    return out
