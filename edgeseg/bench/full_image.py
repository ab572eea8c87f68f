"""Cost per full image at native size, beside the per-tile (per network call) figure of `edgeseg bench`.

* `time_image`: ms per image and images per second for a stated image size (a fixed random uint8 image of
  H x W, through `edgeseg.native.native_logits`: preprocessing + tiles + blending, or resize + upsampling).
* the mean over a data set comes from `edgeseg.native.score_native` (each image timed while it is scored).
* `peak_rss`: peak resident memory of loading an artifact and running it on one image at native size, or on
  one tile batch, each in a fresh subprocess (`python -m edgeseg.bench.full_image JSON`), so the two peaks
  are comparable (the issue's bound: image peak <= 2 x tile-batch peak + image + full-size logits).

Torch-free for ONNX Runtime and TensorRT artifacts (the Jetson bench script uses it with engines).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.names import CHECKPOINT_SUFFIXES

RESULT_MARK = "EDGESEG_RSS_RESULT "
DEFAULT_IMAGE_ITERS = 5


def preprocess_for(artifact: str | Path | None, shape: list[int], given: dict[str, Any] | None = None) -> Any:
    """The artifact's recorded Preprocess, else the default one at the bench input size."""
    from edgeseg.bench.harness import recorded_preprocess
    from edgeseg.data.preprocess import Preprocess

    pre, _ = recorded_preprocess(artifact, given)
    return Preprocess.from_dict(pre) if pre else Preprocess(shape[2], shape[3], shape[1])


def random_image(hw: tuple[int, int], channels: int, seed: int = 0) -> np.ndarray:
    shape = tuple(hw) if channels == 1 else (*hw, 3)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def time_image(runner: Any, pp: Any, hw: tuple[int, int], *, mode: str | None = None, spec: Any = None,
               warmup: int = 1, iters: int = DEFAULT_IMAGE_ITERS) -> dict[str, Any]:
    """Per-image cost at H x W on an active runner -> result-row keys (see module docstring)."""
    from edgeseg.bench.timing import latency_stats
    from edgeseg.native import describe, native_logits, resolve_mode, tile_size
    from edgeseg.tiling import TileSpec, tile_count

    spec = spec or TileSpec()
    mode = resolve_mode(mode, pp)
    tile = tile_size(runner, pp, spec) if mode == "tile" else (pp.height, pp.width)
    img = random_image(hw, pp.channels)
    for _ in range(warmup):
        native_logits(runner, img, pp, mode, spec, tile)
    samples = []
    for _ in range(max(iters, 1)):
        t0 = time.perf_counter_ns()
        native_logits(runner, img, pp, mode, spec, tile)
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    stats = latency_stats(samples)
    return {**describe(mode, pp, spec, tile), "image_size": [int(hw[0]), int(hw[1])], "image_ms": stats,
            "images_per_s": 1e3 / stats["mean"],
            "tiles_per_image": tile_count(hw, tile, spec) if mode == "tile" else 1}


# Result-row keys (edgeseg-bench/1 extras; null where not measured): ms per full image for a stated size
# (`--image-size`) and the mean over the --data set, beside the per-call `latency_ms` (one tile batch).
ROW_KEYS = ("inference", "training_regime", "tiling", "image_size", "image_ms", "images_per_s", "tiles_per_image",
            "data_inference", "data_ms_per_image", "data_images_per_s")


def measure(runner: Any, cfg: dict[str, Any], shape: list[int]) -> dict[str, Any]:
    """The per-image keys of one bench config (all null unless --image-size was given)."""
    from edgeseg.tiling import TileSpec

    out: dict[str, Any] = dict.fromkeys(ROW_KEYS)
    if cfg.get("image_size"):
        spec = TileSpec(tile=(shape[2], shape[3]), overlap=cfg.get("overlap", 0.25), blend=cfg.get("blend", "gaussian"),
                        batch=shape[0])  # tiles = the benchmarked input
        pp = preprocess_for(cfg["artifact"], shape, cfg.get("preprocess"))
        out.update(time_image(runner, pp, tuple(cfg["image_size"]), mode=cfg.get("inference"), spec=spec))
    return out


# ------------------------------------------------------------------------------------------- peak memory

def _open(job: dict[str, Any]) -> Any:
    path = Path(job["artifact"])
    if path.suffix == ".onnx":
        from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

        return OnnxRuntimeRunner(path, threads=job.get("threads"))
    if path.suffix in CHECKPOINT_SUFFIXES:
        from edgeseg.runtime.torch_runner import TorchRunner

        return TorchRunner(path, threads=job.get("threads"))
    from edgeseg.runtime.trt_runner import TensorRTRunner

    return TensorRTRunner(path)


def _measure(job: dict[str, Any]) -> dict[str, Any]:
    """In this (fresh) process: peak RSS growth of loading + one image (what="image") or one tile batch."""
    from edgeseg.bench.harness import PeakRss
    from edgeseg.data.dataset import read_image
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.native import native_logits, tile_size
    from edgeseg.tiling import TileSpec, infer_batch, input_spec

    pp = Preprocess.from_dict(job["preprocess"])
    spec = TileSpec(**{k: job[k] for k in ("overlap", "blend", "batch") if k in job})
    suffix = Path(job["artifact"]).suffix
    __import__("onnxruntime" if suffix == ".onnx" else "torch" if suffix in CHECKPOINT_SUFFIXES else "numpy")
    rss = PeakRss().start()  # after the backend's import: both peaks count the model and its run, not libraries
    runner = _open(job)
    with runner:
        if job["what"] == "image":
            img = read_image(job["image"])
            logits = native_logits(runner, img, pp, job["mode"], spec,
                                   tile_size(runner, pp, spec) if job["mode"] == "tile" else (pp.height, pp.width))
            extra = {"image_shape": list(img.shape), "logits_mb": logits.nbytes / 2**20,
                     "image_mb": (img.nbytes + pp.image_native(img).nbytes) / 2**20}
        else:
            name, fixed, _ = input_spec(runner)
            tile = tile_size(runner, pp, spec)
            n = fixed or spec.batch
            infer_batch(runner, name, fixed, np.zeros((n, pp.channels, *tile), np.float32))
            extra = {"tile_batch": n, "tile": list(tile)}
    return {"peak_mb": rss.stop(), "method": rss.method, **extra}


def peak_rss(artifact: str | Path, preprocess: dict[str, Any], *, what: str, image: str | Path | None = None,
             mode: str = "tile", threads: int | None = None, overlap: float = 0.25, blend: str = "gaussian",
             batch: int = 8, timeout: float = 900) -> dict[str, Any]:
    """Peak RSS (MiB) of one image at native size (`what="image"`) or one tile batch (`what="tile"`), measured
    in a fresh subprocess."""
    job = {"artifact": str(artifact), "preprocess": preprocess, "what": what, "image": str(image) if image else None,
           "mode": mode, "threads": threads, "overlap": overlap, "blend": blend, "batch": batch}
    env = dict(os.environ)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-m", "edgeseg.bench.full_image", json.dumps(job)], capture_output=True,
                          text=True, env=env, timeout=timeout, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            msg = json.loads(line[len(RESULT_MARK):])
            if "error" in msg:
                raise EdgesegError(msg["error"])
            return msg
    tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
    raise EdgesegError(f"{artifact}: memory worker failed (exit {proc.returncode}): {tail}")


def memory_bound(image: dict[str, Any], tile: dict[str, Any]) -> dict[str, Any]:
    """The issue's bound: peak(image) <= 2 x peak(one tile batch) + the image + the full-size logits."""
    bound = 2 * tile["peak_mb"] + image["image_mb"] + image["logits_mb"]
    return {"peak_rss_image_mb": image["peak_mb"], "peak_rss_tile_batch_mb": tile["peak_mb"],
            "rss_bound_mb": bound, "rss_within_bound": image["peak_mb"] <= bound}


if __name__ == "__main__":
    try:
        out = _measure(json.loads(sys.argv[1]))
    except EdgesegError as e:
        out = {"error": str(e)}
    print(RESULT_MARK + json.dumps(out), flush=True)
