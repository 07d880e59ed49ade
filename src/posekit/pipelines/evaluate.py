"""Evaluate a checkpoint on an annotated dataset: inference (flip / multi-scale testing as the model
artifact says, unless overridden) + PCKh (head-size normalised, MPII) or PCK (torso-size
normalised, LSP).

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
from posekit.data.ground_truth import check_evaluable, load_mpii_ground_truth
from posekit.decoding.inference import run_inference
from posekit.decoding.predictor import PosePredictor
from posekit.evaluation.pck import pck
from posekit.evaluation.pckh import PCKhResult, pckh, visibility_mask
from posekit.keypoints import KEYPOINT_SETS, KeypointSet, get_keypoint_set

__all__ = ["METRICS", "evaluate_checkpoint", "dataset_keypoints"]

#: Metrics of :func:`evaluate_checkpoint`: PCKh (distances / head size, MPII) and PCK (distances /
#: torso size ``||l_shoulder - r_hip||``, LSP; :mod:`posekit.evaluation.pck`).
METRICS = ("pckh", "pck")


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
                        predictor: PosePredictor | None = None, metric: str = "pckh", annotation_format: str = "auto",
                        samples: str = "") -> tuple[PCKhResult, np.ndarray, np.ndarray]:
    """PCKh (at ``thresholds``, default 0.5 and 0.1) or PCK of a checkpoint on the samples of an
    annotation file.

    Args:
        flip, scales: flip / multi-scale testing; None: the model artifact's defaults.
        ground_truth: an official ``gt_valid.mat`` with the same samples in the same order: the
            score is then against its ``pos_gt_src`` / ``jnt_missing`` and head boxes (the official
            rule); otherwise against the annotation file's joints and head sizes (``normalize`` /
            ``head_size`` / ``headbox``).
        visibility: ``"all"``, ``"visible"`` or ``"invisible"``: PCKh on joints with that
            visibility flag (:func:`posekit.evaluation.pckh.visibility_mask`, flags of the annotations).
        keypoints: the keypoint set to evaluate in (default: see :func:`dataset_keypoints`); an LSP
            ``joints.mat`` is read into it by joint name (into MPII: pelvis and thorax unannotated).
        predictor: an already loaded predictor of ``checkpoint`` (saves loading it twice).
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
            with another sample count or keypoint set, an unknown ``visibility``, or a model without
            heat maps.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    predictor = predictor or PosePredictor.from_checkpoint(checkpoint, device=device, flip=flip, scales=scales)
    if "pose" not in predictor.artifact.arch_kwargs.get("tasks", ["pose"]):
        raise ValueError(f"{checkpoint}: a segmentation-only model predicts no keypoints to evaluate")
    data_set = dataset_keypoints(predictor, keypoints)
    ids = list(data_set.indices(predictor.keypoints.names))
    art = predictor.artifact
    data_cfg = DataConfig(dataset="files", keypoints=data_set.name, input_size=art.codec["input_size"],
                          heatmap_size=art.codec["heatmap_size"], sigma=art.codec["sigma"], crop=predictor.crop_mode,
                          scale_factor=predictor.scale_factor, on_error="raise")
    ann = read_annotations(annotations, data_set, annotation_format, samples)
    dataset = PoseDataset(ann, str(image_dir), data_cfg, train=False, joint_ids=ids, keypoints=data_set)
    if ground_truth:
        gt = load_mpii_ground_truth(ground_truth)
        if gt.num_samples != len(ann):
            raise ValueError(f"{ground_truth} has {gt.num_samples} samples, {annotations} has {len(ann)}")
        if gt.keypoints.names != data_set.names:
            raise ValueError(f"{ground_truth} holds the MPII joints; the annotations use keypoint set {data_set.name!r}")
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
        result = pckh(preds, gt_joints, head_sizes, missing, thresholds=thresholds, mask=mask, keypoints=data_set)
    return result, preds, maxvals
