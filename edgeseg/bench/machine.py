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


ISA_CLASSES = ("avx512-vnni", "avx512", "avx2")  # fastest first; ORT's kernels and NCHWc block follow these


def isa_class(flags: list[str] | set[str] | None) -> str | None:
    """The x86 SIMD class ORT's CPU kernels pick from the flags `cpu_info` records (None: another or unknown
    CPU, e.g. ARM, or no flags recorded): speed ratios are only comparable within one class."""
    f = set(flags or ())
    if {"avx512f", "avx512_vnni"} <= f:
        return "avx512-vnni"
    if "avx512f" in f:
        return "avx512"
    return "avx2" if {"avx2", "fma"} <= f else None


def _run(cmd: list[str], timeout: float = 5.0) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def gpu_info() -> list[dict[str, Any]]:
    """The env.gpu entries: edgeseg.runtime.gpu.list_gpus (the one GPU description) in the bench schema's keys."""
    from edgeseg.runtime.gpu import list_gpus

    return [g.as_env() for g in list_gpus()]


def has_nvidia_gpu() -> bool:
    """True if an NVIDIA GPU is usable here: one is listed (CUDA, NVML or a Jetson), or a driver device node
    exists (PyTorch may be a CPU build on a GPU machine that only runs engines)."""
    from edgeseg.runtime.gpu import nvidia_device_nodes

    return bool(gpu_info()) or nvidia_device_nodes()


def jetson_info() -> dict[str, Any] | None:
    """Module, L4T release and nvpmodel power mode on a Jetson; None elsewhere."""
    rel = Path("/etc/nv_tegra_release")
    if not rel.exists():
        return None
    model = Path("/proc/device-tree/model")
    return {"l4t": rel.read_text().splitlines()[0].strip() if rel.exists() else None,
            "module": model.read_text().strip("\x00\n ") if model.exists() else None,
            "power_mode": _run(["nvpmodel", "-q"])}


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


def machine_line(env: dict[str, Any] | None = None) -> str:
    """The one-line "machine" a results file carries (the same for every script and the campaign's runs):
    CPU model (arch, ISA class), usable of logical cores, GPUs, OS, torch; from `capture_env` (or `env`)."""
    env = env or capture_env()
    cpu = env["cpu"]
    isa = isa_class(cpu.get("flags"))
    parts = [f"{cpu.get('model')} ({cpu.get('arch')}{f', {isa}' if isa else ''})",
             f"{cpu.get('usable_cores') or '?'} usable of {cpu.get('logical_cores') or '?'} logical cores"]
    parts += [g["name"] for g in env.get("gpu") or [] if g.get("name")]
    parts.append(env.get("os") or platform.platform())
    if (env.get("versions") or {}).get("torch"):
        parts.append(f"torch {env['versions']['torch']}")
    return ", ".join(parts)
