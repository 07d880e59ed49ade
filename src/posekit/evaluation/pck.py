"""PCK normalised by torso size (the LSP metric, PCK@0.2) or by the person's bounding box.

PCK (Sapp & Taskar 2013, as evaluated in the LSP literature and bearpaw/eval_pose ``eval_pck.m``):
a joint is correct when ``||pred - gt|| <= t * torso`` with ``torso = ||l_shoulder - r_hip||`` (the
person's torso diagonal), ``t = 0.2``; every annotated joint is evaluated, occluded ones included.
Works for any keypoint set that names ``l_shoulder`` and ``r_hip`` (LSP and MPII by default).
"""

from __future__ import annotations

import numpy as np

from posekit.keypoints import LSP, KeypointSet

#: The torso diagonal that normalises PCK: left shoulder to right hip.
TORSO_JOINTS: tuple[str, str] = ("l_shoulder", "r_hip")


def torso_sizes(joints: np.ndarray, keypoints: KeypointSet = LSP) -> np.ndarray:
    """PCK normaliser per sample: ``||l_shoulder - r_hip||`` in px.

    Args:
        joints: (N, K, 2) px in the order of ``keypoints``.

    Returns:
        (N,) float64 px.

    Raises:
        KeyError: ``keypoints`` lacks ``l_shoulder`` or ``r_hip``.
    """
    joints = np.asarray(joints, dtype=np.float64)
    a, b = keypoints.indices(TORSO_JOINTS)
    return np.linalg.norm(joints[:, a] - joints[:, b], axis=-1)


def pck_torso(pred: np.ndarray, gt: np.ndarray, missing: np.ndarray | None = None,
              threshold: float = 0.2, keypoints: KeypointSet = LSP) -> dict[str, float]:
    """PCK@``threshold`` normalised by torso size, in percent.

    A joint is correct when ``||pred - gt|| <= threshold * ||gt[l_shoulder] - gt[r_hip]||``; a
    non-finite prediction is wrong. Only joints not ``missing`` are evaluated.

    Args:
        pred, gt: (N, K, 2) (x, y) px in the order of ``keypoints``.
        missing: (N, K) bool (e.g. from :func:`posekit.data.lsp.read_lsp_joints`); None = nothing missing.
        threshold: fraction of the torso size (0.2 on LSP).
        keypoints: the keypoint set (default LSP, 14 joints).

    Returns:
        ``{joint name: PCK}`` for every evaluated joint plus ``"mean"``, the pooled rate over all
        evaluated instances (%), as in ``eval_pck.m``.

    Raises:
        ValueError: shapes differ, or a sample with an evaluated joint has a zero / non-finite torso.
        KeyError: ``keypoints`` lacks a torso joint.
    """
    pred, gt, evaluated = _checked(pred, gt, missing, keypoints)
    return _pck(pred, gt, torso_sizes(gt, keypoints), evaluated, threshold, keypoints, "torso")


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
    pred, gt, evaluated = _checked(pred, gt, missing, keypoints)
    box = bbox_sizes(gt, evaluated if box_joints is None else box_joints)
    return _pck(pred, gt, box, evaluated, alpha, keypoints, "bounding-box")


def _checked(pred, gt, missing, keypoints: KeypointSet):
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    k = len(keypoints)
    if pred.shape != gt.shape or gt.ndim != 3 or gt.shape[1:] != (k, 2):
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must both have shape (N, {k}, 2)")
    evaluated = np.ones(gt.shape[:2], bool) if missing is None else ~np.asarray(missing, bool)
    return pred, gt, evaluated


def _pck(pred, gt, norm, evaluated, threshold: float, keypoints: KeypointSet, what: str) -> dict[str, float]:
    """Pooled PCK of ``(N, K)`` ``evaluated`` joints with per-sample normalisers ``norm`` (N,) px."""
    k = len(keypoints)
    bad = evaluated.any(axis=1) & ~(np.isfinite(norm) & (norm > 0))
    if bad.any():
        raise ValueError(f"{int(bad.sum())} samples have a zero or non-finite {what} size "
                         f"(first: sample {int(np.flatnonzero(bad)[0])})")
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.linalg.norm(pred - gt, axis=-1) / np.where(norm > 0, norm, 1.0)[:, None]
    correct = np.where(np.isfinite(dist), dist <= threshold, False) & evaluated
    out = {keypoints.names[j]: 100.0 * correct[:, j].sum() / evaluated[:, j].sum()
           for j in range(k) if evaluated[:, j].any()}
    out["mean"] = 100.0 * correct.sum() / evaluated.sum() if evaluated.any() else float("nan")
    return {k: float(v) for k, v in out.items()}
