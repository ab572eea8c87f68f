"""The compare report: compare.json, compare.md and compare.png (Dice vs latency, or Dice alone)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeseg.artifacts import atomic_path, write_json_atomic
from edgeseg.study.compare import recommendation


def _ci(iv: dict[str, Any] | None, signed: bool = False) -> str:
    if not iv:
        return "-"
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(iv['estimate'])} [{f.format(iv['lo'])}, {f.format(iv['hi'])}]"


def _device_cells(d: dict[str, Any] | None) -> list[str]:
    if d is None:
        return ["not run"] * 4
    if "missing" in d:
        return ["MISSING: " + d["missing"].split(";")[0], "-", "-", "-"]
    drop = d["val_dice_drop_pp"]
    return [f"{d['artifact']} ({d['threads']} thr; val drop {drop['mean']:+.2f} pp, CI hi {drop['high']:.2f})",
            f"{d['p50_ms']:.2f}", f"{d['p99_ms']:.2f}",
            "-" if d["peak_mem_mb"] is None else f"{d['peak_mem_mb']:.1f}"]


def render_markdown(doc: dict[str, Any]) -> str:
    lines = [f"# Which network for this data: `{doc['command']}`", "",
             f"Results: `{doc['results']}`. Test Dice: {doc['interval']}; never learned: {doc['never_learned_rule']}."
             " Differences are to the top network of the set (two-level, images paired).", ""]
    for ds in doc["datasets"]:
        rows = [r for r in doc["networks"] if r["dataset"] == ds]
        lines += [f"## {ds}", "", "| network | params | learned | test Dice (learned runs) | vs top | per seed | "
                                  "best seed | fastest artifact within budget | p50 ms | p99 ms | peak MiB |",
                  "|---|---:|---|---|---|---|---:|---|---:|---:|---:|"]
        for r in rows:
            seeds = ", ".join(f"s{s}: {v:.3f}" for s, v in r["test_dice_per_seed"].items())
            params = f"{r['params'] / 1e6:.3f} M" if r.get("params") else "-"
            lines.append(f"| {r['network']} | {params} | {r['learned']} of {r['runs']} | {_ci(r['test_dice'])} | "
                         f"{_ci(r['vs_top'], True)} | {seeds} | {r['best_seed']} | "
                         + " | ".join(_device_cells(r.get("device"))) + " |")
        lines += ["", "**Recommendation.** " + recommendation(doc, ds), ""]
    if "device_bench" in doc:
        b = doc["device_bench"]
        lines += ["## Device bench", "",
                  f"Machine: {doc.get('machine', '?')}. `edgeseg optimize` of each network's best seed with "
                  f"{b['options']}; Dice drops are on the VALIDATION split, latency per image (interleaved "
                  f"rounds), peak memory = resident-set growth while opening and running the selected artifact "
                  f"in a fresh process. "
                  f"CPU ISA: {', '.join((doc.get('cpu') or {}).get('flags') or ['?'])}. "
                  f"TensorRT engines: {b['engines']}.", ""]
    if doc.get("problems"):
        lines += ["## Files skipped", "", *[f"- {p}" for p in doc["problems"]], ""]
    return "\n".join(lines)


def plot(doc: dict[str, Any], path: Path) -> bool:
    """Dice (interval error bars) against p50 latency (p50..p99 bar) per network; Dice alone without a bench."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = [r for r in doc["networks"] if r["test_dice"]]
    benched = [r for r in rows if (r.get("device") or {}).get("p50_ms") is not None]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, r in enumerate(benched or rows):
        t = r["test_dice"]
        x = r["device"]["p50_ms"] if benched else i
        xerr = [[0], [r["device"]["p99_ms"] - x]] if benched else None
        ax.errorbar([x], [t["estimate"]], yerr=[[t["estimate"] - t["lo"]], [t["hi"] - t["estimate"]]], xerr=xerr,
                    fmt="o", capsize=4, label=f"{r['network']} ({r['learned']}/{r['runs']} learned)")
        ax.annotate(r["network"], (x, t["estimate"]), textcoords="offset points", xytext=(6, 4), fontsize=8)
    if benched:
        from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

        ax.set_xlabel("ms per image (p50, bar to p99), fastest artifact within the Dice budget", fontsize=8)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_xticks(range(len(rows)), [r["network"] for r in rows], rotation=20)
    ax.set_ylabel("test Dice (95% two-level interval)")
    ax.set_title(", ".join(doc["datasets"]), fontsize=9)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return True


def write_report(doc: dict[str, Any], out: str | Path, *, png: bool = True) -> list[Path]:
    out = Path(out)
    doc["recommendations"] = {ds: recommendation(doc, ds) for ds in doc["datasets"]}
    write_json_atomic(out / "compare.json", doc)
    with atomic_path(out / "compare.md") as tmp:
        tmp.write_text(render_markdown(doc) + "\n")
    written = [out / "compare.json", out / "compare.md"]
    if png and plot(doc, out / "compare.png"):
        written.append(out / "compare.png")
    return written
