"""The mission plot: does a network cost U-Net's latency in proportion to its MACs (the FLOPs promise)?

x = network MACs / U-Net MACs, y = network p50 latency / U-Net's ONNX Runtime FP32 p50 (same run, same threads,
batch 1), both log scale. One marker per backend + precision (the legend: a handful of entries), every network
labelled once, its points joined by a thin vertical line (all share its MAC ratio). On the diagonal y = x the
promise is kept; above it the network is slower than its MACs promise.

MACs come from benchmarks/results/models.json (edgeseg models --json), counted at each network's reference
input; conv nets' MACs scale with the pixel count, so they are rescaled to the matrix's input size.

    python -m edgeseg.bench.mission benchmarks/results/cpu-matrix.json benchmarks/results/cpu-matrix-sdunet.json \
        --out benchmarks/plots/latency_vs_macs.png

Latency ratios are taken within each file (its own U-Net row), so runs are never mixed in one ratio; a point
two files both give comes from the newest one (`created`), as in the claims report (`merge_points`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError
from edgeseg.names import FULL_LEVEL, UNETSHARP, level_name

REFERENCE = ("unet", "onnxruntime", "fp32")
MARKERS = {("onnxruntime", "fp32"): ("o", "tab:blue"), ("onnxruntime", "fp16"): ("s", "tab:green"),
           ("onnxruntime", "int8"): ("v", "tab:red"), ("onnxruntime", "int8-io"): ("D", "tab:orange"),
           ("onnxruntime", "mixed-int8"): ("P", "tab:purple"), ("pytorch", "fp32"): ("x", "tab:gray")}
MAC_ALIASES = {UNETSHARP: level_name(FULL_LEVEL)}  # the matrix's full UNet# is level 4 in the model table


def macs_at(models: Sequence[dict[str, Any]], size: Sequence[int]) -> dict[str, float]:
    """{name: MACs at H x W = size}, rescaled from each model table entry's own input by the pixel ratio."""
    out = {}
    for m in models:
        h, w = m["input_shape"][-2:]
        out[m["name"]] = m["macs"] * (size[0] * size[1]) / (h * w)
    for alias, name in MAC_ALIASES.items():
        if name in out:
            out.setdefault(alias, out[name])
    return out


def mission_points(results: Sequence[dict[str, Any]], macs: dict[str, float], threads: int = 2,
                   ) -> list[dict[str, Any]]:
    """[{"model", "backend", "precision", "mac_ratio", "latency_ratio"}] vs U-Net ORT FP32 at `threads`, batch 1."""
    rows = [r for r in results if r.get("batch") == 1 and r.get("threads") == threads
            and (r.get("latency_ms") or {}).get("p50") and r.get("device", "cpu") == "cpu"]
    ref = next((r for r in rows if (r["model"], r["backend"], r["precision"]) == REFERENCE), None)
    if ref is None or "unet" not in macs:
        raise EdgesegError(f"no U-Net ONNX Runtime FP32 row at {threads} threads, batch 1 (or no U-Net MACs): the "
                           f"mission plot needs it as the reference; pass a CPU matrix that has it")
    pts = []
    for r in rows:
        if r["model"] not in macs:
            continue
        pts.append({"model": r["model"], "backend": r["backend"], "precision": r["precision"],
                    "mac_ratio": macs[r["model"]] / macs["unet"],
                    "latency_ratio": r["latency_ms"]["p50"] / ref["latency_ms"]["p50"]})
    return pts


def file_created(path: str | Path) -> str:
    """A results file's `created` stamp ("" when unreadable or absent: such a file sorts first)."""
    try:
        return str(json.loads(Path(path).read_text(encoding="utf-8")).get("created") or "")
    except (OSError, ValueError):
        return ""


def merge_points(by_file: Mapping[str, Sequence[dict[str, Any]]], models: Sequence[dict[str, Any]],
                 threads: int = 2, strict: bool = True) -> list[dict[str, Any]]:
    """The points of several results files ({path: result rows}), ratios taken within each file: where two
    files give the same (network, backend, precision), the newest `created` wins (a tie: the later path).
    strict=False skips a file without a U-Net reference row instead of refusing it."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for path in sorted(by_file, key=lambda p: (file_created(p), str(p))):
        rows = by_file[path]
        shapes = [r["input_shape"][-2:] for r in rows if r.get("input_shape")]
        if not shapes:
            continue
        try:
            pts = mission_points(rows, macs_at(models, shapes[0]), threads)
        except EdgesegError:
            if strict:
                raise
            continue
        for pt in pts:
            merged[(pt["model"], pt["backend"], pt["precision"])] = pt
    return list(merged.values())


def plot_mission(points: Sequence[dict[str, Any]], out: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgeseg.artifacts import atomic_path

    fig, ax = plt.subplots(figsize=(8, 7))
    xs = [p["mac_ratio"] for p in points]
    ys = [p["latency_ratio"] for p in points]
    lo, hi = min(xs + ys) / 2, max(xs + ys) * 2
    ax.plot([lo, hi], [lo, hi], color="k", lw=1, ls="--", label="latency share = MAC share")
    for model in sorted({p["model"] for p in points}):
        mp = [p for p in points if p["model"] == model]
        x = mp[0]["mac_ratio"]
        ax.plot([x, x], [min(p["latency_ratio"] for p in mp), max(p["latency_ratio"] for p in mp)],
                color="0.8", lw=1, zorder=0)
        top = max(p["latency_ratio"] for p in mp)
        ax.annotate(model, (x, top), xytext=(0, 6), textcoords="offset points", ha="center", fontsize=8)
    for (backend, prec), (marker, color) in MARKERS.items():
        sel = [p for p in points if (p["backend"], p["precision"]) == (backend, prec)]
        if sel:
            ax.scatter([p["mac_ratio"] for p in sel], [p["latency_ratio"] for p in sel], marker=marker, c=color,
                       s=40, label=f"{'ORT' if backend == 'onnxruntime' else 'PyTorch'} {prec}", zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("MACs / U-Net MACs")
    ax.set_ylabel("p50 latency / U-Net ONNX Runtime FP32 p50 (same run)")
    ax.set_title(title or "Does latency follow MACs? (below the diagonal: faster than the MACs promise)")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", help="CPU matrix result files (edgeseg-bench/1)")
    ap.add_argument("--models", default="benchmarks/results/models.json", help="model table with MACs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/plots/latency_vs_macs.png")
    args = ap.parse_args(argv)
    from edgeseg.bench.results import load_results

    models = json.loads(Path(args.models).read_text())
    by_file = {path: load_results([path]) for path in args.results}
    pts = merge_points(by_file, models, args.threads)
    size = next(r["input_shape"][-2:] for rows in by_file.values() for r in rows if r.get("input_shape"))
    src = ", ".join(Path(p).name for p in args.results)
    print(plot_mission(pts, args.out, f"Latency share vs MAC share of U-Net, {size[0]}x{size[1]}, "
                                      f"{args.threads} threads, batch 1 ({src})"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
