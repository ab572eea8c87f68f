"""Statistics behind every trained-accuracy verdict: seed averaging and paired bootstrap intervals.

Conventions (stated once, used everywhere in the claims report):

* The unit of resampling is the TEST IMAGE. A campaign gives one value per (image, seed); the rows of one
  image under different training seeds share the image, so they are not independent samples. Each image's
  value is therefore first averaged over the seeds that scored it (`seed_mean`), and only those per-image
  means are resampled. Resampling (image, seed) rows as if independent would shrink the interval by about
  sqrt(n_seeds) and mix up "another image" with "another training run".
* Paired: model and comparator are scored on the same images (the campaign's splits do not depend on the
  training seed), so the statistic is the mean over images of (model - comparator), and each bootstrap
  resample draws the same images for both. Only images scored by both networks are used.
* Interval: percentile bootstrap, 95 % by default, `N_RESAMPLES` = 10,000 resamples drawn with a seeded
  numpy Generator (`SEED`), so a report regenerates bit-identically from the same CSV files.
* A ratio of means (model / comparator) uses the same resampled images for numerator and denominator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

N_RESAMPLES = 10_000
SEED = 0
LEVEL = 0.95
_CHUNK = 1_000  # resamples per block: bounds memory at ~CHUNK x n_images indices


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval, over `n` paired images."""

    estimate: float
    lo: float
    hi: float
    n: int
    level: float = LEVEL

    def excludes(self, threshold: float) -> bool:
        """True when the closed interval [lo, hi] lies strictly on one side of `threshold`."""
        return self.lo > threshold or self.hi < threshold

    def fmt(self, digits: int = 3, signed: bool = True) -> str:
        f = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"
        return f"{f.format(self.estimate)} [{f.format(self.lo)}, {f.format(self.hi)}]"


def seed_mean(per_seed: Mapping[str, Mapping[int, float] | Sequence[float]]) -> dict[str, float]:
    """Per image: the mean of its values over the seeds that scored it (images with no value are dropped)."""
    out = {}
    for stem, vals in per_seed.items():
        v = list(vals.values()) if isinstance(vals, Mapping) else list(vals)
        v = [float(x) for x in v if x is not None and np.isfinite(x)]
        if v:
            out[stem] = float(np.mean(v))
    return out


def _paired(model: Mapping[str, float], comparator: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    stems = sorted(set(model) & set(comparator))
    return (np.array([model[s] for s in stems], dtype=np.float64),
            np.array([comparator[s] for s in stems], dtype=np.float64))


def _resampled_means(columns: list[np.ndarray], n_resamples: int, seed: int) -> list[np.ndarray]:
    """Means of each column over the same bootstrap resamples of the rows (images)."""
    n = len(columns[0])
    rng = np.random.default_rng(seed)
    out: list[list[np.ndarray]] = [[] for _ in columns]
    done = 0
    while done < n_resamples:
        k = min(_CHUNK, n_resamples - done)
        idx = rng.integers(0, n, size=(k, n))
        for acc, col in zip(out, columns, strict=True):
            acc.append(col[idx].mean(axis=1))
        done += k
    return [np.concatenate(a) for a in out]


def _percentiles(samples: np.ndarray, level: float) -> tuple[float, float]:
    a = (1 - level) / 2
    lo, hi = np.percentile(samples, [100 * a, 100 * (1 - a)])
    return float(lo), float(hi)


def paired_difference(model: Mapping[str, float], comparator: Mapping[str, float], *,
                      n_resamples: int = N_RESAMPLES, seed: int = SEED, level: float = LEVEL) -> Interval | None:
    """Mean over shared images of (model - comparator) with its paired percentile-bootstrap interval.

    Inputs are per-image values already averaged over seeds (`seed_mean`). None when no image is shared.
    """
    a, b = _paired(model, comparator)
    if not len(a):
        return None
    d = a - b
    (means,) = _resampled_means([d], n_resamples, seed)
    lo, hi = _percentiles(means, level)
    return Interval(float(d.mean()), lo, hi, len(d), level)


def paired_ratio(model: Mapping[str, float], comparator: Mapping[str, float], *,
                 n_resamples: int = N_RESAMPLES, seed: int = SEED, level: float = LEVEL) -> Interval | None:
    """mean(model) / mean(comparator) over shared images, with a paired percentile-bootstrap interval."""
    a, b = _paired(model, comparator)
    if not len(a) or b.mean() <= 0:
        return None
    ma, mb = _resampled_means([a, b], n_resamples, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(mb > 0, ma / np.where(mb > 0, mb, 1.0), np.nan)
    lo, hi = _percentiles(r[np.isfinite(r)], level)
    return Interval(float(a.mean() / b.mean()), lo, hi, len(a), level)


def mean_interval(values: Mapping[str, float], *, n_resamples: int = N_RESAMPLES, seed: int = SEED,
                  level: float = LEVEL) -> Interval | None:
    """Mean over images with its percentile-bootstrap interval (the error bars of the Dice plot)."""
    x = np.array(list(values.values()), dtype=np.float64)
    if not len(x):
        return None
    (means,) = _resampled_means([x], n_resamples, seed)
    lo, hi = _percentiles(means, level)
    return Interval(float(x.mean()), lo, hi, len(x), level)


def compare(model: Mapping[str, Mapping[int, float]], comparator: Mapping[str, Mapping[int, float]],
            **kw) -> Interval | None:
    """Per-(image, seed) values of two networks -> seed-averaged paired difference interval."""
    return paired_difference(seed_mean(model), seed_mean(comparator), **kw)
