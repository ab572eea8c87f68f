"""Timing one active runner (`bench_runner`).

Method (docs: benchmarks/README.md "The CPU matrix"):
* warm-up iterations, then timed iterations (a fixed count, or as many as fit in `seconds`);
* CPU: each iteration timed with `time.perf_counter_ns` around the runner's inference call, end to end
  (numpy in -> numpy out). One checked `infer()` first; the loop calls the unchecked predictor
  (`as_predictor(runner, checked=False)`) so the per-call feed validation is not timed;
* GPU: end to end (host->device copy, compute, device->host copy) per iteration with perf_counter, and
  compute only (inputs already on the device) with CUDA events, reported as `latency_compute_ms`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from edgeseg.bench.stats import latency_stats, throughput_ips
from edgeseg.errors import EdgesegError
from edgeseg.runtime.base import as_predictor

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
