"""Stages 3 and 4: TensorRT and TensorRT-RTX engines of the bundle's FP16 / Q/DQ INT8 graphs, run through
`TensorRTRunner` and compared with ONNX Runtime CPU on the same graph (output tolerances, Dice on the
generated set), timed with CUDA events with and without a CUDA graph, with NVML energy per image where the
GPU reports it. TensorRT builds here (engines are GPU-specific); TensorRT-RTX engines come from the bundle
(built on a CPU ahead of time) or are built now on this machine's CPU, and are JIT-finished on first load;
the runtime cache is written on close and must be read back on the second load."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg import trt_compat as tc
from edgeseg.doctor import bundle as B
from edgeseg.doctor.common import ITERS, WARMUP, StageContext, StageSkipped, compare, dice_scores, stats

N_CHECK = 4              # generated images compared per engine (ONNX Runtime CPU is the slow side)
POWER_ENV = "EDGESEG_DOCTOR_POWER"  # edgeseg doctor --power, handed to the stage processes
ENERGY_SECONDS = 1.0     # NVML averages power over about a second: time at least that long


def _importable(flavour: str) -> Any:
    try:
        return tc.import_trt(flavour)
    except Exception as e:  # noqa: BLE001 - MissingDependencyError, or a broken install
        raise StageSkipped(str(e).splitlines()[0]) from None


def ort_reference(ctx: StageContext, model: str, prec: str, graph: Path, x: np.ndarray) -> np.ndarray:
    """ONNX Runtime CPU logits of `graph` on x (cached under the run's folder for the next stage)."""
    cache = ctx.work / "refs" / f"{model}.{prec}.npy"
    if cache.is_file():
        ref = np.load(cache)
        if ref.shape[0] == len(x):
            return ref
    try:
        from edgeseg.runtime.ort_runner import OnnxRuntimeRunner
    except ImportError:
        raise StageSkipped("onnxruntime is not installed: pip install onnxruntime (the reference)") from None
    with OnnxRuntimeRunner(graph) as r:
        ref = np.concatenate([r.infer({"input": x[i:i + 1]})["logits"] for i in range(len(x))])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, ref)
    return ref


def _energy(runner: Any, n_images: int) -> dict[str, Any]:
    """mJ per image over >= ENERGY_SECONDS of compute-only runs (NVML total-energy counter, in mJ)."""
    from edgeseg.power import open_power_meter

    # auto: tegrastats on a Jetson (NVML does not see its integrated GPU), NVML elsewhere; see edgeseg.power
    meter, note = open_power_meter(os.environ.get(POWER_ENV, "auto"), device="cuda")
    if meter is None:
        return {"energy_mj_per_image": None, "energy_note": note}
    runner.time_compute(iters=5, warmup=2)
    meter.start()
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < ENERGY_SECONDS:
        runner.infer_device_only()
        n += n_images
    t1 = time.monotonic()
    meter.stop()
    mj = meter.energy_mj(t0, t1)
    return {"energy_mj_per_image": None if mj is None else mj / n, "energy_images": n,
            "power_source": meter.source, "energy_note": note}


def check_engine(ctx: StageContext, model: str, prec: str, engine: Path, item: dict[str, Any],
                 runtime_cache: Path | None = None) -> None:
    """Load `engine`, compare it with ONNX Runtime, time it with and without a CUDA graph, measure energy."""
    from edgeseg.runtime.trt_runner import TensorRTRunner

    graph = B.graph(ctx.bundle, model, prec)
    x, masks, _ = B.load_inputs(ctx.bundle, model)
    x, masks = x[:N_CHECK], masks[:N_CHECK]
    ref = ort_reference(ctx, model, prec, graph, x)
    item["engine"] = str(engine)
    item["size_mb"] = round(engine.stat().st_size / 2**20, 3)
    item["input_shape"] = [1, *x.shape[1:]]
    t0 = time.monotonic()
    with TensorRTRunner(engine, runtime_cache=runtime_cache) as r:
        item["load_s"] = round(time.monotonic() - t0, 3)  # TensorRT-RTX: includes the JIT of the kernels
        got = np.concatenate([r.infer({"input": x[i:i + 1]})["logits"] for i in range(len(x))])
        item.update(compare(got, ref, prec))
        item.update(dice_scores(got, ref, masks))
        r.set_input(x[:1])
        item["latency_ms"] = stats(r.time_compute(ITERS, WARMUP))
        item.update(_energy(r, 1))
    t0 = time.monotonic()
    with TensorRTRunner(engine, cuda_graph=True, runtime_cache=runtime_cache) as r:
        item["load_again_s"] = round(time.monotonic() - t0, 3)  # RTX: kernels from the runtime cache
        if runtime_cache is not None:
            item["runtime_cache_loaded"] = r.runtime_cache_loaded
        again = r.infer({"input": x[:1]})["logits"]
        r.set_input(x[:1])
        item["latency_graph_ms"] = stats(r.time_compute(ITERS, WARMUP))
    item["graph_vs_plain_max_diff"] = float(np.abs(again - got[:1]).max())
    if item.get("status") == "fail":
        return
    if item["graph_vs_plain_max_diff"] > 1e-3 * max(1.0, float(np.abs(got[:1]).max())):
        diff = item["graph_vs_plain_max_diff"]
        item.update(status="fail", reason=f"with a CUDA graph the output differs by {diff:.4g}")
    elif runtime_cache is not None and not item.get("runtime_cache_loaded"):
        item.update(status="fail", reason=f"the runtime cache {runtime_cache} written on the first load was not "
                                          f"read back on the second")


def run_tensorrt(ctx: StageContext) -> None:
    trt = _importable("tensorrt")
    ctx.info["tensorrt"] = tc.trt_version(trt)
    from edgeseg.engine import build_engine_info

    engines = ctx.work / "engines"
    for prec in ("fp16", "int8"):
        for model in B.NETWORKS:
            def one(item: dict[str, Any], model: str = model, prec: str = prec) -> None:
                t0 = time.monotonic()
                res = build_engine_info(B.graph(ctx.bundle, model, prec), backend="tensorrt",
                                        out=engines / f"{model}.{prec}.trt.engine",
                                        timing_cache=engines / "tensorrt.timing-cache")
                item["build_s"] = round(time.monotonic() - t0, 2)
                check_engine(ctx, model, prec, res.path, item)

            ctx.attempt({"model": model, "precision": prec, "backend": "tensorrt"}, one, need_s=20)


def run_rtx(ctx: StageContext) -> None:
    from edgeseg.runtime.gpu import first_gpu

    trt = _importable("tensorrt-rtx")
    ctx.info["tensorrt_rtx"] = tc.trt_version(trt)
    gpu = first_gpu()
    if gpu is None or not tc.cc_runs(gpu.cc or "", tc.RTX_DEFAULT_TARGETS, True):
        found = gpu.label() if gpu else "no CUDA-visible GPU"
        raise StageSkipped(f"{found}: TensorRT-RTX runs on {tc.RTX_SUPPORTED_HINT}")
    from edgeseg.engine import build_engine_info

    for prec in ("fp16", "int8"):
        for model in B.NETWORKS:
            def one(item: dict[str, Any], model: str = model, prec: str = prec) -> None:
                eng = B.rtx_engine(ctx.bundle, model, prec)
                item["aot"] = "carried (built on a CPU ahead of time)" if eng else "built here on the CPU"
                if eng is None:
                    t0 = time.monotonic()
                    eng = build_engine_info(B.graph(ctx.bundle, model, prec), backend="tensorrt-rtx",
                                            out=ctx.work / "engines" / f"{model}.{prec}.rtx.engine").path
                    item["build_s"] = round(time.monotonic() - t0, 2)
                cache = ctx.work / "rtx-cache" / f"{model}.{prec}.runtime-cache"
                cache.unlink(missing_ok=True)  # the round trip starts empty
                check_engine(ctx, model, prec, eng, item, runtime_cache=cache)

            ctx.attempt({"model": model, "precision": prec, "backend": "tensorrt-rtx"}, one, need_s=20)
