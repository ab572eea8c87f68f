"""The one description of the NVIDIA GPUs on this machine (runners, engine builds, bench env, the doctor).

    gpus = list_gpus()        # [GpuInfo(index=0, name="NVIDIA H100 80GB HBM3", cc="9.0", ...)], [] when none
    first_gpu()               # the first CUDA-visible one, or None

Discovery, best effort, each library imported lazily: cuda-python, else pycuda, else torch.cuda say which GPUs
CUDA can use (what a runner can run on); NVML (nvidia-ml-py) adds driver, clocks, power limit and memory, and
lists the GPUs by itself where no CUDA binding is installed (then `cuda_visible` is False). A Jetson's
integrated GPU, which NVML does not report, is listed from /etc/nv_tegra_release.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

JETSON_RELEASE = Path("/etc/nv_tegra_release")


@dataclass
class GpuInfo:
    index: int
    name: str
    cc: str | None                     # compute capability "8.6"; None where unknown (a Jetson without CUDA bindings)
    source: str                        # "cuda-python", "pycuda", "torch", "nvml" or "jetson"
    cuda_visible: bool = True          # CUDA (what runs engines) sees it, not only NVML
    memory_total_mb: float | None = None
    driver: str | None = None
    cuda_driver: str | None = None     # the CUDA version the driver supports, e.g. "12.8"
    sm_clock_mhz: int | None = None
    mem_clock_mhz: int | None = None
    max_sm_clock_mhz: int | None = None
    power_limit_w: float | None = None

    def short(self) -> dict[str, str]:
        """{"name", "cc"}: what engine sidecars record as built_on_gpu and the TensorRT runner compares."""
        return {"name": self.name, "cc": self.cc or "?"}

    def as_env(self) -> dict[str, Any]:
        """The bench schema's env.gpu entry (keys as in edgeseg-bench/1: compute_capability, ...)."""
        d = asdict(self)
        d["compute_capability"] = d.pop("cc")
        return d

    def label(self) -> str:
        return f"{self.name} (compute capability {self.cc or '?'})"


def _cudart() -> Any:
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        from cuda import cudart  # cuda-python < 12.6
    return cudart


def _text(v: Any) -> str:
    return (v.decode(errors="replace") if isinstance(v, bytes) else str(v)).rstrip("\x00")


def _from_cuda_python() -> list[GpuInfo] | None:
    """None when cuda-python is absent; [] when it is present and sees no GPU (no driver, none visible)."""
    try:
        cudart = _cudart()
    except ImportError:
        return None
    err, count = cudart.cudaGetDeviceCount()  # cuda-python returns (err, value) tuples, never raises
    if int(err) != 0:
        return []
    out = []
    for i in range(count):
        err, prop = cudart.cudaGetDeviceProperties(i)
        if int(err) == 0:
            out.append(GpuInfo(i, _text(prop.name), f"{prop.major}.{prop.minor}", "cuda-python",
                               memory_total_mb=prop.totalGlobalMem / 2**20))
    err, ver = cudart.cudaDriverGetVersion()
    if int(err) == 0 and ver:
        for g in out:
            g.cuda_driver = f"{ver // 1000}.{ver % 1000 // 10}"
    return out


def _from_pycuda() -> list[GpuInfo] | None:
    try:
        import pycuda.driver as drv
    except ImportError:
        return None
    try:
        drv.init()
        out = []
        for i in range(drv.Device.count()):
            d = drv.Device(i)
            major, minor = d.compute_capability()
            out.append(GpuInfo(i, d.name(), f"{major}.{minor}", "pycuda", memory_total_mb=d.total_memory() / 2**20))
        return out
    except Exception:  # noqa: BLE001 - pycuda raises LogicError/RuntimeError without a driver
        return []


def _from_torch() -> list[GpuInfo] | None:
    try:
        import torch
    except ImportError:
        return None
    try:
        if not torch.cuda.is_available():
            return []
        out = []
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            out.append(GpuInfo(i, p.name, f"{p.major}.{p.minor}", "torch", memory_total_mb=p.total_memory / 2**20))
        return out
    except Exception:  # noqa: BLE001 - a broken driver install
        return []


def _nvml_fields(pynvml: Any, h: Any) -> dict[str, Any]:
    fields = {
        "cc": lambda: "{}.{}".format(*pynvml.nvmlDeviceGetCudaComputeCapability(h)),
        "sm_clock_mhz": lambda: pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM),
        "mem_clock_mhz": lambda: pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_MEM),
        "max_sm_clock_mhz": lambda: pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_SM),
        "power_limit_w": lambda: pynvml.nvmlDeviceGetPowerManagementLimit(h) / 1e3,  # NVML reports mW
        "memory_total_mb": lambda: pynvml.nvmlDeviceGetMemoryInfo(h).total / 2**20,
        "driver": lambda: _text(pynvml.nvmlSystemGetDriverVersion()),
    }
    out = {}
    for key, fn in fields.items():
        try:
            out[key] = fn()
        except Exception:  # noqa: BLE001 - not supported on this GPU (e.g. a Jetson iGPU)
            out[key] = None
    return out


def _nvml() -> list[tuple[str, dict[str, Any]]] | None:
    """[(name, fields)] per NVML device; None without nvidia-ml-py or a driver."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - no nvidia-ml-py, no driver
        return None
    try:
        out = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            out.append((_text(pynvml.nvmlDeviceGetName(h)), _nvml_fields(pynvml, h)))
        return out
    except Exception:  # noqa: BLE001
        return None
    finally:
        pynvml.nvmlShutdown()


def list_gpus() -> list[GpuInfo]:
    """Every NVIDIA GPU found (see module docstring); [] when there is none."""
    gpus: list[GpuInfo] = []
    for probe in (_from_cuda_python, _from_pycuda, _from_torch):
        found = probe()
        if found is not None:
            gpus = found
            if found:
                break
    nv = _nvml()
    if nv:
        if not gpus:
            gpus = [GpuInfo(i, name, f.get("cc"), "nvml", cuda_visible=False) for i, (name, f) in enumerate(nv)]
        # NVML and CUDA may order GPUs differently (CUDA_VISIBLE_DEVICES, PCI order): enrich by name only.
        unused = list(nv)
        for g in gpus:
            match = next((x for x in unused if x[0] == g.name), None)
            if match is None:
                continue
            unused.remove(match)
            for k, v in match[1].items():
                if getattr(g, k) is None and v is not None:
                    setattr(g, k, v)
    if not gpus and JETSON_RELEASE.exists():
        model = Path("/proc/device-tree/model")
        name = model.read_text().strip("\x00\n ") if model.exists() else "Jetson"
        gpus = [GpuInfo(0, f"{name} (integrated GPU)", None, "jetson", cuda_visible=False)]
    return gpus


def first_gpu(device: int = 0) -> GpuInfo | None:
    """The CUDA-visible GPU `device` (what a runner would use), or None."""
    visible = [g for g in list_gpus() if g.cuda_visible and g.cc]
    return visible[device] if len(visible) > device else None


def nvidia_device_nodes() -> bool:
    """A driver device node exists (PyTorch may be a CPU build on a GPU machine that only runs engines)."""
    return Path("/dev/nvidia0").exists() or JETSON_RELEASE.exists()
