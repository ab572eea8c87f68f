"""Load a split into memory at the model size and serve it to a torch DataLoader."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from edgeseg.data.augment import Augment
from edgeseg.data.dataset import LabelMap, Sample, check_channels, read_image, read_mask
from edgeseg.data.preprocess import Preprocess
from edgeseg.errors import EdgesegError


def load_pair(s: Sample, pp: Preprocess, labels: LabelMap) -> tuple[np.ndarray, np.ndarray]:
    """One sample -> (C x H x W normalised float32, H x W int64 class indices) at the model size."""
    img = read_image(s.image)
    check_channels(img, pp.channels, s.image)
    assert s.mask is not None
    raw = read_mask(s.mask)
    if raw.shape != img.shape[:2]:
        raise EdgesegError(f"{s.mask}: mask is {raw.shape[1]}x{raw.shape[0]} but its image is "
                           f"{img.shape[1]}x{img.shape[0]} (W x H); masks must match their images")
    return pp.image(img), pp.mask(labels.apply(raw, s.mask))


class SegArrays(Dataset):
    """All images of a split, preprocessed once; training augmentation is drawn from (seed, epoch, index)
    so a run is reproducible with any number of workers and after --resume."""

    def __init__(self, samples: Sequence[Sample], pp: Preprocess, labels: LabelMap,
                 augment: Augment | None = None, seed: int = 0) -> None:
        self.stems = [s.stem for s in samples]
        pairs = [load_pair(s, pp, labels) for s in samples]
        self.images = np.stack([p[0] for p in pairs]) if pairs else np.zeros((0, pp.channels, pp.height, pp.width),
                                                                               np.float32)
        self.masks = np.stack([p[1] for p in pairs]) if pairs else np.zeros((0, pp.height, pp.width), np.int64)
        self.pp, self.augment, self.seed, self.epoch = pp, augment, seed, 0
        c = pp.channels
        self.mean = np.asarray(pp.mean * c if len(pp.mean) == 1 else pp.mean, np.float32)[:, None, None]
        self.std = np.asarray(pp.std * c if len(pp.std) == 1 else pp.std, np.float32)[:, None, None]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img, mask = self.images[i], self.masks[i]
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            img01, mask = self.augment(img * self.std + self.mean, mask, rng)
            img = (img01 - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(img, np.float32)), torch.from_numpy(np.ascontiguousarray(mask))
