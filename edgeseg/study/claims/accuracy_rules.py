"""The rules that stand between a trained-accuracy interval and its verdict, one function each (each tested).

Per data set, in this order:
1. **Learned runs only.** Means and intervals are taken over the runs that learned (`metrics.never_learned`,
   on the pooled test Dice); "learned in k of n runs" is printed beside them. A training failure is a
   finding about the recipe (`reliability`), not an accuracy figure.
2. **Seed cap, both directions** (`seed_cap`): a set whose comparison rests on a network with fewer than
   MIN_SEEDS learned seeds is "inconclusive at this budget", whatever the sign of its interval.
3. **Images cap** (`images_cap`): a k-fold set whose runs cover only part of its test images decides
   nothing yet (its interval is over a subset chosen by which folds finished).
4. **Reliability** (`reliability`): a recipe that failed in more than 1 run in 5 on the set qualifies the
   set's verdict: "... when it trains (k of n)".
5. **Budget** (`budget_variant`, `budget_rule`): where the same comparison was also trained at twice the
   epochs (`<variant>-2x`, MIN_SEEDS learned seeds each), a set whose decision differs between the two
   budgets is "inconclusive: depends on the training budget", with both figures.
Across sets: `verdicts.combine`, with "k of n sets" printed (`sets_tally`).
"""

from __future__ import annotations

from edgeseg.study.campaign_results import Campaign
from edgeseg.study.claims.verdicts import HOLDS, INCONCLUSIVE, VERDICTS

MIN_SEEDS = 3
MAX_FAILURE_RATE = 0.2  # more than 1 run in 5
BUDGET_SUFFIX = "-2x"
BUDGET_DEPENDS = "depends on the training budget"


def learned_seeds(camp: Campaign, ds: str, name: str) -> tuple[int, int]:
    """(seeds whose every run on `ds` learned, seeds with a finished run): a k-fold seed is one run per fold."""
    runs = camp.variant_runs(ds, name)
    seeds = {r.seed for r in runs}
    dead = {r.seed for r in runs if r.never_learned()}
    return len(seeds - dead), len(seeds)


def learned_runs(camp: Campaign, ds: str, name: str) -> tuple[int, int]:
    """(runs that learned, finished runs) of a network on `ds`: the reliability figure."""
    runs = camp.variant_runs(ds, name)
    return sum(not r.never_learned() for r in runs), len(runs)


def seed_cap(camp: Campaign, ds: str, names: list[str], verdict: str) -> tuple[str, str]:
    """The set's verdict after the symmetric seed cap, and the reason ('' when not capped)."""
    short = []
    for n in names:
        k, total = learned_seeds(camp, ds, n)
        if k < MIN_SEEDS:
            short.append(f"{n} {k} of {total}")
    if not short:
        return verdict, ""
    return INCONCLUSIVE, f"fewer than {MIN_SEEDS} learned seeds ({', '.join(short)})"


def images_cap(camp: Campaign, ds: str, names: list[str], metric: str, verdict: str) -> tuple[str, str]:
    """A set scored on part of its test images decides nothing yet."""
    sets = [set(camp.per_image(ds, n, metric, learned_only=True)) for n in names]
    common = set.intersection(*sets) if sets else set()
    total = camp.n_test(ds)
    if total and len(common) < total:
        return INCONCLUSIVE, f"{len(common)} of {total} test images (runs pending)"
    return verdict, ""


def reliability(camp: Campaign, ds: str, names: list[str]) -> str:
    """'when it trains (<name> k of n runs)' for each network whose recipe failed in > 1 run in 5, else ''."""
    bad = []
    for n in names:
        k, total = learned_runs(camp, ds, n)
        if total and (total - k) / total > MAX_FAILURE_RATE:
            bad.append(f"{n} learned in {k} of {total} runs")
    return f"when it trains ({'; '.join(bad)})" if bad else ""


def budget_variant(camp: Campaign, name: str) -> str:
    """The same network and recipe at twice the epochs (a pruned UNet# level: its full model's)."""
    return camp.resolve(name) + BUDGET_SUFFIX


def budget_ready(camp: Campaign, ds: str, names: list[str], metric: str) -> bool:
    """Every network of the comparison has MIN_SEEDS learned seeds at 2x on every test image of the set, and
    on a k-fold set MIN_SEEDS finished runs on every fold (a seed on one fold does not cover another's images)."""
    alias = [budget_variant(camp, n) for n in names]
    if any(learned_seeds(camp, ds, a)[0] < MIN_SEEDS for a in alias):
        return False
    folds = {f.get("fold") for f in (camp.splits.get(ds) or {}).get("folds") or [] if isinstance(f, dict)}
    if any(not folds <= camp.folds_of(ds, a, MIN_SEEDS) for a in alias):
        return False
    return images_cap(camp, ds, alias, metric, HOLDS)[0] == HOLDS


def budget_rule(verdict: str, verdict_2x: str) -> str:
    """The set's verdict given both budgets: a decision that changes with the budget is not the network's."""
    if verdict == verdict_2x:
        return verdict
    return INCONCLUSIVE


def sets_tally(verdicts: list[str], n_sets: int) -> str:
    """'holds on k of n sets (...)': so one holding set of three cannot read like two of three."""
    held = sum(v == HOLDS for v in verdicts)
    parts = [f"{sum(v == w for v in verdicts)} {w}" for w in VERDICTS if w != HOLDS and w in verdicts]
    pending = n_sets - len(verdicts)
    rest = ", ".join(parts + ([f"{pending} not yet measured"] if pending else []))
    return f"holds on {held} of {n_sets} sets" + (f" ({rest})" if rest else "")
