"""Issue 20, points 6-7: two-sided point figures, provenance, "not run yet", the convergence rule, the budget
count of pruned runs, and the ISBI trivial baseline."""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import numpy as np
import pytest

from edgeseg.study.campaign_results import Campaign, Run
from edgeseg.study.claims import NOT_RUN, VERDICTS, all_claims, from_paper, load_papers, validate_paper
from edgeseg.study.claims.checks_convergence import check_convergence, epochs_to, roughness, sign_verdict
from edgeseg.study.claims.checks_static import rule_ratio
from edgeseg.study.claims.report_tables import trained_seconds
from edgeseg.study.claims.trivial import isbi_masks, summary, trivial_rows
from edgeseg.study.claims.verdicts import FAILS, HOLDS, INCONCLUSIVE, PART, ClaimRow

TRIVIAL_CSV = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "campaign-trivial" / "isbi2012-em.csv"


def test_not_run_is_its_own_verdict_after_inconclusive():
    assert VERDICTS.index(NOT_RUN) == VERDICTS.index(INCONCLUSIVE) + 1


def test_point_figures_are_two_sided_and_bounds_one_sided():
    # UNet#'s "97 times less": ours 104.31x is 7.5% high, outside a 5% tolerance on either side
    assert rule_ratio(104.31, 97, 0.05, "point") == PART
    assert rule_ratio(104.31, 97, 0.05, "min") == HOLDS
    assert rule_ratio(95.0, 97, 0.05, "point") == HOLDS
    # same direction but more than twice the figure: the figure is wrong
    assert rule_ratio(17.0, 2.93, 0.1, "point") == FAILS
    assert rule_ratio(0.9, 2.0, 0.05, "point") == FAILS  # wrong direction
    with pytest.raises(ValueError, match="bound"):
        rule_ratio(1.0, 1.0, 0.1, "about")


def test_every_ratio_claim_names_its_bound_and_the_validator_checks_it():
    papers = load_papers()
    ratios = [c for c in all_claims(papers) if c["test"]["kind"].endswith("_ratio")]
    assert ratios and all(c["test"]["bound"] in ("point", "min") for c in ratios)
    # "more than 4x fewer parameters and 2x fewer FLOPs" is a bound; the others are figures
    assert {c["id"] for c in ratios if c["test"]["bound"] == "min"} == {"gpunet-params-ratio", "gpunet-flops-ratio"}
    doc = copy.deepcopy(next(p for p in papers if p["model"] == "unetsharp"))
    claim = next(c for c in doc["claims"] if c["id"] == "unetsharp-97x")
    del claim["test"]["bound"]
    assert any("needs 'bound'" in p for p in validate_paper(doc, "unetsharp.json"))


def test_claims_not_from_the_paper_are_marked_and_validated():
    papers = load_papers()
    assert {c["id"] for c in all_claims(papers) if not from_paper(c)} == {"ulite-faster", "ulite-smallest-family"}
    doc = copy.deepcopy(next(p for p in papers if p["model"] == "ulite"))
    claim = next(c for c in doc["claims"] if c["id"] == "ulite-faster")
    del claim["provenance_note"]
    assert any("provenance_note" in p for p in validate_paper(doc, "ulite.json"))
    claim["provenance"] = "blog"
    assert any("'provenance' must be one of" in p for p in validate_paper(doc, "ulite.json"))


def test_ranks_use_the_papers_own_comparators():
    claims = {c["id"]: c for c in all_claims()}
    assert sorted(claims["tinyunet-accuracy-rank"]["test"]["among"]) == ["tinyunet", "ulite", "unet"]


def _run(ds: str, variant: str, fold: int, seed: int, **meta) -> Run:
    return Run(ds, variant, fold, seed, {}, meta, f"{ds}/{variant}/f{fold}-s{seed}.csv")


def test_budget_counts_a_pruned_levels_run_once():
    camp = Campaign(Path("campaign"), runs=[
        _run("dsb", "unetsharp", 0, 0, train_seconds=2184.0, pruned_from=None),
        *[_run("dsb", f"unetsharp-l{k}", 0, 0, train_seconds=2184.0, pruned_from="unetsharp") for k in (1, 2, 3)],
        _run("dsb", "unet", 0, 0, train_seconds=100.0)])
    assert trained_seconds(camp) == [2184.0, 100.0]


def test_curve_scores():
    assert roughness([0.1, 0.5, 0.4, 0.7, 0.6]) == pytest.approx(0.2)
    assert roughness([0.1, 0.2, 0.2, 0.9]) == 0.0
    assert epochs_to([0.1, 0.5, 0.8, 0.9], 0.8) == 3 and epochs_to([0.1, 0.2], 0.5) == 3


def test_sign_rule_needs_more_than_three_pairs():
    assert sign_verdict(3, 0) == INCONCLUSIVE  # p = 0.125: three seeds cannot decide
    assert sign_verdict(8, 1) == HOLDS and sign_verdict(1, 8) == FAILS  # p = 0.0195
    assert sign_verdict(7, 2) == INCONCLUSIVE and sign_verdict(0, 0) == INCONCLUSIVE


def test_convergence_check_on_paired_curves():
    smooth = [0.2, 0.5, 0.7, 0.8, 0.82, 0.83]
    rough = [0.1, 0.3, 0.2, 0.6, 0.4, 0.83]
    runs = [_run("isbi2012-em", v, f, s, val_dice_per_epoch=c, val_dice=max(c))
            for f in range(3) for s in range(3) for v, c in (("ws", smooth), ("nows", rough))]
    dead = _run("isbi2012-em", "ws", 9, 9, val_dice_per_epoch=smooth, val_dice=0.01)
    dead.scores = {"i0": {"dice": 0.0}, "i1": {"dice": 0.01}}  # pooled test Dice below 0.05: never learned
    runs.append(dead)
    runs.append(_run("isbi2012-em", "nows", 9, 9, val_dice_per_epoch=rough, val_dice=0.8))
    row = ClaimRow("x", "sdunet", "convergence", "-")
    check_convergence(row, {"model": "ws", "baseline": "nows", "datasets": ["isbi"]}, Campaign(Path("c"), runs=runs))
    assert row.verdict == HOLDS, row.ours
    assert "smoother in 9 of 9 pairs" in row.ours and "faster in 9 of 9" in row.ours
    assert "fold 9 seed 9" in row.why  # the pair with a run that never learned is left out, and named
    swapped = ClaimRow("x", "sdunet", "convergence", "-")
    check_convergence(swapped, {"model": "nows", "baseline": "ws", "datasets": ["isbi"]},
                      Campaign(Path("c"), runs=runs))
    assert swapped.verdict == FAILS


def test_trivial_predictor_scores():
    gt = np.zeros((2, 2), int)
    gt[0, 0] = 1  # one membrane pixel, three interior
    (row,) = trivial_rows([("a", gt)])
    assert row["dice"] == 0.0 and row["iou"] == 0.0
    assert row["dice_interior"] == pytest.approx(6 / 7) and row["iou_interior"] == pytest.approx(3 / 4)


def test_trivial_isbi_baseline_matches_the_committed_csv(shared_data: Path):
    rows = trivial_rows(isbi_masks(shared_data / "isbi2012-em"))
    assert len(rows) == 30
    with TRIVIAL_CSV.open(newline="") as f:
        committed = list(csv.DictReader(f))
    assert [r["stem"] for r in committed] == [r["stem"] for r in rows]
    for a, b in zip(committed, rows, strict=True):
        assert float(a["dice_interior"]) == pytest.approx(b["dice_interior"], abs=1e-6)
    means = summary(rows)
    # below every trained network's interior Dice (0.889-0.936 in the campaign)
    assert means["dice"] == 0.0 and 0.86 < means["dice_interior"] < 0.889
