"""The one metric implementation every backend is scored with.

Per image, from the confusion counts of the foreground class (binary) or of each foreground class 1..K-1
(multi-class, then averaged over those classes):

    Dice = 2TP / (2TP + FP + FN)      IoU = TP / (TP + FP + FN)      accuracy = (TP + TN) / all pixels
    precision = TP / (TP + FP)        recall = TP / (TP + FN)

Empty-mask convention (stated, because papers differ): when the ground truth AND the prediction are both
empty, Dice = IoU = 1 (a correct "nothing here"). Likewise precision = 1 when nothing is predicted and nothing
was there (FN = 0; else 0), and recall = 1 when there is nothing to find and nothing was predicted (FP = 0;
else 0).

Aggregates: `dice`, `iou`, ... are the mean over images (what most of the seed papers report); `*_pooled`
sum the confusion counts over the whole set first (global Dice, insensitive to the empty-mask convention).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NAMES = ("dice", "iou", "accuracy", "precision", "recall")
# A best Dice below this on a set whose masks have foreground: the network predicts (almost) none; a run that
# never learned (training warns, reports name it). Far below any trained network here (>= 0.3) and above 0.
NEVER_LEARNED = 0.05


def never_learned(pooled_dice: Sequence[float | None]) -> bool:
    """THE definition of a run that never learned (training's warning, the claims, compare): its pooled Dice
    stayed below NEVER_LEARNED wherever it was measured (each epoch's validation, or the test set). Pooled,
    because the mean over images scores an empty prediction on an empty mask 1 (Kvasir's native crops: a mean
    of 0.567 from a U-Net that found no polyp). Empty or unmeasured -> False (nothing to judge)."""
    vals = list(pooled_dice)
    return bool(vals) and all(v is not None and v < NEVER_LEARNED for v in vals)


def pooled_dice_bound(per_image_dice: Sequence[float]) -> float:
    """An upper bound of the pooled Dice from per-image Dice alone: pooled Dice is the mean of the per-image
    Dice weighted by each image's 2TP + FP + FN, so it never exceeds the largest of them (an image whose mask
    and prediction are both empty scores 1 and only raises the bound). Lets a per-image CSV without pixel
    counts be judged by `never_learned`: a bound below NEVER_LEARNED proves the pooled Dice is too."""
    return max(per_image_dice) if len(per_image_dice) else float("nan")


@dataclass(frozen=True)
class Counts:
    tp: int
    fp: int
    fn: int
    tn: int

    def __add__(self, o: Counts) -> Counts:
        return Counts(self.tp + o.tp, self.fp + o.fp, self.fn + o.fn, self.tn + o.tn)

    def flipped(self) -> Counts:
        """The counts of the other class of a binary problem (background as foreground)."""
        return Counts(self.tn, self.fn, self.fp, self.tp)


def confusion(pred: np.ndarray, gt: np.ndarray) -> Counts:
    """Boolean prediction and ground truth of the same shape -> confusion counts."""
    pred = np.asarray(pred, bool)
    gt = np.asarray(gt, bool)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and mask {gt.shape} differ in shape")
    tp = int(np.count_nonzero(pred & gt))
    fp = int(np.count_nonzero(pred)) - tp
    fn = int(np.count_nonzero(gt)) - tp
    return Counts(tp, fp, fn, int(pred.size) - tp - fp - fn)


def scores(c: Counts) -> dict[str, float]:
    """Dice, IoU, accuracy, precision, recall of one set of counts, with the empty-mask convention above."""
    union = c.tp + c.fp + c.fn
    total = c.tp + c.fp + c.fn + c.tn
    return {
        "dice": 1.0 if union == 0 else 2 * c.tp / (2 * c.tp + c.fp + c.fn),
        "iou": 1.0 if union == 0 else c.tp / union,
        "accuracy": 1.0 if total == 0 else (c.tp + c.tn) / total,
        "precision": (1.0 if c.fn == 0 else 0.0) if c.tp + c.fp == 0 else c.tp / (c.tp + c.fp),
        "recall": (1.0 if c.fp == 0 else 0.0) if c.tp + c.fn == 0 else c.tp / (c.tp + c.fn),
    }


def dice(pred: np.ndarray, gt: np.ndarray) -> float:
    return scores(confusion(pred, gt))["dice"]


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    return scores(confusion(pred, gt))["iou"]


def labels_from_logits(logits: np.ndarray) -> np.ndarray:
    """N x K x H x W logits -> N x H x W class indices: sigmoid > 0.5 (logit > 0) for K=1, argmax otherwise."""
    if logits.ndim != 4:
        raise ValueError(f"logits must be N x K x H x W, got shape {logits.shape}")
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).astype(np.int64)
    return logits.argmax(1).astype(np.int64)


class SegMetrics:
    """Accumulates per-image results; `summary()` gives the mean over images and the pooled scores."""

    def __init__(self, num_classes: int = 1) -> None:
        self.num_classes = num_classes
        self.fg_classes = [1] if num_classes <= 2 else list(range(1, num_classes))
        self.rows: list[dict[str, float | int | str]] = []
        self.pooled = {k: Counts(0, 0, 0, 0) for k in self.fg_classes}
        self.pooled_bg = Counts(0, 0, 0, 0)
        self.correct = self.pixels = 0

    def add(self, pred: np.ndarray, gt: np.ndarray, name: str = "") -> dict[str, float | int | str]:
        """pred, gt: H x W class indices (binary: 0/1)."""
        per_class = {k: confusion(pred == k, gt == k) for k in self.fg_classes}
        for k, c in per_class.items():
            self.pooled[k] = self.pooled[k] + c
        row: dict[str, float | int | str] = {"image": name}
        class_scores = [scores(c) for c in per_class.values()]
        for m in NAMES:
            row[m] = float(np.mean([s[m] for s in class_scores]))
        if len(self.fg_classes) == 1:
            c = per_class[self.fg_classes[0]]
            row["dice_bg"] = scores(c.flipped())["dice"]  # e.g. ISBI: both classes are reported
            self.pooled_bg = self.pooled_bg + c.flipped()
            row.update(tp=c.tp, fp=c.fp, fn=c.fn, tn=c.tn)
        # pixel accuracy over all classes, not per class, for multi-class label maps
        correct = int(np.count_nonzero(pred == gt))
        self.correct += correct
        self.pixels += int(pred.size)
        row["accuracy"] = correct / pred.size if pred.size else 1.0
        self.rows.append(row)
        return row

    def summary(self) -> dict[str, float | int | None]:
        n = len(self.rows)
        out: dict[str, float | int | None] = {"n_images": n}
        for m in NAMES:
            out[m] = float(np.mean([r[m] for r in self.rows])) if n else None
        pooled = [scores(c) for c in self.pooled.values()]
        for m in NAMES:
            out[f"{m}_pooled"] = float(np.mean([s[m] for s in pooled])) if n else None
        out["accuracy_pooled"] = self.correct / self.pixels if self.pixels else None
        if len(self.fg_classes) == 1:
            out["dice_bg"] = float(np.mean([r["dice_bg"] for r in self.rows])) if n else None
            out["dice_bg_pooled"] = scores(self.pooled_bg)["dice"] if n else None
        return out
