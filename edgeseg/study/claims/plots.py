"""Optional plots for the claims report: params vs MACs, latency vs params, and Dice (95% CI) vs params.

matplotlib is imported lazily (it is in the `plot` extra) so the report works without it.
"""

from __future__ import annotations

from pathlib import Path

from edgeseg.errors import MissingDependencyError
from edgeseg.names import FULL_LEVEL, UNETSHARP, level_name
from edgeseg.study.campaign_results import Campaign
from edgeseg.study.claims.evidence import Evidence
from edgeseg.study.claims.stats import mean_interval


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; no display on servers/CI
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError(
            "matplotlib is not installed; install it with `pip install 'edgeseg[plot]'` or drop --plots"
        ) from None
    return plt


def make_plots(ev: Evidence, out_dir: str | Path, camp: Campaign | None = None) -> list[Path]:
    """Write the plots the evidence supports; returns the files written (none if nothing to plot).

    The Dice plot reads the campaign only (the one-seed train-*.json files are not evidence any more).
    """
    plt = _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    rows = [r for r in ev.models if r.get("params") and r.get("macs")]
    if rows:
        fig, ax = plt.subplots(figsize=(7, 5))
        for r in rows:
            ax.scatter(r["params"] / 1e6, r["macs"] / 1e9)
            ax.annotate(f"{r['name']} ({'x'.join(map(str, r.get('input_shape') or []))})",
                        (r["params"] / 1e6, r["macs"] / 1e9), fontsize=7)
        ax.set(xscale="log", yscale="log", xlabel="parameters (M)", ylabel="MACs per image (G; FLOPs = 2 x MACs)",
               title="Params vs compute at each network's reference input")
        written.append(_save(fig, out / "params_vs_macs.png", plt))

    params = {r["name"]: r["params"] for r in rows}
    path = _mission_plot(ev, out / "latency_vs_macs.png")
    if path:
        written.append(path)

    if camp is not None and params:
        path = _dice_plot(camp, params, out / "dice_vs_params.png", plt)
        if path:
            written.append(path)
    return written


def _dice_plot(camp: Campaign, params: dict[str, float], path: Path, plt) -> Path | None:
    """One panel per data set: mean per-image Dice (seed-averaged) with its 95% bootstrap interval as error
    bars, against parameters; points labelled; the legend only says how many seeds a point rests on. Only
    scores at the network's input size are drawn (native-size tiled scores are in native_table.py's table)."""
    panels = []
    for ds in sorted({r.dataset for r in camp.runs}):
        pts = []
        for v in sorted({r.variant for r in camp.runs if r.dataset == ds}):
            if any(r.meta.get("scored", "input-size") != "input-size" for r in camp.variant_runs(ds, v)):
                continue  # native-size (tiled) scores of the native-scale variants: not on the same footing
            name = level_name(FULL_LEVEL) if v == UNETSHARP else v
            base = next((m for m in (name, v.split("-ws-")[0], v.rsplit("-", 1)[0]) if m in params), None)
            ci = mean_interval(camp.per_image(ds, v, "dice", learned_only=True))
            if base and ci:
                pts.append((params[base] / 1e6, ci, v, len(camp.seeds(ds, v))))
        if pts:
            panels.append((ds, pts))
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.5), squeeze=False)
    for ax, (ds, pts) in zip(axes[0], panels, strict=True):
        for multi, style in ((True, dict(fmt="o", color="tab:blue")), (False, dict(fmt="s", color="tab:orange"))):
            sel = [p for p in pts if (p[3] > 1) == multi]
            if sel:
                ax.errorbar([p[0] for p in sel], [p[1].estimate for p in sel],
                            yerr=[[p[1].estimate - p[1].lo for p in sel], [p[1].hi - p[1].estimate for p in sel]],
                            capsize=3, ms=5, ls="none", label="2-3 seeds" if multi else "1 seed (no seed variance)",
                            **style)
        for x, ci, v, _ in pts:
            ax.annotate(v, (x, ci.estimate), fontsize=7, xytext=(4, 3), textcoords="offset points")
        ax.set(xscale="log", xlabel="parameters (M)", ylabel="test Dice (mean over images, 95% CI)", title=ds)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Dice vs params per data set (campaign; error bars: 95% bootstrap CI over test images)", fontsize=9)
    return _save(fig, path, plt)


def _mission_plot(ev: Evidence, path: Path) -> Path | None:
    """Each network's share of U-Net's latency against its share of U-Net's MACs (edgeseg.bench.mission),
    ratios taken within each results file (its own U-Net ONNX Runtime FP32 row, same run); the newest run's
    point wins (`merge_points`, the rule `edgeseg mission` uses)."""
    from edgeseg.bench.mission import merge_points, plot_mission

    by_file: dict[str, list[dict]] = {}
    for r in ev.bench:
        by_file.setdefault(r["_file"], []).append(r)
    points = merge_points(by_file, ev.models, strict=False) if ev.models else []
    return plot_mission(points, path) if points else None


def _save(fig, path: Path, plt) -> Path:
    from edgeseg.artifacts import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    plt.close(fig)
    return path
