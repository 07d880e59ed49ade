"""PCKh, the official MPII Human Pose single-person metric.

Definition (Andriluka et al., "2D Human Pose Estimation: New Benchmark and State of the Art
Analysis", CVPR 2014): a predicted joint is *correct* at threshold ``t`` when its distance to
the ground truth, divided by the person's head size, is at most ``t``::

    correct = ||pred - gt|| / head_size <= t
    head_size = 0.6 * ||headbox[1] - headbox[0]||     (SC_BIAS = 0.6, the head box diagonal)

Only annotated joints count (``jnt_missing == 0`` in ``gt_valid.mat``). PCKh of a joint is the
percentage (0-100) of its annotated instances that are correct.

Conventions, checked against the reference implementations:

* **Threshold comparison is ``<=``.** The official MPII MATLAB toolkit (``evalMPII``,
  ``computePCK.m``: ``mean(d(~isnan(d)) <= range(k))``) and HRNet
  (``leoxiaobin/deep-high-resolution-net.pytorch``, ``lib/dataset/mpii.py``:
  ``scaled_uv_err <= threshold``) both use less-or-equal; bearpaw/pytorch-pose's
  ``evaluation/eval_PCKh.py`` uses a strict ``<``. We follow the official ``<=``. A distance of
  exactly ``t * head_size`` therefore counts as correct. (With real-valued coordinates the two
  conventions only differ on exact ties.)
* **Table rows** (Shoulder, Elbow, ...) are the plain average of the left and right joint's
  PCKh, ``0.5 * (PCKh[l] + PCKh[r])``, as in HRNet's ``evaluate`` and the MPII toolkit's curves
  (``mean(pckAll(:, [l r]))``); they are *not* weighted by the two joints' counts. If one side
  has no evaluated joint at all (possible with a restrictive ``mask``) the row is the other side's
  value; if neither has, it is NaN.
* **Mean** is the count-weighted mean of the per-joint PCKh over all joints except pelvis (6) and
  thorax (7): HRNet's ``np.sum(PCKh * jnt_ratio)`` with pelvis/thorax masked and
  ``jnt_ratio = count / sum(count)``. This equals the pooled rate
  ``100 * sum(correct) / sum(count)`` over those 14 joints, which is how it is computed here.
* **Mean@0.1** is computed at exactly ``t = 0.1``. Note: HRNet's printed "Mean@0.1" reads
  ``pckAll[11]`` from ``np.arange(0, 0.51, 0.01)``, i.e. threshold 0.11; to reproduce that
  number evaluate at ``0.11``.
* **Hard mean**: the same count-weighted mean over the ten "hard" joints of
  :data:`posekit.joints.SUBSETS` ``["hard"]`` (ankles, knees, hips, wrists, elbows).

Units: all coordinates and head sizes are in original image pixels, in the pixel convention of
the ground-truth file (``gt_valid.mat`` and ``valid.h5`` share the MPII annotation convention;
HRNet adds 1 to its 0-based predictions before writing ``pred.mat`` for that reason).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from posekit.joints import JOINT_NAMES, MPII_SHORT_NAMES, NUM_JOINTS, PCKH_TABLE_GROUPS, SUBSETS

__all__ = [
    "SC_BIAS",
    "MEAN_EXCLUDED_JOINTS",
    "TABLE_ROWS",
    "MPIIGroundTruth",
    "PCKhResult",
    "head_sizes_from_headboxes",
    "missing_from_zero_joints",
    "load_mpii_ground_truth",
    "load_h5_ground_truth",
    "load_json_ground_truth",
    "load_ground_truth",
    "pckh",
    "pckh_curve",
    "pckh_from_normalize",
    "format_table",
    "VISIBILITY_CHOICES",
    "visibility_mask",
]

#: Head size = SC_BIAS * head box diagonal (MPII toolkit ``util_get_head_size``).
SC_BIAS = 0.6
#: Joints left out of the official Mean: pelvis and thorax.
MEAN_EXCLUDED_JOINTS: tuple[int, ...] = (6, 7)
#: Table rows in paper order (keys of :data:`posekit.joints.PCKH_TABLE_GROUPS`).
TABLE_ROWS: tuple[str, ...] = ("head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle")
#: Thresholds of the default PCKh curve: 0.00, 0.01, ..., 0.50 as in the MPII toolkit.
DEFAULT_CURVE_THRESHOLDS: tuple[float, ...] = tuple(round(0.01 * i, 2) for i in range(51))


# ----------------------------------------------------------------------------- ground truth


@dataclass(frozen=True)
class MPIIGroundTruth:
    """Ground truth for PCKh evaluation of ``N`` single-person samples.

    Attributes:
        joints: (N, 16, 2) float64, joint (x, y) in original image pixels, MPII joint order.
        missing: (N, 16) bool, True where the joint is not annotated (excluded from PCKh).
        head_sizes: (N,) float64, PCKh normaliser in pixels (``0.6 * head box diagonal``).
        headboxes: (N, 2, 2) float64 head box corners ``[[x1, y1], [x2, y2]]`` in pixels, or
            None when the source only carries a head size (``valid.h5``).
        visible: (N, 16) bool visibility flags when the source has them (``valid.h5``
            ``visible``, json ``joints_vis``), else None. Useful as a ``mask`` for PCKh on
            visible / occluded joints.
        joint_names: joint names, :data:`posekit.joints.JOINT_NAMES` order.
        source: the file it was read from, if any.
    """

    joints: np.ndarray
    missing: np.ndarray
    head_sizes: np.ndarray
    headboxes: np.ndarray | None = None
    visible: np.ndarray | None = None
    joint_names: tuple[str, ...] = JOINT_NAMES
    source: Path | None = field(default=None, compare=False)

    @property
    def num_samples(self) -> int:
        return int(self.joints.shape[0])

    def with_head_sizes(self, head_sizes: np.ndarray) -> "MPIIGroundTruth":
        """Copy with another head-size normaliser, shape (N,) pixels."""
        head_sizes = np.asarray(head_sizes, dtype=np.float64).reshape(-1)
        if head_sizes.shape != (self.num_samples,):
            raise ValueError(f"head_sizes has {head_sizes.shape[0]} entries, ground truth has {self.num_samples} samples")
        return MPIIGroundTruth(self.joints, self.missing, head_sizes, self.headboxes, self.visible,
                               self.joint_names, self.source)


def head_sizes_from_headboxes(headboxes: np.ndarray) -> np.ndarray:
    """MPII head size ``SC_BIAS * ||headbox[1] - headbox[0]||`` for (N, 2, 2) head boxes.

    Args:
        headboxes: (N, 2, 2), ``[i, 0] = (x1, y1)``, ``[i, 1] = (x2, y2)``, pixels.

    Returns:
        (N,) float64 head sizes in pixels.
    """
    headboxes = np.asarray(headboxes, dtype=np.float64)
    if headboxes.ndim != 3 or headboxes.shape[1:] != (2, 2):
        raise ValueError(f"headboxes must have shape (N, 2, 2), got {headboxes.shape}")
    return SC_BIAS * np.linalg.norm(headboxes[:, 1] - headboxes[:, 0], axis=-1)


def missing_from_zero_joints(joints: np.ndarray) -> np.ndarray:
    """Missing-joint mask for annotations that mark "not annotated" as (0, 0) (``valid.h5``).

    Args:
        joints: (N, J, 2) pixels.

    Returns:
        (N, J) bool, True where both coordinates are exactly 0.
    """
    joints = np.asarray(joints)
    return np.all(joints == 0, axis=-1)


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


def load_mpii_ground_truth(path: str | Path) -> MPIIGroundTruth:
    """Read the official-style ground truth ``gt_valid.mat`` (MPII evaluation / HRNet layout).

    Expected keys (``scipy.io.loadmat``): ``pos_gt_src`` (16, 2, N) joint (x, y) in pixels,
    ``jnt_missing`` (16, N) 1 = missing, ``headboxes_src`` (2, 2, N) with ``[0] = (x1, y1)`` and
    ``[1] = (x2, y2)``. ``dataset_joints`` (1, 16), if present, must list the MPII short names in
    the official order (``rank`` ... ``lwri``).

    Returns:
        :class:`MPIIGroundTruth` with arrays moved to sample-first layout, ``head_sizes =
        0.6 * head box diagonal``.

    Raises:
        FileNotFoundError: no such file.
        KeyError: a required key is absent (message names the file and the key).
        ValueError: the file is not a readable .mat, or an array has the wrong shape or joint order.
    """
    from posekit.evaluation.predictions import read_mat

    path = Path(path)
    data = read_mat(path, "ground-truth")

    pos = _require_key(data, "pos_gt_src", path).astype(np.float64)
    missing = _require_key(data, "jnt_missing", path)
    boxes = _require_key(data, "headboxes_src", path).astype(np.float64)
    _require_shape("pos_gt_src", pos, (NUM_JOINTS, 2, None), path)
    n = pos.shape[2]
    _require_shape("jnt_missing", missing, (NUM_JOINTS, n), path)
    _require_shape("headboxes_src", boxes, (2, 2, n), path)

    if "dataset_joints" in data:
        names = tuple(str(np.asarray(x).ravel()[0]) if np.asarray(x).size else "" for x in
                      np.asarray(data["dataset_joints"]).ravel())
        if names != MPII_SHORT_NAMES:
            raise ValueError(f"{path}: dataset_joints {names} is not the MPII joint order {MPII_SHORT_NAMES}")

    headboxes = boxes.transpose(2, 0, 1)  # (N, corner, xy)
    return MPIIGroundTruth(
        joints=pos.transpose(2, 0, 1).copy(),
        missing=missing.T.astype(bool),
        head_sizes=head_sizes_from_headboxes(headboxes),
        headboxes=headboxes.copy(),
        source=path,
    )


def load_h5_ground_truth(path: str | Path) -> MPIIGroundTruth:
    """Read ground truth from a stacked-hourglass style ``valid.h5``.

    Uses ``part`` (N, 16, 2) pixels, with (0, 0) meaning "not annotated" (missing), ``normalize``
    (N,) as the head size in pixels (see :func:`pckh_from_normalize` for how it relates to the
    head box), and ``visible`` (N, 16) if present.

    Raises:
        FileNotFoundError, KeyError (missing dataset, naming the file), ValueError (bad shape or
        unreadable file).
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ground-truth file not found: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path}: cannot read as HDF5 ({e})") from None
    with f:
        for key in ("part", "normalize"):
            if key not in f:
                raise KeyError(f"{path}: missing dataset {key!r} (datasets present: {', '.join(sorted(f.keys())) or 'none'})")
        part = np.asarray(f["part"][()], dtype=np.float64)
        norm = np.asarray(f["normalize"][()], dtype=np.float64)
        visible = np.asarray(f["visible"][()]) if "visible" in f else None
    _require_shape("part", part, (None, NUM_JOINTS, 2), path)
    n = part.shape[0]
    _require_shape("normalize", norm, (n,), path)
    if visible is not None:
        _require_shape("visible", visible, (n, NUM_JOINTS), path)
        visible = visible.astype(bool)
    return MPIIGroundTruth(joints=part, missing=missing_from_zero_joints(part), head_sizes=norm,
                           visible=visible, source=path)


def load_json_ground_truth(path: str | Path) -> MPIIGroundTruth:
    """Read ground truth from an mmpose/HRNet-style MPII json list that carries head information.

    Each record needs ``joints`` (16 x 2, pixels) and either ``head_size`` (pixels, already the
    PCKh normaliser) or ``headbox`` (``[[x1, y1], [x2, y2]]``, from which
    ``0.6 * diagonal`` is computed). A joint stored as exactly (0, 0) or (-1, -1) (the MPII and
    HRNet conventions for "no coordinate") is missing; other negative coordinates are real (MPII
    head tops can lie above the image border). ``joints_vis`` (16), if present in every record,
    becomes ``visible`` (not ``missing``: occluded joints are annotated and evaluated). The plain
    mmpose MPII annotation files have no head information; use ``gt_valid.mat`` with those.

    Raises:
        FileNotFoundError, ValueError (bad json, shape, or no head information; message names the
        file and the record).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ground-truth file not found: {path}")
    try:
        records = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid json ({e})") from None
    if isinstance(records, dict):
        records = records.get("annotations", records.get("data"))
    if not isinstance(records, list) or not records:
        raise ValueError(f"{path}: expected a non-empty list of annotation records")
    joints, missing, heads, boxes, vis = [], [], [], [], []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or "joints" not in rec:
            raise ValueError(f"{path}: record {i} has no 'joints'")
        jts = np.asarray(rec["joints"], dtype=np.float64)
        if jts.shape != (NUM_JOINTS, 2):
            raise ValueError(f"{path}: record {i} 'joints' must have shape (16, 2), got {jts.shape}")
        miss = missing_from_zero_joints(jts) | np.all(jts == -1, axis=-1)
        if "joints_vis" in rec:
            jv = np.asarray(rec["joints_vis"], dtype=np.float64).reshape(-1)
            if jv.shape != (NUM_JOINTS,):
                raise ValueError(f"{path}: record {i} 'joints_vis' must have 16 entries, got {jv.shape}")
            vis.append((jv > 0) & ~miss)
        if "head_size" in rec:
            head = float(rec["head_size"])
            boxes.append(None)
        elif "headbox" in rec:
            box = np.asarray(rec["headbox"], dtype=np.float64)
            if box.shape != (2, 2):
                raise ValueError(f"{path}: record {i} 'headbox' must be [[x1, y1], [x2, y2]], got shape {box.shape}")
            head = float(head_sizes_from_headboxes(box[None])[0])
            boxes.append(box)
        else:
            raise ValueError(f"{path}: record {i} has neither 'head_size' nor 'headbox'; PCKh needs a head size "
                             f"(use gt_valid.mat for MPII)")
        joints.append(jts)
        missing.append(miss)
        heads.append(head)
    headboxes = np.stack(boxes) if all(b is not None for b in boxes) else None
    visible = np.stack(vis) if len(vis) == len(records) else None
    return MPIIGroundTruth(joints=np.stack(joints), missing=np.stack(missing), head_sizes=np.asarray(heads),
                           headboxes=headboxes, visible=visible, source=path)


def load_ground_truth(path: str | Path) -> MPIIGroundTruth:
    """Read ground truth by file suffix: ``.mat`` (gt_valid.mat), ``.h5``/``.hdf5`` (valid.h5),
    ``.json`` (records with head_size/headbox).

    Raises:
        ValueError: unknown suffix; plus whatever the specific loader raises.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mat":
        return load_mpii_ground_truth(path)
    if suffix in (".h5", ".hdf5"):
        return load_h5_ground_truth(path)
    if suffix == ".json":
        return load_json_ground_truth(path)
    raise ValueError(f"{path}: unknown ground-truth format {suffix!r} (expected .mat, .h5 or .json)")


# ----------------------------------------------------------------------------- the metric


def _threshold_key(t: float) -> str:
    return f"{t:g}"


@dataclass(frozen=True)
class PCKhResult:
    """PCKh at one or more thresholds.

    Attributes:
        thresholds: (T,) the normalised-distance thresholds, in the order requested.
        per_joint: (T, J) PCKh per joint in percent (0-100); NaN where a joint has no evaluated
            instance.
        correct: (T, J) int, number of correct evaluated instances.
        counts: (J,) int, number of evaluated instances per joint (annotated and inside ``mask``).
        num_samples: N.
        joint_names: names of the J joints (:data:`posekit.joints.JOINT_NAMES`).
    """

    thresholds: tuple[float, ...]
    per_joint: np.ndarray
    correct: np.ndarray
    counts: np.ndarray
    num_samples: int
    joint_names: tuple[str, ...] = JOINT_NAMES

    def _index(self, threshold: float | None) -> int:
        if threshold is None:
            return 0
        hits = np.flatnonzero(np.isclose(np.asarray(self.thresholds), threshold, rtol=0, atol=1e-9))
        if hits.size == 0:
            raise KeyError(f"threshold {threshold:g} not evaluated (have {', '.join(map(_threshold_key, self.thresholds))})")
        return int(hits[0])

    def joint_pckh(self, threshold: float | None = None) -> dict[str, float]:
        """Per-joint PCKh (%) at ``threshold`` (default: the first one), keyed by joint name."""
        row = self.per_joint[self._index(threshold)]
        return {name: float(v) for name, v in zip(self.joint_names, row)}

    def subset_mean(self, joints: Iterable[int], threshold: float | None = None) -> float:
        """Count-weighted (pooled) PCKh (%) over joint ids ``joints``; NaN if none evaluated."""
        ids = list(joints)
        k = self._index(threshold)
        total = int(self.counts[ids].sum())
        return float(100.0 * self.correct[k, ids].sum() / total) if total else math.nan

    def mean(self, threshold: float | None = None) -> float:
        """Official MPII Mean (%): count-weighted over all joints but pelvis and thorax."""
        keep = [j for j in range(len(self.joint_names)) if j not in MEAN_EXCLUDED_JOINTS]
        return self.subset_mean(keep, threshold)

    def hard_mean(self, threshold: float | None = None) -> float:
        """Count-weighted PCKh (%) over the ten hard joints (``SUBSETS["hard"]``)."""
        return self.subset_mean(SUBSETS["hard"], threshold)

    def table(self, threshold: float | None = None) -> dict[str, float]:
        """The paper table at ``threshold``: head, shoulder, ..., ankle, mean (all in %).

        Left/right rows are ``0.5 * (PCKh[l] + PCKh[r])`` (see module docstring).
        """
        row = self.per_joint[self._index(threshold)]
        out: dict[str, float] = {}
        for name in TABLE_ROWS:
            vals = [row[j] for j in PCKH_TABLE_GROUPS[name] if self.counts[j] > 0]
            out[name] = float(sum(vals) / len(vals)) if vals else math.nan
        out["mean"] = self.mean(threshold)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary. All PCKh values are percentages (0-100); NaN becomes None.

        Keys: ``"pckh@T"`` (table dict) and ``"per_joint@T"`` for every threshold T, ``"per_joint"``
        (the first threshold's per-joint values), ``"hard_mean@T"``, ``"counts"`` (per joint),
        ``"num_samples"``, ``"thresholds"``.
        """
        def clean(x: float) -> float | None:
            return None if not math.isfinite(x) else float(x)

        out: dict[str, Any] = {}
        for t in self.thresholds:
            key = _threshold_key(t)
            out[f"pckh@{key}"] = {k: clean(v) for k, v in self.table(t).items()}
        out["per_joint"] = {k: clean(v) for k, v in self.joint_pckh().items()}
        for t in self.thresholds:
            key = _threshold_key(t)
            out[f"per_joint@{key}"] = {k: clean(v) for k, v in self.joint_pckh(t).items()}
            out[f"hard_mean@{key}"] = clean(self.hard_mean(t))
        out["counts"] = {name: int(c) for name, c in zip(self.joint_names, self.counts)}
        out["num_samples"] = int(self.num_samples)
        out["thresholds"] = [float(t) for t in self.thresholds]
        return out

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(thresholds (T,), official Mean at each threshold (T,)) for plotting a PCKh curve."""
        return np.asarray(self.thresholds, dtype=np.float64), np.array([self.mean(t) for t in self.thresholds])


def _as_thresholds(thresholds: float | Sequence[float]) -> tuple[float, ...]:
    ts = (float(thresholds),) if np.isscalar(thresholds) else tuple(float(t) for t in thresholds)
    if not ts:
        raise ValueError("at least one threshold is required")
    if any(not math.isfinite(t) or t < 0 for t in ts):
        raise ValueError(f"thresholds must be finite and >= 0, got {ts}")
    return ts


def pckh(
    pred: np.ndarray,
    gt: np.ndarray,
    head_sizes: np.ndarray,
    missing: np.ndarray | None = None,
    thresholds: float | Sequence[float] = (0.5,),
    mask: np.ndarray | None = None,
) -> PCKhResult:
    """PCKh of predictions against ground truth (official MPII definition, see module docstring).

    A joint instance is evaluated when it is annotated (``missing`` False) and selected by
    ``mask``; it is correct at ``t`` when ``||pred - gt|| / head_size <= t``. A non-finite
    prediction (NaN/inf) is wrong, as in the MPII toolkit.

    Args:
        pred: (N, J, 2) predicted (x, y), original image pixels.
        gt: (N, J, 2) ground-truth (x, y), same pixel convention.
        head_sizes: (N,) PCKh normaliser per sample in pixels (``0.6 * head box diagonal``).
        missing: (N, J) bool, True = not annotated, excluded. None = nothing missing.
        thresholds: a threshold or a sequence of them (e.g. ``(0.5, 0.1)``).
        mask: optional (N, J) bool; only True entries are evaluated (e.g. ``visible`` or
            ``~visible`` for PCKh on occluded joints). Combined with ``missing`` by AND.

    Returns:
        :class:`PCKhResult` (percentages 0-100).

    Raises:
        ValueError: inconsistent shapes, or a non-positive / non-finite head size on a sample that
            has an evaluated joint.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if gt.ndim != 3 or gt.shape[2] != 2:
        raise ValueError(f"gt must have shape (N, J, 2), got {gt.shape}")
    n, j, _ = gt.shape
    if pred.shape != gt.shape:
        raise ValueError(f"pred has shape {pred.shape}, gt has shape {gt.shape}")
    head_sizes = np.asarray(head_sizes, dtype=np.float64)
    if head_sizes.shape != (n,):
        raise ValueError(f"head_sizes must have shape ({n},), got {head_sizes.shape}")
    evaluated = np.ones((n, j), dtype=bool)
    if missing is not None:
        missing = np.asarray(missing)
        if missing.shape != (n, j):
            raise ValueError(f"missing must have shape ({n}, {j}), got {missing.shape}")
        evaluated &= ~missing.astype(bool)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != (n, j):
            raise ValueError(f"mask must have shape ({n}, {j}), got {mask.shape}")
        evaluated &= mask.astype(bool)
    ts = _as_thresholds(thresholds)

    used = evaluated.any(axis=1)
    bad = used & ~(np.isfinite(head_sizes) & (head_sizes > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{int(bad.sum())} samples have a non-positive or non-finite head size "
                         f"(first: sample {i}, head size {head_sizes[i]})")

    safe_heads = np.where(used, head_sizes, 1.0)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.linalg.norm(pred - gt, axis=-1) / safe_heads[:, None]  # (N, J)
    scaled = np.where(np.isfinite(scaled), scaled, np.inf)
    counts = evaluated.sum(axis=0)
    correct = np.stack([((scaled <= t) & evaluated).sum(axis=0) for t in ts])  # (T, J)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = np.where(counts > 0, 100.0 * correct / np.maximum(counts, 1), np.nan)
    names = JOINT_NAMES if j == NUM_JOINTS else tuple(f"joint_{k}" for k in range(j))
    return PCKhResult(thresholds=ts, per_joint=per_joint, correct=correct, counts=counts,
                      num_samples=n, joint_names=names)


#: Joint selections of :func:`visibility_mask` (PBN experiments: PCKh on invisible joints).
VISIBILITY_CHOICES: tuple[str, ...] = ("all", "visible", "invisible")


def visibility_mask(visible: np.ndarray | None, which: str = "all") -> np.ndarray | None:
    """The ``mask`` argument of :func:`pckh` that restricts it to visible or to occluded joints.

    Tang & Wu (2019) report PCKh on the occluded ("invisible") MPII joints separately. An
    annotated joint with visibility flag 0 is occluded; ``missing`` still excludes unannotated ones.

    Args:
        visible: (N, J) bool or 0/1 visibility flags (``MPIIGroundTruth.visible``,
            ``PoseAnnotations.visible``), or None when the source has none.
        which: ``"all"`` (returns None: no restriction), ``"visible"`` or ``"invisible"``.

    Returns:
        (N, J) bool, or None for ``"all"``.

    Raises:
        ValueError: unknown ``which``, or ``"visible"``/``"invisible"`` without visibility flags.
    """
    if which not in VISIBILITY_CHOICES:
        raise ValueError(f"unknown visibility selection {which!r}; expected one of {VISIBILITY_CHOICES}")
    if which == "all":
        return None
    if visible is None:
        raise ValueError(f"PCKh on {which} joints needs visibility flags; this ground truth has none "
                         "(use valid.h5 'visible' or a json with 'joints_vis')")
    flags = np.asarray(visible) > 0
    return flags if which == "visible" else ~flags


def pckh_curve(
    pred: np.ndarray,
    gt: np.ndarray,
    head_sizes: np.ndarray,
    missing: np.ndarray | None = None,
    thresholds: Sequence[float] = DEFAULT_CURVE_THRESHOLDS,
    mask: np.ndarray | None = None,
) -> PCKhResult:
    """PCKh over a range of thresholds (default 0.00, 0.01, ..., 0.50 as in the MPII toolkit).

    Same arguments as :func:`pckh`; use ``result.curve()`` for (thresholds, Mean) and
    ``result.per_joint`` for per-joint curves. ``result.mean(0.1)`` is PCKh@0.1.
    """
    return pckh(pred, gt, head_sizes, missing=missing, thresholds=thresholds, mask=mask)


def pckh_from_normalize(
    pred: np.ndarray,
    gt: np.ndarray,
    normalize: np.ndarray,
    missing: np.ndarray | None = None,
    thresholds: float | Sequence[float] = (0.5,),
    mask: np.ndarray | None = None,
) -> PCKhResult:
    """PCKh for datasets that carry only a per-sample head-size normaliser, not head boxes.

    ``normalize`` is the ``normalize`` field of the stacked-hourglass ``valid.h5``. It is already
    the PCKh head size in pixels, i.e. ``0.6 * ||headbox[1] - headbox[0]||`` -- measured on the
    2958 validation samples against ``gt_valid.mat``: ``normalize / (0.6 * diagonal)`` lies in
    [0.9999997, 1.0000003], max absolute difference 5.9e-5 px (single-precision rounding), so do
    **not** multiply it by 0.6 again. Scores therefore match the head-box evaluation up to that
    rounding.

    If ``missing`` is None it is derived from ``gt`` with the ``valid.h5`` convention (a joint at
    (0, 0) is not annotated). Other arguments and the result are as in :func:`pckh`.
    """
    if missing is None:
        missing = missing_from_zero_joints(gt)
    return pckh(pred, gt, normalize, missing=missing, thresholds=thresholds, mask=mask)


# ----------------------------------------------------------------------------- reporting

_TABLE_HEADERS = ("Head", "Sho", "Elb", "Wri", "Hip", "Knee", "Ank", "Mean")


def format_table(result: PCKhResult, threshold: float | None = None) -> str:
    """Fixed-width text table as printed in papers.

    Columns: Head Sho Elb Wri Hip Knee Ank Mean at ``threshold`` (default: the result's first
    threshold, normally 0.5), then ``Mean@0.1`` when 0.1 was also evaluated. A footer gives the
    number of samples and evaluated joints and the hard-joint mean. Values in percent.
    """
    k = result._index(threshold)
    t = result.thresholds[k]
    tab = result.table(t)
    headers = list(_TABLE_HEADERS)
    values = [tab[r] for r in TABLE_ROWS] + [tab["mean"]]
    try:
        k01 = result._index(0.1)
    except KeyError:
        k01 = None
    if k01 is not None and k01 != k:
        headers.append("Mean@0.1")
        values.append(result.mean(0.1))
    label = f"PCKh@{_threshold_key(t)}"
    widths = [max(6, len(h)) for h in headers]
    head_line = f"{'':<10}" + " ".join(f"{h:>{w}}" for h, w in zip(headers, widths))
    value_line = f"{label:<10}" + " ".join(f"{v:>{w}.2f}" for v, w in zip(values, widths))
    rule = "-" * len(head_line)
    kept = [jj for jj in range(len(result.joint_names)) if jj not in MEAN_EXCLUDED_JOINTS]
    footer = (f"{result.num_samples} samples, {int(result.counts[kept].sum())} joints in Mean "
              f"(pelvis/thorax excluded); hard-joint mean {result.hard_mean(t):.2f}")
    return "\n".join([head_line, rule, value_line, rule, footer])
