"""`edgeseg predict`: masks at each image's original size, plus an overlay, from any artifact, by resizing or
tiling (edgeseg.native; the default follows the training regime)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edgeseg.artifacts import atomic_path, check_output_path
from edgeseg.data.dataset import LabelMap, check_channels, label_map_of, read_image
from edgeseg.errors import EdgesegError
from edgeseg.metrics import labels_from_logits
from edgeseg.runtime.opener import open_artifact
from edgeseg.tiling import TileSpec

OVERLAY_RGB = np.array([255, 40, 40], np.float32)
OVERLAY_ALPHA = 0.45


def _save_png(path: Path, arr: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG")


def overlay(img: np.ndarray, fg: np.ndarray) -> np.ndarray:
    """RGB image with the foreground tinted red."""
    rgb = np.repeat(img[..., None], 3, -1) if img.ndim == 2 else img[..., :3]
    out = rgb.astype(np.float32)
    out[fg] = out[fg] * (1 - OVERLAY_ALPHA) + OVERLAY_RGB * OVERLAY_ALPHA
    return out.round().clip(0, 255).astype(np.uint8)


def predict(artifact: str | Path, images: list[str | Path], out: str | Path, *, device: str = "cpu",
            threads: int | None = None, mode: str | None = None, tiling: TileSpec | None = None,
            info: dict[str, Any] | None = None, preprocess: dict[str, Any] | None = None) -> list[Path]:
    """Write OUT/masks/STEM.png (in the training masks' own values, e.g. 0/255) and OUT/overlays/STEM.png.

    mode: "tile" | "resize" | None (the training regime's default); `info`, if given, receives what was used.
    Every image is read and checked (and the tile size) before anything is written, so bad input leaves OUT
    untouched.
    """
    from edgeseg import native
    paths = [Path(p) for p in images]
    if not paths:
        raise EdgesegError("predict: no images given")
    stems = [p.stem for p in paths]
    dup = sorted({s for s in stems if stems.count(s) > 1})
    if dup:
        raise EdgesegError(f"predict: several images share the name {dup[0]!r}; their outputs would collide")
    check_output_path(Path(out) / "masks" / f"{stems[0]}.png")
    art = open_artifact(artifact, device=device, threads=threads, preprocess=preprocess)
    pp = art.preprocess
    lm = label_map_of(pp) or LabelMap(((0, 0), (255, 1)), 1)
    raws = []
    for p in paths:
        if not p.is_file():
            raise EdgesegError(f"{p}: no such image")
        img = read_image(p)
        check_channels(img, pp.channels, p)
        raws.append(img)
    out = Path(out)
    written: list[Path] = []
    spec = tiling or TileSpec()
    mode = native.resolve_mode(mode, pp)
    with art.runner as r:
        tile = native.tile_size(r, pp, spec) if mode == "tile" else (pp.height, pp.width)
        if info is not None:
            info.update(native.describe(mode, pp, spec, tile))
        for p, img in zip(paths, raws, strict=True):
            logits = native.native_logits(r, img, pp, mode, spec, tile)
            cls = labels_from_logits(logits[None])[0]
            k = max(int(cls.max()), 1) if logits.shape[0] > 1 else 1
            mask = np.zeros(cls.shape, np.uint8)
            for c in range(k + 1):
                mask[cls == c] = lm.raw_value(c)
            _save_png(out / "masks" / f"{p.stem}.png", mask)
            _save_png(out / "overlays" / f"{p.stem}.png", overlay(img, cls > 0))
            written += [out / "masks" / f"{p.stem}.png", out / "overlays" / f"{p.stem}.png"]
    return written
