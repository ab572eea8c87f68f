"""Confidence intervals for accuracy: one `Interval`, one paired image bootstrap, one two-level interval.

Conventions (every interval in bench, optimize, compare and the claims report comes from here):

* `Interval(estimate, lo, hi, n, level, runs, method)`: `n` is the number of paired test images, `runs` the
  number of training runs per network that the interval rests on (empty for a single fixed model).
* **Image bootstrap** (`paired_bootstrap`): for ONE fixed model or a fixed pair (an FP32 artifact against its
  INT8 copy), the only randomness is which test images were drawn. Percentile bootstrap over the paired images,
  `N_RESAMPLES` resamples from a seeded numpy Generator (`SEED`), so reruns are bit-identical.
* **Two-level** (`two_level_interval`, `two_level_difference`): for TRAINED networks, a second source of
  randomness is the training run (seed, init, data order). Treating a network's three seeds as fixed makes
  its luck look like a property of the network. The statistic is the mean over runs and images; its
  variance has two parts, estimated from a two-way (run x image) layout per network:
    - between runs: var(run means) / n_runs for each network (the run means are over the same images);
    - between images: the paired image-bootstrap variance of the seed-averaged per-image difference, which
      is var(d) / n_images exactly, less the run x image interaction it shares with the first part
      (residual mean square / (n_runs n_images)), so nothing is counted twice.
  The interval is estimate +- t * sqrt(total), with Welch-Satterthwaite degrees of freedom over the parts
  (n_runs - 1 for each run part, n_images - 1 for the image part).
  Why not a nested percentile bootstrap: three seeds give only 10 distinct seed resamples, and a bootstrap
  of a mean of 3 underestimates its variance by 1/3 and ignores that the variance itself is estimated from
  3 values; the t-quantile at 2-4 degrees of freedom (4.3-2.8, not 1.96) is what carries that. The coverage
  test (tests/test_intervals.py) checks 93-97% on simulated campaigns of known truth, and shows the
  image-only interval under-covering on the same campaigns.
  A network with one run has no measured run variance: its part is 0 and `runs` says 1, so a verdict rule
  can refuse to decide on it (the claims report does: fewer than 3 learned runs is "inconclusive").
* Runs are given as a list, one entry per run, each either a {stem: value} mapping (aligned by stem, only
  stems every run of both networks scored are used) or an equal-length sequence in one image order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

N_RESAMPLES = 10_000
SEED = 0
LEVEL = 0.95
_CHUNK = 1_000  # resamples per block: bounds memory at ~CHUNK x n_images indices

Runs = Sequence[Mapping[str, float]] | Sequence[Sequence[float]]


@dataclass(frozen=True)
class Interval:
    """A point estimate with its interval, over `n` paired images and `runs` training runs per network."""

    estimate: float
    lo: float
    hi: float
    n: int
    level: float = LEVEL
    runs: tuple[int, ...] = ()
    method: str = "image bootstrap"

    def excludes(self, threshold: float) -> bool:
        """True when the closed interval [lo, hi] lies strictly on one side of `threshold`."""
        return self.lo > threshold or self.hi < threshold

    def fmt(self, digits: int = 3, signed: bool = True) -> str:
        f = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"
        return f"{f.format(self.estimate)} [{f.format(self.lo)}, {f.format(self.hi)}]"


# ------------------------------------------------------------------------------------------ image bootstrap

def resampled_means(columns: list[np.ndarray], n_resamples: int = N_RESAMPLES, seed: int = SEED) -> list[np.ndarray]:
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


def percentiles(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    a = (1 - level) / 2
    lo, hi = np.percentile(samples, [100 * a, 100 * (1 - a)])
    return float(lo), float(hi)


def paired_bootstrap(a: Sequence[float], b: Sequence[float] | None = None, *, n_resamples: int = N_RESAMPLES,
                     seed: int = SEED, level: float = LEVEL) -> Interval:
    """Mean of a[i] - b[i] (or of a[i] when b is None) with its percentile image-bootstrap interval."""
    x = np.asarray(a, dtype=np.float64)
    if b is not None:
        if len(a) != len(b):
            raise ValueError(f"paired bootstrap needs two equal samples (got {len(a)} and {len(b)})")
        x = x - np.asarray(b, dtype=np.float64)
    if not x.size:
        raise ValueError("bootstrap of an empty sample")
    (means,) = resampled_means([x], n_resamples, seed)
    lo, hi = percentiles(means, level)
    return Interval(float(x.mean()), lo, hi, int(x.size), level)


# ------------------------------------------------------------------------------------------ two-level

def _matrix(runs: Runs, stems: list[str] | None) -> np.ndarray:
    if stems is not None:
        return np.array([[float(r[s]) for s in stems] for r in runs], dtype=np.float64)  # type: ignore[index]
    rows = [np.asarray(r, dtype=np.float64) for r in runs]
    if len({len(r) for r in rows}) != 1:
        raise ValueError("two-level interval: every run must score the same images (equal lengths)")
    return np.stack(rows)


def _common_stems(*groups: Runs) -> list[str] | None:
    runs = [r for g in groups for r in g]
    if not runs or not isinstance(runs[0], Mapping):
        return None
    return sorted(set.intersection(*(set(r) for r in runs)))  # type: ignore[arg-type]


def _parts(y: np.ndarray) -> tuple[float, float, int]:
    """(between-run variance of the grand mean, interaction variance / (runs x images), runs) of one network."""
    k, n = y.shape
    if k < 2:
        return 0.0, 0.0, k
    run_means = y.mean(axis=1)
    resid = y - run_means[:, None] - y.mean(axis=0)[None, :] + y.mean()
    ms_int = float((resid ** 2).sum() / ((k - 1) * max(n - 1, 1)))
    return float(run_means.var(ddof=1) / k), ms_int / (k * n), k


def _t_quantile(level: float, df: float) -> float:
    from scipy.stats import t

    return float(t.ppf((1 + level) / 2, df)) if np.isfinite(df) else float(t.ppf((1 + level) / 2, 1e9))


def _two_level(ys: list[np.ndarray], signs: list[float], level: float) -> Interval | None:
    n = ys[0].shape[1]
    if n == 0:
        return None
    est = float(sum(s * y.mean() for s, y in zip(signs, ys, strict=True)))
    d = sum(s * y.mean(axis=0) for s, y in zip(signs, ys, strict=True))  # seed-averaged per-image statistic
    parts = [_parts(y) for y in ys]
    v_img = max(float(np.var(d, ddof=0)) / n - sum(p[1] for p in parts), 0.0)
    comps = [(p[0], p[2] - 1) for p in parts if p[2] >= 2] + [(v_img, n - 1)]
    total = sum(c for c, _ in comps)
    if total <= 0:
        return Interval(est, est, est, n, level, tuple(p[2] for p in parts), "two-level")
    denom = sum(c * c / df for c, df in comps if df > 0)
    df = total * total / denom if denom > 0 else float("inf")
    half = _t_quantile(level, df) * float(np.sqrt(total))
    return Interval(est, est - half, est + half, n, level, tuple(p[2] for p in parts), "two-level")


def two_level_interval(runs: Runs, *, level: float = LEVEL) -> Interval | None:
    """Mean over runs and images of one trained network, with its two-level interval (None when empty)."""
    if not runs:
        return None
    return _two_level([_matrix(runs, _common_stems(runs))], [1.0], level)


def two_level_difference(model: Runs, comparator: Runs, *, level: float = LEVEL) -> Interval | None:
    """(model - comparator), images paired, runs independent per network, with its two-level interval."""
    if not model or not comparator:
        return None
    stems = _common_stems(model, comparator)
    return _two_level([_matrix(model, stems), _matrix(comparator, stems)], [1.0, -1.0], level)
