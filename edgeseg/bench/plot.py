"""`edgeseg plot`: latency vs Dice with the Pareto front, and latency per backend/precision (matplotlib,
imported lazily: `pip install "edgeseg[plot]"`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgeseg.bench.schema import check
from edgeseg.errors import EdgesegError, MissingDependencyError


def load_results(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise EdgesegError(f"{p}: no such results file; make one with edgeseg bench --json FILE")
        try:
            doc = json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise EdgesegError(f"{p}: not JSON ({e.msg}, line {e.lineno}); regenerate it with edgeseg bench") from None
        check(doc, str(p))
        results += doc["results"]
    return results


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points not dominated (lower latency x, higher Dice y), sorted by latency."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def _label(r: dict[str, Any]) -> str:
    t = f" t{r['threads']}" if r.get("threads") else ""
    return f"{r['model']} {r['backend']} {r['precision']}{t} b{r['batch']}"


def plot(paths: Sequence[str | Path], out: str | Path) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError('edgeseg plot needs matplotlib: pip install "edgeseg[plot]"') from None
    from edgeseg.artifacts import atomic_path

    results = [r for r in load_results(paths) if (r.get("latency_ms") or {}).get("p50") is not None]
    if not results:
        raise EdgesegError("no latency results in the given files; run edgeseg bench first")
    scored = [r for r in results if r.get("dice") is not None]
    fig, axes = plt.subplots(1, 2 if scored else 1, figsize=(15 if scored else 9, 0.28 * len(results) + 3))
    axes = list(axes) if scored else [axes]
    ax = axes[-1]
    labels = [_label(r) for r in results]
    vals = [r["latency_ms"]["p50"] / r["batch"] for r in results]
    colors = {"onnxruntime": "tab:blue", "pytorch": "tab:orange", "tensorrt": "tab:green", "tensorrt-rtx": "tab:olive"}
    ax.barh(range(len(vals)), vals, color=[colors.get(r["backend"], "grey") for r in results])
    ax.set_yticks(range(len(vals)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("ms / image (p50)")
    ax.set_title("Latency per backend / precision")
    from matplotlib.patches import Patch

    used = sorted({r["backend"] for r in results})
    ax.legend(handles=[Patch(color=colors.get(b, "grey"), label=b) for b in used], loc="best")
    if scored:
        ax0 = axes[0]
        pts = [(r["latency_ms"]["p50"] / r["batch"], r["dice"]) for r in scored]
        ax0.scatter([p[0] for p in pts], [p[1] for p in pts], c=[colors.get(r["backend"], "grey") for r in scored])
        for (x, y), r in zip(pts, scored, strict=True):
            ax0.annotate(_label(r), (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        front = pareto_front(pts)
        ax0.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "k--o", lw=1, mfc="none", ms=10,
                 label="Pareto front")
        ax0.set_xscale("log")
        ax0.set_xlabel("ms / image (p50, log)")
        ax0.set_ylabel("Dice")
        ax0.set_title("Latency vs Dice")
        ax0.legend()
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format=out.suffix.lstrip(".") or "png", dpi=120)
    plt.close(fig)
    return out
