"""Optional plots for the claims report: params vs MACs, and latency / Dice where results have them.

matplotlib is imported lazily (it is in the `plot` extra) so the report works without it.
"""

from __future__ import annotations

from pathlib import Path

from edgeseg.claims.evidence import Evidence
from edgeseg.errors import MissingDependencyError


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


def make_plots(ev: Evidence, out_dir: str | Path) -> list[Path]:
    """Write the plots the evidence supports; returns the files written (none if nothing to plot)."""
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
    lat: dict[str, dict[str, float]] = {}
    for r in ev.bench:
        p50 = (r.get("latency_ms") or {}).get("p50")
        if p50:
            hw = "x".join(str(d) for d in (r.get("input_shape") or [])[-2:])
            cfg = (f"{r.get('backend')} {r.get('precision')} {r.get('device')} t{r.get('threads')} "
                   f"b{r.get('batch')} {hw} ({Path(r['_file']).name})")
            lat.setdefault(cfg, {}).setdefault(r["model"], float(p50))
    if lat and params:
        fig, ax = plt.subplots(figsize=(7, 5))
        for cfg, per_model in sorted(lat.items()):
            pts = sorted((params[m] / 1e6, v) for m, v in per_model.items() if m in params)
            if pts:
                ax.scatter(*zip(*pts, strict=True), label=cfg)  # points, not lines: models are not a series
        ax.set(xscale="log", yscale="log", xlabel="parameters (M)", ylabel="p50 latency (ms)",
               title="Latency vs params (one line per backend configuration)")
        ax.legend(fontsize=7)
        written.append(_save(fig, out / "latency_vs_params.png", plt))

    dice = [(d.get("dataset"), r["model"], r["test_dice"]) for d in ev.train for r in d["runs"]
            if isinstance(r.get("test_dice"), (int, float))]
    if dice and params:
        fig, ax = plt.subplots(figsize=(7, 5))
        for ds in sorted({d for d, _, _ in dice}, key=str):
            pts = [(params[m] / 1e6, v, m) for d, m, v in dice if d == ds and m in params]
            if pts:
                ax.scatter([p for p, _, _ in pts], [v for _, v, _ in pts], label=str(ds))
                for p, v, m in pts:
                    ax.annotate(m, (p, v), fontsize=7)
        ax.set(xscale="log", xlabel="parameters (M)", ylabel="test Dice", title="Dice vs params per data set")
        ax.legend(fontsize=7)
        written.append(_save(fig, out / "dice_vs_params.png", plt))
    return written


def _save(fig, path: Path, plt) -> Path:
    from edgeseg.artifacts import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    plt.close(fig)
    return path
