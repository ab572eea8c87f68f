"""Stage 1, environment: the GPU (edgeseg.runtime.gpu), driver and CUDA versions, and which of the GPU
libraries are importable, each missing one named with the line that installs it. Nothing is installed."""

from __future__ import annotations

import importlib
import importlib.metadata as md
from typing import Any

from edgeseg.doctor.common import StageContext

# name shown -> (module to import, distribution for the version, install line)
LIBRARIES = {
    "torch": ("torch", "torch", "pip install torch --index-url https://download.pytorch.org/whl/cu128"),
    "onnxruntime": ("onnxruntime", "onnxruntime", "pip install onnxruntime"),
    "tensorrt": ("tensorrt", "tensorrt", "pip install tensorrt (JetPack: apt install nvidia-jetpack)"),
    "tensorrt_rtx": ("tensorrt_rtx_bindings", "tensorrt-rtx-cu13-bindings", 'pip install "edgeseg[trt-rtx]"'),
    "cuda-python": ("cuda.bindings.runtime", "cuda-python", 'pip install "edgeseg[cuda]"'),
    "pycuda": ("pycuda.driver", "pycuda", "pip install pycuda (JetPack images ship it)"),
    "pynvml": ("pynvml", "nvidia-ml-py", "pip install nvidia-ml-py"),
}


def _version(module: Any, dist: str) -> str | None:
    v = getattr(module, "__version__", None)
    if v:
        return str(v)
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def library_report() -> dict[str, dict[str, Any]]:
    """{name: {"present", "version", "install"/"error"}} for LIBRARIES; importing is the test."""
    out: dict[str, dict[str, Any]] = {}
    for name, (mod, dist, install) in LIBRARIES.items():
        try:
            m = importlib.import_module(mod)
        except ImportError as e:
            out[name] = {"present": False, "install": install, "error": str(e).splitlines()[0][:160]}
            continue
        except Exception as e:  # noqa: BLE001 - a broken install (wrong CUDA) is reported, not fatal
            out[name] = {"present": False, "install": install, "error": f"{type(e).__name__}: {e}"[:160]}
            continue
        rec: dict[str, Any] = {"present": True, "version": _version(m, dist)}
        if name == "torch":
            rec["cuda"] = getattr(m.version, "cuda", None)
            try:
                rec["cuda_available"] = bool(m.cuda.is_available())
            except Exception:  # noqa: BLE001
                rec["cuda_available"] = False
        out[name] = rec
    return out


def cuda_runtime_version() -> str | None:
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        return None
    err, v = cudart.cudaRuntimeGetVersion()  # (err, value), as every cuda-python call
    return f"{v // 1000}.{v % 1000 // 10}" if int(err) == 0 else None


def run(ctx: StageContext) -> None:
    from edgeseg.bench.machine import cpu_info
    from edgeseg.runtime.gpu import list_gpus

    gpus = list_gpus()
    ctx.info["gpus"] = [g.as_env() for g in gpus]
    ctx.info["cuda_runtime"] = cuda_runtime_version()
    ctx.info["cpu"] = cpu_info()
    gpu = next((g for g in gpus if g.cuda_visible), None)
    ctx.record({"check": "gpu", "status": "pass" if gpu else "fail",
                **({"gpu": gpu.label(), "driver": gpu.driver, "cuda_driver": gpu.cuda_driver} if gpu else
                   {"reason": "no CUDA-visible GPU (NVML or the device node saw one, no CUDA binding did)"})})
    for name, rec in library_report().items():
        item = {"check": f"library {name}", **rec}
        item["status"] = "pass" if rec["present"] else "skipped"
        if not rec["present"]:
            item["reason"] = f"not importable ({rec['error']}); install: {rec['install']}"
        ctx.record(item)
