"""One benchmark configuration end to end: `run_config` (in this process) and `run_config_isolated` (in a
fresh worker subprocess, with a timeout). Timing is `edgeseg.bench.timing`, memory `edgeseg.bench.memory`,
the configuration and its checks `edgeseg.bench.config`; a matrix of them is `edgeseg.bench.matrix`."""

from __future__ import annotations

import json
import os
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
from edgeseg.bench.memory import PeakRss, nvml_used_mb
from edgeseg.bench.timing import DEFAULT_ITERS, bench_runner
from edgeseg.errors import EdgesegError, MissingDependencyError

RESULT_MARK = "EDGESEG_BENCH_RESULT "


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
        acc = _accuracy(runner, cfg, shape) if cfg["data"] else None
        from edgeseg.bench.per_image import measure

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


def _accuracy(runner: Any, cfg: dict[str, Any], shape: list[int]) -> dict[str, Any] | None:
    """Dice/IoU with the same metric code as `edgeseg eval` (edgeseg.evaluate)."""
    from edgeseg.bench.accuracy import evaluate_artifact

    return evaluate_artifact(runner, cfg, shape)


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
        proc = subprocess.run([sys.executable, "-m", "edgeseg.bench.worker"], input=json.dumps(cfg),
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
