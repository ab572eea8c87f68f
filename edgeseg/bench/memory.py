"""Peak memory of a benchmark configuration.

On the CPU: growth of the process's peak RSS while loading and running the model: the kernel's peak counter
is reset (`/proc/self/clear_refs` = 5), then `VmHWM` after the run minus `VmRSS` before loading (Linux;
elsewhere `ru_maxrss` growth, which is 0 when an earlier peak was higher). Each config runs in a fresh
subprocess by default so RSS, allocator caches and thread settings don't leak between configs. On the GPU,
`peak_mem_mb` is device memory (torch's max allocated, or NVML's used delta).
"""

from __future__ import annotations

import resource
from pathlib import Path


def _status_kb(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakRss:
    """Peak resident-set growth of this process between `start()` and `stop()` (MiB)."""

    def start(self) -> PeakRss:
        try:  # reset VmHWM to the current RSS (Linux >= 4.0), so the peak is this section's
            Path("/proc/self/clear_refs").write_text("5")
            self.method = "VmHWM after run - VmRSS before load (peak reset via /proc/self/clear_refs)"
        except OSError:
            self.method = "ru_maxrss growth (0 if an earlier peak was higher)"
        self.rss0 = _status_kb("VmRSS")
        self.maxrss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return self

    def stop(self) -> float:
        hwm = _status_kb("VmHWM")
        if hwm is not None and self.rss0 is not None and self.method.startswith("VmHWM"):
            return max(hwm - self.rss0, 0) / 1024
        return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.maxrss0, 0) / 1024


def nvml_used_mb(index: int = 0) -> float | None:
    """GPU memory in use (all processes) via NVML; None without nvidia-ml-py or a driver."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(index)).used / 2**20
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # noqa: BLE001 - absent library/driver: not measured
        return None
