"""Evaluate a checkpoint on an annotated dataset: inference (flip / multi-scale testing as the model
artifact says, unless overridden) + PCKh (head-size normalised, MPII) under a protocol
(:mod:`posekit.evaluation.protocols`) or PCK (torso-size normalised, LSP).

The crop, heat-map codec and keypoints come from the checkpoint's model artifact, so a checkpoint is
evaluated exactly as its training validation saw it (``tests/test_artifact.py`` checks that the
PCKh matches the one training logged).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posekit.config import DataConfig
from posekit.data.annotations import read_annotations
from posekit.data.dataset import PoseDataset
from posekit.data.ground_truth import GroundTruth, check_evaluable, load_ground_truth
from posekit.data.predictions import load_predictions
from posekit.decoding.inference import run_inference
from posekit.decoding.predictor import PosePredictor
from posekit.evaluation.pck import pck
from posekit.evaluation.pckh import PCKhResult, pckh, visibility_mask
from posekit.evaluation.protocols import PCKhProtocol, get_protocol
from posekit.evaluation.samples import sample_scores_from_result
from posekit.keypoints import KEYPOINT_SETS, KeypointSet, get_keypoint_set

__all__ = ["METRICS", "evaluate_checkpoint", "dataset_keypoints", "protocol_ground_truth", "score_prediction_file",
           "check_metric"]

#: Metrics of :func:`evaluate_checkpoint`: PCKh (distances / head size, MPII) and PCK (distances /
#: torso size ``||l_shoulder - r_hip||``, LSP; :mod:`posekit.evaluation.pck`).
METRICS = ("pckh", "pck")


def protocol_ground_truth(path: str | Path, keypoints: KeypointSet, protocol: str | PCKhProtocol,
                          format: str = "auto", samples: str = "", need_head_sizes: bool = True) -> GroundTruth:
    """The ground truth a PCKh protocol scores against, read from ``path``.

    ``princeton`` needs the Newell/princeton ``valid.h5`` (its joints, and its ``normalize`` field as
    the head size); the others take any ground-truth file of :func:`posekit.data.ground_truth.load_ground_truth`
    (their own code reads ``gt_valid.mat``). ``format``, ``samples`` and ``need_head_sizes`` are
    passed to :func:`~posekit.data.ground_truth.load_ground_truth`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file the protocol cannot use, or a malformed one.
    """
    protocol = get_protocol(protocol)
    gt = load_ground_truth(path, keypoints, format, samples, need_head_sizes)
    if protocol.head_size == "normalize" and gt.head_size_source != "normalize":
        raise ValueError(f"--protocol {protocol.name} scores against the Newell/princeton valid.h5 (its joints and "
                         f"'normalize' head sizes), not {path}")
    return gt


def dataset_keypoints(predictor: PosePredictor, keypoints: str | KeypointSet | None = None) -> KeypointSet:
    """The keypoint set of the annotations to evaluate on: ``keypoints`` when given, else the
    built-in set the model's keypoints come from (its artifact names it), else the model's own set.

    Raises:
        ValueError: the model predicts a keypoint the set does not have.
    """
    model_set = predictor.keypoints
    if keypoints is not None:
        data_set = get_keypoint_set(keypoints)
    else:
        data_set = KEYPOINT_SETS.get(model_set.name, model_set)
    missing = [n for n in model_set.names if data_set.find(n) is None]
    if missing:
        raise ValueError(f"the model predicts {', '.join(missing)}, which keypoint set {data_set.name!r} lacks")
    return data_set


def evaluate_checkpoint(checkpoint: str | Path, annotations: str | Path, image_dir: str | Path,
                        flip: bool | None = None, ground_truth: str | Path | None = None, batch_size: int = 32,
                        device: str = "auto", thresholds=(0.5, 0.1), visibility: str = "all",
                        scales: list[float] | None = None, keypoints: str | KeypointSet | None = None,
                        predictor: PosePredictor | None = None, protocol: str | PCKhProtocol = "hrnet",
                        save_samples: str | Path | None = None, metric: str = "pckh", annotation_format: str = "auto",
                        samples: str = "") -> tuple[PCKhResult, np.ndarray, np.ndarray]:
    """PCKh (at ``thresholds``, default 0.5 and 0.1) or PCK of a checkpoint on the samples of an
    annotation file.

    The crops follow the model artifact (crop protocol, heat-map decoding convention), the
    annotation file's person boxes are read in its layout's convention
    (:mod:`posekit.data.annotations`).

    Args:
        flip, scales: flip / multi-scale testing; None: the model artifact's defaults.
        ground_truth: an official ``gt_valid.mat`` with the same samples in the same order: the
            score is then against its ``pos_gt_src`` / ``jnt_missing`` and head boxes (the official
            rule; samples are matched by order, the count and the people are checked,
            :meth:`GroundTruth.check_same_people`); otherwise against the annotation file's joints
            and head sizes (``normalize`` / ``head_size`` / ``headbox``). With the ``princeton``
            protocol it is a ``valid.h5`` (default: ``annotations`` itself).
        protocol: the PCKh protocol (:mod:`posekit.evaluation.protocols`).
        visibility: ``"all"``, ``"visible"`` or ``"invisible"``: PCKh on joints with that
            visibility flag (:func:`posekit.evaluation.pckh.visibility_mask`, flags of the annotations).
        keypoints: the keypoint set to evaluate in (default: see :func:`dataset_keypoints`); an LSP
            ``joints.mat`` is read into it by joint name (into MPII: pelvis and thorax unannotated).
        predictor: an already loaded predictor of ``checkpoint`` (saves loading it twice).
        save_samples: write the per-sample, per-joint scores there (``.npz``,
            :mod:`posekit.evaluation.samples`), the input of ``posekit compare`` (PCKh only).
        metric: ``"pckh"`` (head-size normaliser) or ``"pck"`` (torso size ``||l_shoulder - r_hip||``
            of the ground truth, the LSP metric; Tang & Wu 2019, Tables 4-5 use PCK@0.2).
        annotation_format, samples: how to read ``annotations`` and which of its samples
            (:func:`posekit.data.annotations.read_annotations`; LSP's test half is ``"1000:2000"``).

    Returns:
        ``(result, preds, maxvals)``: the :class:`PCKhResult`, ``(N, K, 2)`` predictions in original
        image pixels (NaN for joints the model does not predict) and ``(N, K)`` confidences, in the
        annotations' keypoint order.

    Raises:
        ValueError: an unknown ``metric``, no head sizes (PCKh) or no torso (PCK), a ground truth
            with another sample count, people or keypoint set, an unknown ``visibility`` or protocol,
            a ground truth the protocol cannot use, a protocol or ``save_samples`` with PCK, or a
            model without heat maps.
    """
    protocol = get_protocol(protocol)
    check_metric(metric, protocol, save_samples)
    predictor = predictor or PosePredictor.from_checkpoint(checkpoint, device=device, flip=flip, scales=scales)
    if "pose" not in predictor.artifact.arch_kwargs.get("tasks", ["pose"]):
        raise ValueError(f"{checkpoint}: a segmentation-only model predicts no keypoints to evaluate")
    data_set = dataset_keypoints(predictor, keypoints)
    ids = list(data_set.indices(predictor.keypoints.names))
    art = predictor.artifact
    data_cfg = DataConfig(dataset="files", keypoints=data_set.name, input_size=art.codec["input_size"],
                          heatmap_size=art.codec["heatmap_size"], sigma=art.codec["sigma"], crop=predictor.crop_mode,
                          scale_factor=predictor.scale_factor, center_shift=predictor.center_shift, on_error="raise")
    ann = read_annotations(annotations, data_set, annotation_format, samples)
    dataset = PoseDataset(ann, str(image_dir), data_cfg, train=False, joint_ids=ids, keypoints=data_set)
    if protocol.head_size == "normalize" and not ground_truth:
        ground_truth = annotations
    if ground_truth:
        gt = protocol_ground_truth(ground_truth, data_set, protocol)
        if gt.keypoints.names != data_set.names:
            raise ValueError(f"{ground_truth} holds the MPII joints; the annotations use keypoint set {data_set.name!r}")
        gt.check_same_people(ann.joints, ann.annotated, what=str(annotations))
        gt_joints, gt_missing, head_sizes = gt.joints, gt.missing, gt.head_sizes
    else:
        gt_joints, gt_missing, head_sizes = ann.joints, ~ann.annotated, ann.head_sizes
    if metric == "pckh" and head_sizes is None:
        raise ValueError(f"{annotations} has no head sizes (normalize / head_size / headbox): pass a "
                         "ground truth file with head boxes (gt_valid.mat)")
    if not ground_truth:   # (gt_valid.mat is checked when it is read)
        check_evaluable(annotations, gt_joints, gt_missing, head_sizes if metric == "pckh" else None, "joints",
                        "normalize / head_size / headbox", data_set)
    flip_used = predictor.flip
    coords, conf = run_inference(predictor.model, dataset, predictor.codec, batch_size=batch_size, flip=flip_used,
                                 device=predictor.device, keypoints=predictor.keypoints, scales=predictor.scales)
    k = len(data_set)
    preds = np.full((len(ann), k, 2), np.nan)
    maxvals = np.full((len(ann), k), np.nan)
    preds[:, ids], maxvals[:, ids] = coords, conf
    missing = gt_missing.copy()
    not_predicted = np.ones(k, bool)
    not_predicted[ids] = False
    missing[:, not_predicted] = True
    mask = visibility_mask(ann.visible, visibility)
    if metric == "pck":
        result = pck(preds, gt_joints, missing, thresholds=thresholds, mask=mask, keypoints=data_set)
    else:
        result = pckh(preds, gt_joints, head_sizes, missing, thresholds=thresholds, mask=mask, keypoints=data_set,
                      protocol=protocol)
    if save_samples:
        sample_scores_from_result(result, gt_joints, head_sizes, ann.image_names,
                                  source=f"{checkpoint} (flip {'on' if flip_used else 'off'})").save(save_samples)
    return result, preds, maxvals


def check_metric(metric: str, protocol: str | PCKhProtocol = "hrnet", save_samples=None) -> None:
    """Raise ValueError for an unknown metric or protocol, or for PCK with a non-default PCKh
    protocol or per-sample PCKh scores (``save_samples``; both are defined on head sizes)."""
    protocol = get_protocol(protocol)
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    if metric == "pck" and protocol.name != "hrnet":
        raise ValueError(f"--protocol {protocol.name} is a PCKh protocol; PCK uses torso sizes")
    if metric == "pck" and save_samples:
        raise ValueError("per-sample scores (--save-samples) are PCKh distances; use --metric pckh")


def score_prediction_file(predictions: str | Path, ground_truth: str | Path, keypoints: str | None = None,
                          thresholds=(0.5, 0.1), visibility: str = "all", normalize_h5: str | Path | None = None,
                          protocol: str | PCKhProtocol = "hrnet", metric: str = "pckh", annotation_format: str = "auto",
                          samples: str = "") -> tuple[PCKhResult, GroundTruth]:
    """PCKh (or PCK) of a prediction file against a ground-truth file (as ``posekit evaluate --predictions``).

    Args:
        predictions: prediction file (:func:`posekit.data.predictions.load_predictions`).
        ground_truth: ``gt_valid.mat``, ``valid.h5`` or an annotation json with head sizes (the
            ``princeton`` protocol needs the ``valid.h5``, :func:`protocol_ground_truth`).
        keypoints: the keypoint set name of both (default ``mpii``).
        visibility: ``"all"``, ``"visible"`` or ``"invisible"`` joints.
        normalize_h5: an h5 whose ``normalize`` field replaces the ground truth's head sizes.
        protocol: the PCKh protocol (:mod:`posekit.evaluation.protocols`).
        metric, annotation_format, samples: as for :func:`evaluate_checkpoint` (an LSP
            ``joints.mat`` with ``samples="1000:2000"`` is LSP's test half).

    Returns:
        ``(result, gt)``: the :class:`~posekit.evaluation.pckh.PCKhResult` (with per-sample
        distances) and the :class:`~posekit.data.ground_truth.GroundTruth` it was scored against.

    Raises:
        FileNotFoundError, ValueError: unreadable files, sample counts that differ, an unknown
            protocol or a ground truth the protocol cannot use.
    """
    protocol = get_protocol(protocol)
    check_metric(metric, protocol, None)
    if normalize_h5 and metric != "pckh":
        raise ValueError("--normalize-h5 gives head sizes, which only --metric pckh uses")
    gt = protocol_ground_truth(ground_truth, get_keypoint_set(keypoints or "mpii"), protocol, annotation_format,
                               samples, need_head_sizes=metric == "pckh")
    preds = load_predictions(predictions, num_joints=len(gt.keypoints))
    if normalize_h5:
        norm_src = load_ground_truth(normalize_h5, gt.keypoints)
        if norm_src.num_samples != gt.num_samples:
            raise ValueError(f"{normalize_h5} has {norm_src.num_samples} samples, "
                             f"{ground_truth} has {gt.num_samples}")
        gt = gt.with_head_sizes(norm_src.head_sizes)
    if preds.shape[0] != gt.num_samples:
        raise ValueError(f"{predictions} has {preds.shape[0]} samples, {ground_truth} has {gt.num_samples}")
    mask = visibility_mask(gt.visible, visibility)
    if metric == "pck":
        return pck(preds, gt.joints, gt.missing, thresholds=thresholds, mask=mask, keypoints=gt.keypoints), gt
    result = pckh(preds, gt.joints, gt.head_sizes, gt.missing, thresholds=thresholds, mask=mask,
                  keypoints=gt.keypoints, protocol=protocol)
    return result, gt

