"""Timing runners: one active runner (`bench_runner`), several in interleaved rounds (`time_interleaved`), and
the latency statistics both report.

One runner (docs: benchmarks/README.md "The CPU matrix"):
* warm-up iterations, then timed iterations (a fixed count, or as many as fit in `seconds`);
* CPU: each iteration timed with `time.perf_counter_ns` around the runner's inference call, end to end
  (numpy in -> numpy out). One checked `infer()` first; the loop calls the unchecked predictor
  (`as_predictor(runner, checked=False)`) so the per-call feed validation is not timed;
* GPU: end to end (host->device copy, compute, device->host copy) per iteration with perf_counter, and
  compute only (inputs already on the device) with CUDA events, reported as `latency_compute_ms`.

Interleaved (several runners in ONE process, so machine drift hits every candidate alike): round r times each
runner `iters` times (`timed_loop`, after one checked call), in an order rotated by r, so no candidate always
runs first or last. Latency statistics pool all rounds; per-round medians are kept to show drift.

Latency statistics: percentiles use numpy's default method ("linear", Hyndman & Fan type 7): for sorted
samples x[0..n-1] the q-th percentile is x[i] + (x[i+1] - x[i]) * f where i + f = (n - 1) * q / 100. This is
also what Excel's PERCENTILE.INC and pandas' `quantile` give, so numbers can be checked by hand.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.runtime.base import as_predictor

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


# ------------------------------------------------------------------------------------------ one runner

DEFAULT_WARMUP = 10
DEFAULT_ITERS = 50


def make_input(shape: tuple[int, ...] | list[int], seed: int = 0) -> np.ndarray:
    """A fixed random input (standard normal, like a normalised image); same seed -> same bytes."""
    return np.random.default_rng(seed).standard_normal(tuple(shape), dtype=np.float32)


def timed_loop(fn: Any, warmup: int, iters: int | None, seconds: float | None, meter: Any = None,
          ) -> tuple[list[float], float, float]:
    """Run fn warmup times, then time it; returns (samples ms, t0, t1) with monotonic t0/t1 around the loop."""
    for _ in range(warmup):
        fn()
    if iters is None and seconds is None:
        iters = DEFAULT_ITERS
    samples: list[float] = []
    if meter is not None:
        meter.start()
    t0 = time.monotonic()
    deadline = None if seconds is None else time.perf_counter_ns() + int(seconds * 1e9)
    while True:
        if iters is not None and len(samples) >= iters:
            break
        if deadline is not None and iters is None and samples and time.perf_counter_ns() >= deadline:
            break
        s = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - s) / 1e6)
    t1 = time.monotonic()
    if meter is not None:
        meter.stop()
    return samples, t0, t1


def bench_runner(runner: Any, input_shape: tuple[int, ...] | list[int], warmup: int = DEFAULT_WARMUP,
                 iters: int | None = None, seconds: float | None = None, device: str = "cpu",
                 meter: Any = None, seed: int = 0) -> dict[str, Any]:
    """Time an active `Runner` on a fixed random input of `input_shape` (N,C,H,W).

    Returns {"latency_ms", "throughput_ips", "iters", "timed_s", "energy_mj_per_image", "power_source",
    "latency_compute_ms", "output_shape"}. `iters` wins over `seconds` when both are given.
    """
    if warmup < 0 or (iters is not None and iters < 1) or (seconds is not None and seconds <= 0):
        raise EdgesegError(f"bench: need --warmup >= 0 and --iters >= 1 / --seconds > 0 "
                           f"(got warmup={warmup}, iters={iters}, seconds={seconds})")
    batch = int(input_shape[0])
    name = next(iter(runner.input_metadata()))
    feed = {name: make_input(input_shape, seed)}
    out = runner.infer(feed)  # checked once: names, dtype, shape
    out_shape = list(next(iter(out.values())).shape)
    predict, x = as_predictor(runner, checked=False), feed[name]
    samples, t0, t1 = timed_loop(lambda: predict(x), warmup, iters, seconds, meter)
    res: dict[str, Any] = {"latency_ms": latency_stats(samples), "throughput_ips": throughput_ips(samples, batch),
                           "iters": len(samples), "timed_s": t1 - t0, "energy_mj_per_image": None,
                           "power_source": None, "latency_compute_ms": None, "output_shape": out_shape}
    if meter is not None:
        mj = meter.energy_mj(t0, t1)
        res["energy_mj_per_image"] = None if mj is None else mj / (len(samples) * batch)
        res["power_source"] = meter.source
    if device.startswith("cuda"):
        res["latency_compute_ms"] = _compute_only(runner, feed[name], warmup, len(samples))
    return res


def _compute_only(runner: Any, x: np.ndarray, warmup: int, iters: int) -> dict[str, float] | None:
    """GPU compute-only latency with CUDA events (inputs already on the device); None if not available."""
    samples = runner.time_compute(iters, warmup=warmup, x=x)  # a Runner capability (PyTorch CUDA, TensorRT)
    return latency_stats(samples) if samples else None


# ------------------------------------------------------------------------------------------ interleaved

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
