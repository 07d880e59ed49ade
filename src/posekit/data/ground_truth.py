"""Ground truth for keypoint evaluation, read from the files people evaluate against.

* ``gt_valid.mat``: the official-style MPII ground truth (the MPII evaluation code, HRNet,
  pytorch-pose): ``pos_gt_src`` (16, 2, N) joint (x, y) px, ``jnt_missing`` (16, N) 1 = missing,
  ``headboxes_src`` (2, 2, N) head box corners, optionally ``dataset_joints`` (the MPII short names,
  checked against the official order);
* ``valid.h5`` (the Newell / princeton layout) and the mmpose / HRNet json, read with the annotation
  readers of :mod:`posekit.data.annotations` (one reader per format); the head size is the h5
  ``normalize`` field, or the json ``head_size`` / ``0.6 x headbox`` diagonal;
* an LSP / LSP-extended ``joints.mat`` (:mod:`posekit.data.lsp`): no head sizes, for PCK by torso
  size (:mod:`posekit.evaluation.pck`).

A joint without a coordinate is *missing*: never evaluated. An annotated joint with visibility 0
is occluded and evaluated (PCKh on visible / occluded joints uses :attr:`GroundTruth.visible`).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from posekit.data.annotations import HEAD_SIZE_FACTOR, AnnotationError, parse_samples, read_annotations
from posekit.data.matfile import read_mat
from posekit.keypoints import MPII, MPII_SHORT_NAMES, KeypointSet

__all__ = ["GroundTruth", "read_mat", "head_sizes_from_headboxes", "check_evaluable", "load_mpii_ground_truth",
           "load_ground_truth"]


@dataclass(frozen=True)
class GroundTruth:
    """Ground truth for the evaluation of ``N`` single-person samples.

    Attributes:
        joints: (N, K, 2) float64 joint (x, y), original image px, in the order of ``keypoints``.
        missing: (N, K) bool, True where the joint is not annotated (excluded from the metric).
        head_sizes: (N,) float64 PCKh normaliser in px (``0.6 * head box diagonal``), or None.
        headboxes: (N, 2, 2) float64 head boxes ``[[x1, y1], [x2, y2]]`` px, or None.
        visible: (N, K) bool visibility flags when the source has them, else None.
        keypoints: the keypoint set of the K joints.
        source: the file it was read from, if any.
        head_size_source: where ``head_sizes`` come from: ``"headbox"`` (``0.6 x`` head-box
            diagonal, ``gt_valid.mat``), ``"normalize"`` (the h5 ``normalize`` field), ``"json"`` (a json's
            ``head_size`` or ``headbox``) or ``""`` (given in memory).
    """

    joints: np.ndarray
    missing: np.ndarray
    head_sizes: np.ndarray | None
    headboxes: np.ndarray | None = None
    visible: np.ndarray | None = None
    keypoints: KeypointSet = MPII
    source: Path | None = field(default=None, compare=False)
    head_size_source: str = ""

    @property
    def num_samples(self) -> int:
        return int(self.joints.shape[0])

    def with_head_sizes(self, head_sizes: np.ndarray) -> "GroundTruth":
        """Copy with another head-size normaliser, shape (N,) px.

        Raises:
            ValueError: not one head size per sample.
        """
        head_sizes = np.asarray(head_sizes, dtype=np.float64).reshape(-1)
        if head_sizes.shape != (self.num_samples,):
            raise ValueError(f"head_sizes has {head_sizes.shape[0]} entries, ground truth has {self.num_samples} samples")
        return dataclasses.replace(self, head_sizes=head_sizes, head_size_source="")

    def check_same_people(self, joints: np.ndarray, annotated: np.ndarray, what: str = "the annotations") -> None:
        """Check that sample ``i`` here is the same person as sample ``i`` of another source.

        Ground truth is matched to annotations by order only, so a file of the same length but in
        another order would be scored silently against the wrong people. For every sample, the
        median distance between the joints annotated in both must be at most one head size (between
        ``gt_valid.mat`` and ``valid.h5`` that median is below 1e-4 px for every person; in another
        order it exceeds half a head size for 99.97% of them).

        Args:
            joints: (N, K, 2) the other source's joints, original px.
            annotated: (N, K) bool, its annotated joints.
            what: how the other source is named in the message.

        Raises:
            ValueError: another sample count, or samples that do not match (the first is named).
        """
        joints = np.asarray(joints, dtype=np.float64)
        if joints.shape[0] != self.num_samples:
            raise ValueError(f"{self.source} has {self.num_samples} samples, {what} has {joints.shape[0]}")
        both = np.asarray(annotated, dtype=bool) & ~self.missing
        dist = np.where(both, np.linalg.norm(joints - self.joints, axis=-1), np.nan)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # samples without a shared joint: NaN
            median = np.nanmedian(dist, axis=1)
        limit = self.head_sizes if self.head_sizes is not None else np.full(self.num_samples, np.inf)
        bad = np.flatnonzero(median > limit)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{self.source} does not hold the people of {what} in the same order: {bad.size} "
                             f"sample(s) differ by more than a head size (first: sample {i}, median joint "
                             f"distance {median[i]:.1f} px)")


def head_sizes_from_headboxes(headboxes: np.ndarray) -> np.ndarray:
    """MPII head size ``0.6 * ||headbox[1] - headbox[0]||`` for (N, 2, 2) head boxes (px -> px).

    Raises:
        ValueError: not of shape (N, 2, 2).
    """
    headboxes = np.asarray(headboxes, dtype=np.float64)
    if headboxes.ndim != 3 or headboxes.shape[1:] != (2, 2):
        raise ValueError(f"headboxes must have shape (N, 2, 2), got {headboxes.shape}")
    return HEAD_SIZE_FACTOR * np.linalg.norm(headboxes[:, 1] - headboxes[:, 0], axis=-1)


def check_evaluable(source: str | Path, joints: np.ndarray, missing: np.ndarray, head_sizes: np.ndarray | None,
                    joint_field: str, head_field: str, keypoints: KeypointSet = MPII) -> None:
    """Check that ground truth can be scored: every evaluated joint (not ``missing``) has finite
    coordinates, and every sample with an evaluated joint a finite, positive head size. Without
    this a NaN coordinate would count a perfect prediction as wrong, and a zero head size would
    make every distance infinite.

    Args:
        source: the file, named in messages; joint_field / head_field: its field names.
        joints: (N, K, 2) px; missing: (N, K) bool; head_sizes: (N,) px or None (not checked).

    Raises:
        ValueError: names the file, the sample, the joint or field, and the value.
    """
    joints, missing = np.asarray(joints, dtype=np.float64), np.asarray(missing, bool)
    bad = ~np.isfinite(joints).all(-1) & ~missing
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        name = keypoints.names[j] if len(keypoints) == joints.shape[1] else f"joint {j}"
        raise ValueError(f"{source}: sample {i}, {name}: field {joint_field!r} is {joints[i, j].tolist()}, but the "
                         f"joint is not marked missing; give finite coordinates or mark it missing "
                         f"({int(bad.sum())} such joints)")
    if head_sizes is None:
        return
    head_sizes = np.asarray(head_sizes, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad_head = (~missing).any(axis=1) & ~(np.isfinite(head_sizes) & (head_sizes > 0))
    if bad_head.any():
        i = int(np.flatnonzero(bad_head)[0])
        raise ValueError(f"{source}: sample {i}: field {head_field!r} gives the head size {head_sizes[i]}; PCKh "
                         f"needs a finite head size > 0 for every sample with an annotated joint (a zero-size or "
                         f"NaN head box?) ({int(bad_head.sum())} such samples)")


def _require_key(data: Mapping[str, Any], key: str, path: Path) -> np.ndarray:
    if key not in data:
        present = ", ".join(sorted(k for k in data if not k.startswith("__"))) or "none"
        raise KeyError(f"{path}: missing key {key!r} (keys present: {present})")
    return np.asarray(data[key])


def _require_shape(name: str, arr: np.ndarray, expected: tuple[int | None, ...], path: Path) -> None:
    ok = arr.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, arr.shape))
    if not ok:
        shown = "(" + ", ".join("N" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{path}: {name!r} must have shape {shown}, got {tuple(arr.shape)}")


def load_mpii_ground_truth(path: str | Path) -> GroundTruth:
    """Read the official-style ground truth ``gt_valid.mat`` (layout: module docstring).

    Returns:
        :class:`GroundTruth` (sample-first arrays, MPII keypoints, ``head_sizes = 0.6 * head box
        diagonal``).

    Raises:
        FileNotFoundError: no such file.
        KeyError: a required key is absent (message names the file and the key).
        ValueError: not a readable .mat, an array has the wrong shape or joint order, or the
            ground truth cannot be scored (:func:`check_evaluable`: a NaN joint that is not
            missing, a zero-size or NaN head box).
    """
    path = Path(path)
    data = read_mat(path, "ground-truth")
    k = len(MPII)
    pos = _require_key(data, "pos_gt_src", path).astype(np.float64)
    missing = _require_key(data, "jnt_missing", path)
    boxes = _require_key(data, "headboxes_src", path).astype(np.float64)
    _require_shape("pos_gt_src", pos, (k, 2, None), path)
    n = pos.shape[2]
    _require_shape("jnt_missing", missing, (k, n), path)
    _require_shape("headboxes_src", boxes, (2, 2, n), path)
    if "dataset_joints" in data:
        names = tuple(str(np.asarray(x).ravel()[0]) if np.asarray(x).size else "" for x in
                      np.asarray(data["dataset_joints"]).ravel())
        if names != MPII_SHORT_NAMES:
            raise ValueError(f"{path}: dataset_joints {names} is not the MPII joint order {MPII_SHORT_NAMES}")
    headboxes = boxes.transpose(2, 0, 1)  # (N, corner, xy)
    joints, missing = pos.transpose(2, 0, 1).copy(), missing.T.astype(bool)
    head_sizes = head_sizes_from_headboxes(headboxes)
    check_evaluable(path, joints, missing, head_sizes, "pos_gt_src", "headboxes_src", MPII)
    return GroundTruth(joints=joints, missing=missing, head_sizes=head_sizes, headboxes=headboxes.copy(),
                       keypoints=MPII, source=path, head_size_source="headbox")


def _is_mpii_mat(path: Path) -> bool:
    """Whether a ``.mat`` file is the official-style MPII ground truth (it holds ``pos_gt_src``)."""
    return "pos_gt_src" in read_mat(path, "ground-truth")


def load_ground_truth(path: str | Path, keypoints: KeypointSet = MPII, format: str = "auto", samples: str = "",
                      need_head_sizes: bool = True) -> GroundTruth:
    """Read ground truth: ``gt_valid.mat`` (a ``.mat`` with ``pos_gt_src``), ``.h5``/``.hdf5``
    (valid.h5), ``.json`` (annotation records with ``head_size`` or ``headbox``) or an LSP /
    LSP-extended ``joints.mat`` (``format`` ``lsp`` / ``lspet``, or any other ``.mat``), in the
    keypoint set ``keypoints`` (gt_valid.mat is MPII by definition; LSP joints are mapped by name).

    Args:
        format: the annotation format (:data:`posekit.config.ANNOTATION_FORMATS`), default by suffix.
        samples: ``"START:STOP"``, the samples to keep by position in the file (e.g. LSP's test
            half ``"1000:2000"``); ``""``: all.
        need_head_sizes: PCKh needs head sizes (an error without); PCK by torso size does not.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown suffix, a malformed file (:class:`AnnotationError` names file, sample
            and field), a joint count that does not match ``keypoints``, a bad ``samples`` range, no
            head sizes when needed, or a head size that is not finite and > 0 (:func:`check_evaluable`).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if format == "auto" and suffix == ".mat" and _is_mpii_mat(path):
        gt = load_mpii_ground_truth(path)
        rng = parse_samples(samples, gt.num_samples, str(path))
        if rng is None:
            return gt
        return dataclasses.replace(gt, joints=gt.joints[rng], missing=gt.missing[rng], head_sizes=gt.head_sizes[rng],
                                   headboxes=gt.headboxes[rng])
    if format == "auto" and suffix not in (".h5", ".hdf5", ".json", ".mat"):
        raise ValueError(f"{path}: unknown ground-truth format {suffix!r} (expected .mat, .h5 or .json)")
    ann = read_annotations(path, keypoints, format, samples)
    if need_head_sizes and ann.head_sizes is None:
        raise AnnotationError(f"{path}: no head sizes (h5 'normalize', json 'head_size' or 'headbox'); PCKh needs "
                              f"one per sample (use gt_valid.mat for MPII; PCK by torso size needs none)")
    check_evaluable(path, ann.joints, ~ann.annotated, ann.head_sizes if need_head_sizes else None,
                    "part" if suffix != ".json" else "joints", "normalize" if suffix != ".json" else "head_size / headbox",
                    keypoints)
    kind = {".h5": "normalize", ".hdf5": "normalize", ".json": "json"}.get(suffix, "") if ann.head_sizes is not None else ""
    return GroundTruth(joints=ann.joints, missing=~ann.annotated, head_sizes=ann.head_sizes,
                       headboxes=ann.headboxes, visible=ann.visible > 0, keypoints=keypoints, source=path,
                       head_size_source=kind)
