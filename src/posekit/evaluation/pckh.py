"""PCKh, the official MPII Human Pose single-person metric.

Definition (Andriluka et al., "2D Human Pose Estimation: New Benchmark and State of the Art
Analysis", CVPR 2014): a predicted joint is *correct* at threshold ``t`` when its distance to
the ground truth, divided by the person's head size, is at most ``t``::

    correct = ||pred - gt|| / head_size <= t
    head_size = 0.6 * ||headbox[1] - headbox[0]||     (SC_BIAS = 0.6, the head box diagonal)

Only annotated joints count (``jnt_missing == 0`` in ``gt_valid.mat``). PCKh of a joint is the
percentage (0-100) of its annotated instances that are correct.

Conventions, checked against the reference implementations:

* **Threshold comparison is ``<=``** in the default ``hrnet`` protocol. The official MPII MATLAB
  toolkit (``evalMPII``, ``computePCK.m``: ``mean(d(~isnan(d)) <= range(k))``) and HRNet
  (``leoxiaobin/deep-high-resolution-net.pytorch``, ``lib/dataset/mpii.py``:
  ``scaled_uv_err <= threshold``) both use less-or-equal; bearpaw/pytorch-pose's
  ``evaluation/eval_PCKh.py`` and princeton-vl/pytorch_stacked_hourglass's ``test.py`` use a strict
  ``<`` (their protocols, :mod:`posekit.evaluation.protocols`). A distance of exactly
  ``t * head_size`` counts as correct under ``<=``. (With real-valued coordinates the two
  conventions only differ on exact ties; with integer predictions and annotations they do differ.)
* **Protocols.** Rows, Mean and the joints scored follow a :class:`~posekit.evaluation.protocols.PCKhProtocol`
  (``protocol`` argument of :func:`pckh`); the points below describe the default ``hrnet`` one.
* **Table rows** (Shoulder, Elbow, ...) are the plain average of the left and right joint's
  PCKh, ``0.5 * (PCKh[l] + PCKh[r])``, as in HRNet's ``evaluate`` and the MPII toolkit's curves
  (``mean(pckAll(:, [l r]))``); they are *not* weighted by the two joints' counts. If one side
  has no evaluated joint at all (possible with a restrictive ``mask``) the row is the other side's
  value; if neither has, it is NaN.
* **Mean** is the count-weighted mean of the per-joint PCKh over all joints except the keypoint
  set's ``mean_excluded`` (MPII: pelvis and thorax): HRNet's ``np.sum(PCKh * jnt_ratio)`` with
  pelvis/thorax masked and ``jnt_ratio = count / sum(count)``. This equals the pooled rate
  ``100 * sum(correct) / sum(count)`` over those 14 joints, which is how it is computed here.
* **Mean@0.1** is computed at exactly ``t = 0.1``. Note: HRNet's printed "Mean@0.1" reads
  ``pckAll[11]`` from ``np.arange(0, 0.51, 0.01)``, i.e. threshold 0.11; to reproduce that
  number evaluate at ``0.11``.
* **Hard mean**: the same count-weighted mean over the keypoint set's ``"hard"`` subset (MPII: the
  ten joints ankles, knees, hips, wrists, elbows); NaN for a set without one.
* **Other keypoint sets** (:mod:`posekit.keypoints`) use their own table rows (``pckh_rows``) and
  mean exclusions; the metric is the same.

Units: all coordinates and head sizes are in original image pixels, in the pixel convention of
the ground-truth file (``gt_valid.mat`` and ``valid.h5`` share the MPII annotation convention;
HRNet adds 1 to its 0-based predictions before writing ``pred.mat`` for that reason).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from posekit.evaluation.protocols import PROTOCOLS, PCKhProtocol, get_protocol
from posekit.keypoints import MPII, KeypointSet

__all__ = [
    "TABLE_ROWS",
    "PCKhResult",
    "missing_from_zero_joints",
    "pckh",
    "pckh_curve",
    "pckh_from_normalize",
    "format_table",
    "VISIBILITY_CHOICES",
    "visibility_mask",
]

#: MPII table rows in paper order (keys of ``MPII.pckh_rows``).
TABLE_ROWS: tuple[str, ...] = tuple(MPII.pckh_rows)
#: Thresholds of the default PCKh curve: 0.00, 0.01, ..., 0.50 as in the MPII toolkit.
DEFAULT_CURVE_THRESHOLDS: tuple[float, ...] = tuple(round(0.01 * i, 2) for i in range(51))


# ----------------------------------------------------------------------------- the metric


def _threshold_key(t: float) -> str:
    return f"{t:g}"


def missing_from_zero_joints(joints: np.ndarray) -> np.ndarray:
    """Missing-joint mask for annotations that mark "not annotated" as (0, 0) (``valid.h5``).

    Args:
        joints: (N, J, 2) pixels.

    Returns:
        (N, J) bool, True where both coordinates are exactly 0.
    """
    return np.all(np.asarray(joints) == 0, axis=-1)


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
        keypoints: the keypoint set of the J joints (names, table rows, mean exclusions).
        protocol: how rows, Mean and ``total`` are formed (:mod:`posekit.evaluation.protocols`).
        distances: (N, J) per-sample distance ``||pred - gt|| / head_size`` (head sizes, a unit-free
            ratio); ``inf`` where the prediction is not finite. None when not kept.
        evaluated: (N, J) bool, the instances that count (annotated and inside ``mask``). None
            when not kept.
        metric: the metric's name in tables and JSON keys: ``"PCKh"`` (distances normalised by head
            size) or ``"PCK"`` (by torso size, :func:`posekit.evaluation.pck.pck`).
    """

    thresholds: tuple[float, ...]
    per_joint: np.ndarray
    correct: np.ndarray
    counts: np.ndarray
    num_samples: int
    keypoints: KeypointSet = MPII
    protocol: PCKhProtocol = PROTOCOLS["hrnet"]
    distances: np.ndarray | None = None
    evaluated: np.ndarray | None = None
    metric: str = "PCKh"

    @property
    def joint_names(self) -> tuple[str, ...]:
        """Names of the J joints."""
        return self.keypoints.names

    def _index(self, threshold: float | None) -> int:
        if threshold is None:
            return 0
        hits = np.flatnonzero(np.isclose(np.asarray(self.thresholds), threshold, rtol=0, atol=1e-9))
        if hits.size == 0:
            raise KeyError(f"threshold {threshold:g} not evaluated (have {', '.join(map(_threshold_key, self.thresholds))})")
        return int(hits[0])

    def sample_correct(self, threshold: float | None = None) -> np.ndarray:
        """(N, J) bool: which evaluated instances are correct at ``threshold`` (default: the first),
        with the protocol's comparison (``<=``, or ``<`` for a strict protocol).

        Raises:
            ValueError: the result was made without its per-sample distances.
        """
        if self.distances is None or self.evaluated is None:
            raise ValueError("this PCKh result holds no per-sample distances")
        t = self.thresholds[self._index(threshold)]
        return self.protocol.within(self.distances, t) & self.evaluated

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

    def _aggregate(self, joints: Iterable[int], threshold: float | None, how: str) -> float:
        """PCKh (%) of several joints: ``"weighted"`` / ``"pooled"`` (correct / count over them) or an
        unweighted mean of their per-joint values (joints without an evaluated instance left out)."""
        ids = list(joints)
        if how in ("weighted", "pooled"):
            return self.subset_mean(ids, threshold)
        row = self.per_joint[self._index(threshold)]
        vals = [row[j] for j in ids if self.counts[j] > 0]
        return float(sum(vals) / len(vals)) if vals else math.nan

    def mean(self, threshold: float | None = None) -> float:
        """The Mean (%) over all joints but the set's ``mean_excluded`` (MPII: pelvis and thorax):
        count-weighted, or unweighted under the ``bearpaw`` protocol."""
        return self._aggregate(self.keypoints.mean_ids(), threshold, self.protocol.mean)

    def total(self, threshold: float | None = None) -> float:
        """PCKh (%) pooled over all joints (the ``princeton`` protocol's ``total``)."""
        return self.subset_mean(range(len(self.keypoints)), threshold)

    def hard_mean(self, threshold: float | None = None) -> float:
        """PCKh (%) over the set's ``"hard"`` subset (MPII: ten joints), aggregated like the Mean;
        NaN without one."""
        hard = self.keypoints.subsets.get("hard")
        return self._aggregate(self.keypoints.indices(hard), threshold, self.protocol.mean) if hard else math.nan

    def table(self, threshold: float | None = None) -> dict[str, float]:
        """The paper table at ``threshold``: the set's rows (MPII: head, shoulder, ..., ankle), mean (%).

        Left/right rows are ``0.5 * (PCKh[l] + PCKh[r])`` (see module docstring), or the pooled rate
        of both joints under the ``princeton`` protocol.
        """
        out = {name: self._aggregate(ids, threshold, "pooled" if self.protocol.rows == "pooled" else "unweighted")
               for name, ids in self.keypoints.table_rows().items()}
        out["mean"] = self.mean(threshold)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary. All PCKh values are percentages (0-100); NaN becomes None.

        Keys: ``"pckh@T"`` (table dict; ``"pck@T"`` for PCK) and ``"per_joint@T"`` for every
        threshold T, ``"per_joint"`` (the first threshold's per-joint values), ``"hard_mean@T"``,
        ``"counts"`` (per joint), ``"num_samples"``, ``"thresholds"``, ``"protocol"`` (its name),
        ``"metric"``; for a protocol with a total (``princeton``) also ``"total"`` (first threshold)
        and ``"total@T"``.
        """
        def clean(x: float) -> float | None:
            return None if not math.isfinite(x) else float(x)

        out: dict[str, Any] = {}
        for t in self.thresholds:
            key = _threshold_key(t)
            out[f"{self.metric.lower()}@{key}"] = {k: clean(v) for k, v in self.table(t).items()}
        out["per_joint"] = {k: clean(v) for k, v in self.joint_pckh().items()}
        for t in self.thresholds:
            key = _threshold_key(t)
            out[f"per_joint@{key}"] = {k: clean(v) for k, v in self.joint_pckh(t).items()}
            out[f"hard_mean@{key}"] = clean(self.hard_mean(t))
        if self.protocol.total:
            out["total"] = clean(self.total())
            for t in self.thresholds:
                out[f"total@{_threshold_key(t)}"] = clean(self.total(t))
        out["counts"] = {name: int(c) for name, c in zip(self.joint_names, self.counts)}
        out["num_samples"] = int(self.num_samples)
        out["thresholds"] = [float(t) for t in self.thresholds]
        out["protocol"] = self.protocol.name
        out["metric"] = self.metric
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
    keypoints: KeypointSet | None = None,
    protocol: str | PCKhProtocol = "hrnet",
) -> PCKhResult:
    """PCKh of predictions against ground truth (official MPII definition, see module docstring).

    A joint instance is evaluated when it is annotated (``missing`` False) and selected by
    ``mask`` (and, under the ``princeton`` protocol, its ground-truth x is not 0); it is correct at
    ``t`` when ``||pred - gt|| / head_size <= t`` (``<`` under the ``bearpaw`` and ``princeton``
    protocols). A non-finite prediction (NaN/inf) is wrong, as in the MPII toolkit.

    Args:
        pred: (N, J, 2) predicted (x, y), original image pixels.
        gt: (N, J, 2) ground-truth (x, y), same pixel convention.
        head_sizes: (N,) PCKh normaliser per sample in pixels (``0.6 * head box diagonal``).
        missing: (N, J) bool, True = not annotated, excluded. None = nothing missing.
        thresholds: a threshold or a sequence of them (e.g. ``(0.5, 0.1)``).
        mask: optional (N, J) bool; only True entries are evaluated (e.g. ``visible`` or
            ``~visible`` for PCKh on occluded joints). Combined with ``missing`` by AND.
        keypoints: the keypoint set of the J joints (default: MPII for J = 16).
        protocol: a protocol name of :data:`posekit.evaluation.protocols.PROTOCOLS` or the protocol.

    Returns:
        :class:`PCKhResult` (percentages 0-100), with the (N, J) per-sample distances and
        evaluated mask (:meth:`PCKhResult.sample_correct`).

    Raises:
        ValueError: inconsistent shapes, a keypoint set of another size, a non-finite ground-truth
            coordinate on an evaluated joint, a non-positive / non-finite head size on a sample that
            has an evaluated joint, or an unknown protocol.
    """
    protocol = get_protocol(protocol)
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
    if protocol.skip_zero_x:
        evaluated &= gt[..., 0] != 0
    ts = _as_thresholds(thresholds)

    bad_gt = evaluated & ~np.isfinite(gt).all(axis=-1)
    if bad_gt.any():
        i, k = (int(v) for v in np.argwhere(bad_gt)[0])
        raise ValueError(f"the ground truth has {int(bad_gt.sum())} non-finite coordinates on evaluated joints (first: "
                         f"sample {i}, joint {k}: {gt[i, k].tolist()}); mark such joints missing")
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
    correct = np.stack([(protocol.within(scaled, t) & evaluated).sum(axis=0) for t in ts])  # (T, J)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = np.where(counts > 0, 100.0 * correct / np.maximum(counts, 1), np.nan)
    if keypoints is None:
        keypoints = MPII if j == len(MPII) else KeypointSet("unnamed", tuple(f"joint_{k}" for k in range(j)))
    if len(keypoints) != j:
        raise ValueError(f"keypoint set {keypoints.name!r} has {len(keypoints)} keypoints, the arrays have {j}")
    return PCKhResult(thresholds=ts, per_joint=per_joint, correct=correct, counts=counts,
                      num_samples=n, keypoints=keypoints, protocol=protocol, distances=scaled, evaluated=evaluated)


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
    keypoints: KeypointSet | None = None,
) -> PCKhResult:
    """PCKh over a range of thresholds (default 0.00, 0.01, ..., 0.50 as in the MPII toolkit).

    Same arguments as :func:`pckh`; use ``result.curve()`` for (thresholds, Mean) and
    ``result.per_joint`` for per-joint curves. ``result.mean(0.1)`` is PCKh@0.1.
    """
    return pckh(pred, gt, head_sizes, missing=missing, thresholds=thresholds, mask=mask, keypoints=keypoints)


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

_SHORT_HEADERS = {"head": "Head", "shoulder": "Sho", "elbow": "Elb", "wrist": "Wri", "hip": "Hip", "knee": "Knee",
                  "ankle": "Ank"}


def format_table(result: PCKhResult, threshold: float | None = None) -> str:
    """Fixed-width text table as printed in papers.

    Columns: the keypoint set's rows (MPII: Head Sho Elb Wri Hip Knee Ank) and Mean at
    ``threshold`` (default: the result's first threshold, normally 0.5), then ``Mean@0.1`` when 0.1
    was also evaluated. A footer gives the number of samples and evaluated joints, the hard-joint
    mean, the ``total`` of protocols that have one and the protocol's name. Values in percent.
    """
    k = result._index(threshold)
    t = result.thresholds[k]
    tab = result.table(t)
    rows = list(result.keypoints.table_rows())
    headers = [_SHORT_HEADERS.get(r, r) for r in rows] + ["Mean"]
    values = [tab[r] for r in rows] + [tab["mean"]]
    try:
        k01 = result._index(0.1)
    except KeyError:
        k01 = None
    if k01 is not None and k01 != k:
        headers.append("Mean@0.1")
        values.append(result.mean(0.1))
    label = f"{result.metric}@{_threshold_key(t)}"
    widths = [max(6, len(h)) for h in headers]
    head_line = f"{'':<10}" + " ".join(f"{h:>{w}}" for h, w in zip(headers, widths))
    value_line = f"{label:<10}" + " ".join(f"{v:>{w}.2f}" for v, w in zip(values, widths))
    rule = "-" * len(head_line)
    kept = list(result.keypoints.mean_ids())
    excluded = "/".join(result.keypoints.mean_excluded)
    footer = (f"{result.num_samples} samples, {int(result.counts[kept].sum())} joints in Mean"
              + (f" ({excluded} excluded)" if excluded else ""))
    if result.keypoints.subsets.get("hard"):
        footer += f"; hard-joint mean {result.hard_mean(t):.2f}"
    if result.protocol.total:
        footer += f"; total over all {len(result.keypoints)} joints {result.total(t):.2f}"
    footer += f"; protocol {result.protocol.name}"
    return "\n".join([head_line, rule, value_line, rule, footer])
