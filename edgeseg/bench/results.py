"""Bench results, read and shown: `load_results` (edgeseg-bench/1 files, validated), the table
(Ultralytics-benchmark style: format, precision, size, Dice, ms/image, images/s) that `edgeseg bench` and
`edgeseg demo` print, the Pareto front, and `edgeseg plot`'s figure (latency vs Dice with the front, latency
per backend/precision; matplotlib imported lazily: `pip install "edgeseg[plot]"`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgeseg.bench.schema import check
from edgeseg.errors import EdgesegError, MissingDependencyError

COLUMNS = ("Model", "Format", "Precision", "Device", "Threads", "Batch", "Size (MB)", "Dice",
           "ms/img p50", "ms/img p99", "img/s", "Peak mem (MB)", "mJ/img")
# With per-image figures at native size (bench --image-size / --tile / --resize): the per-call columns above
# are per network input (one tile), these are per whole image.
NATIVE_COLUMNS = ("Image", "Inference", "ms/full img", "full img/s", "data ms/img")


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def has_native(results: Sequence[dict[str, Any]]) -> bool:
    return any(r.get("images_per_s") is not None or r.get("data_ms_per_image") is not None for r in results)


def rows(results: Sequence[dict[str, Any]], native: bool = False) -> list[list[str]]:
    out = []
    for r in results:
        lat = r.get("latency_ms") or {}
        b = r.get("batch") or 1
        p50 = lat.get("p50") / b if lat.get("p50") is not None else None  # per image
        p99 = lat.get("p99") / b if lat.get("p99") is not None else None
        out.append([str(r["model"]), str(r["backend"]), str(r["precision"]), str(r["device"]),
                    _fmt(r.get("threads"), "d"), _fmt(b, "d"), _fmt(r.get("size_mb"), ".2f"),
                    _fmt(r.get("dice"), ".4f"), _fmt(p50, ".2f"), _fmt(p99, ".2f"),
                    _fmt(r.get("throughput_ips"), ".1f"), _fmt(r.get("peak_mem_mb"), ".0f"),
                    _fmt(r.get("energy_mj_per_image"), ".1f")])
        if native:
            size = "x".join(map(str, r["image_size"])) if r.get("image_size") else "-"
            out[-1] += [size, str(r.get("inference") or r.get("data_inference") or "-"),
                        _fmt((r.get("image_ms") or {}).get("mean"), ".1f"), _fmt(r.get("images_per_s"), ".2f"),
                        _fmt(r.get("data_ms_per_image"), ".1f")]
    return out


def format_table(results: Sequence[dict[str, Any]], markdown: bool = True) -> str:
    """Markdown table (also readable as plain text on a terminal)."""
    native = has_native(results)
    cols = COLUMNS + NATIVE_COLUMNS if native else COLUMNS
    body = rows(results, native)
    widths = [max(len(c), *(len(r[i]) for r in body)) if body else len(c) for i, c in enumerate(cols)]
    numeric = set(range(4, len(COLUMNS))) | set(range(len(COLUMNS) + 2, len(cols)))

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i in numeric else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if i in numeric else ("-" * (w + 2))
                         for i, w in enumerate(widths)) + "|"
    return "\n".join([line(cols), sep, *(line(r) for r in body)])


def format_report(doc: dict[str, Any], ratios: bool = False) -> str:
    """What `edgeseg bench` and `edgeseg demo` print: the table, then skipped rows (backend absent here) and
    FAILED rows (a step or worker that failed, with the reason), then the target ratios when asked."""
    lines = [format_table(doc["results"])]
    lines += [f"skipped: {s['model']} {s['backend']} {s['precision']}: {s['reason']}" for s in doc.get("skipped", [])]
    lines += [f"FAILED: {f['model']} {f['backend']} {f['precision']}: {f['reason']}" for f in doc.get("failed", [])]
    if ratios:
        from edgeseg.bench.speedups import format_ratios

        got = doc.get("ratios")
        lines += ["", format_ratios(got) if got else "ratios: no matching pairs in these results"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ plots

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
