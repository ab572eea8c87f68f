"""The engine loader: everything that decides whether an engine can run here, before a runner gets its bytes
(Polygraphy's split between loaders and runners). The file against its sidecar (`engine_file`), the TensorRT
flavour asked for against the one recorded, this runtime's version against the builder's, and the live GPU
against the engine's targets. Each refusal is one line naming the file and the fix; nothing here crashes on a
foreign engine, because TensorRT never sees one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeseg import trt_compat as tc
from edgeseg.errors import EdgesegError
from edgeseg.runtime.cuda import gpu_info
from edgeseg.runtime.engine_file import check_engine_file


@dataclass(frozen=True)
class CheckedEngine:
    path: Path
    meta: dict[str, Any]  # the sidecar (empty where none was checked)
    flavour: str  # "tensorrt" or "tensorrt-rtx"
    trt: Any  # the imported TensorRT module of that flavour
    gpu: dict[str, str]  # the GPU it will run on: name, cc


def no_gpu_message(flavour: str | None, meta: dict[str, Any]) -> str:
    if flavour == "tensorrt-rtx":
        targets = ", ".join(meta.get("target_compute_capabilities") or tc.RTX_DEFAULT_TARGETS)
        return (f"no NVIDIA GPU with compute capability {targets} is visible: TensorRT-RTX engines run on "
                f"{tc.RTX_SUPPORTED_HINT}")
    built = (meta.get("built_on_gpu") or {})
    return (f"no NVIDIA GPU is visible: this TensorRT engine runs on the GPU it was built on "
            f"({built.get('name', '?')}, compute capability {built.get('cc', '?')})")


def resolve_flavour(path: Path, meta: dict[str, Any], asked: str | None) -> str:
    flavour = meta.get("flavour") or asked
    if flavour is None:
        raise EdgesegError(f"{path}: cannot tell the TensorRT flavour without a sidecar; pass "
                           f"--backend tensorrt or tensorrt-rtx, or rebuild with edgeseg build-engine")
    if asked and asked != flavour:
        raise EdgesegError(f"{path}: a {flavour} engine, asked to run as {asked}; use --backend "
                           f"{flavour} or rebuild for {asked}")
    return flavour


def check_runtime(path: Path, trt: Any, flavour: str, meta: dict[str, Any]) -> dict[str, str]:
    """Refuse (never crash) when this runtime cannot run the engine: version, GPU, compute capability.
    Returns the GPU it will run on."""
    have = tc.trt_version(trt)
    want = meta.get("trt_version")
    if want and want != have:
        raise EdgesegError(f"{path}: built with {flavour} {want}, this runtime is {flavour} {have}; "
                           f"engines are version-specific: rebuild it with edgeseg build-engine")
    gpu = gpu_info()
    if gpu is None:
        raise EdgesegError(f"{path}: {no_gpu_message(flavour, meta)}")
    if meta.get("unchecked"):
        return gpu
    if flavour == "tensorrt-rtx":
        targets = meta.get("target_compute_capabilities") or tc.RTX_DEFAULT_TARGETS
        if not tc.cc_runs(gpu["cc"], targets, bool(meta.get("default_targets"))):
            raise EdgesegError(f"{path}: {gpu['name']} (compute capability {gpu['cc']}) is not a target of "
                               f"this TensorRT-RTX engine ({', '.join(targets)}); TensorRT-RTX runs on "
                               f"{tc.RTX_SUPPORTED_HINT}; rebuild with --compute-capability {gpu['cc']} if "
                               f"TensorRT-RTX supports it")
    else:
        built = meta.get("built_on_gpu") or {}
        if built.get("cc") and built["cc"] != gpu["cc"]:
            raise EdgesegError(f"{path}: built on {built.get('name')} (compute capability {built['cc']}), "
                               f"this GPU is {gpu['name']} ({gpu['cc']}); TensorRT engines are GPU-specific: "
                               f"rebuild it on this machine with edgeseg build-engine")
    return gpu


def load_engine(path: str | Path, sidecar_check: bool = True, flavour: str | None = None) -> CheckedEngine:
    """Check the file, the flavour, the runtime and the GPU, in that order; the runner deserializes only a
    CheckedEngine."""
    path = Path(path)
    meta = check_engine_file(path, sidecar_check, flavour)  # before TensorRT sees the bytes
    resolved = resolve_flavour(path, meta, flavour)
    trt = tc.import_trt(resolved)
    gpu = check_runtime(path, trt, resolved, meta)
    return CheckedEngine(path, meta, resolved, trt, gpu)
