"""The `edgeseg optimize` outputs: optimize.json (the document), optimize.md (the Pareto table), optimize.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeseg.artifacts import write_bytes_atomic, write_json_atomic

PRECISION_COLORS = {"fp32": "tab:blue", "fp16": "tab:green", "int8": "tab:red", "int8-io": "tab:orange",
                    "mixed-int8": "tab:purple"}


def markdown(doc: dict[str, Any]) -> str:
    sel = doc["selected"]
    lines = [f"# edgeseg optimize: {doc['source']}", "",
             f"Data {doc['data']} (split: validation), input {doc['size'][0]}x{doc['size'][1]}, budget "
             f"{doc['max_dice_drop_pp']} pp ({doc['budget_rule']}). Latency per image, {doc['rounds']} "
             f"interleaved rounds x {doc['iters']} iterations per configuration, one process.", "",
             ("**Selected: " + f"{sel['label']} at {sel['threads']} threads, {sel['p50_ms']:.3f} ms/image p50, "
              f"Dice drop {sel['drop_pp']['mean']:+.2f} pp [{sel['drop_pp']['low']:+.2f}, "
              f"{sel['drop_pp']['high']:+.2f}]** ({sel['path']})") if sel else
             "**No candidate within the budget.**", "",
             "| Candidate | Threads | p50 ms/img | p99 ms/img | Dice | Drop pp [95% CI] | In budget | Pareto | Notes |",
             "|---|---:|---:|---:|---:|---|---|---|---|"]
    for r in sorted(doc["rows"], key=lambda r: r["p50_ms"]):
        d = r["drop_pp"]
        mark = " **(selected)**" if r.get("selected") else ""
        lines.append(f"| {r['label']}{mark} | {r['threads']} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | "
                     f"{r['dice']:.4f} | {d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}] | "
                     f"{'yes' if r['within_budget'] else 'no'} | {'yes' if r['pareto'] else ''} | "
                     f"{'; '.join(r.get('notes') or []) or ''} |")
    if doc.get("skipped"):
        lines += ["", "Skipped:", ""] + [f"- {s['label']}: {s['reason']}" for s in doc["skipped"]]
    return "\n".join(lines) + "\n"


def plot_png(doc: dict[str, Any]) -> bytes | None:
    """Latency (log) vs Dice drop with CI bars, points labelled, legend = precisions only. None: no matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    import io

    rows = doc["rows"]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for prec, color in PRECISION_COLORS.items():
        rs = [r for r in rows if r["precision"] == prec]
        if not rs:
            continue
        x = [r["p50_ms"] for r in rs]
        y = [r["drop_pp"]["mean"] for r in rs]
        err = [[r["drop_pp"]["mean"] - r["drop_pp"]["low"] for r in rs],
               [r["drop_pp"]["high"] - r["drop_pp"]["mean"] for r in rs]]
        ax.errorbar(x, y, yerr=err, fmt="o", color=color, label=prec, capsize=2, ms=5)
        for r in rs:
            rw = "" if r["rewrites"] == "none" else " rw"
            ax.annotate(f"b{r['batch']} t{r['threads']}{rw}", (r["p50_ms"], r["drop_pp"]["mean"]), fontsize=7,
                        xytext=(4, 3), textcoords="offset points")
    front = sorted((r for r in rows if r.get("pareto")), key=lambda r: r["p50_ms"])
    if front:
        ax.plot([r["p50_ms"] for r in front], [r["drop_pp"]["mean"] for r in front], "k:", lw=1)
    sel = next((r for r in rows if r.get("selected")), None)
    if sel:
        ax.scatter([sel["p50_ms"]], [sel["drop_pp"]["mean"]], s=220, facecolors="none", edgecolors="k", lw=1.5)
        ax.annotate("selected", (sel["p50_ms"], sel["drop_pp"]["mean"]), xytext=(6, -12),
                    textcoords="offset points", fontsize=8, weight="bold")
    ax.axhline(doc["max_dice_drop_pp"], color="grey", ls="--", lw=1)
    ax.text(ax.get_xlim()[0], doc["max_dice_drop_pp"], " budget", va="bottom", fontsize=8, color="grey")
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms per image (p50, log scale)")
    ax.set_ylabel("Dice drop vs FP32, percentage points (95% CI)")
    ax.set_title(f"{Path(str(doc['source'])).parent.name or doc['source']}: latency vs Dice drop (validation)")
    ax.legend(title="precision", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return buf.getvalue()


def write_report(doc: dict[str, Any], out_dir: Path, plot: bool = True) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "optimize.json", out_dir / "optimize.md"]
    write_json_atomic(paths[0], doc)
    write_bytes_atomic(paths[1], markdown(doc).encode())
    png = plot_png(doc) if plot else None
    if png is not None:
        paths.append(out_dir / "optimize.png")
        write_bytes_atomic(paths[-1], png)
    return paths
