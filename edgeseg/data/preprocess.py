"""Preprocessing defined once and recorded in every checkpoint, so that export, calibration and
evaluation reuse exactly the transform the network was trained with."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edgeseg.errors import EdgesegError


@dataclass(frozen=True)
class Preprocess:
    """Resize to (height, width), convert to `channels`, scale to [0,1], normalise with mean/std.

    Images go through bilinear resize; masks (see `mask`) through nearest, so labels stay labels.
    """

    height: int
    width: int
    channels: int
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    # Raw mask value -> class index, e.g. ((0, 1), (255, 0)) = "black is foreground" (ISBI membranes).
    # None = not recorded (binary 0/255 or 0/1 assumed). Travels with the preprocessing so every backend
    # scores the same class the network was trained on.
    labels: tuple[tuple[int, int], ...] | None = None
    # True: trained on (height x width) crops at the images' native scale (edgeseg train --native-crop), so
    # inference tiles the native image (edgeseg.tiling) instead of resizing it. Recorded only when True.
    native_scale: bool = False

    def image(self, img: np.ndarray) -> np.ndarray:
        """HxW or HxWxC uint8 -> float32 CxHxW, normalised."""
        img = _to_channels(img, self.channels)
        pil = Image.fromarray(img.squeeze(-1) if img.shape[-1] == 1 else img)
        pil = pil.resize((self.width, self.height), Image.BILINEAR)
        arr = np.asarray(pil, dtype=np.float32).reshape(self.height, self.width, self.channels) / 255.0
        mean = np.asarray(_broadcast(self.mean, self.channels), dtype=np.float32)
        std = np.asarray(_broadcast(self.std, self.channels), dtype=np.float32)
        return np.ascontiguousarray(((arr - mean) / std).transpose(2, 0, 1))

    def image_native(self, img: np.ndarray) -> np.ndarray:
        """HxW or HxWxC uint8 -> float32 CxHxW at the image's own size (no resize), normalised."""
        img = _to_channels(img, self.channels)
        mean = np.asarray(_broadcast(self.mean, self.channels), dtype=np.float32)
        std = np.asarray(_broadcast(self.std, self.channels), dtype=np.float32)
        return np.ascontiguousarray(((img.astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1))

    def mask(self, mask: np.ndarray) -> np.ndarray:
        """HxW label map (already mapped to class indices) -> int64 HxW at the model size (nearest)."""
        pil = Image.fromarray(mask.astype(np.uint8))
        return np.asarray(pil.resize((self.width, self.height), Image.NEAREST), dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        d["labels"] = None if self.labels is None else [list(p) for p in self.labels]
        if not self.native_scale:
            del d["native_scale"]  # resized-trained artifacts keep their recorded bytes
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocess:
        labels = d.get("labels")
        return cls(int(d["height"]), int(d["width"]), int(d["channels"]),
                   tuple(float(v) for v in d["mean"]), tuple(float(v) for v in d["std"]),
                   None if labels is None else tuple((int(a), int(b)) for a, b in labels),
                   bool(d.get("native_scale", False)))


def given_preprocess(d: dict[str, Any], what: str) -> Preprocess:
    """A Preprocess from user-given values (--mean/--std/--preprocess FILE.json over what is recorded), checked:
    1 or 3 channels, a positive size, 1 or C finite means, 1 or C finite stds above 0."""
    try:
        pre = Preprocess.from_dict(d)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise EdgesegError(f"{what}: {type(e).__name__} reading {sorted(d)}; height/width/channels are integers, "
                           f"mean/std lists of numbers, labels pairs of integers") from None
    c = pre.channels
    if c not in (1, 3) or pre.height < 1 or pre.width < 1:
        raise EdgesegError(f"{what}: {pre.height}x{pre.width}x{c}; need 1 or 3 channels and a positive size")
    for name, v in (("mean", pre.mean), ("std", pre.std)):
        if len(v) not in (1, c) or not all(math.isfinite(x) for x in v) or (name == "std" and min(v) <= 0):
            raise EdgesegError(f"{what}: --{name} {' '.join(map(str, v))}: give 1 or {c} finite values"
                               f"{' above 0' if name == 'std' else ''} for a {c}-channel input")
    if pre.labels is not None and not all(0 <= a <= 255 and 0 <= b < 256 for a, b in pre.labels):
        raise EdgesegError(f"{what}: labels must map raw mask values 0..255 to class indices")
    return pre


def read_preprocess_file(path: str | Path) -> dict[str, Any]:
    """`--preprocess FILE.json`: an object with any of height, width, channels, mean, std, labels (a sidecar,
    whose "preprocess" object is used, works too)."""
    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EdgesegError(f"{path}: not a readable preprocessing JSON file ({type(e).__name__}); write an object "
                           f'like {{"mean": [0.5], "std": [0.5]}}') from None
    if isinstance(d, dict) and isinstance(d.get("preprocess"), dict):
        d = d["preprocess"]
    keys = {"height", "width", "channels", "mean", "std", "labels", "native_scale"}
    if not isinstance(d, dict) or not d or set(d) - keys:
        raise EdgesegError(f"{path}: a preprocessing file is a JSON object with keys among {', '.join(sorted(keys))}")
    return d


def _broadcast(v: tuple[float, ...], c: int) -> tuple[float, ...]:
    return tuple(v) * c if len(v) == 1 else tuple(v)


def _to_channels(img: np.ndarray, channels: int) -> np.ndarray:
    """Grayscale <-> RGB as the model needs; drops alpha. Returns HxWxC uint8."""
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[-1] == 4:
        img = img[..., :3]
    if img.shape[-1] == channels:
        return img
    if channels == 1 and img.shape[-1] == 3:
        gray = np.asarray(Image.fromarray(img).convert("L"))
        return gray[..., None]
    if channels == 3 and img.shape[-1] == 1:
        return np.repeat(img, 3, axis=-1)
    raise ValueError(f"cannot convert a {img.shape[-1]}-channel image to {channels} channels")
