"""Leeds Sports Pose (LSP) and LSP-extended: the ``joints.mat`` reader.

LSP (Johnson & Everingham, BMVC 2010) and its extension LSPET annotate 14 joints per image in
``joints.mat``, in the order of :data:`posekit.keypoints.LSP`, in two layouts:

* LSP (2000 images): ``joints`` of shape (3, 14, N): rows x, y and an *occlusion* flag (1 =
  occluded; the dataset README calls it visibility, but the values mark occluded joints, which is
  why HRNet / pytorch-pose use ``1 - flag``);
* LSPET (10000 images): ``joints`` of shape (14, 3, N): columns x, y and a *visibility* flag
  (1 = visible).

The flag conventions above follow the HRNet and pytorch-pose readers; they have not been checked
here on the real LSP files (not available). Coordinates are original image pixels as stored
(MATLAB's 1-based pixels are kept: distances do not depend on the offset as long as predictions
use the same convention).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posekit.data.ground_truth import read_mat

__all__ = ["read_lsp_joints"]


def read_lsp_joints(path: str | Path, key: str = "joints") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read an LSP / LSPET ``joints.mat`` in LSP joint order.

    Args:
        path: the ``.mat`` file.
        key: the variable holding the joints (``"joints"`` in both releases).

    Returns:
        ``(joints, visible, missing)``: (N, 14, 2) float64 (x, y) px; (N, 14) bool visible; (N, 14)
        bool missing (LSPET marks a joint it could not place with negative or zero coordinates).

    Raises:
        FileNotFoundError: no such file.
        KeyError: ``key`` is not in the file.
        ValueError: unreadable file, or ``joints`` is neither (3, 14, N) nor (14, 3, N).
    """
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
    missing = ~np.isfinite(xy).all(-1) | (xy <= 0).all(-1)
    return np.ascontiguousarray(xy), visible & ~missing, missing
