"""Segmentation metrics (Long et al. 2015, "Fully Convolutional Networks for Semantic
Segmentation", Sec. 5) and the distance-based pose metric ``PCK_dist`` of Agrawal, Agarwal & Gupta
("Multi-task learning for human pose estimation and part segmentation with hard parameter
sharing", Sec. 2.3).

FCN's metrics, with ``n_ij`` = number of pixels of class ``i`` predicted as class ``j`` (the
confusion matrix, rows = ground truth), ``t_i = sum_j n_ij`` pixels of class ``i`` and ``n_cl``
classes:

* pixel accuracy: ``sum_i n_ii / sum_i t_i``
* mean accuracy: ``(1 / n_cl) sum_i n_ii / t_i``
* mean IU: ``(1 / n_cl) sum_i n_ii / (t_i + sum_j n_ji - n_ii)``
* frequency weighted IU: ``(sum_k t_k)^-1 sum_i t_i n_ii / (t_i + sum_j n_ji - n_ii)``

Classes absent from both the ground truth and the predictions (0 / 0) are left out of the means
(``n_cl`` counts the others), the usual convention of FCN's ``score.py``-style evaluation with
``nanmean``. A class present in predictions but not in the ground truth has accuracy 0/0 (left out
of mean accuracy) but IU 0 (counted in mean IU).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from posekit.keypoints import MPII

__all__ = ["confusion_matrix", "SegmentationScores", "segmentation_scores", "pck_dist", "PCKDistResult"]


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore_index: int = 255,
                     out: np.ndarray | None = None) -> np.ndarray:
    """Accumulate ``n_ij`` (rows: ground truth ``i``, columns: prediction ``j``).

    Args:
        gt, pred: integer label arrays of the same shape (any number of dims, e.g. ``(B, H, W)``).
        num_classes: ``C``.
        ignore_index: ground-truth pixels with this label are skipped.
        out: an existing ``(C, C)`` int64 matrix to add to (in place), for streaming evaluation.

    Returns:
        ``(C, C)`` int64 matrix (``out`` when given).

    Raises:
        ValueError: shapes differ, or a non-ignored label is outside ``0..C-1``.
    """
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"gt shape {gt.shape} != pred shape {pred.shape}")
    keep = gt != ignore_index
    g, p = gt[keep].astype(np.int64), pred[keep].astype(np.int64)
    if g.size and (g.min() < 0 or g.max() >= num_classes or p.min() < 0 or p.max() >= num_classes):
        raise ValueError(f"labels must be in 0..{num_classes - 1} (or {ignore_index} in gt)")
    cm = np.bincount(g * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    if out is None:
        return cm.astype(np.int64)
    if out.shape != (num_classes, num_classes):
        raise ValueError(f"out must be ({num_classes}, {num_classes}), got {out.shape}")
    out += cm
    return out


@dataclass(frozen=True)
class SegmentationScores:
    """FCN Sec. 5 metrics, fractions in [0, 1]; ``iu`` and ``accuracy`` per class (NaN for 0/0)."""

    pixel_accuracy: float
    mean_accuracy: float
    mean_iu: float
    frequency_weighted_iu: float
    iu: np.ndarray
    accuracy: np.ndarray


def segmentation_scores(cm: np.ndarray) -> SegmentationScores:
    """The four FCN metrics from a ``(C, C)`` confusion matrix (rows = ground truth).

    Raises:
        ValueError: not a square 2-D matrix, or it is empty (no pixel counted).
    """
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square (C, C), got {cm.shape}")
    total = cm.sum()
    if total <= 0:
        raise ValueError("empty confusion matrix: no labelled pixel")
    diag = np.diag(cm)
    t = cm.sum(axis=1)
    union = t + cm.sum(axis=0) - diag
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(t > 0, diag / t, np.nan)
        iu = np.where(union > 0, diag / union, np.nan)
    fw = float(np.nansum(t * np.nan_to_num(iu)) / total)
    return SegmentationScores(
        pixel_accuracy=float(diag.sum() / total),
        mean_accuracy=float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan"),
        mean_iu=float(np.nanmean(iu)),
        frequency_weighted_iu=fw,
        iu=iu,
        accuracy=acc,
    )


@dataclass(frozen=True)
class PCKDistResult:
    """``mean_distance``: mean pred/gt distance (px) over matched pairs (NaN if none);
    ``matched_fraction``: matched / annotated pairs; counts; per-sample thresholds (px, NaN where
    the sample has no annotated limb)."""

    mean_distance: float
    matched_fraction: float
    num_matched: int
    num_annotated: int
    thresholds: np.ndarray


def pck_dist(pred: np.ndarray, gt: np.ndarray, annotated: np.ndarray | None = None, factor: float = 5.0,
             limbs: Sequence[tuple[int, int]] = MPII.limbs()) -> PCKDistResult:
    """``PCK_dist`` (Agrawal, Agarwal & Gupta, Sec. 2.3): mean distance of the prediction/ground-truth
    pairs within a threshold.

    The report defines it in one sentence (the average distance over the pairs closer than 5 times
    the length of the shortest limb) and names neither the limbs nor the units. Here: for each
    sample, the threshold is ``factor`` (5) times the length of its shortest ground-truth limb
    (over ``limbs`` with both joints annotated and non-zero length); a joint's pair (prediction,
    ground truth) is *matched* when their Euclidean distance is at most that threshold;
    ``PCK_dist`` is the mean distance over all matched pairs of all samples, in the coordinates'
    units (px). Lower is better; since matching drops far-off predictions, report it
    together with ``matched_fraction``.

    Args:
        pred, gt: ``(N, J, 2)`` (x, y) coordinates (or ``(J, 2)`` for one sample).
        annotated: ``(N, J)`` booleans (``(J,)`` also accepted when N = 1), default all True;
            unannotated joints are not pairs.
        factor: threshold multiple of the shortest limb.
        limbs: joint pairs defining the limbs.

    Raises:
        ValueError: shapes disagree (coordinates or ``annotated``), a joint id of ``limbs`` is out
            of range, or ``factor <= 0``.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.ndim == 2:
        pred, gt = pred[None], gt[None]
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 2:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must both be (N, J, 2)")
    if factor <= 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    n, j = gt.shape[:2]
    if annotated is None:
        ann = np.ones((n, j), bool)
    else:
        ann = np.asarray(annotated, bool)
        if ann.shape == (j,) and n == 1:
            ann = ann[None]
        if ann.shape != (n, j):
            raise ValueError(f"annotated must have shape {(n, j)}, got {ann.shape}")
    for a, b in limbs:
        if not (0 <= a < j and 0 <= b < j):
            raise ValueError(f"limb ({a}, {b}) out of range for {j} joints")
    thresholds = np.full(n, np.nan)
    for i in range(n):
        lengths = [np.hypot(*(gt[i, b] - gt[i, a])) for a, b in limbs if ann[i, a] and ann[i, b]]
        lengths = [x for x in lengths if x > 0]
        if lengths:
            thresholds[i] = factor * min(lengths)
    dist = np.linalg.norm(pred - gt, axis=-1)
    valid = ann & np.isfinite(thresholds)[:, None]
    matched = valid & (dist <= np.nan_to_num(thresholds, nan=-1.0)[:, None])
    n_ann, n_match = int(ann.sum()), int(matched.sum())
    return PCKDistResult(
        mean_distance=float(dist[matched].mean()) if n_match else float("nan"),
        matched_fraction=n_match / n_ann if n_ann else float("nan"),
        num_matched=n_match,
        num_annotated=n_ann,
        thresholds=thresholds,
    )
