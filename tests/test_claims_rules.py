"""The rules between an interval and a verdict (edgeseg.study.claims.accuracy_rules), each on a hand-built campaign."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeseg.metrics import never_learned, pooled_dice_bound
from edgeseg.study.campaign_results import Campaign, Run
from edgeseg.study.claims import accuracy_rules as ar
from edgeseg.study.claims.checks_accuracy import check_accuracy_diff
from edgeseg.study.claims.verdicts import FAILS, HOLDS, INCONCLUSIVE, PART, ClaimRow

DS = "dsb2018-nuclei-564"
STEMS = [f"s{i:02d}" for i in range(40)]


def _campaign(variants: dict[str, tuple[float, int, int]]) -> Campaign:
    """variant -> (offset, seeds, dead seeds): per-image scores base + offset + small noise; a dead seed is 0."""
    rng = np.random.default_rng(0)
    base = {s: float(rng.uniform(0.5, 0.8)) for s in STEMS}
    camp = Campaign(root=Path("campaign"), splits={DS: {"folds": [{"fold": 0, "test": STEMS}]}})
    for v, (off, seeds, dead) in variants.items():
        for seed in range(seeds):
            zero = seed >= seeds - dead
            scores = {s: {"dice": 0.0 if zero else b + off + float(rng.normal(0, 0.005))} for s, b in base.items()}
            camp.runs.append(Run(DS, v, 0, seed, scores, {}, f"campaign/{DS}/{v}/f0-s{seed}.csv"))
    return camp


def _diff(camp: Campaign, model: str, base: str = "unet", mode: str = "better") -> ClaimRow:
    row = ClaimRow(id="x", model=model, kind="accuracy_diff", paper_figure="-")
    check_accuracy_diff(row, {"model": model, "baseline": base, "mode": mode, "metric": "dice", "datasets": ["dsb"]},
                        camp)
    return row


def test_never_learned_is_pooled_and_bounded_from_per_image_dice():
    assert never_learned([0.0, 0.01, 0.049]) and not never_learned([0.0, 0.06]) and not never_learned([])
    # pooled Dice is a weighted mean of per-image Dice: the largest bounds it
    assert pooled_dice_bound([0.0, 0.03, 0.01]) == 0.03 and never_learned([pooled_dice_bound([0.0, 0.03])])


def test_seed_cap_works_in_both_directions():
    better = _campaign({"unet": (0.0, 3, 0), "a": (0.05, 1, 0)})
    worse = _campaign({"unet": (0.0, 3, 0), "a": (-0.05, 1, 0)})
    assert ar.seed_cap(better, DS, ["a", "unet"], HOLDS) == (INCONCLUSIVE, "fewer than 3 learned seeds (a 1 of 1)")
    assert ar.seed_cap(worse, DS, ["a", "unet"], FAILS)[0] == INCONCLUSIVE
    assert _diff(better, "a").verdict == INCONCLUSIVE and _diff(worse, "a").verdict == INCONCLUSIVE
    three = _campaign({"unet": (0.0, 3, 0), "a": (-0.05, 3, 0)})
    assert _diff(three, "a").verdict == FAILS  # with three learned seeds the same sign decides


def test_dead_runs_leave_the_interval_and_count_as_unreliable():
    camp = _campaign({"unet": (0.0, 3, 0), "a": (0.05, 4, 1)})  # 3 of 4 learned: a failure rate of 1 in 4
    assert ar.learned_runs(camp, DS, "a") == (3, 4) and ar.learned_seeds(camp, DS, "a") == (3, 4)
    row = _diff(camp, "a")
    assert row.verdict == HOLDS  # the dead run does not drag the mean down: +0.05 over 3 learned seeds
    assert "learned seeds a 3/4" in row.ci and row.qualifier == f"{DS}: when it trains (a learned in 3 of 4 runs)"
    assert ar.reliability(_campaign({"a": (0.0, 5, 1)}), DS, ["a"]) == ""  # 1 in 5 is not "more than 1 in 5"


def test_budget_rule_makes_a_budget_dependent_decision_inconclusive():
    same = _campaign({"unet": (0.0, 3, 0), "a": (0.05, 3, 0), "unet-2x": (0.0, 3, 0), "a-2x": (0.04, 3, 0)})
    row = _diff(same, "a")
    assert row.verdict == HOLDS and "the same at 2x epochs" in row.why
    flips = _campaign({"unet": (0.0, 3, 0), "a": (-0.05, 3, 0), "unet-2x": (0.0, 3, 0), "a-2x": (0.03, 3, 0)})
    row = _diff(flips, "a")
    assert row.verdict == INCONCLUSIVE and f"{ar.BUDGET_DEPENDS}: does not hold at the campaign's epochs, holds " \
        "at 2x" in row.why, row.why
    assert ar.budget_rule(HOLDS, HOLDS) == HOLDS and ar.budget_rule(FAILS, INCONCLUSIVE) == INCONCLUSIVE
    short = _campaign({"unet": (0.0, 3, 0), "a": (0.05, 3, 0), "unet-2x": (0.0, 3, 0), "a-2x": (-0.05, 2, 0)})
    assert "not yet trained at 2x epochs" in _diff(short, "a").why  # 2 seeds at 2x: the budget does not judge


def test_budget_on_part_of_a_kfold_set_compares_the_same_folds():
    """ISBI's 2x runs cover fold 0 only: the 1x verdict on fold 0 is set against the 2x one, not the whole set's.
    A fold the 2x runs have started but not finished on all seeds (fold 1, seed 0 only) is left out."""
    def kfold(a2x: float) -> Campaign:
        camp = _campaign({"unet": (0.0, 3, 0), "a": (0.05, 3, 0)})
        half = {0: STEMS[:20], 1: STEMS[20:]}
        camp.splits[DS] = {"folds": [{"fold": f, "test": t} for f, t in half.items()]}
        runs = [Run(DS, r.variant, f, r.seed, {s: r.scores[s] for s in t}, {}, r.csv_path)
                for r in camp.runs for f, t in half.items()]
        twice = [Run(DS, f"{r.variant}-2x", 0, r.seed, {s: {"dice": v["dice"] + (a2x if r.variant == "a" else 0.0)}
                                                          for s, v in r.scores.items()}, {}, r.csv_path)
                 for r in runs if r.fold == 0 or (r.fold == 1 and r.seed == 0)]
        camp.runs = runs + twice
        return camp
    same, flips = _diff(kfold(0.0), "a"), _diff(kfold(-0.10), "a")
    assert same.verdict == HOLDS and "the same at 2x epochs on fold 0, 20 images" in same.why, same.why
    assert flips.verdict == INCONCLUSIVE and f"{ar.BUDGET_DEPENDS} on fold 0, 20 images: holds at the campaign's " \
        "epochs (" in flips.why, flips.why


def test_images_cap_and_sets_tally():
    camp = _campaign({"unet": (0.0, 3, 0), "a": (0.05, 3, 0)})
    camp.splits[DS]["folds"][0]["test"] = [*STEMS, "s99"]  # one test image nobody scored
    assert ar.images_cap(camp, DS, ["a", "unet"], "dice", HOLDS) == (INCONCLUSIVE,
                                                                      "40 of 41 test images (runs pending)")
    assert ar.sets_tally([HOLDS, FAILS, INCONCLUSIVE], 3) == \
        "holds on 1 of 3 sets (1 does not hold, 1 inconclusive at this budget)"
    assert ar.sets_tally([HOLDS, PART], 3) == "holds on 1 of 3 sets (1 holds in part, 1 not yet measured)"
