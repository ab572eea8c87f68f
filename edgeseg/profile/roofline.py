"""Roofline arithmetic: an op can finish no sooner than max(FLOPs / peak, bytes / bandwidth).

Per-op bound: that max, with the peak of the op's compute class ("float" or "int8"). Network bound: the sum over
ops (each op runs alone, its inputs and outputs through memory). Fused-ideal bound: one pass over the graph's
input, output and weights, no intermediate traffic, all FLOPs at peak: max(sum FLOPs / peak, (in + out +
weights) / bandwidth). Both are lower bounds, never predictions; measured / bound says how far a runtime is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from edgeseg.errors import EdgesegError


@dataclass(frozen=True)
class Ceilings:
    """peak_gflops: {"float": GFLOP/s, "int8": GOP/s}; bandwidth_gbs: GB/s (1e9 bytes/s)."""

    peak_gflops: dict[str, float]
    bandwidth_gbs: float
    label: str = ""

    def __post_init__(self) -> None:
        if self.bandwidth_gbs <= 0 or any(v <= 0 for v in self.peak_gflops.values()) or \
                "float" not in self.peak_gflops:
            raise EdgesegError(f"roofline ceilings {self.label or ''}: need a positive 'float' peak and bandwidth, "
                               f"got {self.peak_gflops} and {self.bandwidth_gbs} GB/s")

    def peak(self, compute: str) -> float:
        return self.peak_gflops.get(compute, self.peak_gflops["float"])


def op_bound_s(flops: float, nbytes: float, compute: str, c: Ceilings) -> float:
    """Seconds: max(FLOPs / peak, bytes / bandwidth)."""
    return max(flops / (c.peak(compute) * 1e9), nbytes / (c.bandwidth_gbs * 1e9))


def bound_kind(flops: float, nbytes: float, compute: str, c: Ceilings) -> str:
    """"compute" or "memory": which term of the max decides the op's bound."""
    return "compute" if flops / (c.peak(compute) * 1e9) >= nbytes / (c.bandwidth_gbs * 1e9) else "memory"


def network_bound_s(ops: Iterable[tuple[float, float, str]], c: Ceilings) -> float:
    """Sum of per-op bounds over (flops, bytes, compute) triples."""
    return sum(op_bound_s(f, b, k, c) for f, b, k in ops)


def fused_ideal_s(ops: Iterable[tuple[float, float, str]], io_weight_bytes: float, c: Ceilings) -> float:
    """max(sum of FLOPs at each op's peak, (input + output + weights) / bandwidth)."""
    compute = sum(f / (c.peak(k) * 1e9) for f, _, k in ops)
    return max(compute, io_weight_bytes / (c.bandwidth_gbs * 1e9))


def ridge_intensity(c: Ceilings, compute: str = "float") -> float:
    """FLOP/byte where the compute and memory roofs meet."""
    return c.peak(compute) / c.bandwidth_gbs
