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
