"""edgeseg.intervals: the two-level interval covers the true difference of two trained networks; the image-only
interval, on the same simulated campaigns, does not.

Simulated campaign of known truth (the layout of the claims campaign): two networks, `k` training seeds each,
the same `n` test images for both. Score of network x, run r, image i:
    y = mu_x + s_xr + u_i + w_xi + e_xri
with a run effect s ~ N(0, sd_seed) (a seed's luck, shared by all its images), an image effect u shared by
both networks (hard images are hard for both: the pairing), a per-network image effect w and a run x image
interaction e. The truth is mu_a - mu_b = +0.01 (the comparable margin: the size of the differences the
report decides on). Scales are those of the campaign: U-Net's three Kvasir seeds spread 0.419-0.460
(sd_seed 0.02), per-image Dice sd ~0.15.

Measured (1000 campaigns each, `python -m pytest tests/test_intervals.py`, the numbers asserted below):
    k=3, n=100, sd_seed 0.02:   two-level 95.4% covered, image-only 51.5%
    k=3, n=100, sd_seed 0.005:  two-level 95.2%,         image-only 88.1%
    k=5, n=100, sd_seed 0.02:   two-level 94.0%,         image-only 57.2%
    k=3, n=30,  sd_seed 0.01:   two-level 94.3%,         image-only 86.7%
    k=3, n=100, no seed effect: two-level 93.7%,         image-only 93.5% (both right when seeds do not matter)
"""

from __future__ import annotations

import numpy as np
import pytest

from edgeseg.intervals import Interval, paired_bootstrap, two_level_difference, two_level_interval

TRUTH = 0.01


def _campaign(rng: np.random.Generator, k: int, n: int, sd_seed: float) -> tuple[np.ndarray, np.ndarray]:
    u, w = rng.normal(0, 0.15, n), rng.normal(0, 0.05, n)
    a = 0.8 + TRUTH + u + w / 2 + rng.normal(0, sd_seed, (k, 1)) + rng.normal(0, 0.05, (k, n))
    b = 0.8 + u - w / 2 + rng.normal(0, sd_seed, (k, 1)) + rng.normal(0, 0.05, (k, n))
    return a, b


def _coverage(k: int, n: int, sd_seed: float, campaigns: int = 1000) -> tuple[float, float]:
    rng = np.random.default_rng(1)
    two = img = 0
    for _ in range(campaigns):
        a, b = _campaign(rng, k, n, sd_seed)
        ci = two_level_difference(list(a), list(b))
        two += ci.lo < TRUTH < ci.hi
        only = paired_bootstrap(a.mean(axis=0), b.mean(axis=0), n_resamples=1000)
        img += only.lo < TRUTH < only.hi
    return two / campaigns, img / campaigns


@pytest.mark.parametrize("k,n,sd_seed,image_only_at_most", [(3, 100, 0.02, 0.60), (3, 100, 0.005, 0.91),
                                                              (5, 100, 0.02, 0.65), (3, 30, 0.01, 0.90)])
def test_two_level_covers_and_image_only_undercovers(k, n, sd_seed, image_only_at_most):
    two, img = _coverage(k, n, sd_seed)
    assert 0.93 <= two <= 0.97, f"two-level coverage {two:.3f}"
    assert img <= image_only_at_most, f"image-only coverage {img:.3f}"


def test_without_seed_effect_both_cover():
    two, img = _coverage(3, 100, 0.0)
    assert 0.93 <= two <= 0.97 and 0.92 <= img <= 0.97


def test_mapping_runs_align_by_stem_and_drop_unshared():
    a = [{"x": 0.9, "y": 0.8, "z": 0.1}, {"x": 0.7, "y": 0.6}]
    b = [{"x": 0.5, "y": 0.5, "w": 1.0}]
    ci = two_level_difference(a, b)
    assert ci.n == 2 and ci.runs == (2, 1)
    assert ci.estimate == pytest.approx((0.85 + 0.65) / 2 - 0.5)


def test_one_run_each_has_no_run_variance():
    """One run per network: only the image part remains (the verdict rules refuse to decide on it)."""
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.5, 0.9, 50), rng.uniform(0.5, 0.9, 50)
    ci = two_level_difference([a], [b])
    d = a - b
    half = ci.hi - ci.estimate
    from scipy.stats import t
    assert half == pytest.approx(t.ppf(0.975, 49) * d.std(ddof=0) / np.sqrt(50))
    assert ci.runs == (1, 1)


def test_equal_lengths_required_and_empty_inputs():
    with pytest.raises(ValueError, match="same images"):
        two_level_interval([[0.1, 0.2], [0.3]])
    assert two_level_interval([]) is None and two_level_difference([], [[0.5]]) is None
    assert isinstance(two_level_interval([[0.5, 0.5], [0.5, 0.5]]), Interval)


def test_paired_bootstrap_is_seeded_and_checks_lengths():
    x = np.linspace(0, 1, 40)
    assert paired_bootstrap(x, x[::-1]) == paired_bootstrap(x, x[::-1])
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 2.0])
