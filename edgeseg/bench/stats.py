"""Latency statistics.

Percentiles use numpy's default method ("linear", Hyndman & Fan type 7): for sorted samples x[0..n-1]
the q-th percentile is x[i] + (x[i+1] - x[i]) * f where i + f = (n - 1) * q / 100. This is also what
Excel's PERCENTILE.INC and pandas' `quantile` give, so numbers can be checked by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PERCENTILE_METHOD = "linear"
LATENCY_KEYS = ("min", "mean", "p50", "p90", "p99", "max")


def latency_stats(samples_ms: Sequence[float]) -> dict[str, float]:
    """min/mean/p50/p90/p99/max of per-iteration latencies (ms). Raises on an empty sample."""
    x = np.asarray(samples_ms, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no latency samples")
    p50, p90, p99 = np.percentile(x, [50, 90, 99], method=PERCENTILE_METHOD)
    return {"min": float(x.min()), "mean": float(x.mean()), "p50": float(p50), "p90": float(p90),
            "p99": float(p99), "max": float(x.max())}


def throughput_ips(samples_ms: Sequence[float], batch: int) -> float:
    """Images per second over the timed loop: total images / total time (not 1/mean of a percentile)."""
    total_s = float(np.sum(np.asarray(samples_ms, dtype=np.float64))) / 1e3
    return batch * len(samples_ms) / total_s if total_s > 0 else float("inf")


def paired_bootstrap_ci(a: Sequence[float], b: Sequence[float], n_boot: int = 2000, level: float = 0.95,
                        seed: int = 0) -> dict[str, float]:
    """Mean of the paired differences a[i] - b[i] and its percentile bootstrap CI (resampling the pairs).

    Used for a Dice drop: a = reference per-image Dice, b = candidate's, on the same images. Seeded, so the
    same inputs give the same interval. -> {"mean", "low", "high", "n", "level", "n_boot"}.
    """
    x = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if x.size == 0 or len(a) != len(b):
        raise ValueError(f"paired bootstrap needs two equal, non-empty samples (got {len(a)} and {len(b)})")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    lo, hi = np.percentile(means, [50 * (1 - level), 50 * (1 + level)], method=PERCENTILE_METHOD)
    return {"mean": float(x.mean()), "low": float(lo), "high": float(hi), "n": int(x.size), "level": level,
            "n_boot": n_boot}
