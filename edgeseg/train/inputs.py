"""What a run trains on: its split, input size and channels, preprocessing, datasets and loader."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeseg.data.augment import Augment
from edgeseg.data.dataset import LabelMap, SegFolder, is_gray, make_split, parse_foreground, read_image
from edgeseg.data.images import image_size
from edgeseg.data.preprocess import Preprocess
from edgeseg.data.torchdata import SegArrays, split_dataset
from edgeseg.errors import EdgesegError
from edgeseg.train.options import TrainConfig

MAX_DEFAULT_SIDE = 256


def default_size(folder: SegFolder, stems: list[str], multiple: int) -> tuple[int, int]:
    """Square side: the median of the images' shorter sides, capped at 256, rounded down to the model's multiple."""
    by = {s.stem: s for s in folder.samples}
    sides = [min(image_size(by[st].image)) for st in stems]
    side = min(MAX_DEFAULT_SIDE, int(np.median(sides)))
    side = max(multiple, side // multiple * multiple)
    return side, side


def data_channels(folder: SegFolder) -> int:
    """1 if every image is gray (also gray stored as RGB), else 3."""
    return 1 if all(is_gray(read_image(s.image)) for s in folder.samples) else 3


def explicit_split(given: dict[str, Any], stems: list[str], data: str) -> dict[str, Any]:
    """Check a user-given split against the folder: lists of known stems, disjoint, a non-empty val list."""
    known = set(stems)
    lists = {k: sorted(str(x) for x in given.get(k) or []) for k in ("train", "val", "test")}
    for name, items in lists.items():
        unknown = [x for x in items if x not in known]
        if unknown:
            raise EdgesegError(f"split {name}: {unknown[0]!r} is not an image stem of {data} ({len(unknown)} "
                               f"unknown); pass a split made for this folder")
    seen: set[str] = set()
    for name, items in lists.items():
        if seen & set(items):
            raise EdgesegError(f"split {name}: {sorted(seen & set(items))[0]!r} is in two splits; make them "
                               f"disjoint")
        seen |= set(items)
    if not lists["val"]:
        raise EdgesegError("split: the val list is empty; the best checkpoint is chosen on it")
    return {"seed": None, "explicit": True, **lists}


@dataclass
class Inputs:
    folder: SegFolder
    labels: LabelMap
    split: dict[str, Any]
    pp: Preprocess
    fingerprint: Any  # the whole folder's, for the cache key and the sidecar


def prepare_inputs(cfg: TrainConfig, state: dict[str, Any] | None) -> Inputs:
    """Read the folder, fix the split (the resumed run's, the given one, or seeded fractions), and fill in
    `cfg.size` and `cfg.channels` where they were left to the data."""
    from edgeseg.models import check_input_size, get_model_info

    info = get_model_info(cfg.model)
    folder = SegFolder(cfg.data)
    labels = parse_foreground(cfg.foreground, folder.mask_values())
    if state:
        split = state["split"]
    elif cfg.split is not None:
        split = explicit_split(cfg.split, folder.stems, cfg.data)
    else:
        split = make_split(folder.stems, cfg.seed, cfg.val_fraction, cfg.test_fraction)
    folder.subset(split["train"] + split["val"] + split["test"], "recorded split")
    if cfg.size is None:
        cfg.size = default_size(folder, split["train"], info.size_multiple)
    check_input_size(cfg.model, *cfg.size)
    if cfg.channels is None:
        cfg.channels = data_channels(folder)
    pp = Preprocess(*cfg.size, cfg.channels, (0.5,), (0.5,), labels=labels.to_pairs(), native_scale=cfg.native_crop)
    return Inputs(folder, labels, split, pp, folder.fingerprint())


def make_datasets(cfg: TrainConfig, inp: Inputs) -> tuple[SegArrays, SegArrays, SegArrays | None]:
    """(train, val, test or None); augmentation on the training split only."""
    nc, sub, split = cfg.native_crop, inp.folder.subset, inp.split
    train_ds = split_dataset(nc, sub(split["train"]), inp.pp, inp.labels, Augment() if cfg.augment else None,
                             cfg.seed, train=True)
    val_ds = split_dataset(nc, sub(split["val"]), inp.pp, inp.labels, seed=cfg.seed)
    test_ds = split_dataset(nc, sub(split["test"]), inp.pp, inp.labels, seed=cfg.seed) if split["test"] else None
    if len(train_ds) == 0:
        raise EdgesegError(f"{cfg.data}: the training split is empty; add images or lower the val/test fractions")
    return train_ds, val_ds, test_ds


def make_loader(cfg: TrainConfig, train_ds: SegArrays, world: int, rank: int, pin_memory: bool) -> Any:
    """The training DataLoader over a DistributedSampler (one rank: a seeded shuffle)."""
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler

    sampler = DistributedSampler(train_ds, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed)
    per_rank = math.ceil(len(train_ds) / world)
    return DataLoader(train_ds, batch_size=cfg.batch, sampler=sampler, num_workers=cfg.workers,
                      drop_last=per_rank > cfg.batch and per_rank % cfg.batch == 1,  # a lone sample breaks BN
                      pin_memory=pin_memory)
