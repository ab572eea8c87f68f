"""What machine a benchmark ran on: CPU model and SIMD flags, cores, threads, library versions, GPU name,
compute capability, clocks, power mode. Everything is best effort: unreadable fields are null."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

# Flags that change CPU inference speed (FP16/INT8 kernels in ONNX Runtime and oneDNN depend on them).
_INTERESTING_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                      "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "asimd",
                      "asimddp", "fphp", "asimdhp", "i8mm", "bf16", "sve")


def cpu_info() -> dict[str, Any]:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, val = line.partition(":")
            key = key.strip().lower()
            if key in ("model name", "hardware", "cpu model") and val.strip():
                model = val.strip()
            elif key in ("flags", "features"):
                flags |= set(val.split())
    except OSError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {"model": model, "arch": platform.machine(), "flags": sorted(f for f in _INTERESTING_FLAGS if f in flags),
            "logical_cores": os.cpu_count(), "usable_cores": affinity}


def _run(cmd: list[str], timeout: float = 5.0) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def gpu_info() -> list[dict[str, Any]]:
    """NVIDIA GPUs via NVML (if nvidia-ml-py is installed), else torch.cuda; [] when none."""
    gpus: list[dict[str, Any]] = []
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            for i in range(pynvml.nvmlDeviceGetCount()):
                gpus.append(_nvml_gpu(pynvml, i))
        finally:
            pynvml.nvmlShutdown()
        return gpus
    except Exception:  # no nvidia-ml-py, no driver
        pass
    try:
        import torch

        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                gpus.append({"index": i, "name": p.name, "compute_capability": f"{p.major}.{p.minor}",
                             "memory_total_mb": p.total_memory / 2**20})
    except Exception:
        pass
    jet = jetson_info()
    if not gpus and jet is not None:  # Jetson iGPU: NVML does not report it
        gpus.append({"index": 0, "name": f"{jet.get('module') or 'Jetson'} (integrated GPU)",
                     "compute_capability": None})
    return gpus


def _nvml_gpu(pynvml: Any, i: int) -> dict[str, Any]:
    h = pynvml.nvmlDeviceGetHandleByIndex(i)
    g: dict[str, Any] = {"index": i, "name": _str(pynvml.nvmlDeviceGetName(h))}
    fields = {
        "compute_capability": lambda: "{}.{}".format(*pynvml.nvmlDeviceGetCudaComputeCapability(h)),
        "sm_clock_mhz": lambda: pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM),
        "mem_clock_mhz": lambda: pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_MEM),
        "max_sm_clock_mhz": lambda: pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_SM),
        "power_limit_w": lambda: pynvml.nvmlDeviceGetPowerManagementLimit(h) / 1e3,
        "memory_total_mb": lambda: pynvml.nvmlDeviceGetMemoryInfo(h).total / 2**20,
        "driver": lambda: _str(pynvml.nvmlSystemGetDriverVersion()),
    }
    for key, fn in fields.items():
        try:
            g[key] = fn()
        except Exception:  # not supported on this GPU (e.g. a Jetson iGPU)
            g[key] = None
    return g


def has_nvidia_gpu() -> bool:
    """True if an NVIDIA GPU is usable here: NVML/torch see one, a Jetson (integrated GPU, no NVML), or a
    driver device node exists (PyTorch may be a CPU build on a GPU machine that only runs engines)."""
    return bool(gpu_info()) or Path("/etc/nv_tegra_release").exists() or Path("/dev/nvidia0").exists()


def jetson_info() -> dict[str, Any] | None:
    """Module, L4T release and nvpmodel power mode on a Jetson; None elsewhere."""
    rel = Path("/etc/nv_tegra_release")
    if not rel.exists():
        return None
    model = Path("/proc/device-tree/model")
    return {"l4t": rel.read_text().splitlines()[0].strip() if rel.exists() else None,
            "module": model.read_text().strip("\x00\n ") if model.exists() else None,
            "power_mode": _run(["nvpmodel", "-q"])}


def _str(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def capture_env(threads: int | list[int] | None = None) -> dict[str, Any]:
    """The "env" block of an edgeseg-bench/1 file."""
    from edgeseg.artifacts import library_versions

    versions = library_versions()
    versions["python"] = platform.python_version()
    try:
        import torch

        versions["torch_cuda"] = torch.version.cuda
        versions["torch_threads_default"] = str(torch.get_num_threads())
    except Exception:
        pass
    cpu = cpu_info()
    gpus = gpu_info()
    return {"cpu": cpu, "cores": cpu["usable_cores"] or cpu["logical_cores"], "threads": threads,
            "gpu": gpus or None, "jetson": jetson_info(), "os": platform.platform(),
            "hostname": platform.node(), "versions": versions}
