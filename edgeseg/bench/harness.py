"""One benchmark configuration end to end: `run_config` (in this process) and `run_config_isolated` (in a
fresh worker subprocess, `worker_main`, with a timeout). Timing is `edgeseg.bench.timing`, the configuration
and its checks `edgeseg.bench.config`; a matrix of them is `edgeseg.bench.matrix`.

Dice/IoU beside latency (`edgeseg bench --data DIR`, `score_config`) go through `edgeseg.evaluate.evaluate_runner`,
the metric code of `edgeseg eval`; preprocessing and split come from the artifact (ONNX/engine sidecar or
checkpoint); a bare registry model (random weights) gets the default preprocessing and a note.

Peak memory (`PeakRss`): on the CPU, growth of the process's peak RSS while loading and running the model: the
kernel's peak counter is reset (`/proc/self/clear_refs` = 5), then `VmHWM` after the run minus `VmRSS` before
loading (Linux; elsewhere `ru_maxrss` growth, which is 0 when an earlier peak was higher). Each config runs in
a fresh subprocess by default so RSS, allocator caches and thread settings don't leak between configs. On the
GPU, `peak_mem_mb` is device memory (torch's max allocated, or NVML's used delta).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from edgeseg.bench.config import (  # noqa: F401 - make_config/precheck are part of the harness API
    artifact_size_mb,
    count_params,
    input_shape,
    make_config,
    make_runner,
    precheck,
)
from edgeseg.bench.timing import DEFAULT_ITERS, bench_runner
from edgeseg.errors import EdgesegError, MissingDependencyError
from edgeseg.runtime.opener import describe_artifact

RESULT_MARK = "EDGESEG_BENCH_RESULT "
# the worker process: one config as JSON on stdin, one RESULT_MARK line on stdout (`worker_main`)
WORKER_CMD = [sys.executable, "-c", "from edgeseg.bench.harness import worker_main; raise SystemExit(worker_main())"]


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
    runner = make_runner(cfg)
    with runner:
        shape = input_shape(runner, cfg)
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
        acc = score_config(runner, cfg, shape) if cfg["data"] else None
        from edgeseg.bench.full_image import measure

        per_image = {**measure(runner, cfg, shape), **((acc or {}).get("per_image") or {})}
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
        **per_image,
    }


# ------------------------------------------------------------------------------ accuracy

def recorded_preprocess(artifact: str | Path | None, given: dict[str, Any] | None = None
                        ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(preprocess dict, split dict) recorded with an artifact file (`given` in its place, as `edgeseg eval`
    --mean/--std/--preprocess), or (None, None) (e.g. a registry name)."""
    if artifact is None or not Path(str(artifact)).is_file():
        return None, None
    info = describe_artifact(artifact)
    if given:
        from edgeseg.runtime.opener import resolve_preprocess

        return resolve_preprocess(info, given).to_dict(), info.split
    return (info.preprocess.to_dict() if info.preprocess else None), info.split


def score_config(runner: Any, cfg: dict[str, Any], shape: list[int]) -> dict[str, Any]:
    """Dice/IoU of the active runner on cfg["data"] (its split), with the same metric code as `edgeseg eval`."""
    from edgeseg.data.dataset import SegFolder, select
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.evaluate import evaluate_runner

    pre, split = recorded_preprocess(cfg["artifact"], cfg.get("preprocess"))
    note = None
    if pre is None:
        pre = Preprocess(shape[2], shape[3], shape[1]).to_dict()
        note = "default preprocessing (none recorded with the artifact)"
    if (int(pre["height"]), int(pre["width"])) != (shape[2], shape[3]) and not cfg.get("inference"):
        raise EdgesegError(f"{cfg['artifact']}: recorded preprocessing is {pre['height']}x{pre['width']} but the "
                           f"bench input is {shape[2]}x{shape[3]}; bench at the trained size (--size)")
    folder = SegFolder(cfg["data"])
    split_name, samples = select(folder, split, cfg.get("split"))
    from edgeseg.tiling import TileSpec

    spec = TileSpec(overlap=cfg.get("overlap", 0.25), blend=cfg.get("blend", "gaussian"), batch=shape[0])
    res = evaluate_runner(runner, samples, pre, batch=shape[0], mode=cfg.get("inference"), tiling=spec)
    per_image = None
    if res.get("ms_per_image") is not None:  # scored at native size: the data set's mean cost per full image
        per_image = {"data_inference": res["inference"], "data_ms_per_image": res["ms_per_image"],
                     "data_images_per_s": res["images_per_s"]}
        note = "; ".join(filter(None, [note, f"dice/iou at native size, inference {res['inference']} (trained on "
                                             f"{res['training_regime']})"]))
    return {"dice": res["dice"], "iou": res["iou"], "n": res["n_images"], "split": split_name, "note": note,
            "per_image": per_image}


# ------------------------------------------------------------------------------ memory

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


# ------------------------------------------------------------------------------ the same, in a subprocess


class WorkerFailed(EdgesegError):
    """A benchmark worker crashed, hung past its timeout, or stopped on an error: a FAILED row, not a skip."""


# A worker imports torch/ORT/TensorRT, loads the model, JIT-compiles kernels and may score --data first; then
# each warm-up/timed iteration gets a generous ceiling (the slowest CPU row measured takes ~1 s per image).
WORKER_START_S = 300.0
WORKER_PER_IMAGE_S = 10.0


def worker_timeout(cfg: dict[str, Any]) -> float:
    """Seconds a worker may run: start-up plus a ceiling per iteration (x batch), or --seconds with margin."""
    cfg = make_config(**cfg)
    iters = cfg["iters"] if cfg["iters"] is not None else (DEFAULT_ITERS if cfg["seconds"] is None else 0)
    loop = WORKER_PER_IMAGE_S * (int(cfg["warmup"]) + int(iters)) * int(cfg["batch"] or 1)
    return WORKER_START_S + loop + 2.0 * float(cfg["seconds"] or 0)


def run_config_isolated(cfg: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Run `run_config(cfg)` in a fresh Python process (own RSS, own thread pools); same result dict.

    `timeout` defaults to `worker_timeout(cfg)`. A MissingDependencyError in the worker (backend absent) comes
    back as itself; any other error, a crash or a timeout as `WorkerFailed` with the reason in one line.
    """
    cfg = make_config(**cfg)
    timeout = worker_timeout(cfg) if timeout is None else timeout
    env = dict(os.environ, EDGESEG_BENCH_WORKER="1")
    if cfg["threads"]:  # OpenMP/MKL pools sized before torch/ORT start
        env.update(OMP_NUM_THREADS=str(cfg["threads"]), MKL_NUM_THREADS=str(cfg["threads"]))
    try:
        proc = subprocess.run(WORKER_CMD, input=json.dumps(cfg),
                              capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise WorkerFailed(f"{cfg['artifact']}: benchmark worker ran past its {timeout:.0f} s timeout (killed); "
                           f"use fewer --iters, or check the backend") from None
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            msg = json.loads(line[len(RESULT_MARK):])
            if "error" in msg:
                cls = MissingDependencyError if msg.get("missing_dependency") else WorkerFailed
                raise cls(msg["error"])
            return msg["result"]
    tail = " | ".join(proc.stderr.strip().splitlines()[-3:]) or "no output"
    raise WorkerFailed(f"{cfg['artifact']}: benchmark worker crashed (exit {proc.returncode}): {tail}")


def worker_main() -> int:
    """The worker: run one bench config (JSON on stdin) in this fresh process; print one line
    `EDGESEG_BENCH_RESULT {"result": {...}}` or `... {"error": "one line"}` on stdout."""
    cfg = json.loads(sys.stdin.read())
    try:
        msg = {"result": run_config(cfg)}
    except EdgesegError as e:
        msg = {"error": str(e), "missing_dependency": isinstance(e, MissingDependencyError)}
    print(RESULT_MARK + json.dumps(msg), flush=True)
    return 0
