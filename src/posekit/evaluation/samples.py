"""Per-sample, per-joint PCKh scores: what an evaluation saves so that comparisons need no re-run.

A PCKh table is a sum over people; whether model A beats model B on the same people is a question
about the per-person, per-joint outcomes (:mod:`posekit.evaluation.statistics`). Every posekit
evaluation therefore writes, next to its metrics, one small ``.npz`` file (numpy's zip of arrays,
read with ``allow_pickle=False``) holding:

================  ================  ============================================================
key               shape / type      meaning
================  ================  ============================================================
``format``        str               ``"posekit-pckh-samples"``
``version``       int               1
``distances``     (N, K) float64    ``||pred - gt|| / head_size`` (in head sizes); ``inf`` for a
                                    non-finite prediction, NaN where not evaluated
``evaluated``     (N, K) bool       the instances that count (annotated, predicted, in the mask)
``joint_names``   (K,) str          keypoint names in column order
``mean_joints``   (K,) bool         joints of the official Mean (MPII: all but pelvis, thorax)
``keypoint_set``  str               name of the keypoint set
``gt_joints``     (N, K, 2) float32 the ground truth scored against, original image px (NaN
                                    where not evaluated): two files are comparable only when
                                    they were scored on the same people
``head_sizes``    (N,) float64      the PCKh normaliser of each sample, px
``sample_names``  (N,) str          image name of each sample ("" when unknown)
``source``        str               what was evaluated (checkpoint, prediction file, run epoch)
``protocol``      str               the PCKh protocol it was scored under
                                    (:mod:`posekit.evaluation.protocols`); files without it
                                    were scored under ``hrnet``
================  ================  ============================================================

A joint is correct at threshold ``t`` when ``evaluated & (distances <= t)`` (``<`` under a strict
protocol: ``bearpaw``, ``princeton``); which joints are ``evaluated`` already follows the protocol.
:meth:`SampleScores.pckh_result` gives back the full PCKh result at any thresholds, rows and Mean
formed by the protocol's rules. Files are written atomically (temporary file, rename).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from posekit.evaluation.pckh import PCKhResult
from posekit.evaluation.protocols import get_protocol
from posekit.keypoints import KEYPOINT_SETS, KeypointSet

__all__ = ["FORMAT", "SampleScores", "load_sample_scores", "sample_scores_from_result"]

#: The ``format`` entry of a per-sample scores file.
FORMAT = "posekit-pckh-samples"
_VERSION = 1
#: Ground-truth coordinates of two files may differ by this much (px) and still be the same people
#: (``valid.h5`` and ``gt_valid.mat`` store the same joints in different precisions).
GT_TOLERANCE_PX = 0.5


@dataclass(frozen=True)
class SampleScores:
    """Per-sample PCKh distances of one evaluation (layout in the module docstring).

    Attributes:
        distances: (N, K) float64, distance / head size; ``inf`` for non-finite predictions, NaN
            where not evaluated.
        evaluated: (N, K) bool.
        joint_names: the K keypoint names.
        mean_joints: (K,) bool, joints in the official Mean.
        keypoint_set: name of the keypoint set.
        gt_joints: (N, K, 2) ground truth, original image px, NaN where not evaluated.
        head_sizes: (N,) px.
        sample_names: N image names ("" when unknown).
        source: what was evaluated.
        protocol: name of the PCKh protocol it was scored under (default ``"hrnet"``).
    """

    distances: np.ndarray
    evaluated: np.ndarray
    joint_names: tuple[str, ...]
    mean_joints: np.ndarray
    keypoint_set: str
    gt_joints: np.ndarray
    head_sizes: np.ndarray
    sample_names: tuple[str, ...]
    source: str = ""
    protocol: str = "hrnet"

    @property
    def num_samples(self) -> int:
        return int(self.distances.shape[0])

    def correct(self, threshold: float = 0.5) -> np.ndarray:
        """(N, K) bool: evaluated and within ``threshold`` head sizes (``<=``, or ``<`` under a
        strict protocol)."""
        return self.evaluated & get_protocol(self.protocol).within(self.distances, threshold)

    def pckh_result(self, thresholds: float | Sequence[float] = (0.5, 0.1)) -> PCKhResult:
        """The :class:`PCKhResult` of these scores at ``thresholds`` (same numbers as the evaluation
        that wrote them). The keypoint set is rebuilt from the stored names and Mean joints."""
        ts = (float(thresholds),) if np.isscalar(thresholds) else tuple(float(t) for t in thresholds)
        counts = self.evaluated.sum(axis=0)
        correct = np.stack([self.correct(t).sum(axis=0) for t in ts])
        with np.errstate(invalid="ignore", divide="ignore"):
            per_joint = np.where(counts > 0, 100.0 * correct / np.maximum(counts, 1), np.nan)
        return PCKhResult(thresholds=ts, per_joint=per_joint, correct=correct, counts=counts,
                          num_samples=self.num_samples, keypoints=self.keypoints(),
                          protocol=get_protocol(self.protocol), distances=self.distances, evaluated=self.evaluated)

    def keypoints(self) -> KeypointSet:
        """A keypoint set with the stored names and Mean exclusions (the built-in set when the name
        and joints match one)."""
        known = KEYPOINT_SETS.get(self.keypoint_set)
        if known is not None and known.names == self.joint_names:
            return known
        excluded = tuple(n for n, m in zip(self.joint_names, self.mean_joints) if not m)
        return KeypointSet(self.keypoint_set or "unnamed", self.joint_names, mean_excluded=excluded)

    def mean(self, threshold: float = 0.5) -> float:
        """Official Mean PCKh (%) at ``threshold`` over the Mean joints, as the protocol forms it
        (pooled, or the plain mean of the joints' rates under ``bearpaw``); NaN if none."""
        return self.pckh_result(threshold).mean(threshold)

    def same_people(self, other: "SampleScores") -> str | None:
        """None when ``other`` was scored on the same people and joints, else the reason it was not."""
        if self.joint_names != other.joint_names:
            return f"different keypoints ({len(self.joint_names)} vs {len(other.joint_names)} joints)"
        if self.protocol != other.protocol:
            return f"different PCKh protocols ({self.protocol} vs {other.protocol})"
        if self.num_samples != other.num_samples:
            return f"different sample counts ({self.num_samples} vs {other.num_samples})"
        names_a, names_b = np.asarray(self.sample_names), np.asarray(other.sample_names)
        known = (names_a != "") & (names_b != "")
        if (names_a[known] != names_b[known]).any():
            i = int(np.flatnonzero(known & (names_a != names_b))[0])
            return f"sample {i} is {names_a[i]!r} in one and {names_b[i]!r} in the other"
        a, b = self.gt_joints, other.gt_joints
        both = np.isfinite(a).all(-1) & np.isfinite(b).all(-1)
        far = both & (np.linalg.norm(np.where(both[..., None], a - b, 0), axis=-1) > GT_TOLERANCE_PX)
        if far.any():
            i, j = (int(x[0]) for x in np.nonzero(far))
            return (f"different ground truth: sample {i}, joint {self.joint_names[j]} is at {a[i, j].tolist()} "
                    f"in one and {b[i, j].tolist()} in the other")
        return None

    def save(self, path: str | Path) -> Path:
        """Write the scores to ``path`` (``.npz``) atomically; parent folders are created."""
        from posekit.checkpoint import atomic_write

        buf = io.BytesIO()
        np.savez_compressed(
            buf, format=np.array(FORMAT), version=np.array(_VERSION), distances=self.distances.astype(np.float64),
            evaluated=self.evaluated.astype(bool), joint_names=np.array(self.joint_names, dtype=str),
            mean_joints=self.mean_joints.astype(bool), keypoint_set=np.array(self.keypoint_set),
            gt_joints=self.gt_joints.astype(np.float32), head_sizes=self.head_sizes.astype(np.float64),
            sample_names=np.array(self.sample_names, dtype=str), source=np.array(self.source),
            protocol=np.array(self.protocol))
        return atomic_write(path, buf.getvalue())


def sample_scores_from_result(result: PCKhResult, gt_joints: np.ndarray, head_sizes: np.ndarray,
                              sample_names: Sequence[str] | None = None, source: str = "") -> SampleScores:
    """The per-sample scores of a :func:`posekit.evaluation.pckh.pckh` result.

    Args:
        result: a result made with its per-sample distances (every :func:`pckh` result is).
        gt_joints: (N, K, 2) the ground truth it was scored against, px.
        head_sizes: (N,) the head sizes it used, px.
        sample_names: N image names, or None.
        source: what was evaluated (free text, shown by ``posekit compare``).

    Raises:
        ValueError: the result has no per-sample distances, or the shapes disagree.
    """
    if result.distances is None or result.evaluated is None:
        raise ValueError("this PCKh result holds no per-sample distances")
    n, k = result.distances.shape
    gt = np.asarray(gt_joints, dtype=np.float64)
    if gt.shape != (n, k, 2):
        raise ValueError(f"gt_joints must have shape ({n}, {k}, 2), got {gt.shape}")
    names = tuple(str(s) for s in sample_names) if sample_names is not None else ("",) * n
    if len(names) != n:
        raise ValueError(f"{len(names)} sample names for {n} samples")
    evaluated = np.asarray(result.evaluated, bool)
    kp = result.keypoints
    mean_joints = np.zeros(k, bool)
    mean_joints[list(kp.mean_ids())] = True
    return SampleScores(distances=np.where(evaluated, result.distances, np.nan), evaluated=evaluated,
                        joint_names=tuple(kp.names), mean_joints=mean_joints, keypoint_set=kp.name,
                        gt_joints=np.where(evaluated[..., None], gt, np.nan), head_sizes=np.asarray(head_sizes, dtype=np.float64).reshape(n),
                        sample_names=names, source=str(source), protocol=result.protocol.name)


def load_sample_scores(path: str | Path) -> SampleScores:
    """Read a per-sample scores file written by :meth:`SampleScores.save`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a posekit per-sample scores file, an unknown version, or arrays of
            inconsistent shapes (the message names the file and the field).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"per-sample scores file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:   # not a zip / corrupt member / pickled object
        raise ValueError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None
    if str(data.get("format", "")) != FORMAT:
        raise ValueError(f"{path}: not a posekit per-sample scores file (no format {FORMAT!r})")
    if int(data.get("version", -1)) != _VERSION:
        raise ValueError(f"{path}: per-sample scores version {int(data.get('version', -1))} is not supported "
                         f"(this posekit reads version {_VERSION})")
    missing = [k for k in ("distances", "evaluated", "joint_names", "mean_joints", "gt_joints", "head_sizes")
               if k not in data]
    if missing:
        raise ValueError(f"{path}: missing field(s) {', '.join(missing)}")
    dist = np.asarray(data["distances"], np.float64)
    if dist.ndim != 2:
        raise ValueError(f"{path}: 'distances' must have shape (N, K), got {dist.shape}")
    n, k = dist.shape
    expected = {"evaluated": (n, k), "joint_names": (k,), "mean_joints": (k,), "gt_joints": (n, k, 2),
                "head_sizes": (n,)}
    for key, shape in expected.items():
        if data[key].shape != shape:
            raise ValueError(f"{path}: {key!r} has shape {data[key].shape}, expected {shape} for "
                             f"'distances' of shape {dist.shape}")
    names = data.get("sample_names", np.array([], dtype=str))
    names = tuple(str(s) for s in names) if names.shape == (n,) else ("",) * n
    protocol = str(data.get("protocol", "hrnet"))   # files written before the field: hrnet
    try:
        get_protocol(protocol)
    except ValueError:
        raise ValueError(f"{path}: 'protocol' is {protocol!r}, not a known PCKh protocol") from None
    return SampleScores(distances=dist, evaluated=data["evaluated"].astype(bool),
                        joint_names=tuple(str(s) for s in data["joint_names"]),
                        mean_joints=data["mean_joints"].astype(bool), keypoint_set=str(data.get("keypoint_set", "")),
                        gt_joints=data["gt_joints"].astype(np.float64), head_sizes=data["head_sizes"].astype(np.float64),
                        sample_names=names, source=str(data.get("source", "")), protocol=protocol)
