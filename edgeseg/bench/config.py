"""One benchmark configuration: the JSON-able config (`make_config`), the cheap checks the parent runs before
any worker (`precheck`), and what a worker derives from it (runner, input shape, size, parameter count)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgeseg.bench.timing import DEFAULT_WARMUP
from edgeseg.errors import EdgesegError
from edgeseg.names import CHECKPOINT_SUFFIXES, FLAVOURS
from edgeseg.source import resolve_source

TRT_RTX_GPUS = "compute capability 8.0, 8.6, 8.9 or 12.x (Ampere, Ada, Blackwell; not Hopper 9.0)"


def make_config(**kw: Any) -> dict[str, Any]:
    """A JSON-able benchmark configuration with defaults (what the worker subprocess receives)."""
    cfg: dict[str, Any] = {"model": None, "backend": "onnxruntime", "artifact": None, "precision": "fp32",
                           "device": "cpu", "threads": None, "batch": 1, "size": None, "warmup": DEFAULT_WARMUP,
                           "iters": None, "seconds": None, "power": "auto", "data": None, "split": None,
                           "params": None, "notes": [],
                           # per full image at native size (edgeseg.bench.full_image): None = follow the training
                           "inference": None, "image_size": None, "overlap": 0.25, "blend": "gaussian",
                           "preprocess": None}  # given for an ONNX file without a sidecar (--mean/--std/...)
    unknown = set(kw) - set(cfg)
    if unknown:
        raise TypeError(f"unknown config keys {sorted(unknown)}")
    cfg.update(kw)
    cfg["notes"] = list(cfg["notes"] or [])
    return cfg


def engine_targets(path: Path) -> str:
    """Which GPUs can run an engine, from its build sidecar (what it was built for)."""
    from edgeseg.sidecars import read_engine_sidecar

    side = read_engine_sidecar(path)
    if side is None:
        return (f"an engine without a build sidecar: TensorRT-RTX engines run on NVIDIA GPUs of {TRT_RTX_GPUS}, "
                f"TensorRT engines on the GPU model they were built on")
    if side.flavour == "tensorrt-rtx":
        ccs = ", ".join(side.targets)
        return f"a TensorRT-RTX engine for GPUs of {'compute capability ' + ccs if ccs else TRT_RTX_GPUS}"
    built = side.built_on_gpu
    built_on = f"{built.get('name', '?')}, compute capability {built.get('cc', '?')}" if built else None
    return f"a TensorRT engine for the GPU it was built on ({built_on or 'same model and TensorRT version'})"


def precheck(cfg: dict[str, Any]) -> None:
    """Cheap checks in the parent before any subprocess: files exist, GPU present, ONNX shape as asked."""
    backend, art = cfg["backend"], cfg["artifact"]
    if backend in ("onnxruntime", *FLAVOURS) or (art and Path(str(art)).suffix in CHECKPOINT_SUFFIXES):
        p = Path(str(art))
        if not p.is_file():
            fix = {"onnxruntime": "create it with edgeseg export", "pytorch": "train one with edgeseg train"}
            raise EdgesegError(f"{p}: no such file; {fix.get(backend, 'build it with edgeseg build-engine')}")
    torch_kind = resolve_source(art, allow=("registry", "checkpoint")).kind if backend == "pytorch" and art else None
    if torch_kind == "registry":
        from edgeseg.models import get_model_info

        get_model_info(str(art))  # unknown name -> clear error with the valid names
    elif torch_kind == "checkpoint":
        from edgeseg.checkpoint import load_checkpoint

        load_checkpoint(str(art))  # a damaged checkpoint, or weights that do not fit: one line, before any row
    if backend in FLAVOURS:
        from edgeseg.bench.machine import has_nvidia_gpu

        if not has_nvidia_gpu():
            raise EdgesegError(f"{art}: cannot run a TensorRT engine here: no NVIDIA GPU found. This is "
                               f"{engine_targets(Path(str(art)))}; run it there, or bench the ONNX with --onnx")
    if backend == "onnxruntime":
        check_onnx_shape(Path(str(art)), cfg["batch"], cfg["size"])
    if cfg["device"] == "cuda" and backend in ("onnxruntime",):
        raise EdgesegError("ONNX Runtime is benchmarked on the CPU here (CPUExecutionProvider); drop --device cuda")


def onnx_input_dims(path: Path) -> list[int | None]:
    """N x C x H x W of an ONNX file's input (None = dynamic), through the one reader (edgeseg.graph)."""
    from edgeseg.graph import onnx_input

    return onnx_input(path)[1]


def check_onnx_shape(path: Path, batch: int, size: list[int] | tuple[int, int] | None) -> None:
    dims = onnx_input_dims(path)
    if len(dims) != 4:
        raise EdgesegError(f"{path}: input must be N x C x H x W, got {len(dims)} dims; re-export with edgeseg export")
    n, _, h, w = dims
    if size is not None and (h, w) != (None, None) and (h, w) != tuple(size):
        raise EdgesegError(f"{path}: exported for {h}x{w} inputs but --size {size[0]} {size[1]} was asked; "
                           f"pass --size {h} {w} or re-export with edgeseg export --size {size[0]} {size[1]}")
    if n is not None and n != batch:
        raise EdgesegError(f"{path}: exported for batch {n} but --batch {batch} was asked; pass --batch {n} "
                           f"or re-export with edgeseg export --batch {batch} (or --batch dynamic)")
    if size is None and (h is None or w is None):
        raise EdgesegError(f"{path}: input height/width are dynamic; pass --size H W")


def make_runner(cfg: dict[str, Any]) -> Any:
    backend = cfg["backend"]
    if backend == "onnxruntime":
        from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

        return OnnxRuntimeRunner(cfg["artifact"], threads=cfg["threads"])
    if backend == "pytorch":
        from edgeseg.runtime.torch_runner import TorchRunner

        art = str(cfg["artifact"])
        if resolve_source(art, allow=("registry", "checkpoint")).kind == "checkpoint":
            return TorchRunner(art, device=cfg["device"], precision=cfg["precision"], threads=cfg["threads"])
        import torch

        from edgeseg.models import create_model

        torch.manual_seed(0)  # latency does not depend on the weights; fixed anyway
        return TorchRunner(create_model(art), device=cfg["device"], precision=cfg["precision"],
                           threads=cfg["threads"])
    if backend in FLAVOURS:
        from edgeseg.runtime.trt_runner import TensorRTRunner  # TensorRT itself is imported on activate

        return TensorRTRunner(cfg["artifact"])
    raise EdgesegError(f"unknown backend {backend!r}")


def input_shape(runner: Any, cfg: dict[str, Any]) -> list[int]:
    """N,C,H,W for this config: fixed dims from the artifact, the rest from --batch/--size/the model."""
    meta = next(iter(runner.input_metadata().values())).shape
    if cfg["backend"] == "pytorch":
        from edgeseg.models import check_input_size, get_model_info

        conf = getattr(runner.model, "edgeseg_config", None) or {}
        name = conf.get("name")
        c = int(conf.get("in_channels") or 3)
        size = cfg["size"] or _checkpoint_size(cfg["artifact"]) or (
            get_model_info(name).reference_input[1:] if name else None)
        if size is None:
            raise EdgesegError(f"{cfg['artifact']}: cannot tell the input size; pass --size H W")
        if name:
            check_input_size(name, int(size[0]), int(size[1]))
        return [int(cfg["batch"]), c, int(size[0]), int(size[1])]
    n, c, h, w = meta
    size = cfg["size"] or (h, w)
    if (h is not None and h != size[0]) or (w is not None and w != size[1]) or None in size:
        raise EdgesegError(f"{cfg['artifact']}: built for {h}x{w} inputs, asked {size}; pass --size {h} {w} or "
                           f"rebuild it for this size")
    if n is not None and n != cfg["batch"]:
        raise EdgesegError(f"{cfg['artifact']}: built for batch {n}, asked --batch {cfg['batch']}; pass "
                           f"--batch {n} or rebuild it for this batch")
    return [int(cfg["batch"]), int(c or 3), int(size[0]), int(size[1])]


def _checkpoint_size(art: Any) -> tuple[int, int] | None:
    if not art or not Path(str(art)).is_file():
        return None
    from edgeseg.checkpoint import read_checkpoint

    pre = read_checkpoint(art).get("preprocess") or {}
    return (int(pre["height"]), int(pre["width"])) if "height" in pre else None


def artifact_size_mb(cfg: dict[str, Any], params: int | None) -> tuple[float | None, str | None]:
    art = cfg["artifact"]
    if art and Path(str(art)).is_file():
        return os.path.getsize(art) / 2**20, None
    if params is not None:
        return params * 4 / 2**20, "size_mb = FP32 parameter bytes (registry model, no file)"
    return None, None


def count_params(cfg: dict[str, Any], runner: Any) -> int | None:
    if cfg.get("params") is not None:
        return int(cfg["params"])
    model = getattr(runner, "model", None)
    if model is not None and hasattr(model, "parameters"):
        return int(sum(p.numel() for p in model.parameters()))
    from edgeseg.runtime.opener import describe_artifact

    art = cfg["artifact"]
    rec = describe_artifact(art).record if art and Path(str(art)).is_file() else None
    conf = rec.model if rec is not None else None
    if conf and conf.get("name"):
        try:  # rebuild the recorded network to count it (needs torch; a Jetson engine-only install has none)
            from edgeseg.models import rebuild_model

            m = rebuild_model({"in_channels": None, "num_classes": None, **conf})
        except ImportError:
            return None
        return int(sum(p.numel() for p in m.parameters()))
    return None
