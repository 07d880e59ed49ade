"""PCK normalised by torso size, the LSP metric (PCK@0.2).

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
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    k = len(keypoints)
    if pred.shape != gt.shape or gt.ndim != 3 or gt.shape[1:] != (k, 2):
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must both have shape (N, {k}, 2)")
    evaluated = np.ones(gt.shape[:2], bool) if missing is None else ~np.asarray(missing, bool)
    torso = torso_sizes(gt, keypoints)
    bad = evaluated.any(axis=1) & ~(np.isfinite(torso) & (torso > 0))
    if bad.any():
        raise ValueError(f"{int(bad.sum())} samples have a zero or non-finite torso size "
                         f"(first: sample {int(np.flatnonzero(bad)[0])})")
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.linalg.norm(pred - gt, axis=-1) / np.where(torso > 0, torso, 1.0)[:, None]
    correct = np.where(np.isfinite(dist), dist <= threshold, False) & evaluated
    out = {keypoints.names[j]: 100.0 * correct[:, j].sum() / evaluated[:, j].sum()
           for j in range(k) if evaluated[:, j].any()}
    out["mean"] = 100.0 * correct.sum() / evaluated.sum() if evaluated.any() else float("nan")
    return {k: float(v) for k, v in out.items()}
