"""Preprocessing defined once and recorded in every checkpoint, so that export, calibration and
evaluation reuse exactly the transform the network was trained with."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image


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
