"""Training-curve claims ("WS gives a smoother loss curve / faster convergence"), from the campaign's curves.

Evidence: each campaign run's `val_dice_per_epoch` (the campaign records no per-epoch training loss, so the
validation Dice curve stands in for it). Runs of the model and of its baseline are paired by (fold, seed): the
same split, the same seed, the same recipe. Per pair, two scores:

* roughness = the validation Dice lost between consecutive epochs, sum of max(0, d[e] - d[e+1]); a curve that
  never falls scores 0. "Smoother" = lower roughness.
* epochs to converge = the first epoch (1-based) at which the curve reaches CONVERGED x the best validation Dice
  of the PAIR (a common target, so a run that plateaus low does not "converge" early); a curve that never
  reaches it scores epochs + 1. "Faster" = fewer epochs.

Rule, per data set and per part (smoother, faster): a two-sided sign test at 5% over the pairs, ties dropped:
holds when the model wins so many pairs that P(wins >= k | fair coin) <= 0.025, does not hold when it loses that
often, else inconclusive (with k of n). Three seeds alone can never decide (3 of 3 has p = 0.125): ISBI's 3
folds x 3 seeds can (8 of 9). Pairs where either run never learned are left out and named. Parts and sets
combine as every multi-set claim does (`verdicts.combine`).
"""

from __future__ import annotations

from math import comb
from typing import Any

from edgeseg.study.campaign_results import Campaign, Run
from edgeseg.study.claims.verdicts import FAILS, HOLDS, INCONCLUSIVE, PART, PENDING, ClaimRow, combine

CONVERGED = 0.95
ALPHA_SIDE = 0.025


def roughness(curve: list[float]) -> float:
    """Validation Dice lost between consecutive epochs (0 for a curve that never falls)."""
    return float(sum(max(0.0, a - b) for a, b in zip(curve, curve[1:], strict=False)))


def epochs_to(curve: list[float], target: float) -> int:
    """First epoch (1-based) whose value reaches `target`; len(curve) + 1 when none does."""
    return next((i + 1 for i, v in enumerate(curve) if v >= target), len(curve) + 1)


def sign_verdict(wins: int, losses: int) -> str:
    """Two-sided sign test at 5% over the pairs that are not tied."""
    n = wins + losses
    if n == 0:
        return INCONCLUSIVE

    def tail(k: int) -> float:  # P(X >= k), X ~ Binomial(n, 1/2)
        return sum(comb(n, i) for i in range(k, n + 1)) / 2 ** n

    if tail(wins) <= ALPHA_SIDE:
        return HOLDS
    if tail(losses) <= ALPHA_SIDE:
        return FAILS
    return INCONCLUSIVE


def _curve(r: Run) -> list[float] | None:
    c = r.meta.get("val_dice_per_epoch")
    return [float(x) for x in c] if isinstance(c, list) and len(c) >= 2 else None


def pair_scores(a: list[float], b: list[float]) -> dict[str, float]:
    """Roughness and epochs to converge of two paired curves (a = model, b = baseline)."""
    target = CONVERGED * max(max(a), max(b))
    return {"rough_a": roughness(a), "rough_b": roughness(b),
            "epochs_a": epochs_to(a, target), "epochs_b": epochs_to(b, target)}


def check_convergence(row: ClaimRow, t: dict[str, Any], camp: Campaign) -> None:
    model, base = t["model"], t["baseline"]
    if not camp.runs:
        row.verdict, row.why = INCONCLUSIVE, f"{PENDING}: no campaign results in {camp.root.as_posix()}"
        return
    verdicts, parts, skipped = [], [], []
    for ds in camp.match(list(t["datasets"])):
        mine = {(r.fold, r.seed): r for r in camp.variant_runs(ds, model)}
        theirs = {(r.fold, r.seed): r for r in camp.variant_runs(ds, base)}
        pairs = []
        for key in sorted(set(mine) & set(theirs)):
            a, b = mine[key], theirs[key]
            if a.never_learned() or b.never_learned():
                skipped.append(f"{ds} fold {key[0]} seed {key[1]}")
                continue
            ca, cb = _curve(a), _curve(b)
            if ca and cb:
                pairs.append((key, pair_scores(ca, cb)))
        if not pairs:
            continue
        smooth_w = sum(p["rough_a"] < p["rough_b"] for _, p in pairs)
        smooth_l = sum(p["rough_a"] > p["rough_b"] for _, p in pairs)
        fast_w = sum(p["epochs_a"] < p["epochs_b"] for _, p in pairs)
        fast_l = sum(p["epochs_a"] > p["epochs_b"] for _, p in pairs)
        vs, vf = sign_verdict(smooth_w, smooth_l), sign_verdict(fast_w, fast_l)
        verdicts += [vs, vf]
        n = len(pairs)
        parts.append(f"{ds}: smoother in {smooth_w} of {n} pairs ({smooth_l} rougher) -> {vs}; faster in {fast_w} "
                     f"of {n} ({fast_l} slower) -> {vf}")
        for key, p in pairs:
            row.details.append(
                f"{ds} fold {key[0]} seed {key[1]}: roughness {model} {p['rough_a']:.3f} vs {base} "
                f"{p['rough_b']:.3f}; epochs to {CONVERGED:.0%} of the pair's best {p['epochs_a']} vs "
                f"{p['epochs_b']}")
        row.evidence += [f"campaign/{ds}/{camp.resolve(n)}/*.json (val_dice_per_epoch)" for n in (model, base)]
    if not verdicts:
        row.verdict = INCONCLUSIVE
        row.why = (f"{PENDING}: no paired runs of {model} and {base} with validation curves on "
                   f"{'/'.join(t['datasets'])}")
        return
    row.verdict = combine(verdicts)
    if row.verdict == HOLDS and t.get("incomplete"):
        row.verdict = PART
    row.ours = "; ".join(parts)
    row.why = ("paired (fold, seed) validation-Dice curves, two-sided sign test at 5% per set and part (smoother = "
               "less Dice lost between epochs; faster = fewer epochs to 95% of the pair's best)"
               + (f"; left out, a run never learned: {', '.join(skipped)}" if skipped else ""))
