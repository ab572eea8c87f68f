"""Power measurement during benchmarks: tegrastats on Jetson (tegrastats.py), NVML on discrete GPUs (nvml.py).

The bench harness uses one small interface for both (`PowerMeter`)::

    meter, note = open_power_meter("auto")     # None + a note saying why, where nothing is readable
    meter.start(); t0 = time.monotonic(); run(); t1 = time.monotonic(); meter.stop()
    mj = meter.energy_mj(t0, t1)               # millijoules in [t0, t1], or None

Both backends import their libraries lazily, so `import edgeseg.power` works everywhere.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from typing import Protocol

POWER_CHOICES = ("auto", "nvml", "tegrastats", "none")


class PowerMeter(Protocol):
    source: str  # e.g. "nvml:total-energy-counter", "nvml:power-samples", "tegrastats:VDD_IN"

    def start(self) -> object: ...

    def stop(self) -> object: ...

    def energy_mj(self, t0: float, t1: float) -> float | None: ...


def trapezoid_mj(points: Sequence[tuple[float, float]], t0: float, t1: float) -> float | None:
    """Energy (mJ) of (time s, power mW) samples over [t0, t1]: the power linearly interpolated between
    samples and held constant before the first and after the last (a short window may fall between two).

    The one integrator (NVML samples, tegrastats samples). None without samples; 0.0 for an empty window;
    a window that ends before it starts is a caller's bug, not zero energy: ValueError.
    """
    if t1 < t0:
        raise ValueError(f"energy window ends before it starts: t0={t0} > t1={t1}")
    pts = sorted(points)
    if not pts:
        return None
    if t1 == t0:
        return 0.0

    def at(t: float) -> float:
        if t <= pts[0][0]:
            return pts[0][1]
        if t >= pts[-1][0]:
            return pts[-1][1]
        for (ta, pa), (tb, pb) in zip(pts, pts[1:], strict=False):
            if ta <= t <= tb:
                return pa if tb == ta else pa + (pb - pa) * (t - ta) / (tb - ta)
        return pts[-1][1]  # unreachable: t lies inside [first, last]

    knots = [t0] + [t for t, _ in pts if t0 < t < t1] + [t1]
    return sum((at(a) + at(b)) / 2.0 * (b - a) for a, b in zip(knots, knots[1:], strict=False))  # mW * s = mJ


class TegrastatsMeter:
    """Adapter over `edgeseg.power.tegrastats.TegrastatsSampler` (board power, VDD_IN where present)."""

    def __init__(self, interval_ms: int = 50) -> None:
        from edgeseg.power.tegrastats import TegrastatsSampler

        self.sampler = TegrastatsSampler(interval_ms=interval_ms)
        self.samples: list = []
        self.source = "tegrastats"

    def start(self) -> TegrastatsMeter:
        self.sampler.start()
        return self

    def stop(self) -> TegrastatsMeter:
        self.samples = self.sampler.stop()
        if self.samples and self.samples[-1].power_source:
            self.source = f"tegrastats:{self.samples[-1].power_source}"
        return self

    def energy_mj(self, t0: float, t1: float) -> float | None:
        from edgeseg.power.tegrastats import energy_mj

        return energy_mj(self.samples, t0, t1)


def open_power_meter(kind: str = "auto", device_index: int = 0, device: str = "cuda") -> tuple[PowerMeter | None, str]:
    """-> (meter or None, note). "auto": tegrastats on a Jetson, NVML where an NVIDIA driver answers, else None.

    An explicitly requested meter that cannot work raises (MissingDependencyError / EdgesegError); "auto"
    never raises and says in the note why there is no energy figure. For a CPU run (`device="cpu"`) "auto"
    uses tegrastats (board power) only: NVML would measure an idle discrete GPU, not the CPU.
    """
    from edgeseg.errors import EdgesegError

    if kind not in POWER_CHOICES:
        raise EdgesegError(f"--power must be one of {', '.join(POWER_CHOICES)}, got {kind!r}")
    if kind == "none":
        return None, "power not measured (--power none)"
    is_jetson = os.path.exists("/etc/nv_tegra_release")
    if kind == "tegrastats" or (kind == "auto" and is_jetson and shutil.which("tegrastats")):
        return TegrastatsMeter(), "board power from tegrastats"
    if kind == "auto" and device == "cpu":
        return None, "energy not measured: no CPU power sensor read here (tegrastats on Jetson only)"
    from edgeseg.power.nvml import NvmlMeter, nvml_available

    if kind == "nvml":
        return NvmlMeter(device_index), "GPU power from NVML"
    ok, why = nvml_available()
    if ok:
        return NvmlMeter(device_index), "GPU power from NVML (GPU board only, not CPU/host)"
    return None, f"energy not measured: no power sensor readable here ({why}; no tegrastats)"
