"""`edgeseg compare RESULTS`: which network for my data: test Dice over seeds and images, per network.

For each (data set, network) of a campaign results folder (the layout `edgeseg.study.campaign_results` reads):

* test Dice with its two-level interval over seeds and images (`edgeseg.study.claims.stats.mean_interval`, the
  claims report's statistic), over the runs that learned;
* "learned in k of n runs": `edgeseg.metrics.never_learned` (the one definition: pooled Dice below
  NEVER_LEARNED), applied by the campaign reader (`Run.never_learned`) to each run's test scores;
* each network's difference to the top one (two-level, images paired), which the recommendation reads;
* the best seed (highest test Dice of the learned runs), the one `--device-bench` optimizes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError


def _iv(iv: Any) -> dict[str, Any] | None:
    if iv is None:
        return None
    return {"estimate": iv.estimate, "lo": iv.lo, "hi": iv.hi, "n_images": iv.n, "runs": list(iv.runs),
            "level": iv.level, "method": iv.method}


def network_rows(camp: Any, ds: str, variants: list[str]) -> list[dict[str, Any]]:
    from edgeseg.study.claims.stats import mean_interval

    rows = []
    for v in variants:
        runs = camp.variant_runs(ds, v)
        if not runs:
            continue
        by_seed: dict[int, list[Any]] = {}
        for r in runs:
            by_seed.setdefault(r.seed, []).append(r)
        seeds = {s: sum(r.meta.get("test_dice", 0.0) for r in rs) / len(rs) for s, rs in sorted(by_seed.items())}
        dead = {r.seed for r in runs if r.never_learned()}
        learned = [s for s in seeds if s not in dead]
        best = max(learned, key=lambda s: (seeds[s], -s)) if learned else None
        meta = runs[0].meta
        rows.append({"dataset": ds, "network": v, "model": meta.get("model", v), "params": meta.get("params"),
                     "runs": len(seeds), "learned": len(learned), "never_learned_seeds": sorted(dead),
                     "test_dice_per_seed": seeds, "best_seed": best,
                     "test_dice": _iv(mean_interval(camp.per_image(ds, v, "dice", learned_only=True))),
                     "test_dice_all_runs": sum(seeds.values()) / len(seeds), "recipe": meta.get("recipe"),
                     "folds": sorted({r.fold for r in runs})})
    rows.sort(key=lambda r: -(r["test_dice"] or {"estimate": -1})["estimate"])
    top = next((r for r in rows if r["test_dice"]), None)
    for r in rows:
        r["vs_top"] = None
        if top is not None and r is not top and r["test_dice"]:
            from edgeseg.study.claims.stats import compare

            r["vs_top"] = _iv(compare(camp.per_image(ds, r["network"], "dice", learned_only=True),
                                      camp.per_image(ds, top["network"], "dice", learned_only=True)))
    return rows


def compare_results(results: str | Path, *, datasets: list[str] | None = None,
                    networks: list[str] | None = None) -> dict[str, Any]:
    """The compare document (edgeseg-compare/1) of a campaign results folder (no device bench yet)."""
    from edgeseg.study.campaign_results import load_campaign

    results = Path(results)
    camp = load_campaign(results)
    if not camp.runs:
        raise EdgesegError(f"{results}: no finished campaign runs (<set>/<variant>/f<F>-s<S>.json + .csv); pass "
                           f"a campaign results folder (edgeseg campaign run writes one)")
    have = sorted({r.dataset for r in camp.runs})
    for d in datasets or []:
        if d not in have:
            raise EdgesegError(f"--sets {d}: no runs of that data set in {results} (it has {have})")
    known = sorted({r.variant for r in camp.runs})
    for n in networks or []:
        if n not in known:
            raise EdgesegError(f"--networks {n}: no runs of that network in {results} (it has {known})")
    out = []
    for ds in datasets or have:
        out += network_rows(camp, ds, networks or sorted({r.variant for r in camp.runs if r.dataset == ds}))
    from edgeseg.metrics import NEVER_LEARNED

    rule = (f"edgeseg.metrics.never_learned: pooled test Dice below {NEVER_LEARNED} (bounded from the per-image "
            f"Dice)")
    return {"schema": "edgeseg-compare/1", "results": str(results), "datasets": datasets or have, "networks": out,
            "never_learned_rule": rule,
            "interval": "two-level 95% interval over the learned runs and the test images (edgeseg.intervals)",
            "problems": [f"{p}: {why}" for p, why in camp.problems]}


def _undecided(rows: list[dict[str, Any]]) -> list[str]:
    """Networks whose difference to the top one has an interval containing 0 (or rests on < 2 runs)."""
    return [r["network"] for r in rows[1:] if r["test_dice"] and (r["vs_top"] is None or not (
        r["vs_top"]["hi"] < 0 or r["vs_top"]["lo"] > 0) or r["learned"] < 2)]


def recommendation(doc: dict[str, Any], ds: str) -> str:
    """One paragraph: the most accurate network, which ones the data cannot tell from it, the fastest of those."""
    rows = [r for r in doc["networks"] if r["dataset"] == ds and r["test_dice"]]
    if not rows:
        return f"{ds}: no network learned in any run; the data cannot decide."
    top, tied = rows[0], _undecided(rows)
    t = top["test_dice"]
    parts = [f"On {ds}, {top['network']} has the highest test Dice, {t['estimate']:.3f} [{t['lo']:.3f}, "
             f"{t['hi']:.3f}] over its learned runs (learned in {top['learned']} of {top['runs']} runs"
             + (f"; {top['test_dice_all_runs']:.3f} over all of them" if top["learned"] < top["runs"] else "") + ")."]
    if top["learned"] < 2:
        parts.append(f"It rests on {top['learned']} learned run, so the seeds cannot be told from the network: "
                     f"the data cannot decide.")
    if tied:
        parts.append(f"The data cannot decide between it and {', '.join(tied)}: the two-level interval of each "
                     f"difference contains 0 (or rests on fewer than 2 learned runs), so more seeds or test images, "
                     f"not this table, would separate them.")
    else:
        parts.append("Every other network is below it beyond the two-level interval of the difference.")
    dead = [f"{r['network']} ({r['runs'] - r['learned']} of {r['runs']})" for r in doc["networks"]
            if r["dataset"] == ds and r["learned"] < r["runs"]]
    if dead:
        parts.append(f"Runs that never learned: {', '.join(dead)}; a network that fails some seeds needs several "
                     f"trainings and a validation check before shipping.")
    bench = {r["network"]: r.get("device") for r in rows if (r.get("device") or {}).get("p50_ms") is not None}
    pool = [n for n in [top["network"], *tied] if n in bench]
    if pool:
        fast = min(pool, key=lambda n: bench[n]["p50_ms"])
        d = bench[fast]
        where = (f"Of those, {fast} is the fastest on this machine" if len(pool) > 1 else
                 "On this machine its fastest artifact within the Dice budget is")
        parts.append(f"{where}: {d['artifact']} at {d['p50_ms']:.2f} ms p50 per image ({d['p99_ms']:.2f} ms p99), "
                     f"so ship {fast} as {d['artifact']}" + (f"; {', '.join(n for n in pool if n != fast)} would "
                                                             f"cost latency for no Dice the data can show."
                                                             if len(pool) > 1 else "."))
        for r in rows:  # the Pareto alternatives: faster, at a Dice cost the data does show
            b = bench.get(r["network"])
            if r["network"] not in pool and b and b["p50_ms"] < d["p50_ms"] and r["vs_top"]:
                v = r["vs_top"]
                parts.append(f"If latency matters more than Dice, {r['network']} runs at {b['p50_ms']:.2f} ms "
                             f"({d['p50_ms'] / b['p50_ms']:.1f}x faster) for {v['estimate']:+.3f} "
                             f"[{v['lo']:+.3f}, {v['hi']:+.3f}] test Dice.")
        missing = [n for n in [top["network"], *tied] if n not in bench]
        if missing:
            parts.append(f"Not benchmarked: {', '.join(missing)} (see the device table); the choice holds only "
                         f"among the benchmarked ones.")
    return " ".join(parts)
