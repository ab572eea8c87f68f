"""The one metric implementation, against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from edgeseg.metrics import Counts, SegMetrics, confusion, labels_from_logits, scores


def test_both_empty_is_perfect() -> None:
    z = np.zeros((4, 4), bool)
    s = scores(confusion(z, z))
    assert s == {"dice": 1.0, "iou": 1.0, "accuracy": 1.0, "precision": 1.0, "recall": 1.0}


def test_empty_truth_with_false_positives() -> None:
    pred = np.zeros((4, 4), bool)
    pred[0, 0] = True
    s = scores(confusion(pred, np.zeros((4, 4), bool)))
    assert s["dice"] == 0.0 and s["iou"] == 0.0 and s["precision"] == 0.0 and s["recall"] == 0.0
    assert s["accuracy"] == 15 / 16


def test_all_foreground() -> None:
    o = np.ones((3, 5), bool)
    assert confusion(o, o) == Counts(15, 0, 0, 0)
    assert scores(confusion(o, o))["dice"] == 1.0


def test_disjoint() -> None:
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2], b[2:] = True, True
    s = scores(confusion(a, b))
    assert s["dice"] == 0.0 and s["iou"] == 0.0 and s["accuracy"] == 0.0


def test_partial_overlap_exact() -> None:
    # pred covers columns 0-2 of row 0 (3 px), truth columns 1-4 (4 px): TP 2, FP 1, FN 2, TN 20
    pred = np.zeros((5, 5), bool)
    gt = np.zeros((5, 5), bool)
    pred[0, 0:3] = True
    gt[0, 1:5] = True
    c = confusion(pred, gt)
    assert c == Counts(2, 1, 2, 20)
    s = scores(c)
    assert s["dice"] == pytest.approx(4 / 7)
    assert s["iou"] == pytest.approx(2 / 5)
    assert s["accuracy"] == pytest.approx(22 / 25)
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(1 / 2)
    # background class of the same image (ISBI reports both): TP 20, FP 2, FN 1
    assert scores(c.flipped())["dice"] == pytest.approx(40 / 43)


def test_mean_over_images_vs_pooled() -> None:
    m = SegMetrics(1)
    z = np.zeros((2, 2), np.int64)
    m.add(z, z, "empty")  # Dice 1 by convention
    p = np.array([[1, 1], [0, 0]])
    g = np.array([[1, 0], [0, 0]])
    m.add(p, g, "half")  # TP 1 FP 1 -> Dice 2/3
    s = m.summary()
    assert s["n_images"] == 2
    assert s["dice"] == pytest.approx((1 + 2 / 3) / 2)
    assert s["dice_pooled"] == pytest.approx(2 / 3)  # pooled counts ignore the empty image


def test_multiclass_mean_over_foreground_classes() -> None:
    gt = np.array([[0, 1], [2, 2]])
    pred = np.array([[0, 1], [2, 0]])
    m = SegMetrics(3)
    row = m.add(pred, gt)
    assert row["dice"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert row["accuracy"] == pytest.approx(3 / 4)


def test_labels_from_logits() -> None:
    assert labels_from_logits(np.array([[[[-1.0, 0.5]]]], np.float32)).tolist() == [[[0, 1]]]
    two = np.array([[[[0.0, 2.0]], [[1.0, 1.0]]]], np.float32)
    assert labels_from_logits(two).tolist() == [[[1, 0]]]
