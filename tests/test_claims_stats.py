"""Claims statistics (image bootstrap, two-level intervals over seeds) and verdict rules on known samples."""

from __future__ import annotations

import numpy as np
import pytest

from edgeseg.intervals import Interval, paired_bootstrap
from edgeseg.study.claims.stats import by_run, compare, mean_interval, seed_mean
from edgeseg.study.claims.verdicts import (
    COMPARABLE_MARGIN,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    MIN_IMAGES,
    PART,
    cap,
    combine,
    decide,
    lowest_verdict,
    rank_verdict,
    threshold,
)


def paired_difference(a: dict[str, float], b: dict[str, float]) -> Interval | None:
    """The image bootstrap over the stems both score (what a fixed pair of models gets)."""
    stems = sorted(set(a) & set(b))
    return paired_bootstrap([a[s] for s in stems], [b[s] for s in stems]) if stems else None


def _images(n: int, seed: int = 1) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {f"img{i:03d}": float(v) for i, v in enumerate(rng.uniform(0.5, 0.9, n))}


def test_difference_that_must_exclude_zero():
    base = _images(100)
    rng = np.random.default_rng(2)
    model = {s: v + 0.05 + rng.normal(0, 0.01) for s, v in base.items()}
    ci = paired_difference(model, base)
    assert ci.n == 100
    assert 0.045 < ci.estimate < 0.055 and ci.lo > 0.04 and ci.hi < 0.06
    assert ci.excludes(0.0)
    assert paired_difference(model, base) == ci  # seeded: the report regenerates identically


def test_difference_that_must_include_zero():
    base = _images(50)
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 0.05, 50)
    noise -= noise.mean()  # true mean difference exactly 0
    model = {s: v + e for (s, v), e in zip(base.items(), noise, strict=True)}
    ci = paired_difference(model, base)
    assert abs(ci.estimate) < 1e-12
    assert ci.lo < 0 < ci.hi and not ci.excludes(0.0)


def test_pairing_uses_only_shared_images():
    a = {"x": 1.0, "y": 0.5, "z": 0.2}
    b = {"y": 0.25, "z": 0.1, "w": 9.0}
    ci = paired_difference(a, b)
    assert ci.n == 2 and ci.estimate == pytest.approx((0.25 + 0.1) / 2)
    assert paired_difference({"x": 1.0}, {"y": 1.0}) is None


def test_seed_spread_widens_the_interval():
    """Seed offsets (+0.03, 0, -0.03) on the model: every image's seed-averaged difference is exactly +0.05, so
    the image-only interval is the single point 0.05, but three runs that far apart say another three seeds
    could land elsewhere: the two-level interval is wide (t at 2 df times the run spread) and straddles 0."""
    base = _images(20)
    model = {s: {0: v + 0.08, 1: v + 0.05, 2: v + 0.02} for s, v in base.items()}
    comp = {s: {0: v, 1: v, 2: v} for s, v in base.items()}
    image_only = paired_difference(seed_mean(model), seed_mean(comp))
    assert image_only.lo == pytest.approx(0.05) and image_only.hi == pytest.approx(0.05)
    ci = compare(model, comp)
    assert ci.n == 20 and ci.runs == (3, 3) and ci.method == "two-level"
    assert ci.estimate == pytest.approx(0.05)
    # run means 0.08/0.05/0.02 (sd 0.03): half-width = t(0.975, 2) * 0.03 / sqrt(3) = 4.303 * 0.01732
    assert ci.hi - ci.estimate == pytest.approx(4.3027 * 0.03 / np.sqrt(3), rel=1e-3)
    assert ci.lo < 0 < ci.hi


def test_by_run_groups_values_by_seed():
    assert by_run({"a": {0: 0.2, 1: 0.4}, "b": {1: 0.5}}) == [{"a": 0.2}, {"a": 0.4, "b": 0.5}]


def test_seed_mean_skips_missing_values():
    assert seed_mean({"a": {0: 0.2, 1: 0.4}, "b": [0.5], "c": []}) == {"a": pytest.approx(0.3), "b": 0.5}


def test_mean_interval():
    base = _images(60)
    m = mean_interval({s: {0: v, 1: v + 0.01} for s, v in base.items()})
    assert m.lo < m.estimate < m.hi and m.n == 60 and m.runs == (2,)
    assert mean_interval({}) is None


# ---------- verdict rules ----------

def test_thresholds_and_margin():
    assert threshold("better") == 0.0
    assert threshold("comparable") == -COMPARABLE_MARGIN == -0.01
    with pytest.raises(ValueError):
        threshold("vibes")


def test_interval_exactly_touching_the_threshold_does_not_decide():
    n = 50
    assert decide(Interval(0.01, 0.0, 0.02, n), 0.0)[0] == INCONCLUSIVE
    assert decide(Interval(-0.02, -0.03, 0.0, n), 0.0)[0] == INCONCLUSIVE
    assert decide(Interval(0.0, -0.01, 0.01, n), -0.01)[0] == INCONCLUSIVE
    assert decide(Interval(0.01, 1e-9, 0.02, n), 0.0)[0] == HOLDS
    assert decide(Interval(-0.02, -0.03, -1e-9, n), 0.0)[0] == FAILS


def test_all_equal_samples():
    same = _images(30)
    ci = paired_difference(same, same)
    assert (ci.estimate, ci.lo, ci.hi) == (0.0, 0.0, 0.0)
    assert decide(ci, threshold("better"))[0] == INCONCLUSIVE      # equal is not better
    assert decide(ci, threshold("comparable"))[0] == HOLDS         # but it is comparable


def test_too_few_images_and_missing_comparator():
    one = paired_difference({"a": 0.9}, {"a": 0.1})
    assert one.n == 1 and decide(one, 0.0) == (INCONCLUSIVE, f"only 1 paired images (< {MIN_IMAGES})")
    assert decide(None, 0.0)[0] == INCONCLUSIVE
    assert compare({}, {"a": {0: 0.5}}) is None


def test_combine_and_cap():
    assert combine([HOLDS, HOLDS]) == HOLDS
    assert combine([HOLDS, FAILS]) == PART
    assert combine([HOLDS, INCONCLUSIVE]) == PART
    assert combine([FAILS, INCONCLUSIVE]) == FAILS
    assert combine([INCONCLUSIVE]) == INCONCLUSIVE
    assert combine([]) == INCONCLUSIVE
    assert cap(HOLDS, ["one seed"]) == PART and cap(HOLDS, []) == HOLDS and cap(FAILS, ["x"]) == FAILS


def test_rank_from_pairwise_intervals():
    up, down, tie = Interval(0.05, 0.03, 0.07, 50), Interval(-0.05, -0.07, -0.03, 50), Interval(0, -0.01, 0.01, 50)
    # model above everyone -> rank 1 decided
    assert rank_verdict({"a": up, "b": up}, 1)[0] == HOLDS
    # one network decidedly above -> "best" fails, "top 2" holds when the rest are decidedly below
    assert rank_verdict({"a": down, "b": up}, 1)[0] == FAILS
    assert rank_verdict({"a": down, "b": up}, 2)[0] == HOLDS
    # a tie with one network and another above: top 2 cannot be decided
    assert rank_verdict({"a": down, "b": tie, "c": up}, 2)[0] == INCONCLUSIVE
    # two decidedly above: top 2 fails
    assert rank_verdict({"a": down, "b": down, "c": up}, 2)[0] == FAILS
    # a missing comparison counts as "may be better"
    assert rank_verdict({"a": None, "b": up}, 1)[0] == INCONCLUSIVE


def test_lowest_from_pairwise_intervals():
    up, down, tie = Interval(0.05, 0.03, 0.07, 50), Interval(-0.05, -0.07, -0.03, 50), Interval(0, -0.01, 0.01, 50)
    assert lowest_verdict({"a": down, "b": down}) == HOLDS
    assert lowest_verdict({"a": down, "b": up}) == FAILS
    assert lowest_verdict({"a": down, "b": tie}) == INCONCLUSIVE
