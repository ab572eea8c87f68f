"""Segmentation folders: `DIR/images/NAME.ext` paired with `DIR/masks/NAME.ext` by file stem.

Images: PNG, JPEG, TIFF or BMP, grayscale or RGB (read by `edgeseg.data.images`, which owns the file checks).
Masks: 0/255 or 0/1 (binary), or label maps 0..K-1 (multi-class). Which raw value is which class is a
`LabelMap`, chosen with `--foreground` and recorded in the checkpoint (`Preprocess.labels`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.artifacts import sha256_file
from edgeseg.data.images import read_image, read_mask  # noqa: F401 - re-exported: the one file reader
from edgeseg.errors import EdgesegError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
MAX_CLASSES = 32  # more distinct mask values than this is a photo or a lossy mask, not a label map


# ---------------------------------------------------------------------------------------------- reading

def is_gray(img: np.ndarray) -> bool:
    """True for HxW, or HxWx3 whose channels are identical (a gray image stored as RGB)."""
    return img.ndim == 2 or (np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 0], img[..., 2]))


def check_channels(img: np.ndarray, channels: int, path: str | Path) -> None:
    """Gray -> RGB is lossless (replicated); colour -> a 1-channel model is refused rather than silently grayed."""
    if channels == 1 and not is_gray(img):
        raise EdgesegError(f"{path}: colour image but the model takes 1 channel; use grayscale images "
                           f"or a model trained with --channels 3")
    if channels not in (1, 3):
        raise EdgesegError(f"{path}: the model takes {channels} channels; only 1- and 3-channel models are "
                           f"supported for image files")


# ---------------------------------------------------------------------------------------------- labels

@dataclass(frozen=True)
class LabelMap:
    """Raw mask value -> class index. num_classes == 1 means binary (one sigmoid output, class 1 = foreground)."""

    table: tuple[tuple[int, int], ...]
    num_classes: int

    @property
    def binary(self) -> bool:
        return self.num_classes == 1

    def lut(self) -> np.ndarray:
        lut = np.full(256, -1, np.int64)
        for raw, cls in self.table:
            lut[raw] = cls
        return lut

    def apply(self, raw: np.ndarray, path: str | Path) -> np.ndarray:
        """uint8 raw mask -> uint8 class indices; unexpected values are an error naming the file."""
        out = self.lut()[raw]
        if (out < 0).any():
            bad = sorted(int(v) for v in np.unique(raw[out < 0]))[:5]
            known = ", ".join(str(r) for r, _ in self.table)
            raise EdgesegError(f"{path}: mask has unexpected values {bad} (expected only {known}); "
                               f"fix the mask or choose the mapping with --foreground")
        return out.astype(np.uint8)

    def raw_value(self, cls: int) -> int:
        """The raw value a class is written back as (predict writes masks in the data's own convention)."""
        for raw, c in sorted(self.table, key=lambda t: -t[0]):
            if c == cls:
                return raw
        return cls

    def to_pairs(self) -> tuple[tuple[int, int], ...]:
        return self.table

    @classmethod
    def from_pairs(cls, pairs: Iterable[Iterable[int]]) -> LabelMap:
        table = tuple(sorted((int(a), int(b)) for a, b in pairs))
        k = max(c for _, c in table) + 1
        return cls(table, 1 if k <= 2 else k)

    def describe(self) -> str:
        return ",".join(f"{r}:{c}" for r, c in self.table)


class MaskValues(set):
    """The raw values seen in a folder's masks, remembering the first mask file that holds each value
    (so an unexpected value is reported with the file to fix)."""

    def __init__(self, values: Iterable[int] = (), files: dict[int, Path] | None = None) -> None:
        super().__init__(values)
        self.files: dict[int, Path] = dict(files or {})


def parse_foreground(spec: str | None, values: set[int]) -> LabelMap:
    """Build the label map from `--foreground` and the raw values seen in the masks.

    auto (default): {0,255} or {0,1} -> the nonzero value is foreground; values all below MAX_CLASSES ->
    a label map of class indices; anything else (a stray 7 among 0/255, or 0/128/255) is an error naming
    a mask that holds the odd value, since guessing would silently train the wrong classes.
    invert: binary, 0 is foreground (ISBI membranes). V[,V...]: those raw values are foreground, the rest
    of the seen values background. A:B,C:D: explicit raw->class mapping.
    """
    spec = (spec or "auto").strip().lower()
    if spec in ("auto", "white", "nonzero"):
        if values <= {0, 255} or values <= {0, 1}:
            fg = 255 if 255 in values else 1
            return LabelMap(tuple(sorted({(0, 0), (fg, 1)})), 1)
        if spec != "auto":
            return LabelMap(tuple(sorted((v, int(v != 0)) for v in values)), 1)
        vals = sorted(values)
        if max(vals) < MAX_CLASSES:
            k = max(vals) + 1  # a label map: values are class indices
            return LabelMap(tuple((v, v) for v in range(k)), k if k > 2 else 1)
        odd = sorted(values - {0, 255}) if 255 in values else [v for v in vals if v >= MAX_CLASSES]
        where = getattr(values, "files", {}).get(odd[0])
        raise EdgesegError(f"{where or 'masks'}: mask value {odd[0]} among masks of values {vals[:8]}; masks must "
                           f"be 0/255, 0/1 or class indices below {MAX_CLASSES}: fix the mask, or give the mapping "
                           f"with --foreground (e.g. {','.join(f'{v}:{int(v == vals[-1])}' for v in vals[:4])})")
    if spec in ("invert", "black", "zero"):
        if not (values <= {0, 255} or values <= {0, 1}):
            raise EdgesegError(f"--foreground invert needs binary masks (0/255 or 0/1); masks hold "
                               f"{sorted(values)[:8]}")
        other = 255 if (255 in values or values <= {0}) else 1
        return LabelMap(((0, 1), (other, 0)), 1)
    try:
        if ":" in spec:
            pairs = [tuple(int(x) for x in p.split(":")) for p in spec.split(",") if p]
            lm = LabelMap.from_pairs(pairs)
        else:
            fg = {int(x) for x in spec.split(",") if x}
            lm = LabelMap(tuple(sorted((v, int(v in fg)) for v in values | fg)), 1)
    except ValueError:
        raise EdgesegError(f"--foreground {spec!r}: expected auto, invert, a value list like 255, or a mapping "
                           f"like 0:1,255:0") from None
    if any(not 0 <= r <= 255 for r, _ in lm.table):
        raise EdgesegError(f"--foreground {spec!r}: raw mask values must be 0..255")
    return lm


def label_map_of(preprocess: Any) -> LabelMap | None:
    labels = getattr(preprocess, "labels", None)
    return None if labels is None else LabelMap.from_pairs(labels)


# ---------------------------------------------------------------------------------------------- folders

@dataclass(frozen=True)
class Sample:
    stem: str
    image: Path
    mask: Path | None


def read_pair(s: Sample, channels: int | None = None, labels: LabelMap | None = None
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """The one image + mask reader: the uint8 image (its channels checked against a model's when given) and its
    mask (class indices by `labels`, raw values without; None for a sample without one), refused if their sizes
    differ. Every file check is `edgeseg.data.images`'s."""
    img = read_image(s.image)
    if channels is not None:
        check_channels(img, channels, s.image)
    if s.mask is None:
        return img, None
    mask = read_mask(s.mask)
    if mask.shape != img.shape[:2]:
        raise EdgesegError(f"{s.mask}: mask is {mask.shape[1]}x{mask.shape[0]} but its image is "
                           f"{img.shape[1]}x{img.shape[0]} (W x H); masks must match their images")
    return img, (mask if labels is None else labels.apply(mask, s.mask))


def _list(folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        if p.suffix.lower() not in IMAGE_EXTS:
            raise EdgesegError(f"{p}: not an image file ({p.suffix or 'no extension'}); keep only "
                               f"{'/'.join(IMAGE_EXTS)} files in {folder}")
        if p.stem in out:
            raise EdgesegError(f"{p}: two files with the stem {p.stem!r} ({out[p.stem].name}); keep one")
        out[p.stem] = p
    return out


class SegFolder:
    """The pairs of a segmentation folder, sorted by stem. Reads nothing but file names until asked."""

    def __init__(self, root: str | Path, *, masks: bool = True) -> None:
        self.root = Path(root)
        img_dir, mask_dir = self.root / "images", self.root / "masks"
        if not img_dir.is_dir():
            raise EdgesegError(f"{self.root}: no images/ folder; a data set is DIR/images + DIR/masks with the "
                               f"same file stems (make one with: edgeseg data synth DIR)")
        images = _list(img_dir)
        if not images:
            raise EdgesegError(f"{img_dir}: empty; put the images (PNG/JPEG/TIFF/BMP) here")
        if masks:
            if not mask_dir.is_dir():
                raise EdgesegError(f"{self.root}: no masks/ folder beside images/; add the masks (same stems)")
            mask_files = _list(mask_dir)
            no_mask = sorted(set(images) - set(mask_files))
            no_image = sorted(set(mask_files) - set(images))
            if no_mask or no_image:
                what = []
                if no_mask:
                    what.append(f"{len(no_mask)} image(s) without a mask ({', '.join(no_mask[:3])})")
                if no_image:
                    what.append(f"{len(no_image)} mask(s) without an image ({', '.join(no_image[:3])})")
                raise EdgesegError(f"{self.root}: images and masks do not pair up: {'; '.join(what)}; "
                                   f"give each image a mask with the same file stem")
            self.samples = [Sample(s, images[s], mask_files[s]) for s in sorted(images)]
        else:
            self.samples = [Sample(s, images[s], None) for s in sorted(images)]

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def stems(self) -> list[str]:
        return [s.stem for s in self.samples]

    def subset(self, stems: Iterable[str], what: str = "split") -> list[Sample]:
        by = {s.stem: s for s in self.samples}
        stems = list(stems)
        missing = [s for s in stems if s not in by]
        if missing:
            raise EdgesegError(f"{self.root}: the {what} names {len(missing)} image(s) not in this folder "
                               f"({', '.join(missing[:3])}); evaluate on the data the split was made for")
        return [by[s] for s in stems]

    def mask_values(self, samples: Iterable[Sample] | None = None) -> MaskValues:
        """Union of raw mask values; a mask with too many distinct values (a photo, a JPEG mask) is an error."""
        seen = MaskValues()
        for s in samples if samples is not None else self.samples:
            assert s.mask is not None
            vals = np.unique(read_mask(s.mask))
            if len(vals) > MAX_CLASSES:
                raise EdgesegError(f"{s.mask}: mask has {len(vals)} distinct values (e.g. "
                                   f"{', '.join(str(int(v)) for v in vals[1:4])}); masks must be 0/255, 0/1 or "
                                   f"class indices (a lossy JPEG mask? save it as PNG)")
            for v in vals:
                seen.files.setdefault(int(v), s.mask)
            seen |= {int(v) for v in vals}
        return seen

    def fingerprint(self) -> str:
        """Hash of every file's bytes: names a training run's input data in its sidecar."""
        from edgeseg.artifacts import cache_key

        return cache_key({s.stem: [sha256_file(s.image), sha256_file(s.mask) if s.mask else None]
                          for s in self.samples})


# ---------------------------------------------------------------------------------------------- splits

def make_split(stems: list[str], seed: int = 0, val: float = 0.15, test: float = 0.15) -> dict[str, Any]:
    """Seeded permutation of the sorted stems -> train/val/test. At least one val image (and one test image
    when 3+ images), so the best-checkpoint choice and the final score never look at the same images."""
    if not 0 <= val < 1 or not 0 <= test < 1 or val + test >= 1:
        raise EdgesegError(f"split fractions val={val}, test={test}: each in [0, 1) and val + test < 1")
    if val == 0:
        raise EdgesegError("split fraction val=0: the best checkpoint is chosen on the validation images; use a "
                           "--val-fraction above 0 (default 0.15)")
    stems = sorted(stems)
    n = len(stems)
    if n < 2:
        raise EdgesegError(f"need at least 2 images to split into train/val, got {n}; add images")
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(n * val))
    n_test = (max(1, round(n * test)) if n >= 3 else 0) if test > 0 else 0
    n_test = min(n_test, n - n_val - 1)
    shuffled = [stems[i] for i in order]
    return {"seed": seed, "fractions": {"val": val, "test": test},
            "val": sorted(shuffled[:n_val]), "test": sorted(shuffled[n_val:n_val + n_test]),
            "train": sorted(shuffled[n_val + n_test:])}


def read_split_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EdgesegError(f"{path}: not a readable split file ({type(e).__name__}); pass the split.json "
                           f"of a training run") from None
    if not isinstance(d, dict) or not all(isinstance(d.get(k), list) and all(isinstance(v, str) for v in d[k])
                                          for k in ("train", "val", "test")):
        raise EdgesegError(f"{path}: a split file needs lists of image stems 'train', 'val' and 'test'; pass the "
                           f"split.json "
                           f"of a training run")
    return d


def select(folder: SegFolder, split: dict[str, Any] | None, name: str | None) -> tuple[str, list[Sample]]:
    """The samples of split `name` (train|val|test|all). name=None: test if a split is known, else all."""
    if name is None:
        name = "test" if split is not None else "all"
    if name == "all":
        return "all", list(folder.samples)
    if name not in ("train", "val", "test"):
        raise EdgesegError(f"--split {name!r}: choose train, val, test or all")
    if split is None:
        raise EdgesegError(f"--split {name}: this artifact records no split; pass --split-file RUN_DIR/split.json "
                           f"or --split all")
    stems = split.get(name)
    if not isinstance(stems, list) or not all(isinstance(v, str) for v in stems):
        raise EdgesegError(f"--split {name}: the recorded split's {name!r} is not a list of image stems (damaged); "
                           f"pass --split-file RUN_DIR/split.json or --split all")
    samples = folder.subset(stems, what=f"{name} split")
    if not samples:
        raise EdgesegError(f"--split {name}: the split has no {name} images; use --split all or another split")
    return name, samples
