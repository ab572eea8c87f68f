"""The benchmark harness: time one runner (`bench_runner`), one configuration (`run_config`, optionally in a
fresh subprocess: `run_config_isolated`), or a matrix of models x backends x precisions x threads x batch
(`run_matrix` in `edgeseg.bench.matrix`).

Method (docs: benchmarks/README.md "The CPU matrix"):
* warm-up iterations, then timed iterations (a fixed count, or as many as fit in `seconds`);
* CPU: each iteration timed with `time.perf_counter_ns` around the runner's inference call, end to end
  (numpy in -> numpy out). One checked `infer()` first; the loop calls `infer_impl` so the per-call
  feed validation is not timed;
* GPU: end to end (host->device copy, compute, device->host copy) per iteration with perf_counter, and
  compute only (inputs already on the device) with CUDA events, reported as `latency_compute_ms`;
* peak memory on the CPU: growth of the process's peak RSS while loading and running the model: the
  kernel's peak counter is reset (`/proc/self/clear_refs` = 5), then `VmHWM` after the run minus `VmRSS`
  before loading (Linux; elsewhere `ru_maxrss` growth, which is 0 when an earlier peak was higher). Each
  config runs in a fresh subprocess by default so RSS, allocator caches and thread settings don't leak
  between configs. On the GPU, `peak_mem_mb` is device memory (torch's max allocated, or NVML's used delta).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.bench.stats import latency_stats, throughput_ips
from edgeseg.errors import EdgesegError

DEFAULT_WARMUP = 10
DEFAULT_ITERS = 50
RESULT_MARK = "EDGESEG_BENCH_RESULT "
TRT_RTX_GPUS = "compute capability 8.0, 8.6, 8.9 or 12.x (Ampere, Ada, Blackwell; not Hopper 9.0)"


# ----------------------------------------------------------------------------------------- timing one runner


def make_input(shape: tuple[int, ...] | list[int], seed: int = 0) -> np.ndarray:
    """A fixed random input (standard normal, like a normalised image); same seed -> same bytes."""
    return np.random.default_rng(seed).standard_normal(tuple(shape), dtype=np.float32)


def _loop(fn: Any, warmup: int, iters: int | None, seconds: float | None, meter: Any = None,
          ) -> tuple[list[float], float, float]:
    """Run fn warmup times, then time it; returns (samples ms, t0, t1) with monotonic t0/t1 around the loop."""
    for _ in range(warmup):
        fn()
    if iters is None and seconds is None:
        iters = DEFAULT_ITERS
    samples: list[float] = []
    if meter is not None:
        meter.start()
    t0 = time.monotonic()
    deadline = None if seconds is None else time.perf_counter_ns() + int(seconds * 1e9)
    while True:
        if iters is not None and len(samples) >= iters:
            break
        if deadline is not None and iters is None and samples and time.perf_counter_ns() >= deadline:
            break
        s = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - s) / 1e6)
    t1 = time.monotonic()
    if meter is not None:
        meter.stop()
    return samples, t0, t1


def bench_runner(runner: Any, input_shape: tuple[int, ...] | list[int], warmup: int = DEFAULT_WARMUP,
                 iters: int | None = None, seconds: float | None = None, device: str = "cpu",
                 meter: Any = None, seed: int = 0) -> dict[str, Any]:
    """Time an active `Runner` on a fixed random input of `input_shape` (N,C,H,W).

    Returns {"latency_ms", "throughput_ips", "iters", "timed_s", "energy_mj_per_image", "power_source",
    "latency_compute_ms", "output_shape"}. `iters` wins over `seconds` when both are given.
    """
    if warmup < 0 or (iters is not None and iters < 1) or (seconds is not None and seconds <= 0):
        raise EdgesegError(f"bench: need --warmup >= 0 and --iters >= 1 / --seconds > 0 "
                           f"(got warmup={warmup}, iters={iters}, seconds={seconds})")
    batch = int(input_shape[0])
    name = next(iter(runner.input_metadata()))
    feed = {name: make_input(input_shape, seed)}
    out = runner.infer(feed)  # checked once: names, dtype, shape
    out_shape = list(next(iter(out.values())).shape)
    samples, t0, t1 = _loop(lambda: runner.infer_impl(feed), warmup, iters, seconds, meter)
    res: dict[str, Any] = {"latency_ms": latency_stats(samples), "throughput_ips": throughput_ips(samples, batch),
                           "iters": len(samples), "timed_s": t1 - t0, "energy_mj_per_image": None,
                           "power_source": None, "latency_compute_ms": None, "output_shape": out_shape}
    if meter is not None:
        mj = meter.energy_mj(t0, t1)
        res["energy_mj_per_image"] = None if mj is None else mj / (len(samples) * batch)
        res["power_source"] = meter.source
    if device.startswith("cuda"):
        res["latency_compute_ms"] = _compute_only(runner, feed[name], warmup, len(samples))
    return res


def _compute_only(runner: Any, x: np.ndarray, warmup: int, iters: int) -> dict[str, float] | None:
    """GPU compute-only latency with CUDA events (inputs already on the device); None if not available."""
    if getattr(runner, "backend", "") == "pytorch" and hasattr(runner, "infer_torch"):
        import torch

        xd = torch.from_numpy(x).to(runner.device)
        for _ in range(warmup):
            runner.infer_torch(xd)
        samples = []
        for _ in range(iters):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            runner.infer_torch(xd)
            b.record()
            b.synchronize()
            samples.append(a.elapsed_time(b))
        return latency_stats(samples)
    if hasattr(runner, "time_compute"):  # TensorRTRunner: CUDA events around execute_async_v3
        return latency_stats(runner.time_compute(iters, warmup=warmup))
    return None


# ------------------------------------------------------------------------------------------- memory helpers


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


# --------------------------------------------------------------------------------------- one configuration

CONFIG_KEYS = ("model", "backend", "artifact", "precision", "device", "threads", "batch", "size", "warmup",
               "iters", "seconds", "power", "data", "split", "params", "notes")


def make_config(**kw: Any) -> dict[str, Any]:
    """A JSON-able benchmark configuration with defaults (what the worker subprocess receives)."""
    cfg: dict[str, Any] = {"model": None, "backend": "onnxruntime", "artifact": None, "precision": "fp32",
                           "device": "cpu", "threads": None, "batch": 1, "size": None, "warmup": DEFAULT_WARMUP,
                           "iters": None, "seconds": None, "power": "auto", "data": None, "split": None,
                           "params": None, "notes": []}
    unknown = set(kw) - set(cfg)
    if unknown:
        raise TypeError(f"unknown config keys {sorted(unknown)}")
    cfg.update(kw)
    cfg["notes"] = list(cfg["notes"] or [])
    return cfg


def gpu_names() -> list[str]:
    from edgeseg.bench.env import gpu_info

    return [f"{g['name']} (sm {g.get('compute_capability')})" for g in gpu_info()]


def engine_targets(path: Path) -> str:
    """Which GPUs can run an engine, from its build sidecar (what it was built for)."""
    from edgeseg.artifacts import read_sidecar

    meta = read_sidecar(path) or {}
    flavour = str(meta.get("flavour") or meta.get("backend") or "")
    ccs = meta.get("target_compute_capabilities")
    ccs = ", ".join(map(str, ccs)) if isinstance(ccs, list) and ccs else None
    built = meta.get("built_on_gpu")
    built_on = f"{built.get('name', '?')}, compute capability {built.get('cc', '?')}" if isinstance(built, dict) \
        else built
    if "rtx" in flavour.lower():
        return f"a TensorRT-RTX engine for GPUs of {'compute capability ' + ccs if ccs else TRT_RTX_GPUS}"
    if flavour:
        return f"a TensorRT engine for the GPU it was built on ({built_on or 'same model and TensorRT version'})"
    return (f"an engine without a build sidecar: TensorRT-RTX engines run on NVIDIA GPUs of {TRT_RTX_GPUS}, "
            f"TensorRT engines on the GPU model they were built on")


def precheck(cfg: dict[str, Any]) -> None:
    """Cheap checks in the parent before any subprocess: files exist, GPU present, ONNX shape as asked."""
    backend, art = cfg["backend"], cfg["artifact"]
    if backend in ("onnxruntime", "tensorrt", "tensorrt-rtx") or (art and Path(str(art)).suffix in (".pt", ".pth")):
        p = Path(str(art))
        if not p.is_file():
            fix = {"onnxruntime": "create it with edgeseg export", "pytorch": "train one with edgeseg train"}
            raise EdgesegError(f"{p}: no such file; {fix.get(backend, 'build it with edgeseg build-engine')}")
    if backend == "pytorch" and art and not Path(str(art)).is_file():
        from edgeseg.models import get_model_info

        get_model_info(str(art))  # unknown name -> clear error with the valid names
    elif backend == "pytorch" and art:
        from edgeseg.checkpoint import load_checkpoint

        load_checkpoint(str(art))  # a damaged checkpoint, or weights that do not fit: one line, before any row
    if backend in ("tensorrt", "tensorrt-rtx"):
        from edgeseg.bench.env import has_nvidia_gpu

        if not has_nvidia_gpu():
            raise EdgesegError(f"{art}: cannot run a TensorRT engine here: no NVIDIA GPU found. This is "
                               f"{engine_targets(Path(str(art)))}; run it there, or bench the ONNX with --onnx")
    if backend == "onnxruntime":
        check_onnx_shape(Path(str(art)), cfg["batch"], cfg["size"])
    if cfg["device"] == "cuda" and backend in ("onnxruntime",):
        raise EdgesegError("ONNX Runtime is benchmarked on the CPU here (CPUExecutionProvider); drop --device cuda")


def onnx_input_dims(path: Path) -> list[int | None]:
    import onnx

    try:
        g = onnx.load(str(path), load_external_data=False).graph
    except Exception as e:  # noqa: BLE001 - protobuf decode error etc.
        raise EdgesegError(f"{path}: not a readable ONNX file ({type(e).__name__}); re-export with "
                           f"edgeseg export") from None
    if not g.input:
        raise EdgesegError(f"{path}: ONNX graph has no inputs; re-export with edgeseg export")
    return [d.dim_value if d.dim_value > 0 else None for d in g.input[0].type.tensor_type.shape.dim]


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


def _make_runner(cfg: dict[str, Any]) -> Any:
    backend = cfg["backend"]
    if backend == "onnxruntime":
        from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

        return OnnxRuntimeRunner(cfg["artifact"], threads=cfg["threads"])
    if backend == "pytorch":
        from edgeseg.runtime.torch_runner import TorchRunner

        art = str(cfg["artifact"])
        if Path(art).is_file():
            return TorchRunner(art, device=cfg["device"], precision=cfg["precision"], threads=cfg["threads"])
        import torch

        from edgeseg.models import create_model

        torch.manual_seed(0)  # latency does not depend on the weights; fixed anyway
        return TorchRunner(create_model(art), device=cfg["device"], precision=cfg["precision"],
                           threads=cfg["threads"])
    if backend in ("tensorrt", "tensorrt-rtx"):
        from edgeseg.runtime.trt_runner import TensorRTRunner  # imports TensorRT itself only when activated

        return TensorRTRunner(cfg["artifact"])
    raise EdgesegError(f"unknown backend {backend!r}")


def _input_shape(runner: Any, cfg: dict[str, Any]) -> list[int]:
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


def engine_source_onnx(artifact: str | Path, side: dict[str, Any]) -> Path | None:
    """The ONNX an engine was built from (its sidecar's "onnx" path; relative paths tried beside the engine)."""
    src = side.get("onnx")
    src = src.get("path") if isinstance(src, dict) else src
    if not src:
        return None
    for cand in (Path(src), Path(artifact).parent / src, Path(artifact).parent / Path(src).name):
        if cand.is_file():
            return cand
    return None


def count_params(cfg: dict[str, Any], runner: Any) -> int | None:
    if cfg.get("params") is not None:
        return int(cfg["params"])
    model = getattr(runner, "model", None)
    if model is not None and hasattr(model, "parameters"):
        return int(sum(p.numel() for p in model.parameters()))
    from edgeseg.artifacts import read_sidecar

    side = read_sidecar(cfg["artifact"]) or {}
    src = engine_source_onnx(cfg["artifact"], side)
    conf = side.get("model") or ((read_sidecar(src) or {}).get("model") if src else None)
    if isinstance(conf, dict) and conf.get("name"):
        try:  # rebuild the recorded network to count it (needs torch; a Jetson engine-only install has none)
            from edgeseg.models import create_model

            m = create_model(conf["name"], conf.get("in_channels"), conf.get("num_classes"),
                             **conf.get("options", {}))
        except ImportError:
            return None
        return int(sum(p.numel() for p in m.parameters()))
    return None


def run_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run one configuration in this process; returns one edgeseg-bench/1 result record."""
    from edgeseg.power import open_power_meter

    cfg = make_config(**cfg)
    notes = list(cfg["notes"])
    if cfg["backend"] == "pytorch" and cfg["threads"]:
        import torch

        torch.set_num_threads(int(cfg["threads"]))  # same count as ORT's intra-op threads
    dev_mem = None
    if cfg["device"] == "cuda" and cfg["backend"] == "pytorch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
    nvml0 = nvml_used_mb() if cfg["device"] == "cuda" and cfg["backend"] != "pytorch" else None
    rss = PeakRss().start()
    runner = _make_runner(cfg)
    with runner:
        shape = _input_shape(runner, cfg)
        meter, power_note = open_power_meter(cfg["power"], device=cfg["device"])
        r = bench_runner(runner, shape, warmup=cfg["warmup"], iters=cfg["iters"], seconds=cfg["seconds"],
                         device=cfg["device"], meter=meter)
        host_peak = rss.stop()
        if cfg["device"] == "cuda" and cfg["backend"] == "pytorch":
            import torch

            dev_mem = torch.cuda.max_memory_allocated() / 2**20
        elif cfg["device"] == "cuda" and nvml0 is not None:
            used = nvml_used_mb()
            dev_mem = None if used is None else max(used - nvml0, 0.0)
        params = count_params(cfg, runner)
        acc = _accuracy(runner, cfg, shape) if cfg["data"] else None
    if r["energy_mj_per_image"] is None:
        notes.append(power_note)
    elif r["timed_s"] < 1.0:
        notes.append(f"energy from a {r['timed_s']:.2f} s loop: rough (sensor averaging ~1 s); use --seconds 5")
    size_mb, size_note = artifact_size_mb(cfg, params)
    if size_note:
        notes.append(size_note)
    if acc is not None:
        notes.append(f"dice/iou on {acc['n']} images of {cfg['data']} (split {acc['split']})")
        if acc.get("note"):
            notes.append(acc["note"])
    on_gpu = cfg["device"] == "cuda"
    return {
        "model": cfg["model"] or Path(str(cfg["artifact"])).stem, "backend": cfg["backend"],
        "precision": cfg["precision"], "device": cfg["device"], "threads": cfg["threads"], "batch": shape[0],
        "input_shape": shape, "latency_ms": r["latency_ms"], "throughput_ips": r["throughput_ips"],
        "peak_mem_mb": dev_mem if on_gpu else host_peak, "size_mb": size_mb, "params": params,
        "dice": None if acc is None else acc["dice"], "iou": None if acc is None else acc["iou"],
        "energy_mj_per_image": r["energy_mj_per_image"], "artifact": None if cfg["artifact"] is None
        else str(cfg["artifact"]), "notes": "; ".join(notes) or None,
        # extra keys (allowed by the schema)
        "latency_compute_ms": r["latency_compute_ms"], "iters": r["iters"], "warmup": cfg["warmup"],
        "timed_s": r["timed_s"], "power_source": r["power_source"], "host_peak_mem_mb": host_peak,
        "peak_mem_method": ("device: torch.cuda.max_memory_allocated" if cfg["backend"] == "pytorch" else
                            "device: NVML used memory after run - before load (engine allocates up front)")
        if on_gpu else rss.method,
        "output_shape": r["output_shape"], "isolated": bool(os.environ.get("EDGESEG_BENCH_WORKER")),
    }


def _accuracy(runner: Any, cfg: dict[str, Any], shape: list[int]) -> dict[str, Any] | None:
    """Dice/IoU with the same metric code as `edgeseg eval` (edgeseg.evaluate)."""
    from edgeseg.bench.accuracy import evaluate_artifact

    return evaluate_artifact(runner, cfg, shape)


# ------------------------------------------------------------------------------ the same, in a subprocess


def run_config_isolated(cfg: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Run `run_config(cfg)` in a fresh Python process (own RSS, own thread pools); same result dict.

    An EdgesegError in the worker comes back as an EdgesegError with the same one-line message.
    """
    cfg = make_config(**cfg)
    env = dict(os.environ, EDGESEG_BENCH_WORKER="1")
    if cfg["threads"]:  # OpenMP/MKL pools sized before torch/ORT start
        env.update(OMP_NUM_THREADS=str(cfg["threads"]), MKL_NUM_THREADS=str(cfg["threads"]))
    try:
        proc = subprocess.run([sys.executable, "-m", "edgeseg.bench.worker"], input=json.dumps(cfg),
                              capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise EdgesegError(f"{cfg['artifact']}: benchmark worker ran past {timeout} s; use fewer --iters") from None
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            msg = json.loads(line[len(RESULT_MARK):])
            if "error" in msg:
                raise EdgesegError(msg["error"])
            return msg["result"]
    tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
    raise EdgesegError(f"{cfg['artifact']}: benchmark worker failed (exit {proc.returncode}): {tail}")
