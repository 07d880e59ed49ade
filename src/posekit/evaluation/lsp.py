"""Leeds Sports Pose (LSP): the ``joints.mat`` reader and PCK@0.2 normalised by torso size.

LSP (Johnson & Everingham, BMVC 2010) and its extension LSPET annotate 14 joints per image in
``joints.mat``, in two layouts:

* LSP (2000 images): ``joints`` of shape (3, 14, N): rows x, y and an *occlusion* flag (1 =
  occluded; the dataset README calls it visibility, but the values mark occluded joints, which is
  why HRNet / pytorch-pose use ``1 - flag``);
* LSPET (10000 images): ``joints`` of shape (14, 3, N): columns x, y and a *visibility* flag
  (1 = visible).

Both are read into the 16-joint MPII order of :mod:`posekit.joints` (pelvis and thorax, which LSP
lacks, are missing; LSP "neck" is MPII ``upper_neck`` and "head top" is ``head_top``).

PCK (Sapp & Taskar 2013, as evaluated in the LSP literature and bearpaw/eval_pose ``eval_pck.m``):
a joint is correct when ``||pred - gt|| <= t * torso`` with ``torso = ||l_shoulder - r_hip||`` (the
person's torso diagonal), ``t = 0.2``; all 14 joints are evaluated, occluded ones included.
Coordinates are original image pixels (MATLAB's 1-based pixels in the file are kept as they are;
distances do not depend on the offset as long as predictions use the same convention).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posekit.joints import JOINT_NAMES, NUM_JOINTS, joint_index

#: LSP joint order -> MPII joint names.
LSP_JOINT_NAMES: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow", "r_shoulder",
    "l_shoulder", "l_elbow", "l_wrist", "upper_neck", "head_top",
)
#: MPII joint id of each LSP joint.
LSP_TO_MPII: tuple[int, ...] = tuple(joint_index(n) for n in LSP_JOINT_NAMES)
#: The torso diagonal that normalises PCK: left shoulder to right hip (MPII ids).
TORSO_JOINTS: tuple[int, int] = (joint_index("l_shoulder"), joint_index("r_hip"))


def read_lsp_joints(path: str | Path, key: str = "joints") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read an LSP / LSPET ``joints.mat`` into MPII joint order.

    Args:
        path: the ``.mat`` file.
        key: the variable holding the joints (``"joints"`` in both releases).

    Returns:
        ``(joints, visible, missing)``: (N, 16, 2) float64 (x, y) px, MPII order, pelvis and thorax
        0; (N, 16) bool visible; (N, 16) bool missing (True for pelvis and thorax only).

    Raises:
        FileNotFoundError: no such file.
        KeyError: ``key`` is not in the file.
        ValueError: unreadable file, or ``joints`` is neither (3, 14, N) nor (14, 3, N).
    """
    from posekit.evaluation.predictions import read_mat

    path = Path(path)
    data = read_mat(path, "LSP joints")
    if key not in data:
        raise KeyError(f"{path}: no variable {key!r} (variables: {', '.join(k for k in data if not k.startswith('__'))})")
    raw = np.asarray(data[key], dtype=np.float64)
    if raw.ndim == 3 and raw.shape[:2] == (3, 14):          # LSP: x, y, occluded
        xy, visible = raw[:2].transpose(2, 1, 0), raw[2].T == 0
    elif raw.ndim == 3 and raw.shape[:2] == (14, 3):        # LSPET: x, y, visible
        xy, visible = raw[:, :2].transpose(2, 0, 1), raw[:, 2].T > 0
    else:
        raise ValueError(f"{path}: {key!r} has shape {raw.shape}, expected (3, 14, N) (LSP) or (14, 3, N) (LSPET)")
    n = xy.shape[0]
    joints = np.zeros((n, NUM_JOINTS, 2))
    vis = np.zeros((n, NUM_JOINTS), bool)
    missing = np.ones((n, NUM_JOINTS), bool)
    ids = list(LSP_TO_MPII)
    joints[:, ids], vis[:, ids], missing[:, ids] = xy, visible, False
    return joints, vis, missing


def torso_sizes(joints: np.ndarray) -> np.ndarray:
    """PCK normaliser per sample: ``||l_shoulder - r_hip||`` in px.

    Args:
        joints: (N, 16, 2) MPII order, px.

    Returns:
        (N,) float64 px.
    """
    joints = np.asarray(joints, dtype=np.float64)
    a, b = TORSO_JOINTS
    return np.linalg.norm(joints[:, a] - joints[:, b], axis=-1)


def pck_torso(pred: np.ndarray, gt: np.ndarray, missing: np.ndarray | None = None,
              threshold: float = 0.2) -> dict[str, float]:
    """PCK@``threshold`` normalised by torso size, in percent.

    A joint is correct when ``||pred - gt|| <= threshold * ||gt[l_shoulder] - gt[r_hip]||``; a
    non-finite prediction is wrong. Only joints not ``missing`` are evaluated.

    Args:
        pred, gt: (N, 16, 2) (x, y) px, MPII order.
        missing: (N, 16) bool (e.g. from :func:`read_lsp_joints`); None = nothing missing.
        threshold: fraction of the torso size (0.2 on LSP).

    Returns:
        ``{joint name: PCK}`` for every evaluated joint plus ``"mean"``, the pooled rate over all
        evaluated instances (%), as in ``eval_pck.m``.

    Raises:
        ValueError: shapes differ, or a sample with an evaluated joint has a zero / non-finite torso.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or gt.ndim != 3 or gt.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must both have shape (N, 16, 2)")
    evaluated = np.ones(gt.shape[:2], bool) if missing is None else ~np.asarray(missing, bool)
    torso = torso_sizes(gt)
    bad = evaluated.any(axis=1) & ~(np.isfinite(torso) & (torso > 0))
    if bad.any():
        raise ValueError(f"{int(bad.sum())} samples have a zero or non-finite torso size "
                         f"(first: sample {int(np.flatnonzero(bad)[0])})")
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.linalg.norm(pred - gt, axis=-1) / np.where(torso > 0, torso, 1.0)[:, None]
    correct = np.where(np.isfinite(dist), dist <= threshold, False) & evaluated
    out = {JOINT_NAMES[j]: 100.0 * correct[:, j].sum() / evaluated[:, j].sum()
           for j in range(NUM_JOINTS) if evaluated[:, j].any()}
    out["mean"] = 100.0 * correct.sum() / evaluated.sum() if evaluated.any() else float("nan")
    return {k: float(v) for k, v in out.items()}
