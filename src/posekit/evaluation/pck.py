"""PCK normalised by torso size (the LSP metric, PCK@0.2) or by the person's bounding box.

PCK (Sapp & Taskar, CVPR 2013, as evaluated in the LSP literature; Tang & Wu 2019, Sec. 4 and
Tables 4-5 use PCK@0.2 on LSP): a joint is correct when ``||pred - gt|| <= t * torso``, with the
torso size ``torso = ||l_shoulder - r_hip||`` (the person's torso diagonal, person-centric
labels) and ``t = 0.2``; every annotated joint is evaluated, occluded ones included. The torso
pair and the ``<=`` are those of ``eval_pck.m`` in Wei Yang's LSP evaluation code
(bearpaw/eval_pose, ``utils/eval_pck.m``: ``norm(gt(:,10) - gt(:,3))`` in LSP's 1-based order,
left shoulder and right hip; ``dist <= range``), which also pools all joints into its mean.

The score is :func:`posekit.evaluation.pckh.pckh` with the torso size as the per-sample normaliser,
so tables, JSON and per-joint values come out exactly as for PCKh (labelled ``PCK``). Works for
any keypoint set that names ``l_shoulder`` and ``r_hip`` (LSP, and MPII for LSP people read into
the MPII joints).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from posekit.evaluation.pckh import PCKhResult, pckh
from posekit.keypoints import LSP, KeypointSet

__all__ = ["TORSO_JOINTS", "torso_sizes", "pck", "pck_torso", "bbox_sizes", "pck_bbox"]

#: The torso diagonal that normalises PCK: left shoulder to right hip.
TORSO_JOINTS: tuple[str, str] = ("l_shoulder", "r_hip")


def torso_sizes(joints: np.ndarray, keypoints: KeypointSet = LSP, missing: np.ndarray | None = None) -> np.ndarray:
    """PCK normaliser per sample: ``||l_shoulder - r_hip||`` in px.

    Args:
        joints: (N, K, 2) px in the order of ``keypoints``.
        missing: optional (N, K) bool; a sample missing either torso joint gets NaN.

    Returns:
        (N,) float64 px.

    Raises:
        KeyError: ``keypoints`` lacks ``l_shoulder`` or ``r_hip``.
    """
    joints = np.asarray(joints, dtype=np.float64)
    a, b = keypoints.indices(TORSO_JOINTS)
    size = np.linalg.norm(joints[:, a] - joints[:, b], axis=-1)
    if missing is not None:
        missing = np.asarray(missing, bool)
        size = np.where(missing[:, a] | missing[:, b], np.nan, size)
    return size


def pck(pred: np.ndarray, gt: np.ndarray, missing: np.ndarray | None = None,
        thresholds: float | Sequence[float] = (0.2,), mask: np.ndarray | None = None,
        keypoints: KeypointSet = LSP) -> PCKhResult:
    """PCK at ``thresholds`` (fractions of the torso size) in percent, as a :class:`PCKhResult`
    whose ``metric`` is ``"PCK"`` (table rows, mean and hard mean as for PCKh).

    Args:
        pred, gt: (N, K, 2) (x, y) original image px in the order of ``keypoints``.
        missing: (N, K) bool, True = not annotated (not evaluated, and no torso from it); None = none.
        thresholds: e.g. 0.2 (LSP) or several.
        mask: optional (N, K) bool selection of the evaluated joints (e.g. visible ones).
        keypoints: the keypoint set of the K joints (default LSP, 14 joints).

    Raises:
        ValueError: shapes differ, or a sample with an evaluated joint has no torso (a torso joint
            missing, coincident or not finite); the message names the first such sample.
        KeyError: ``keypoints`` lacks a torso joint.
    """
    gt = np.asarray(gt, dtype=np.float64)
    k = len(keypoints)
    if gt.ndim != 3 or gt.shape[1:] != (k, 2) or np.shape(pred) != gt.shape:
        raise ValueError(f"pred {np.shape(pred)} and gt {gt.shape} must both have shape (N, {k}, 2)")
    torso = torso_sizes(gt, keypoints, missing)

    def no_torso(count: int, i: int) -> str:
        return (f"{count} samples have no usable torso size ||{TORSO_JOINTS[0]} - {TORSO_JOINTS[1]}|| "
                f"(a torso joint missing, or the two at the same place; first: sample {i}, torso {torso[i]})")

    return _pck_by_size(pred, gt, torso, missing, thresholds, mask, keypoints, no_torso)


def _pck_by_size(pred, gt: np.ndarray, sizes: np.ndarray, missing, thresholds, mask, keypoints: KeypointSet,
                 describe) -> PCKhResult:
    """:func:`posekit.evaluation.pckh.pckh` with per-sample normalisers ``sizes`` (N,) px instead
    of head sizes, labelled ``PCK``. A sample with an evaluated joint (not ``missing``, inside
    ``mask``) and a zero or non-finite size raises ValueError with ``describe(count, first index)``."""
    evaluated = np.ones(gt.shape[:2], bool) if missing is None else ~np.asarray(missing, bool)
    if mask is not None:
        evaluated &= np.asarray(mask, bool)
    with np.errstate(invalid="ignore"):
        bad = evaluated.any(axis=1) & ~(np.isfinite(sizes) & (sizes > 0))
    if bad.any():
        raise ValueError(describe(int(bad.sum()), int(np.flatnonzero(bad)[0])))
    result = pckh(pred, gt, np.where(np.isfinite(sizes), sizes, 0.0), missing, thresholds, mask, keypoints)
    return dataclasses.replace(result, metric="PCK")


def pck_torso(pred: np.ndarray, gt: np.ndarray, missing: np.ndarray | None = None,
              threshold: float = 0.2, keypoints: KeypointSet = LSP) -> dict[str, float]:
    """PCK@``threshold`` as a dict: ``{joint name: PCK}`` for every evaluated joint plus
    ``"mean"``, the rate pooled over all evaluated instances of all joints (%), as in
    ``eval_pck.m``. Arguments and errors as :func:`pck`; a non-finite prediction is wrong.
    """
    return _pooled_dict(pck(pred, gt, missing, (threshold,), keypoints=keypoints), keypoints)


def _pooled_dict(res: PCKhResult, keypoints: KeypointSet) -> dict[str, float]:
    """``{joint name: value}`` of the evaluated joints at the first threshold, plus the pooled ``"mean"``."""
    out = {name: value for name, value, count in zip(keypoints.names, res.per_joint[0], res.counts) if count}
    out["mean"] = res.subset_mean(range(len(keypoints)))
    return {k: float(v) for k, v in out.items()}


def bbox_sizes(joints: np.ndarray, annotated: np.ndarray | None = None) -> np.ndarray:
    """Bounding-box PCK normaliser per sample: ``max(height, width)`` of the tight box around the
    annotated ground-truth joints, px (NaN for a sample without annotated joints).

    Args:
        joints: (N, K, 2) px.
        annotated: (N, K) bool, the joints that span the box; None = all.

    Returns:
        (N,) float64 px.
    """
    joints = np.asarray(joints, dtype=np.float64)
    annotated = np.ones(joints.shape[:2], bool) if annotated is None else np.asarray(annotated, bool)
    inside = annotated[..., None] & np.isfinite(joints)
    lo = np.where(inside, joints, np.inf).min(axis=1)
    hi = np.where(inside, joints, -np.inf).max(axis=1)
    with np.errstate(invalid="ignore"):
        size = (hi - lo).max(axis=1)
    return np.where(np.isfinite(size), size, np.nan)


def pck_bbox(pred: np.ndarray, gt: np.ndarray, missing: np.ndarray | None = None, alpha: float = 0.1,
             keypoints: KeypointSet = LSP, box_joints: np.ndarray | None = None) -> dict[str, float]:
    """PCK@``alpha`` normalised by the person's bounding box (Yang & Ramanan, "Articulated human
    detection with flexible mixtures of parts", TPAMI 2013, Sec. 7): a joint is correct when
    ``||pred - gt|| <= alpha * max(h, w)`` of the tight box around the ground-truth joints.

    Yang & Ramanan use ``alpha = 0.1`` for full-body poses, the default here. The box is spanned by
    the joints in ``box_joints`` (default: the evaluated ones), so a run scored on a joint subset
    still measures against the whole person.

    Args:
        pred, gt: (N, K, 2) (x, y) px in the order of ``keypoints``.
        missing: (N, K) bool, joints not evaluated; None = nothing missing.
        alpha: fraction of the box's longer side.
        box_joints: (N, K) bool, the ground-truth joints that span the box.

    Returns:
        ``{joint name: PCK}`` for every evaluated joint plus ``"mean"`` (pooled over evaluated joints), %.

    Raises:
        ValueError: shapes differ, or a sample with an evaluated joint has a zero / non-finite box.
    """
    gt = np.asarray(gt, dtype=np.float64)
    evaluated = np.ones(gt.shape[:2], bool) if missing is None else ~np.asarray(missing, bool)
    box = bbox_sizes(gt, evaluated if box_joints is None else box_joints)
    res = _pck_by_size(pred, gt, box, missing, (alpha,), None, keypoints,
                       lambda count, i: f"{count} samples have a zero or non-finite bounding-box size (first: sample {i})")
    return _pooled_dict(res, keypoints)
