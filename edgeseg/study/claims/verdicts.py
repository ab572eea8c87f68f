"""Verdict words and the rules that turn intervals into them (one place, so every claim reads alike).

Verdicts:
* **holds** / **does not hold**: only when the evidence decides. For a trained-accuracy claim that means the
  95 % paired bootstrap interval of (model - comparator) lies strictly on one side of the claim's threshold
  (an interval that touches the threshold does not decide).
* **holds in part**: holds on some of the data sets or parts of the claim, not on all; or holds where the
  evidence cannot be complete (data sets of the paper that are not available here; comparators of the paper
  that are not implemented here).
* **inconclusive at this budget**: the interval straddles the threshold, or there is not enough evidence yet
  (too few paired images, fewer than 3 learned seeds of a network on the set -- in either direction, see
  `accuracy_rules` -- or runs the campaign has not produced yet: "not yet measured (campaign pending)").
* **not testable here**: impossible here, always with the reason: a data set not available, hardware we do not
  have (a K40c, a phone), an external challenge server with withheld labels, a network the paper compares with
  that is not implemented.
* **not run yet**: possible here, with a flag or option we have, but not run (UNet# without deep supervision,
  its CGM, U-Lite's ablation variants, a speed ratio at an input our CPU matrix lacks); the reason names what
  would run it.

Thresholds: "better" means the difference of per-image means is > 0. "Comparable" (and "keeps or improves")
means it is > -COMPARABLE_MARGIN: a non-inferiority test, because every paper that says "comparable" also
says "or better", so a model that is clearly better does not contradict it.

COMPARABLE_MARGIN = 0.01 Dice (1 Dice point) is our choice, not the papers': a non-inferiority margin of 1 point
of per-image Dice, set relative to the training noise we observe. The spread (max - min) of a network's seed
means in the campaign is 1.6-4.0 Dice points on DSB and Kvasir (U-Net's Kvasir seeds: 0.421, 0.419, 0.460) and
0.1-1.5 interior-Dice points on ISBI, so 1 point is below one seed's luck on the 70-image sets and near it on ISBI.
It is not derived from the papers, whose usage is not consistent: SD-UNet calls its 0.67-point ISBI Dice gap (and
a 4.09-point mean-IoU gap) "comparable", while GPU-Net calls +0.15 F1 points (LUNA, GPU-Net 0.9811 vs Ghost U-Net
0.9796) an improvement and UNet# calls +0.14 IoU points (deep supervision, DSB2018 92.53 -> 92.67) "a distinct
effect". No single margin reproduces every paper's wording. On ISBI the trivial no-membrane predictor already
scores 0.8765 interior Dice (`edgeseg.study.claims.trivial`), so there the margin applies to the interior score's skill
over that predictor, (score - trivial) / (1 - trivial): 1 point of the range a network can add above it, as on
DSB and Kvasir, where the trivial (empty) prediction scores 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgeseg.study.claims.stats import Interval

HOLDS, PART, FAILS = "holds", "holds in part", "does not hold"
INCONCLUSIVE, UNTESTABLE = "inconclusive at this budget", "not testable here"
NOT_RUN = "not run yet"
VERDICTS = (HOLDS, PART, FAILS, INCONCLUSIVE, NOT_RUN, UNTESTABLE)

COMPARABLE_MARGIN = 0.01
# Fewer paired images than this cannot support a percentile bootstrap (its interval would be too narrow).
MIN_IMAGES = 10
PENDING = "not yet measured (campaign pending)"


def threshold(mode: str, margin: float = COMPARABLE_MARGIN) -> float:
    """The value the difference (model - comparator) must exceed for the claim to hold."""
    if mode == "better":
        return 0.0
    if mode == "comparable":
        return -margin
    raise ValueError(f"unknown accuracy mode {mode!r}; use 'better' or 'comparable'")


def decide(ci: Interval | None, thr: float) -> tuple[str, str]:
    """Verdict of 'difference > thr' from its interval, with a short reason."""
    if ci is None or ci.n == 0:
        return INCONCLUSIVE, "no paired test images"
    if ci.n < MIN_IMAGES:
        return INCONCLUSIVE, f"only {ci.n} paired images (< {MIN_IMAGES})"
    if ci.lo > thr:
        return HOLDS, f"interval above {thr:+.3f}"
    if ci.hi < thr:
        return FAILS, f"interval below {thr:+.3f}"
    return INCONCLUSIVE, f"interval straddles {thr:+.3f}"


def combine(verdicts: list[str]) -> str:
    """Across data sets (or parts) of one claim: all hold -> holds; some hold -> in part; none hold but one
    fails -> does not hold (the claim is contradicted where it was decided); otherwise inconclusive."""
    if not verdicts:
        return INCONCLUSIVE
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    if any(v in (HOLDS, PART) for v in verdicts):
        return PART
    if any(v == FAILS for v in verdicts):
        return FAILS
    return INCONCLUSIVE


def cap(verdict: str, reasons: list[str]) -> str:
    """'holds' becomes 'holds in part' when the evidence is known to be incomplete (reasons non-empty)."""
    return PART if verdict == HOLDS and reasons else verdict


def rank_verdict(diffs: dict[str, Interval | None], want: int) -> tuple[str, int, int]:
    """'model ranks within the top `want`' from pairwise intervals of (model - other), higher = better.

    above = others decidedly better than the model (interval < 0); not_below = others not decidedly worse
    (interval not > 0). Holds when at most want-1 others may be better, fails when at least `want` are
    decidedly better; else inconclusive. Returns (verdict, above, not_below).
    """
    usable = {k: v for k, v in diffs.items() if v is not None and v.n >= MIN_IMAGES}
    above = sum(v.hi < 0 for v in usable.values())
    not_below = sum(not v.lo > 0 for v in usable.values()) + (len(diffs) - len(usable))
    if above >= want:
        return FAILS, above, not_below
    if not_below <= want - 1:
        return HOLDS, above, not_below
    return INCONCLUSIVE, above, not_below


def lowest_verdict(diffs: dict[str, Interval | None]) -> str:
    """'model is the lowest' from intervals of (model - other): all < 0 holds, any > 0 fails, else inconclusive."""
    verdicts = [decide(v, 0.0)[0] for v in diffs.values()]  # HOLDS here means model > other
    if any(v == HOLDS for v in verdicts):
        return FAILS
    if verdicts and all(v == FAILS for v in verdicts):
        return HOLDS
    return INCONCLUSIVE


@dataclass
class ClaimRow:
    id: str
    model: str
    kind: str
    paper_figure: str
    ours: str = "-"
    ratio: str = "-"          # ours / paper's figure (or our factor / paper's factor)
    verdict: str = UNTESTABLE
    why: str = ""
    evidence: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    claim: dict[str, Any] = field(default_factory=dict, repr=False)
    ci: str = ""              # trained accuracy: the interval(s), n images and n seeds the verdict rests on
    sets: str = ""            # trained accuracy: "holds on k of n sets (...)"
    short: str = ""           # trained accuracy: the deciding figure per set, for the summary table
    qualifier: str = ""       # trained accuracy: "when it trains (k of n runs)" where a recipe often fails
