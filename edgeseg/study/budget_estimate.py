"""What plans/papers-budget.toml costs, extrapolated from the claims campaign's CPU timings: an ESTIMATE.

Per network, the claims campaign's measured training seconds per (epoch x training image x input pixel)
(median over its committed DSB/Kvasir/ISBI runs at 1 torch thread on this 2-core EPYC, busy) times each
papers-budget run's epochs x training images x pixels. GPU-hours assume one GPU does the work of SPEEDUP_LO
to SPEEDUP_HI such CPU cores (an assumption, not a measurement: no GPU was used here).

    python benchmarks/papers_budget_estimate.py   # prints the Markdown table the README quotes
"""

from __future__ import annotations

import argparse
import json
import statistics as st

from edgeseg.study.paths import CAMPAIGN
from edgeseg.study.plan import load_plan, packaged_plan

SPEEDUP_LO, SPEEDUP_HI = 50, 200


def rates() -> dict[str, float]:
    """model -> median CPU seconds per (epoch x training image x pixel), resized (not native) runs."""
    per: dict[str, list[float]] = {}
    for p in CAMPAIGN.glob("*/*/f*-s*.json"):
        d = json.loads(p.read_text())
        if d.get("pruned_from") or "native" in d["variant"] or not d.get("train_seconds"):
            continue
        h, w = d["recipe"]["size"]
        per.setdefault(d["model"], []).append(d["train_seconds"] / (d["recipe"]["epochs"] * d["n_train"] * h * w))
    return {m: st.median(v) for m, v in per.items()}


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    plan = load_plan(packaged_plan("papers-budget"))
    r = rates()
    n_train = {"dsb2018-nuclei-564": plan.sets["dsb2018-nuclei-564"]["n_train"],
               "kvasir-seg-900": plan.sets["kvasir-seg-900"]["n_train"], "isbi2012-em": 17}
    rows, total = [], 0.0
    for v, net in plan.networks.items():
        hours = 0.0
        for j in plan.all_jobs():
            if j.variant == v:
                s = plan.recipe(j.dataset, v)
                hours += r[net["model"]] * s["epochs"] * n_train[j.dataset] * s["size"][0] * s["size"][1] / 3600
        total += hours
        runs = sum(j.variant == v for j in plan.all_jobs())
        rows.append(f"| {v} | {runs} | {hours:,.0f} | {hours / SPEEDUP_HI:,.1f}-{hours / SPEEDUP_LO:,.1f} |")
    print("| network | runs | CPU core-hours (extrapolated) | GPU-hours (estimate, assumed "
          f"{SPEEDUP_LO}-{SPEEDUP_HI}x a core) |\n|---|---:|---:|---:|")
    print("\n".join(rows))
    lo, hi = total / SPEEDUP_HI, total / SPEEDUP_LO
    print(f"| **total** | {len(plan.all_jobs())} | {total:,.0f} | {lo:,.0f}-{hi:,.0f} |")
    return 0
