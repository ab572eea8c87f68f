"""The report's first screen: one line per claim, what moved since the last report, and the rules in short.

Also the four intervals a reviewer re-derived from the committed CSVs (issue 20), printed once here with the
image-only interval the previous report used, and each network's training reliability ("learned in k of n").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeseg.intervals import paired_bootstrap
from edgeseg.study.campaign_results import Campaign
from edgeseg.study.claims import accuracy_rules as ar
from edgeseg.study.claims.stats import by_run, compare, seed_mean
from edgeseg.study.claims.verdicts import COMPARABLE_MARGIN, UNTESTABLE, ClaimRow

CELL = 200
# The verdicts before issue 20 (parsed from the committed CLAIMS.md at 8cc80a8), for "What changed".
PREVIOUS = "claims-before-issue20.json"
# (data set, model, comparator, metric): the differences the reviewer re-derived.
REVIEWED = (("kvasir-seg-900", "tinyunet", "unet", "dice"), ("dsb2018-nuclei-564", "ulite", "unet", "dice"),
            ("dsb2018-nuclei-564", "sdunet", "unet", "dice"), ("isbi2012-em", "sdunet", "unet", "dice_interior"))
RULES = (
    ("Trained accuracy: a 95% two-level interval of (model - comparator): training runs within each network, "
     "then the same test images for both (`edgeseg/intervals.py`)", "tests/test_intervals.py"),
    (f"'better': interval above 0; 'comparable': above -{COMPARABLE_MARGIN:.2f} (a non-inferiority margin we "
     "chose, see `verdicts.py`); an interval touching the threshold decides nothing", "tests/test_claims_stats.py"),
    ("Runs that never learned (pooled Dice < 0.05, `metrics.never_learned`) are left out of means and intervals, "
     "and counted as 'learned in k of n'", "tests/test_claims_rules.py"),
    (f"Fewer than {ar.MIN_SEEDS} learned seeds of any network on a set: that set is 'inconclusive at this "
     "budget', whatever the sign", "tests/test_claims_rules.py"),
    ("A recipe that failed in more than 1 run in 5 on a set: its verdict there reads 'when it trains (k of n)'",
     "tests/test_claims_rules.py"),
    ("Where the comparison was also trained at 2x epochs with 3 learned seeds each: a decision that changes "
     f"with the budget is 'inconclusive: {ar.BUDGET_DEPENDS}'", "tests/test_claims_rules.py"),
    ("Across sets: all hold -> holds; some hold -> holds in part; none hold, one fails -> does not hold; the "
     "line says 'holds on k of n sets'", "tests/test_claims_stats.py"),
)


def _cut(s: str, n: int = CELL) -> str:
    s = str(s).replace("|", "\\|").replace("\n", " ")
    return s if len(s) <= n else s[: n - 3] + "..."


def summary_lines(rows: list[ClaimRow]) -> list[str]:
    out = ["## Summary", "", "One line per claim; details, intervals and sources follow below. *k of n sets*: "
           "trained-accuracy claims only.", "",
           "| Claim | Paper's figure | Ours | Verdict | k of n sets |", "|---|---|---|---|---|"]
    for r in rows:
        v = r.verdict + (f" {r.qualifier}" if r.qualifier else "")
        if r.verdict == UNTESTABLE:
            v += f": {r.why}"
        out.append(f"| `{r.id}` | {_cut(r.paper_figure)} | {_cut(r.short or r.ours)} | **{_cut(v)}** | "
                   f"{_cut(r.sets.replace('holds on ', '')) if r.sets else '-'} |")
    return out + [""]


def rules_lines() -> list[str]:
    out = ["## Rules", ""]
    out += [f"- {rule} (`{test}`)." for rule, test in RULES]
    return out + [""]


def changes_lines(rows: list[ClaimRow], results_dir: str | Path) -> list[str]:
    path = Path(results_dir) / PREVIOUS
    try:
        before = json.loads(path.read_text(encoding="utf-8"))["claims"]
    except (OSError, ValueError, KeyError):
        return []
    out = ["## What changed in the verdicts and why", "",
           f"Against `{path.as_posix()}` (the report before issue 20). Claims whose verdict moved:", "",
           "| Claim | Before | Now | Why |", "|---|---|---|---|"]
    moved = 0
    for r in rows:
        old = (before.get(r.id) or {}).get("verdict")
        if old is None:
            out.append(f"| `{r.id}` | (new claim) | {r.verdict} | {_cut(r.why, 400)} |")
            moved += 1
        elif old != r.verdict:
            out.append(f"| `{r.id}` | {old} | {r.verdict} | {_cut(r.why, 400)} |")
            moved += 1
    if not moved:
        out.append("| - | | | no verdict moved |")
    return out + [""]


def reviewed_lines(camp: Campaign) -> list[str]:
    out = ["## The four re-derived intervals", "",
           "The differences a sceptical read re-derived from the committed CSVs (issue 20). *Image-only*: the "
           "previous report's interval (images resampled after averaging each over seeds). *Two-level, all runs*: "
           "every finished run, including those that never learned. *Two-level, learned runs*: what the verdicts "
           "use.", "", "| Data set | Difference | image-only | two-level, all runs | two-level, learned runs |",
           "|---|---|---|---|---|"]
    for ds, a, b, metric in REVIEWED:
        pa, pb = camp.per_image(ds, a, metric), camp.per_image(ds, b, metric)
        if not pa or not pb:
            out.append(f"| {ds} | {a} - {b} ({metric}) | - | - | - |")
            continue
        ma, mb = seed_mean(pa), seed_mean(pb)
        stems = sorted(set(ma) & set(mb))
        img = paired_bootstrap([ma[s] for s in stems], [mb[s] for s in stems])
        allr = compare(pa, pb)
        la, lb = camp.per_image(ds, a, metric, True), camp.per_image(ds, b, metric, True)
        learned = compare(la, lb) if la and lb else None
        runs = f" ({len(by_run(la))} / {len(by_run(lb))} runs)" if learned else ""
        out.append(f"| {ds} | {a} - {b} ({metric}) | {img.fmt()} | {allr.fmt() if allr else '-'} | "
                   f"{learned.fmt() + runs if learned else '-'} |")
    return out + [""]


def reliability_lines(camp: Campaign) -> list[str]:
    """Training reliability per network and set: its own figure, apart from accuracy."""
    pairs = sorted({(r.dataset, r.variant) for r in camp.runs})
    if not pairs:
        return []
    out = ["## Training reliability", "",
           "Per network and set: runs that learned (pooled test Dice >= 0.05, `metrics.never_learned`) of the "
           "finished runs. A training failure is a finding about the recipe, kept apart from accuracy.", "",
           "| Data set | Variant | learned in k of n runs | learned seeds |", "|---|---|---|---|"]
    for ds, v in pairs:
        k, n = ar.learned_runs(camp, ds, v)
        ks, ns = ar.learned_seeds(camp, ds, v)
        flag = " (fails in > 1 of 5)" if n and (n - k) / n > ar.MAX_FAILURE_RATE else ""
        out.append(f"| {ds} | {v} | {k} of {n}{flag} | {ks} of {ns} |")
    return out + [""]


def short_ours(parts: list[tuple[str, Any]]) -> str:
    """'dsb: +0.017 [-0.011, +0.045]; kvasir: ...' from (data set, short figure) pairs."""
    return "; ".join(f"{ds.split('-')[0].split('2')[0]}: {fig}" for ds, fig in parts if fig)
