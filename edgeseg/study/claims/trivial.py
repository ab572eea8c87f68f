"""The trivial ISBI predictor: "no membrane anywhere", scored the way the campaign scores a network.

ISBI's interior (white) class covers about 78% of the pixels, so a prediction with no membrane at all already
scores a high interior Dice. Every ISBI figure needs this floor beside it: a network's interior Dice is only
worth the distance above it. The rows have the campaign CSV's columns (stem, dice, iou = membrane;
dice_interior, iou_interior = the other class of the same prediction), at the campaign's input size (masks
resized nearest, as `edgeseg.data.preprocess.Preprocess.mask` does for training and scoring).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from edgeseg.artifacts import atomic_path
from edgeseg.errors import EdgesegError
from edgeseg.metrics import confusion, scores

COLUMNS = ("stem", "dice", "iou", "dice_interior", "iou_interior")
ISBI_SIZE = (128, 128)  # the campaign's ISBI input (plan.json: sets.isbi2012-em.size)


def trivial_rows(masks: Iterable[tuple[str, np.ndarray]]) -> list[dict[str, float | str]]:
    """Per image, the scores of predicting no membrane: masks are H x W arrays with 1 = membrane, 0 = interior."""
    rows: list[dict[str, float | str]] = []
    for stem, gt in masks:
        gt = np.asarray(gt, bool)
        c = confusion(np.zeros_like(gt), gt)
        membrane, interior = scores(c), scores(c.flipped())
        rows.append({"stem": stem, "dice": membrane["dice"], "iou": membrane["iou"],
                     "dice_interior": interior["dice"], "iou_interior": interior["iou"]})
    return rows


def isbi_masks(data_dir: str | Path, size: tuple[int, int] = ISBI_SIZE) -> list[tuple[str, np.ndarray]]:
    """Every ISBI mask of `data_dir` (all 30 are test images across the campaign's folds), membrane = 1, at
    `size` (H, W) by nearest resize, exactly as the campaign's data loader prepares them."""
    from edgeseg.data.dataset import SegFolder, parse_foreground, read_mask
    from edgeseg.data.preprocess import Preprocess

    folder = SegFolder(data_dir)
    labels = parse_foreground("invert", folder.mask_values())
    pp = Preprocess(size[0], size[1], 1)
    out = []
    for s in folder.samples:
        if s.mask is None:
            raise EdgesegError(f"{s.image}: no mask; the trivial baseline needs every ISBI mask")
        out.append((s.stem, pp.mask(labels.apply(read_mask(s.mask), s.mask))))
    return out


def summary(rows: list[dict[str, float | str]]) -> dict[str, float]:
    """Mean over images of each score column (what the report prints beside the networks' means)."""
    return {k: float(np.mean([float(r[k]) for r in rows])) for k in COLUMNS[1:]}


def write_csv(rows: list[dict[str, float | str]], out: str | Path) -> Path:
    """The per-image CSV in the campaign's format (6 decimals), written atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (r[k] if k == "stem" else f"{float(r[k]):.6f}") for k in COLUMNS})
    with atomic_path(out) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    return Path(out)


if __name__ == "__main__":  # python -m edgeseg.study.claims.trivial DATA_DIR OUT_CSV
    import sys

    rows = trivial_rows(isbi_masks(sys.argv[1]))
    write_csv(rows, sys.argv[2])
    print({k: round(v, 4) for k, v in summary(rows).items()}, f"over {len(rows)} images")
