"""Training-split augmentation in numpy (no torchvision): flips, 90-degree rotations (square inputs only),
brightness/contrast, and a small scale/shift. Applied to [0, 1] images before normalisation; masks follow
every geometric change with nearest-neighbour sampling so labels stay labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Augment:
    flips: bool = True
    rot90: bool = True  # only used when H == W (a rotated non-square image would not fit the input)
    brightness: float = 0.1  # +- additive, in [0, 1] units
    contrast: float = 0.15  # x (1 +- contrast) about the image mean
    scale: float = 0.1  # zoom in [1 - scale, 1 + scale]
    shift: float = 0.06  # translation, fraction of the side

    def __call__(self, img: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """img: C x H x W float32 in [0, 1]; mask: H x W int64. Returns new arrays."""
        h, w = mask.shape
        if self.flips and rng.random() < 0.5:
            img, mask = img[:, :, ::-1], mask[:, ::-1]
        if self.flips and rng.random() < 0.5:
            img, mask = img[:, ::-1, :], mask[::-1, :]
        if self.rot90 and h == w:
            k = int(rng.integers(0, 4))
            img, mask = np.rot90(img, k, axes=(1, 2)), np.rot90(mask, k)
        if (self.scale or self.shift) and rng.random() < 0.5:
            img, mask = _zoom_shift(img, mask, rng.uniform(1 - self.scale, 1 + self.scale),
                                    rng.uniform(-self.shift, self.shift, 2) * (h, w))
        if self.contrast or self.brightness:
            c = rng.uniform(1 - self.contrast, 1 + self.contrast)
            b = rng.uniform(-self.brightness, self.brightness)
            m = img.mean()
            img = np.clip((img - m) * c + m + b, 0.0, 1.0)
        return np.ascontiguousarray(img, dtype=np.float32), np.ascontiguousarray(mask)


def _zoom_shift(img: np.ndarray, mask: np.ndarray, s: float, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zoom by s about the centre and shift by t (dy, dx) pixels; edges replicate (no black borders)."""
    _, h, w = img.shape
    ys = (np.arange(h) - (h - 1) / 2 - t[0]) / s + (h - 1) / 2
    xs = (np.arange(w) - (w - 1) / 2 - t[1]) / s + (w - 1) / 2
    ys, xs = np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1)
    # bilinear for the image
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = img[:, y0][:, :, x0] * (1 - wx) + img[:, y0][:, :, x1] * wx
    bot = img[:, y1][:, :, x0] * (1 - wx) + img[:, y1][:, :, x1] * wx
    out = top * (1 - wy) + bot * wy
    # nearest for the mask
    mask = mask[np.rint(ys).astype(int)][:, np.rint(xs).astype(int)]
    return out, mask
