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

LSP has no person centre or scale. :func:`lsp_person_boxes` makes an MPII-style ``(center,
scale)`` from the annotated joints, so that the crops look like MPII crops: centre = the centre of
the joints' bounding box, ``scale * 200`` = the box's longer side / :data:`JOINT_EXTENT_RATIO`.
The ratio 0.70 is the median of ``longer side of the joints' box / (scale * 200)`` measured on the
2017 people of MPII's ``valid.h5`` that have all 16 joints annotated (10th-90th percentile 0.44 -
0.87). Tang & Wu (2019, Sec. 4) do not say how they crop LSP people.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from posekit.data.ground_truth import read_mat

__all__ = ["LSP_LAYOUTS", "JOINT_EXTENT_RATIO", "read_lsp_joints", "lsp_person_boxes", "read_lsp_annotations"]

log = logging.getLogger(__name__)

#: The two ``joints.mat`` layouts: LSP (3, 14, N) and LSP-extended (14, 3, N).
LSP_LAYOUTS = ("lsp", "lspet")
#: Median of (longer side of the annotated joints' box) / (MPII person box side ``scale * 200``) on
#: the fully annotated people of MPII ``valid.h5`` (see the module docstring).
JOINT_EXTENT_RATIO = 0.70
#: Image file name of sample ``i`` (0-based) in each release.
_IMAGE_NAMES = {"lsp": "im{:04d}.jpg", "lspet": "im{:05d}.jpg"}


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
    return _read_joints(path, key, layout)[:3]


def _read_joints(path: str | Path, key: str, layout: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """:func:`read_lsp_joints` plus the layout found."""
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


def read_lsp_annotations(path: str | Path, layout: str = "auto", samples: str = ""):
    """An LSP / LSPET ``joints.mat`` as :class:`~posekit.data.annotations.PoseAnnotations` in the
    LSP keypoint order, for training and evaluation.

    Image names are the releases' (``im0001.jpg`` for LSP, ``im00001.jpg`` for LSPET, numbered by
    the sample's position in the file), relative to the release's ``images/`` folder; the person
    box comes from :func:`lsp_person_boxes`. A sample with fewer than two annotated joints has no
    box and is left out (a warning gives how many and the first); the others keep their image names.

    Args:
        path: the ``joints.mat``.
        layout: ``"lsp"``, ``"lspet"`` or ``"auto"`` (:func:`read_lsp_joints`).
        samples: ``"START:STOP"``, the samples to read by position in the file (0-based, STOP
            excluded), before any is left out; ``"1000:2000"`` is the LSP test half; ``""``: all.

    Returns:
        ``PoseAnnotations`` with 14 joints, ``visible`` from the file's flag, no head sizes.

    Raises:
        FileNotFoundError, KeyError, ValueError: see :func:`read_lsp_joints`.
        AnnotationError: a bad ``samples`` range, or no sample left.
    """
    from posekit.data.annotations import AnnotationError, PoseAnnotations, parse_samples

    path = Path(path)
    joints, visible, missing, found = _read_joints(path, "joints", layout)
    n = joints.shape[0]
    ids = np.arange(n)[parse_samples(samples, n, str(path)) or slice(None)]
    annotated = ~missing[ids]
    centers, scales = lsp_person_boxes(joints[ids], annotated)
    keep = np.isfinite(scales)
    if not keep.all():
        first = int(ids[np.flatnonzero(~keep)[0]])
        log.warning("%s: %d samples have fewer than two annotated joints and no person box; they are left out "
                    "(first: sample %d)", path, int((~keep).sum()), first)
    ids, annotated, centers, scales = ids[keep], annotated[keep], centers[keep], scales[keep]
    if not len(ids):
        raise AnnotationError(f"{path}: no sample with at least two annotated joints")
    pattern = _IMAGE_NAMES[found]
    return PoseAnnotations(
        source=str(path), image_names=[pattern.format(int(i) + 1) for i in ids], centers=centers, scales=scales,
        joints=np.where(annotated[..., None], joints[ids], 0.0), visible=visible[ids].astype(np.float64),
        annotated=annotated)
