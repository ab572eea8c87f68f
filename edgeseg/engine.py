"""ONNX -> serialized TensorRT / TensorRT-RTX engine, with a sidecar and content-hash reuse.

    build_engine("unet", precision="fp16", size=(256, 256))            # export -> FP16 -> engine
    build_engine("m.onnx", shapes=(1, 4, 8), backend="tensorrt-rtx")   # dynamic batch profile

Networks are STRONGLY TYPED: the precision is the ONNX graph's (FP16 tensors from `quantize_fp16`, INT8 Q/DQ
from `quantize_int8`), never a builder flag (TensorRT 11 removed those). `check_engine_file` refuses a
truncated or foreign engine file *before* TensorRT deserializes it (edgeseg.runtime.engine_file).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeseg import trt_compat as tc
from edgeseg.artifacts import (
    build_step,
    check_output_path,
    code_identity,
    default_cache_dir,
    sha256_file,
    write_bytes_atomic,
)
from edgeseg.errors import EdgesegError
from edgeseg.graph import onnx_input, onnx_precision
from edgeseg.names import DEFAULT_OPSET, ENGINE_PRECISIONS, INPUT_NAME
from edgeseg.runtime.cuda import gpu_info


@dataclass(frozen=True)
class EngineResult:
    path: Path
    meta: dict[str, Any]
    reused: bool


def parse_shapes(text: str) -> tuple[int, int, int]:
    """'1:4:8' -> (min, opt, max) batch sizes."""
    try:
        lo, opt, hi = (int(v) for v in text.split(":"))
    except ValueError:
        raise EdgesegError(f"--shapes must be MIN:OPT:MAX batch sizes like 1:4:8, got {text!r}") from None
    if not 1 <= lo <= opt <= hi:
        raise EdgesegError(f"--shapes {text}: need 1 <= MIN <= OPT <= MAX")
    return lo, opt, hi


def _profile(dims: list[int | None], onnx_path: Path, size: tuple[int, int] | None, batch: int,
             shapes: tuple[int, int, int] | None) -> dict[str, list[list[int]]] | None:
    """min/opt/max input shapes (None: the ONNX input is fully static)."""
    if len(dims) != 4:
        raise EdgesegError(f"{onnx_path}: input must be N x C x H x W, got rank {len(dims)}")
    n, c, h, w = dims
    if c is None:
        raise EdgesegError(f"{onnx_path}: input channels are dynamic; export with a fixed channel count")
    if size is not None and None not in (h, w) and (h, w) != tuple(size):
        raise EdgesegError(f"{onnx_path}: input is {h}x{w}, --size asks {size[0]}x{size[1]}; re-export at that size")
    if h is None or w is None:
        if size is None:
            raise EdgesegError(f"{onnx_path}: input height/width are dynamic; pass --size H W")
        h, w = size
    if n is None:
        lo, opt, hi = shapes or (batch, batch, batch)
    elif shapes is not None and shapes != (n, n, n):
        raise EdgesegError(f"{onnx_path}: batch is fixed at {n} but --shapes asks {':'.join(map(str, shapes))}; "
                           f"export with a dynamic batch (edgeseg export --batch dynamic)")
    elif batch not in (1, n):
        raise EdgesegError(f"{onnx_path}: batch is fixed at {n}, --batch asks {batch}; re-export with --batch {batch}")
    else:
        lo = opt = hi = n
    if None not in dims:
        return None
    return {INPUT_NAME: [[lo, c, h, w], [opt, c, h, w], [hi, c, h, w]]}


def _tensor_info(trt: Any, t: Any) -> dict[str, Any]:
    import numpy as np

    try:
        dtype = np.dtype(trt.nptype(t.dtype)).name
    except (TypeError, KeyError):
        dtype = str(t.dtype).split(".")[-1].lower()
    return {"name": t.name, "shape": [int(d) for d in t.shape], "dtype": dtype}


def _targets(trt: Any, flavour: str, compute_capabilities: list[str] | None) -> tuple[list[str], bool]:
    """(target compute capabilities, default?) for TensorRT-RTX; validated against this TensorRT-RTX."""
    if flavour != "tensorrt-rtx":
        if compute_capabilities:
            raise EdgesegError("--compute-capability is a TensorRT-RTX option; TensorRT engines run on the GPU "
                               "model they are built on (use --backend tensorrt-rtx, or build on the target)")
        return [], False
    if not compute_capabilities:
        return list(tc.RTX_DEFAULT_TARGETS), True
    out = []
    for raw in compute_capabilities:
        try:
            cc = tc.parse_cc(raw)
        except ValueError:
            raise EdgesegError(f"--compute-capability {raw!r}: expected e.g. 8.6") from None
        if tc.rtx_cc_enum(trt, cc) is None:
            raise EdgesegError(f"--compute-capability {cc}: TensorRT-RTX {tc.trt_version(trt)} cannot target it; "
                               f"choose from {', '.join(tc.rtx_known_targets(trt))}")
        if cc not in out:
            out.append(cc)
    return out, False


def build_engine_info(source: str | Path, precision: str | None = None, calib: str | None = None,
                      size: tuple[int, int] | None = None, batch: int = 1,
                      shapes: tuple[int, int, int] | None = None, out: str | Path | None = None,
                      backend: str = "auto", timing_cache: str | Path | None = None,
                      compute_capabilities: list[str] | None = None, opset: int = DEFAULT_OPSET,
                      workspace_mb: int | None = None) -> EngineResult:
    """Build (or reuse) an engine for a registry name, checkpoint or ONNX file: the recipe
    (edgeseg.recipe.materialize) source -> export -> FP16/INT8 -> engine. See module docstring."""
    from edgeseg.recipe import EngineSpec, Recipe, materialize

    if precision is not None and precision not in ENGINE_PRECISIONS:
        raise EdgesegError(f"precision must be one of {ENGINE_PRECISIONS}, got {precision!r}")
    if batch < 1:
        raise EdgesegError(f"--batch must be >= 1, got {batch}")
    spec = EngineSpec(backend, shapes, out, timing_cache, compute_capabilities, workspace_mb)
    made = materialize(Recipe(source, precision, size, batch, calib=calib, opset=opset, engine=spec))
    assert made.engine is not None
    return made.engine


@dataclass(frozen=True)
class Builder:
    """What `prepare_build` checked before the slow upstream steps: the flavour, its module, the targets."""

    spec: Any  # edgeseg.recipe.EngineSpec
    flavour: str
    trt: Any
    version: str
    targets: list[str]
    default_targets: bool


def prepare_build(spec: Any) -> Builder:
    """Check an EngineSpec and import its TensorRT flavour (fails before the slow export/quantize steps)."""
    if spec.out is not None:
        check_output_path(spec.out)
    flavour = tc.resolve_flavour(spec.backend)
    trt = tc.import_trt(flavour)
    if spec.timing_cache is not None and flavour == "tensorrt-rtx":
        raise EdgesegError(f"--timing-cache {spec.timing_cache}: TensorRT-RTX has no build-time timing cache (its "
                           f"ITimingCache is a deprecated no-op that forces a GPU query during the CPU-only build); "
                           f"its JIT kernels are cached at run time instead (TensorRTRunner(runtime_cache=FILE))")
    targets, default_targets = _targets(trt, flavour, list(spec.compute_capabilities or []) or None)
    return Builder(spec, flavour, trt, tc.trt_version(trt), targets, default_targets)


def build_onnx_engine(b: Builder, onnx_path: Path, size: tuple[int, int] | None, batch: int,
                      upstream: dict[str, str], source: str | Path) -> EngineResult:
    """The engine step of a recipe: a strongly typed build of `onnx_path` (its precision is the graph's)."""
    flavour, trt, version, targets, default_targets = b.flavour, b.trt, b.version, b.targets, b.default_targets
    out, shapes, timing_cache, workspace_mb = b.spec.out, b.spec.shapes, b.spec.timing_cache, b.spec.workspace_mb
    precision = onnx_precision(onnx_path)
    steps = dict(upstream)
    in_name, dims = onnx_input(onnx_path)
    if in_name != INPUT_NAME:
        raise EdgesegError(f"{onnx_path}: input is named {in_name!r}, edgeseg expects {INPUT_NAME!r}; "
                           f"export with edgeseg export")
    profile = _profile(dims, onnx_path, size, batch, shapes)
    built_on = gpu_info() if flavour == "tensorrt" else None
    if flavour == "tensorrt" and built_on is None:
        raise EdgesegError(f"{onnx_path}: TensorRT builds need the NVIDIA GPU the engine will run on and none "
                           f"is visible (queried via cuda-python, pycuda, torch.cuda); build on the target with one "
                           f"of those installed, or use --backend tensorrt-rtx (CPU-only builds)")
    onnx_sha = sha256_file(onnx_path)
    step = build_step({"step": "build-engine", "onnx": onnx_sha, "flavour": flavour, "version": version,
                       "precision": precision, "profile": profile, "targets": targets,
                       "built_on": built_on and built_on["cc"], "workspace_mb": workspace_mb, "code": code_identity()},
                      out, lambda key: default_cache_dir() / "engines" / f"{onnx_path.stem}-{flavour}-{key}.engine")
    if step.reused is not None:
        return EngineResult(step.out, step.reused, True)

    logger = tc.make_logger(trt)
    t0 = time.perf_counter()
    builder = trt.Builder(logger)
    network = builder.create_network(tc.network_flags(trt, flavour))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))[:400]
        raise EdgesegError(f"{onnx_path}: {flavour} {version} cannot parse it ({errs}); check the quantized graph "
                           f"or re-export with another --opset")
    config = builder.create_builder_config()
    if workspace_mb:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    if profile is not None:
        p = builder.create_optimization_profile()
        for name, (lo, opt, hi) in profile.items():
            p.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(p)
    if flavour == "tensorrt-rtx" and not default_targets:
        config.num_compute_capabilities = len(targets)
        for i, cc in enumerate(targets):
            if not config.set_compute_capability(tc.rtx_cc_enum(trt, cc), i):
                raise EdgesegError(f"--compute-capability {cc}: rejected by TensorRT-RTX {version}")
    cache = None
    if timing_cache is not None:
        tpath = Path(timing_cache)
        cache = config.create_timing_cache(tpath.read_bytes() if tpath.is_file() else b"")
        config.set_timing_cache(cache, ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        errs = "; ".join(logger.errors)[:400] or "no error logged"
        raise EdgesegError(f"{onnx_path}: {flavour} {version} failed to build an engine ({errs})")
    build_seconds = time.perf_counter() - t0
    data = memoryview(plan).tobytes()
    with step.writing() as tmp:
        tmp.write_bytes(data)
        if cache is not None:
            write_bytes_atomic(timing_cache, memoryview(cache.serialize()).tobytes())
    meta = step.finish("engine", {
        "flavour": flavour, "trt_module": tc.MODULES[flavour],
        "trt_version": version, "precision": precision,
        "target_compute_capabilities": targets, "default_targets": default_targets, "built_on_gpu": built_on,
        # static engines record their one shape as a min=opt=max profile (no optimization profile is added)
        "profiles": [profile or {INPUT_NAME: [[int(d) for d in dims]] * 3}],
        "batch": {"fixed": dims[0], "shapes": shapes, "batch": batch},
        "inputs": [_tensor_info(trt, network.get_input(i)) for i in range(network.num_inputs)],
        "outputs": [_tensor_info(trt, network.get_output(i)) for i in range(network.num_outputs)],
        "onnx": {"path": str(onnx_path), "sha256": onnx_sha}, "upstream": steps,
        "source": str(source), "build_seconds": round(build_seconds, 3),
        "warnings": list(dict.fromkeys(logger.warnings))[:50],
        "timing_cache": str(timing_cache) if timing_cache else None,
        "header_magic": data[:4].hex(), "size_bytes": len(data),
    })
    return EngineResult(step.out, meta, False)


def build_engine(source: str | Path, **options: Any) -> Path:
    """`build_engine_info(...).path` (the path of the built or reused engine)."""
    return build_engine_info(source, **options).path
