"""Time several runners in ONE process in interleaved rounds, so machine drift hits every candidate alike.

Round r times each runner `iters` times (`bench.timing.timed_loop`: perf_counter_ns around the unchecked
predictor `as_predictor(runner, checked=False)`, after one checked call), in an order rotated by r, so no
candidate always runs first or last. Latency statistics pool all rounds (edgeseg.bench.stats conventions);
per-round medians are kept to show drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgeseg.bench.stats import latency_stats
from edgeseg.bench.timing import make_input, timed_loop
from edgeseg.errors import EdgesegError
from edgeseg.runtime.base import as_predictor


def round_orders(names: Sequence[str], rounds: int) -> list[list[str]]:
    """The order each round runs the candidates in: round r starts at candidate r mod n (a rotation)."""
    n = len(names)
    return [[names[(r + i) % n] for i in range(n)] for r in range(rounds)]


def check_counts(rounds: int, iters: int, warmup: int) -> None:
    if rounds < 1 or iters < 1 or warmup < 0:
        raise EdgesegError(f"interleaved timing needs rounds >= 1, iters >= 1, warmup >= 0 (got {rounds}, "
                           f"{iters}, {warmup})")


def time_interleaved(runners: Mapping[str, Any], shapes: Mapping[str, Sequence[int]], rounds: int = 5,
                     iters: int = 10, warmup: int = 3, seed: int = 0) -> dict[str, dict[str, Any]]:
    """{name: active Runner}, {name: input shape N,C,H,W} -> {name: {"latency_ms", "per_image_ms",
    "round_p50_ms", "iters", "batch"}}. "per_image_ms" is latency_ms divided by the batch."""
    check_counts(rounds, iters, warmup)
    names = list(runners)
    calls = {}
    for n in names:
        r = runners[n]
        x = make_input(shapes[n], seed)
        as_predictor(r)(x)  # checked once: names, dtype, shape
        predict = as_predictor(r, checked=False)
        timed_loop(lambda p=predict, x=x: p(x), warmup, 1, None)
        calls[n] = lambda p=predict, x=x: p(x)
    samples: dict[str, list[float]] = {n: [] for n in names}
    round_p50: dict[str, list[float]] = {n: [] for n in names}
    for order in round_orders(names, rounds):
        for n in order:
            s, _, _ = timed_loop(calls[n], 0, iters, None)
            samples[n].extend(s)
            round_p50[n].append(float(np.median(s)))
    out = {}
    for n in names:
        b = int(shapes[n][0])
        lat = latency_stats(samples[n])
        out[n] = {"latency_ms": lat, "per_image_ms": {k: v / b for k, v in lat.items()},
                  "round_p50_ms": round_p50[n], "iters": len(samples[n]), "batch": b}
    return out
