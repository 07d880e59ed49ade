"""Evaluate a checkpoint on an annotated dataset: inference (flip / multi-scale testing as the model
artifact says, unless overridden) + PCKh under a protocol (:mod:`posekit.evaluation.protocols`).

The crop, heat-map codec and keypoints come from the checkpoint's model artifact, so a checkpoint is
evaluated exactly as its training validation saw it (``tests/test_artifact.py`` checks that the
PCKh matches the one training logged).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posekit.config import DataConfig
from posekit.data.dataset import PoseDataset
from posekit.data.ground_truth import GroundTruth, check_evaluable, load_ground_truth
from posekit.data.predictions import load_predictions
from posekit.decoding.inference import run_inference
from posekit.decoding.predictor import PosePredictor
from posekit.evaluation.pckh import PCKhResult, pckh, visibility_mask
from posekit.evaluation.protocols import PCKhProtocol, get_protocol
from posekit.evaluation.samples import sample_scores_from_result
from posekit.keypoints import KEYPOINT_SETS, KeypointSet, get_keypoint_set

__all__ = ["evaluate_checkpoint", "dataset_keypoints", "protocol_ground_truth", "score_prediction_file"]


def protocol_ground_truth(path: str | Path, keypoints: KeypointSet, protocol: str | PCKhProtocol) -> GroundTruth:
    """The ground truth a PCKh protocol scores against, read from ``path``.

    ``princeton`` needs the Newell/princeton ``valid.h5`` (its joints, and its ``normalize`` field as
    the head size); the others take any ground-truth file of :func:`posekit.data.ground_truth.load_ground_truth`
    (their own code reads ``gt_valid.mat``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file the protocol cannot use, or a malformed one.
    """
    protocol = get_protocol(protocol)
    gt = load_ground_truth(path, keypoints)
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
                        save_samples: str | Path | None = None,
                        ) -> tuple[PCKhResult, np.ndarray, np.ndarray]:
    """PCKh (at ``thresholds``, default 0.5 and 0.1) of a checkpoint on the samples of an annotation file.

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
        keypoints: the annotations' keypoint set (default: see :func:`dataset_keypoints`).
        predictor: an already loaded predictor of ``checkpoint`` (saves loading it twice).
        save_samples: write the per-sample, per-joint scores there (``.npz``,
            :mod:`posekit.evaluation.samples`), the input of ``posekit compare``.

    Returns:
        ``(result, preds, maxvals)``: the :class:`PCKhResult`, ``(N, K, 2)`` predictions in original
        image pixels (NaN for joints the model does not predict) and ``(N, K)`` confidences, in the
        annotations' keypoint order.

    Raises:
        ValueError: no head sizes, a ground truth with another sample count, people or keypoint set,
            an unknown ``visibility`` or protocol, a ground truth the protocol cannot use, or a
            model without heat maps.
    """
    protocol = get_protocol(protocol)
    predictor = predictor or PosePredictor.from_checkpoint(checkpoint, device=device, flip=flip, scales=scales)
    if "pose" not in predictor.artifact.arch_kwargs.get("tasks", ["pose"]):
        raise ValueError(f"{checkpoint}: a segmentation-only model predicts no keypoints to evaluate")
    data_set = dataset_keypoints(predictor, keypoints)
    ids = list(data_set.indices(predictor.keypoints.names))
    art = predictor.artifact
    data_cfg = DataConfig(dataset="files", keypoints=data_set.name, input_size=art.codec["input_size"],
                          heatmap_size=art.codec["heatmap_size"], sigma=art.codec["sigma"], crop=predictor.crop_mode,
                          scale_factor=predictor.scale_factor, center_shift=predictor.center_shift, on_error="raise")
    dataset = PoseDataset(str(annotations), str(image_dir), data_cfg, train=False, joint_ids=ids, keypoints=data_set)
    ann = dataset.annotations
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
    if head_sizes is None:
        raise ValueError(f"{annotations} has no head sizes (normalize / head_size / headbox): pass a "
                         "ground truth file with head boxes (gt_valid.mat)")
    if not ground_truth:   # (gt_valid.mat is checked when it is read)
        check_evaluable(annotations, gt_joints, gt_missing, head_sizes, "joints", "normalize / head_size / headbox",
                        data_set)
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
    result = pckh(preds, gt_joints, head_sizes, missing, thresholds=thresholds, mask=mask, keypoints=data_set,
                  protocol=protocol)
    if save_samples:
        sample_scores_from_result(result, gt_joints, head_sizes, ann.image_names,
                                  source=f"{checkpoint} (flip {'on' if flip_used else 'off'})").save(save_samples)
    return result, preds, maxvals


def score_prediction_file(predictions: str | Path, ground_truth: str | Path, keypoints: str | None = None,
                          thresholds=(0.5, 0.1), visibility: str = "all", normalize_h5: str | Path | None = None,
                          protocol: str | PCKhProtocol = "hrnet") -> tuple[PCKhResult, GroundTruth]:
    """PCKh of a prediction file against a ground-truth file (as ``posekit evaluate --predictions``).

    Args:
        predictions: prediction file (:func:`posekit.data.predictions.load_predictions`).
        ground_truth: ``gt_valid.mat``, ``valid.h5`` or an annotation json with head sizes (the
            ``princeton`` protocol needs the ``valid.h5``, :func:`protocol_ground_truth`).
        keypoints: the keypoint set name of both (default ``mpii``).
        visibility: ``"all"``, ``"visible"`` or ``"invisible"`` joints.
        normalize_h5: an h5 whose ``normalize`` field replaces the ground truth's head sizes.
        protocol: the PCKh protocol (:mod:`posekit.evaluation.protocols`).

    Returns:
        ``(result, gt)``: the :class:`~posekit.evaluation.pckh.PCKhResult` (with per-sample
        distances) and the :class:`~posekit.data.ground_truth.GroundTruth` it was scored against.

    Raises:
        FileNotFoundError, ValueError: unreadable files, sample counts that differ, an unknown
            protocol or a ground truth the protocol cannot use.
    """
    gt = protocol_ground_truth(ground_truth, get_keypoint_set(keypoints or "mpii"), protocol)
    preds = load_predictions(predictions, num_joints=len(gt.keypoints))
    if normalize_h5:
        norm_src = load_ground_truth(normalize_h5, gt.keypoints)
        if norm_src.num_samples != gt.num_samples:
            raise ValueError(f"{normalize_h5} has {norm_src.num_samples} samples, "
                             f"{ground_truth} has {gt.num_samples}")
        gt = gt.with_head_sizes(norm_src.head_sizes)
    if preds.shape[0] != gt.num_samples:
        raise ValueError(f"{predictions} has {preds.shape[0]} samples, {ground_truth} has {gt.num_samples}")
    result = pckh(preds, gt.joints, gt.head_sizes, gt.missing, thresholds=thresholds,
                  mask=visibility_mask(gt.visible, visibility), keypoints=gt.keypoints, protocol=protocol)
    return result, gt

