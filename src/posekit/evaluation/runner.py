"""Evaluate a checkpoint on an annotated dataset: inference (optionally flip-tested) + PCKh."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from posekit.data.dataset import PoseDataset
from posekit.decoding.inference import run_inference
from posekit.decoding.predictor import PosePredictor
from posekit.evaluation.pckh import PCKhResult, load_mpii_ground_truth, pckh, visibility_mask
from posekit.joints import NUM_JOINTS


def evaluate_checkpoint(checkpoint: str | Path, annotations: str | Path, image_dir: str | Path,
                        flip: bool = True, ground_truth: str | Path | None = None, batch_size: int = 32,
                        device: str = "auto", thresholds=(0.5, 0.1),
                        visibility: str = "all",
                        scales: list[float] | None = None) -> tuple[PCKhResult, np.ndarray, np.ndarray]:
    """PCKh (at ``thresholds``, default 0.5 and 0.1) of a checkpoint on the samples of an annotation file.

    Head sizes come from ``ground_truth`` (an official ``gt_valid.mat``, same sample order) when
    given, else from the annotation file (``normalize`` / ``head_size`` / ``headbox``). ``visibility``
    (``"all"``, ``"visible"``, ``"invisible"``) restricts PCKh to joints with that visibility flag
    (:func:`posekit.evaluation.pckh.visibility_mask`). ``scales`` switches to multi-scale (+ flip)
    testing (:func:`posekit.decoding.multiscale.predict_heatmaps_multiscale`).

    Returns:
        ``(result, preds, maxvals)``: the :class:`PCKhResult`, ``(N, 16, 2)`` predictions in original
        image pixels (NaN for joints the model does not predict) and ``(N, 16)`` confidences.

    Raises:
        ValueError: no head sizes available, the ground truth's sample count differs, or an unknown
            ``visibility``.
    """
    predictor = PosePredictor.from_checkpoint(checkpoint, device=device, flip=flip)
    ckpt_cfg = predictor_config(checkpoint)
    data_cfg = dataclasses.replace(ckpt_cfg.data, on_error="raise")
    dataset = PoseDataset(str(annotations), str(image_dir), data_cfg, train=False, joint_ids=predictor.joint_ids)
    ann = dataset.annotations
    if ground_truth:
        gt = load_mpii_ground_truth(ground_truth)
        if gt.num_samples != len(ann):
            raise ValueError(f"{ground_truth} has {gt.num_samples} samples, {annotations} has {len(ann)}")
        head_sizes = gt.head_sizes
    else:
        head_sizes = ann.head_sizes
    if head_sizes is None:
        raise ValueError(f"{annotations} has no head sizes (normalize / head_size / headbox): pass a "
                         "ground truth file with head boxes (gt_valid.mat)")
    coords, conf = run_inference(predictor.model, dataset, predictor.codec, batch_size=batch_size, flip=flip,
                                 device=predictor.device, joint_ids=list(predictor.joint_ids), scales=scales)
    ids = list(predictor.joint_ids)
    preds = np.full((len(ann), NUM_JOINTS, 2), np.nan)
    maxvals = np.full((len(ann), NUM_JOINTS), np.nan)
    preds[:, ids], maxvals[:, ids] = coords, conf
    missing = ~ann.annotated.copy()
    not_predicted = np.ones(NUM_JOINTS, bool)
    not_predicted[ids] = False
    missing[:, not_predicted] = True
    mask = visibility_mask(ann.visible, visibility)
    return pckh(preds, ann.joints, head_sizes, missing, thresholds=thresholds, mask=mask), preds, maxvals


def predictor_config(checkpoint: str | Path):
    """The :class:`posekit.config.Config` stored in a checkpoint."""
    from posekit.config import config_from_dict
    from posekit.training.checkpoint import load_checkpoint

    return config_from_dict(load_checkpoint(checkpoint)["config"], where=str(checkpoint))
