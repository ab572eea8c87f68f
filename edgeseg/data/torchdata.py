"""Load a split into memory at the model size and serve it to a torch DataLoader."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from edgeseg.data.augment import Augment
from edgeseg.data.dataset import LabelMap, Sample, read_pair
from edgeseg.data.preprocess import Preprocess


def load_pair(s: Sample, pp: Preprocess, labels: LabelMap) -> tuple[np.ndarray, np.ndarray]:
    """One sample -> (C x H x W normalised float32, H x W int64 class indices) at the model size."""
    assert s.mask is not None
    img, mask = read_pair(s, pp.channels, labels)
    assert mask is not None
    return pp.image(img), pp.mask(mask)


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


class NativeCrops(SegArrays):
    """Random (height x width) crops at the images' native scale, no resize (`edgeseg train --native-crop`), so
    tiles at inference (edgeseg.tiling) show objects at the scale training did.

    Training (`random=True`): a fresh crop per sample per epoch, drawn from (seed, epoch, index) like the
    augmentation, which follows the crop as in SegArrays. Validation/test (`random=False`): one crop per image,
    drawn once from (seed, index), kept in `images`/`masks` like SegArrays, so the best-checkpoint choice is
    reproducible and cheap (the whole-image, tiled score is `edgeseg eval`'s). Images smaller than the crop
    are padded by reflection (image and mask alike). Raw uint8 images are held in memory (about 1 byte per
    pixel and channel).
    """

    def __init__(self, samples: Sequence[Sample], pp: Preprocess, labels: LabelMap,
                 augment: Augment | None = None, seed: int = 0, *, random: bool = False) -> None:
        self.stems = [s.stem for s in samples]
        self.raw: list[tuple[np.ndarray, np.ndarray]] = []
        for s in samples:
            assert s.mask is not None
            img, mask = read_pair(s, pp.channels, labels)
            assert mask is not None
            self.raw.append((img, mask))
        self.pp, self.augment, self.seed, self.epoch, self.random = pp, augment, seed, 0, random
        c = pp.channels
        self.mean = np.asarray(pp.mean * c if len(pp.mean) == 1 else pp.mean, np.float32)[:, None, None]
        self.std = np.asarray(pp.std * c if len(pp.std) == 1 else pp.std, np.float32)[:, None, None]
        crops = [] if random else [self.crop(i, np.random.default_rng([seed, i])) for i in range(len(self.raw))]
        self.images = np.stack([a for a, _ in crops]) if crops else np.zeros((0, c, pp.height, pp.width), np.float32)
        self.masks = np.stack([m for _, m in crops]) if crops else np.zeros((0, pp.height, pp.width), np.int64)

    def __len__(self) -> int:
        return len(self.raw)

    def crop(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Crop i -> (C x h x w normalised float32, h x w int64), the origin drawn uniformly from rng."""
        img, mask = self.raw[i]
        h, w = self.pp.height, self.pp.width
        ph, pw = max(h - mask.shape[0], 0), max(w - mask.shape[1], 0)
        if ph or pw:
            img = np.pad(img, ((0, ph), (0, pw)) + ((0, 0),) * (img.ndim - 2), mode="reflect")
            mask = np.pad(mask, ((0, ph), (0, pw)), mode="reflect")
        y = int(rng.integers(0, mask.shape[0] - h + 1))
        x = int(rng.integers(0, mask.shape[1] - w + 1))
        return self.pp.image_native(img[y:y + h, x:x + w]), mask[y:y + h, x:x + w].astype(np.int64)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.random:
            return super().__getitem__(i)
        rng = np.random.default_rng([self.seed, self.epoch, i])
        img, mask = self.crop(i, rng)
        if self.augment is not None:
            img01, mask = self.augment(img * self.std + self.mean, mask, rng)
            img = (img01 - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(img, np.float32)), torch.from_numpy(np.ascontiguousarray(mask))


def split_dataset(native_crop: bool, samples: Sequence[Sample], pp: Preprocess, labels: LabelMap,
                  augment: Augment | None = None, seed: int = 0, *, train: bool = False) -> SegArrays:
    """The training recipe's data set of one split: resized whole images, or native-scale crops."""
    if native_crop:
        return NativeCrops(samples, pp, labels, augment, seed, random=train)
    return SegArrays(samples, pp, labels, augment, seed)
