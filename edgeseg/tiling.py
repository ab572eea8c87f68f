"""Sliding-window inference at an image's native size, one implementation for every Runner (PyTorch, ONNX
Runtime, TensorRT). Pure numpy: it only calls `Runner.infer` with the runner's own input name and shape.

    spec = TileSpec(overlap=0.25, blend="gaussian")
    with OnnxRuntimeRunner("m.onnx") as r:
        logits = sliding_window(r, pp.image_native(img), spec, tile=(96, 96))   # K x H x W float32

Conventions:
* image in: C x H x W float32, already normalised (no resize); logits out: K x H x W float32, same H x W.
* tiles have the artifact's input size; `overlap` is a fraction of the tile side. Tile origins are spread
  evenly over the padded image with at least that overlap, the last tile flush with the far edge, so every
  pixel is covered and no tile hangs off the image.
* padding: `border` pixels (default: half the overlap) on every side, so border pixels see context, and
  the far edge up to one tile when the image is smaller than a tile. "reflect" (default) mirrors the image;
  "constant" pads with 0 in the normalised space (the mean intensity for mean/std 0.5).
* blending: each tile's logits are weighted by a window -- "gaussian" (sigma = side / 8, as nnU-Net) or
  "linear" (ramps over the overlap, flat inside) -- and the weights are normalised to sum to one at every
  pixel. Implemented as a running weighted mean (m += w / W * (x - m), W = weights so far), so a constant
  network comes back bit-exact and memory is one K x H x W float32 mean + one H x W float32 weight sum:
  tiles stream through, the full-size tile stack never exists.
* batching: tiles go `batch` at a time when the artifact's batch dim is dynamic; a fixed batch dim is used
  as is (the last chunk zero-padded, the padding discarded).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError

BLENDS = ("gaussian", "linear")
PADS = ("reflect", "constant")
GAUSS_SIGMA = 1 / 8  # of the tile side (nnU-Net)
WINDOW_FLOOR = 1e-6  # of the peak: border pixels keep a (tiny) weight, never 0/0


@dataclass(frozen=True)
class TileSpec:
    tile: tuple[int, int] | None = None  # None: the artifact's input size
    overlap: float = 0.25
    blend: str = "gaussian"
    pad: str = "reflect"
    batch: int = 8
    border: int | None = None  # None: half the overlap, in pixels

    def __post_init__(self) -> None:
        if not 0 <= self.overlap < 1:
            raise EdgesegError(f"--overlap {self.overlap}: must be a fraction in [0, 1), e.g. 0.25")
        if self.blend not in BLENDS:
            raise EdgesegError(f"--blend {self.blend!r}: choose {' or '.join(BLENDS)}")
        if self.pad not in PADS:
            raise EdgesegError(f"tile padding {self.pad!r}: choose {' or '.join(PADS)}")
        if self.batch < 1:
            raise EdgesegError(f"tile batch {self.batch}: must be >= 1")
        if self.tile is not None and (len(self.tile) != 2 or min(self.tile) < 1):
            raise EdgesegError(f"--tile {self.tile}: expected a positive H x W, e.g. --tile 96x96")

    def describe(self, tile: tuple[int, int]) -> dict[str, Any]:
        return {"tile": list(tile), "overlap": self.overlap, "blend": self.blend, "pad": self.pad,
                "border": self.border_px(tile)}

    def overlap_px(self, tile: tuple[int, int]) -> tuple[int, int]:
        return (round(self.overlap * tile[0]), round(self.overlap * tile[1]))

    def border_px(self, tile: tuple[int, int]) -> int:
        return min(self.overlap_px(tile)) // 2 if self.border is None else int(self.border)


def parse_tile(text: str) -> tuple[int, int]:
    """'96' or '96x128' (H x W) -> (H, W); for argparse `type=`."""
    try:
        parts = [int(v) for v in text.lower().replace("*", "x").split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts, default=0) < 1:
        import argparse

        raise argparse.ArgumentTypeError(f"expected a tile size like 96 or 96x128 (H x W), got {text!r}")
    return (parts[0], parts[-1])


# ------------------------------------------------------------------------------------------- geometry

def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Origins of tiles of side `tile` covering [0, length) (length >= tile) with at least `overlap` overlap."""
    if length <= tile:
        return [0]
    stride = max(tile - overlap, 1)
    n = math.ceil((length - tile) / stride) + 1
    step = (length - tile) / (n - 1)
    return [round(i * step) for i in range(n)]


def window(tile: tuple[int, int], blend: str, overlap: tuple[int, int]) -> np.ndarray:
    """th x tw float32 blending weights, peak 1, strictly positive."""
    axes = []
    for n, o in zip(tile, overlap, strict=True):
        i = np.arange(n, dtype=np.float64) + 0.5
        if blend == "gaussian":
            w = np.exp(-0.5 * ((i - n / 2) / (GAUSS_SIGMA * n)) ** 2)
        else:  # linear: ramp up over the overlap, flat in between
            w = np.minimum(1.0, np.minimum(i, n - i) / o) if o > 0 else np.ones(n)
        axes.append(w / w.max())
    win = np.outer(axes[0], axes[1])
    return np.maximum(win, WINDOW_FLOOR).astype(np.float32)


def check_tile(tile: tuple[int, int], *, fixed: tuple[int | None, int | None] = (None, None),
               size_multiple: int | None = None, model: str | None = None, where: str = "") -> None:
    """A tile size the network cannot take -> one clear EdgesegError (fixed ONNX/engine input, size multiple)."""
    h, w = tile
    fh, fw = fixed
    if (fh is not None and fh != h) or (fw is not None and fw != w):
        raise EdgesegError(f"{where}: takes {fh}x{fw} inputs (fixed shape) but --tile {h}x{w} was asked; drop the "
                           f"size (--tile alone tiles at {fh}x{fw}) or re-export with edgeseg export --size {h} {w}")
    if size_multiple and (h % size_multiple or w % size_multiple):
        ok_h, ok_w = (max(size_multiple, v // size_multiple * size_multiple) for v in (h, w))
        raise EdgesegError(f"{where}: {model or 'the network'} needs tile height and width that are multiples of "
                           f"{size_multiple} (it downsamples by {size_multiple}); got --tile {h}x{w}. Pass e.g. "
                           f"--tile {ok_h}x{ok_w}")


# ------------------------------------------------------------------------------------------- running

def input_spec(runner: Any) -> tuple[str, int | None, tuple[int | None, int | None]]:
    """(input name, fixed batch or None, fixed (H, W) or (None, None)) from `runner.input_metadata()`."""
    meta = runner.input_metadata()
    name = "input" if "input" in meta else next(iter(meta))
    shape = tuple(meta[name].shape) or (None, None, None, None)
    if len(shape) != 4:
        raise EdgesegError(f"{runner.name}: input {name!r} must be N x C x H x W for tiling, got {len(shape)} dims")
    n, _, h, w = shape
    return name, (n if isinstance(n, int) and n > 0 else None), (h, w)


def infer_batch(runner: Any, name: str, fixed_batch: int | None, x: np.ndarray) -> np.ndarray:
    """N x C x h x w -> N x K x h x w float32; a fixed batch dim is zero-padded and the padding dropped."""
    n = len(x)
    if fixed_batch and n != fixed_batch:
        x = np.concatenate([x, np.zeros((fixed_batch - n, *x.shape[1:]), x.dtype)])
    res = runner.infer({name: np.ascontiguousarray(x, np.float32)})
    y = res["logits"] if "logits" in res else next(iter(res.values()))
    return np.asarray(y, np.float32)[:n]


def pad_image(image: np.ndarray, tile: tuple[int, int], border: int, mode: str) -> tuple[np.ndarray, int]:
    """Pad `border` on every side, then the far edges up to one tile; returns (padded, border)."""
    _, h, w = image.shape
    extra_h = max(tile[0] - (h + 2 * border), 0)
    extra_w = max(tile[1] - (w + 2 * border), 0)
    pads = ((0, 0), (border, border + extra_h), (border, border + extra_w))
    if not any(p for ax in pads for p in ax):
        return image, 0
    if mode == "reflect" and min(h, w) < 2:  # nothing to mirror in a 1-pixel axis
        mode = "edge"
    return np.pad(image, pads, mode=mode), border  # type: ignore[call-overload]


def sliding_window(runner: Any, image: np.ndarray, spec: TileSpec | None = None, *,
                   tile: tuple[int, int] | None = None,
                   progress: Callable[[int], None] | None = None) -> np.ndarray:
    """C x H x W normalised image -> K x H x W float32 logits from an active runner (see module docstring).

    `tile` (or spec.tile) is the tile size; by default the runner's fixed input H x W. `progress(n)` is
    called after each batch with the number of tiles it ran.
    """
    spec = spec or TileSpec()
    if image.ndim != 3:
        raise EdgesegError(f"sliding_window: image must be C x H x W, got shape {image.shape}")
    name, fixed_batch, fixed_hw = input_spec(runner)
    tile = tile or spec.tile or (fixed_hw if None not in fixed_hw else None)  # type: ignore[assignment]
    if tile is None:
        raise EdgesegError(f"{runner.name}: input size is dynamic; pass the tile size (--tile H x W)")
    tile = (int(tile[0]), int(tile[1]))
    check_tile(tile, fixed=fixed_hw, where=runner.name)
    _, h, w = image.shape
    ov = spec.overlap_px(tile)
    padded, b = pad_image(image, tile, spec.border_px(tile), spec.pad)
    ys = tile_starts(padded.shape[1], tile[0], ov[0])
    xs = tile_starts(padded.shape[2], tile[1], ov[1])
    origins = [(y, x) for y in ys for x in xs]
    win = window(tile, spec.blend, ov)
    mean: np.ndarray | None = None
    wsum = np.zeros((h, w), np.float32)
    step = fixed_batch or min(spec.batch, runner.max_batch(name) or spec.batch)
    for i in range(0, len(origins), step):
        chunk = origins[i:i + step]
        x = np.stack([padded[:, y:y + tile[0], x0:x0 + tile[1]] for y, x0 in chunk])
        out = infer_batch(runner, name, fixed_batch, x)
        if out.ndim != 4 or out.shape[-2:] != tile:
            raise EdgesegError(f"{runner.name}: output is {'x'.join(map(str, out.shape))} for {tile[0]}x{tile[1]} "
                               f"tiles; the network must keep the spatial size")
        if mean is None:
            mean = np.zeros((out.shape[1], h, w), np.float32)
        for (y, x0), logits in zip(chunk, out, strict=True):
            _accumulate(mean, wsum, logits, win, y - b, x0 - b)
        if progress is not None:
            progress(len(chunk))
    assert mean is not None
    return mean


def _accumulate(mean: np.ndarray, wsum: np.ndarray, logits: np.ndarray, win: np.ndarray, y: int, x: int) -> None:
    """Fold one tile (origin y, x in image coordinates, may be negative) into the running weighted mean."""
    h, w = wsum.shape
    th, tw = win.shape
    y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + th, h), min(x + tw, w)
    if y0 >= y1 or x0 >= x1:
        return  # a tile entirely in the padding
    t = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
    ws = wsum[y0:y1, x0:x1]
    ws += win[t]
    r = win[t] / ws  # exactly 1 where this is the first tile: the first value is copied, not blended
    m = mean[:, y0:y1, x0:x1]
    m += r * (logits[:, t[0], t[1]] - m)


def tile_count(hw: tuple[int, int], tile: tuple[int, int], spec: TileSpec) -> int:
    """How many tiles an H x W image takes (for progress bars and the bench)."""
    b = spec.border_px(tile)
    ov = spec.overlap_px(tile)
    ph, pw = max(hw[0] + 2 * b, tile[0]), max(hw[1] + 2 * b, tile[1])
    return len(tile_starts(ph, tile[0], ov[0])) * len(tile_starts(pw, tile[1], ov[1]))
