"""Leeds Sports Pose (LSP) and LSP-extended (LSPET): the ``joints.mat`` readers.

LSP (Johnson & Everingham, BMVC 2010) and its extension LSPET (Johnson & Everingham, CVPR 2011)
annotate 14 joints per image in ``joints.mat``, in the order of :data:`posekit.keypoints.LSP`.
The two releases lay the file out differently:

* LSP (2000 images ``images/im0001.jpg`` ... ``im2000.jpg``; by convention the first 1000 train,
  the last 1000 test): ``joints`` of shape (3, 14, N): rows x, y and a flag that is 1 for an
  *occluded* joint. The dataset's README calls the row "visibility", but the values mark occluded
  joints, which is why the public readers invert it (Wei Yang's ``gen_lsp.m`` for pytorch-pose /
  CPM: ``1 - joints(3, :, :)``; the TensorBay ``LeedsSportsPose`` loader: ``not flag``);
* LSPET (10000 training images ``images/im00001.jpg`` ... ``im10000.jpg``): ``joints`` of shape
  (14, 3, N): columns x, y and a *visibility* flag (1 = visible), used as is by the same readers.
  A joint whose coordinates are both <= 0 (or not finite) has no annotation.

The flag conventions above follow those public readers; they have not been checked here on the
real files (not available). Coordinates are original image pixels as stored (MATLAB's 1-based
pixels are kept, as posekit keeps MPII's: distances do not depend on the offset as long as
predictions use the same convention).

:func:`posekit.data.annotations.read_lsp_annotations` reads a file into ``PoseAnnotations``.

LSP has no person centre or scale. :func:`lsp_person_boxes` makes an MPII-style ``(center,
scale)`` from the annotated joints, so that the crops look like MPII crops: centre = the centre of
the joints' bounding box, ``scale * 200`` = the box's longer side / :data:`JOINT_EXTENT_RATIO`.
The ratio 0.70 is the median of ``longer side of the joints' box / (scale * 200)`` measured on the
2017 people of MPII's ``valid.h5`` that have all 16 joints annotated (10th-90th percentile 0.44 -
0.87). Tang & Wu (2019, Sec. 4) do not say how they crop LSP people.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posekit.data.matfile import read_mat

__all__ = ["LSP_LAYOUTS", "JOINT_EXTENT_RATIO", "IMAGE_NAMES", "read_lsp_joints", "read_lsp_file", "lsp_person_boxes"]

#: The two ``joints.mat`` layouts: LSP (3, 14, N) and LSP-extended (14, 3, N).
LSP_LAYOUTS = ("lsp", "lspet")
#: Median of (longer side of the annotated joints' box) / (MPII person box side ``scale * 200``) on
#: the fully annotated people of MPII ``valid.h5`` (see the module docstring).
JOINT_EXTENT_RATIO = 0.70
#: Image file name pattern of each release, formatted with the 1-based sample number.
IMAGE_NAMES = {"lsp": "im{:04d}.jpg", "lspet": "im{:05d}.jpg"}


def _layout_of(raw: np.ndarray) -> str | None:
    if raw.ndim == 3 and raw.shape[:2] == (3, 14):
        return "lsp"
    if raw.ndim == 3 and raw.shape[:2] == (14, 3):
        return "lspet"
    return None


def read_lsp_joints(path: str | Path, key: str = "joints", layout: str = "auto"
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read an LSP / LSPET ``joints.mat`` in LSP joint order.

    Args:
        path: the ``.mat`` file.
        key: the variable holding the joints (``"joints"`` in both releases).
        layout: ``"lsp"`` (3, 14, N), ``"lspet"`` (14, 3, N) or ``"auto"`` (from the shape).

    Returns:
        ``(joints, visible, missing)``: (N, 14, 2) float64 (x, y) original px; (N, 14) bool
        visible; (N, 14) bool missing (no annotation: coordinates both <= 0 or not finite).

    Raises:
        FileNotFoundError: no such file.
        KeyError: ``key`` is not in the file.
        ValueError: unreadable file, an unknown ``layout``, or ``joints`` is not of the layout's
            shape (neither layout's for ``"auto"``).
    """
    return read_lsp_file(path, key, layout)[:3]


def read_lsp_file(path: str | Path, key: str = "joints", layout: str = "auto"
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """:func:`read_lsp_joints` plus the layout found (``"lsp"`` or ``"lspet"``); same errors."""
    if layout not in ("auto", *LSP_LAYOUTS):
        raise ValueError(f"unknown LSP layout {layout!r}; expected auto, lsp or lspet")
    path = Path(path)
    data = read_mat(path, "LSP joints")
    if key not in data:
        raise KeyError(f"{path}: no variable {key!r} (variables: {', '.join(k for k in data if not k.startswith('__'))})")
    raw = np.asarray(data[key], dtype=np.float64)
    found = _layout_of(raw)
    if found is None or layout not in ("auto", found):
        want = {"lsp": "(3, 14, N) (LSP)", "lspet": "(14, 3, N) (LSP-extended)"}
        expected = want[layout] if layout != "auto" else f"{want['lsp']} or {want['lspet']}"
        raise ValueError(f"{path}: field {key!r} has shape {raw.shape}, expected {expected}")
    if found == "lsp":          # x, y, occluded
        xy, visible = raw[:2].transpose(2, 1, 0), raw[2].T == 0
    else:                       # x, y, visible
        xy, visible = raw[:, :2].transpose(2, 0, 1), raw[:, 2].T > 0
    missing = ~np.isfinite(xy).all(-1) | (xy <= 0).all(-1)
    return np.ascontiguousarray(xy), visible & ~missing, missing, found


def lsp_person_boxes(joints: np.ndarray, annotated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MPII-style person boxes from joints (see the module docstring).

    Args:
        joints: (N, K, 2) original px; annotated: (N, K) bool, the joints to use.

    Returns:
        ``(centers (N, 2) px, scales (N,))``: the centre of the annotated joints' bounding box, and
        ``scale = longer side / (200 * JOINT_EXTENT_RATIO)``; NaN for a sample with fewer than two
        annotated joints or a zero-size box.
    """
    joints = np.asarray(joints, dtype=np.float64)
    annotated = np.asarray(annotated, bool)
    lo = np.where(annotated[..., None], joints, np.inf).min(axis=1)
    hi = np.where(annotated[..., None], joints, -np.inf).max(axis=1)
    with np.errstate(invalid="ignore"):
        side = (hi - lo).max(axis=1)
        ok = (annotated.sum(axis=1) >= 2) & (side > 0)
    centers = np.where(ok[:, None], (lo + hi) / 2.0, np.nan)
    scales = np.where(ok, side / (200.0 * JOINT_EXTENT_RATIO), np.nan)
    return centers, scales
