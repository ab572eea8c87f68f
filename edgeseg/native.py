"""Inference at an image's native size, two explicit ways (`--tile` / `--resize` in predict, eval, bench):

* "resize": resize the image to the network input, run once, upsample the logits (bilinear) back to the
  image -- what `eval --native` and `predict` always did. Objects appear at the training scale of a network
  trained on whole images squashed to its input.
* "tile": run the network on tiles of its input size at the native scale (edgeseg.tiling) -- objects appear
  at native scale, which is the training scale only of a network trained on native-scale crops
  (`edgeseg train --native-crop`, recorded as `Preprocess.native_scale`).

Both score / write at the image's own size. The default follows the training regime: native-scale crops ->
"tile", otherwise "resize"; every result says which was used.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.data.preprocess import Preprocess
from edgeseg.errors import EdgesegError
from edgeseg.tiling import TileSpec, check_tile, infer_batch, input_spec, sliding_window, tile_count

MODES = ("tile", "resize")


def default_mode(pp: Preprocess) -> str:
    return "tile" if pp.native_scale else "resize"


def resolve_mode(mode: str | None, pp: Preprocess) -> str:
    mode = mode or default_mode(pp)
    if mode not in MODES:
        raise EdgesegError(f"inference mode {mode!r}: choose --tile or --resize")
    return mode


def training_regime(pp: Preprocess) -> str:
    """How the network saw images in training (labels every tiled-vs-resized comparison)."""
    return f"native-scale {pp.height}x{pp.width} crops" if pp.native_scale else \
        f"whole images resized to {pp.height}x{pp.width}"


def model_name(runner: Any) -> str | None:
    """The registry name behind a runner: a TorchRunner's model config, else the ONNX/engine sidecar."""
    name = (runner.model_config() or {}).get("name")
    return name if isinstance(name, str) else None


def _size_multiple(name: str | None) -> int | None:
    if not name:
        return None
    try:  # the registry needs torch; an engine-only install (Jetson) relies on the fixed input shape
        from edgeseg.models import get_model_info
    except ImportError:
        return None
    try:
        return get_model_info(name).size_multiple
    except EdgesegError:
        return None


def tile_size(runner: Any, pp: Preprocess, spec: TileSpec) -> tuple[int, int]:
    """The tile: --tile if given, else the artifact's fixed input, else the trained input size; checked."""
    _, _, fixed = input_spec(runner)
    tile = spec.tile or (fixed if None not in fixed else (pp.height, pp.width))
    tile = (int(tile[0]), int(tile[1]))  # type: ignore[index]
    name = model_name(runner)
    check_tile(tile, fixed=fixed, size_multiple=_size_multiple(name), model=name, where=runner.name)
    return tile


def native_logits(runner: Any, img: np.ndarray, pp: Preprocess, mode: str, spec: TileSpec,
                  tile: tuple[int, int], progress: Any = None) -> np.ndarray:
    """uint8 H x W (x C) image -> K x H x W float32 logits at its own size, by `mode`."""
    if mode == "tile":
        return sliding_window(runner, pp.image_native(img), spec, tile=tile, progress=progress)
    name, fixed_batch, _ = input_spec(runner)
    small = infer_batch(runner, name, fixed_batch, pp.image(img)[None])[0]
    return upsample_bilinear(small, img.shape[:2])


def _axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of 1-D bilinear resampling, half-pixel centres (align_corners=False)."""
    src = np.maximum((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (src - i0).astype(np.float32)


def upsample_bilinear(logits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """K x h x w -> K x H x W float32, the same formula as torch's bilinear interpolate with
    align_corners=False (numpy, so the resize path runs where torch is absent, e.g. an engine-only Jetson)."""
    y0, y1, wy = _axis(size[0], logits.shape[1])
    x0, x1, wx = _axis(size[1], logits.shape[2])
    rows = logits[:, y0] * (1 - wy)[:, None] + logits[:, y1] * wy[:, None]  # K x H x w
    return np.ascontiguousarray(rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx, dtype=np.float32)


def describe(mode: str, pp: Preprocess, spec: TileSpec, tile: tuple[int, int]) -> dict[str, Any]:
    """What a result records about how it was computed."""
    out: dict[str, Any] = {"inference": mode, "training_regime": training_regime(pp)}
    if mode == "tile":
        out["tiling"] = spec.describe(tile)
    return out


def score_native(runner: Any, samples: Sequence[Any], pp: Preprocess, lm: Any, *, mode: str | None = None,
                 spec: TileSpec | None = None, progress: bool = True) -> tuple[Any, dict[str, Any]]:
    """Score at each image's own size by `mode`; returns (SegMetrics, description + ms per image).

    Each per-image row gains "ms" (the inference time of that image: preprocessing + network + blending or
    upsampling; not reading the files), "size" (H x W) and "inference", so the CSV says how it was made.
    """
    from tqdm import tqdm

    from edgeseg.data.dataset import read_pair
    from edgeseg.metrics import SegMetrics, labels_from_logits

    spec = spec or TileSpec()
    mode = resolve_mode(mode, pp)
    tile = tile_size(runner, pp, spec) if mode == "tile" else (pp.height, pp.width)
    metrics: SegMetrics | None = None
    bar = tqdm(total=len(samples), desc=f"{Path(runner.name).name} [{mode}]", unit="img", file=sys.stderr,
               disable=not progress or None, leave=False)
    tiles = 0
    for s in samples:
        img, gt = read_pair(s, pp.channels, lm)
        assert gt is not None
        t0 = time.perf_counter()
        logits = native_logits(runner, img, pp, mode, spec, tile)
        ms = (time.perf_counter() - t0) * 1e3
        metrics = metrics or SegMetrics(logits.shape[0])
        row = metrics.add(labels_from_logits(logits[None])[0], gt.astype(np.int64), s.stem)
        row.update(ms=ms, size=f"{img.shape[0]}x{img.shape[1]}", inference=mode)
        tiles += tile_count(img.shape[:2], tile, spec) if mode == "tile" else 1
        bar.update(1)
    bar.close()
    assert metrics is not None
    info = describe(mode, pp, spec, tile)
    ms = [float(r["ms"]) for r in metrics.rows]
    info.update(ms_per_image=float(np.mean(ms)), images_per_s=1e3 / float(np.mean(ms)),
                tiles_per_image=tiles / len(samples))
    return metrics, info
