"""GPU power/energy from NVML (`pip install nvidia-ml-py`, imported lazily).

Prefers the total-energy counter (`nvmlDeviceGetTotalEnergyConsumption`, mJ since driver load; Volta and
newer): energy = counter(stop) - counter(start). Where that is not supported, a background thread samples
`nvmlDeviceGetPowerUsage` (mW) every `interval_s` and the energy is the trapezoid over the window. NVML's
power reading is itself averaged by the driver (about 1 s on recent GPUs), so a timed loop of well under a
second gives a rough figure; the bench notes the loop length.
"""

from __future__ import annotations

import threading
import time

from edgeseg.errors import EdgesegError, MissingDependencyError


def _pynvml():
    try:
        import pynvml
    except ImportError:
        raise MissingDependencyError("NVML power needs nvidia-ml-py: pip install nvidia-ml-py "
                                     "(or use --power none)") from None
    return pynvml


def nvml_available() -> tuple[bool, str]:
    """(True, "") if NVML answers with at least one GPU; else (False, why)."""
    try:
        pynvml = _pynvml()
    except MissingDependencyError:
        return False, "nvidia-ml-py not installed: pip install nvidia-ml-py"
    try:
        pynvml.nvmlInit()
    except Exception as e:  # no driver / no GPU
        return False, f"NVML: {type(e).__name__}"
    try:
        return (pynvml.nvmlDeviceGetCount() > 0), "no NVIDIA GPU"
    finally:
        pynvml.nvmlShutdown()


class NvmlMeter:
    def __init__(self, device_index: int = 0, interval_s: float = 0.01) -> None:
        self.device_index = device_index
        self.interval_s = interval_s
        self.points: list[tuple[float, float]] = []  # (monotonic s, mW)
        self.source = "nvml"
        self._counter: tuple[float, int, float, int] | None = None  # t_start, mJ_start, t_stop, mJ_stop
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle = None

    def start(self) -> NvmlMeter:
        pynvml = _pynvml()
        try:
            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(self.device_index)
        except Exception as e:
            raise EdgesegError(f"NVML: cannot open GPU {self.device_index} ({e}); use --power none") from None
        try:
            e0 = pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
            self._counter = (time.monotonic(), int(e0), 0.0, 0)
            self.source = "nvml:total-energy-counter"
        except Exception:  # not supported (pre-Volta, some Jetson/virtualised GPUs): sample power instead
            self._counter = None
            self.source = "nvml:power-samples"
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, name="nvml-power", daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        pynvml = _pynvml()
        while not self._stop.is_set():
            try:
                self.points.append((time.monotonic(), float(pynvml.nvmlDeviceGetPowerUsage(self._handle))))
            except Exception:
                break
            self._stop.wait(self.interval_s)

    def stop(self) -> NvmlMeter:
        pynvml = _pynvml()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._counter is not None:
            t0, e0, _, _ = self._counter
            self._counter = (t0, e0, time.monotonic(), int(pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)))
        pynvml.nvmlShutdown()
        return self

    def mean_power_w(self) -> float | None:
        return sum(p for _, p in self.points) / len(self.points) / 1e3 if self.points else None

    def energy_mj(self, t0: float, t1: float) -> float | None:
        if self._counter is not None and self._counter[2] > self._counter[0]:
            ts, es, te, ee = self._counter
            # The counter spans start()..stop(), a little wider than [t0, t1]: scale to the window.
            return (ee - es) * (t1 - t0) / (te - ts)
        from edgeseg.power import trapezoid_mj

        return trapezoid_mj(self.points, t0, t1)
