"""Training and validation of the multi-task pose + part segmentation network.

:class:`MultiTaskTrainer` is the ordinary :class:`~posekit.training.trainer.Trainer` (checkpoints,
exact resume, metrics.csv, multi-process) with the multi-task pieces plugged into its hooks:

* data: :class:`~posekit.data.multitask.MultiTaskDataset` on ``data``'s train/val splits (part
  labels from ``data.parts_dir`` / ``data.val_parts_dir``; the synthetic generator sets both), plus
  PASCAL-Person-Part as segmentation-only training samples when ``data.pascal_root`` is set;
* network: :class:`~posekit.models.multitask.MultiTaskPoseSegNet` with the branches of
  ``model.tasks`` (trunk from ``model.backbone_weights`` when given);
* loss: :class:`~posekit.losses.multitask.MultiTaskLoss` (eqs. 2-4 of Agrawal, Agarwal & Gupta);
* validation (:func:`validate_multitask`): total loss, its terms, PCKh (last stage's heat maps,
  official head-size normalisation), ``PCK_dist`` and FCN's four segmentation metrics.
  ``best.pt`` is picked by PCKh when the pose branch exists, else by mean IU.

Heat maps and PAFs live on the trunk's stride-8 grid: ``data.heatmap_size`` must be
``data.input_size / 8``.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from posekit.config import Config
from posekit.data.dataset import loaded_batches
from posekit.data.multitask import MixedDataset, MultiTaskDataset
from posekit.data.pascal_parts import PART_CLASS_NAMES
from posekit.data.targets import HeatmapCodec
from posekit.decoding.inference import crop_to_original
from posekit.evaluation.segmentation import (
    confusion_matrix,
    pck_dist,
    segmentation_scores,
)
from posekit.losses.multitask import MultiTaskLoss
from posekit.models.multitask import FCN32_STRIDE, TRUNK_STRIDE, load_backbone_weights
from posekit.training.trainer import (
    Trainer,
    evaluated_indices,
    pckh_metrics,
    skip_columns,
    skip_counts,
)

log = logging.getLogger(__name__)

__all__ = ["TARGET_KEYS", "MultiTaskTrainer", "validate_multitask"]

#: Batch keys that :class:`MultiTaskLoss` reads, moved to the device for every step.
TARGET_KEYS = ("heatmaps", "pafs", "segmentation", "heatmap_weight", "paf_weight", "has_pose", "has_seg")


def batch_targets(batch: dict, device: torch.device) -> dict[str, torch.Tensor]:
    """The loss targets of a collated :class:`MultiTaskDataset` batch, on ``device``."""
    targets = {"heatmaps": batch["heatmaps"], "pafs": batch["pafs"], "segmentation": batch["segmentation"],
               "heatmap_weight": batch["target_weight"], "paf_weight": batch["paf_weight"],
               "has_pose": torch.as_tensor(batch["has_pose"]), "has_seg": torch.as_tensor(batch["has_seg"])}
    return {k: v.to(device, non_blocking=True) for k, v in targets.items()}


@torch.no_grad()
def validate_multitask(model: nn.Module, loader: DataLoader, codec: HeatmapCodec, criterion: MultiTaskLoss,
                       device: torch.device, num_classes: int, head_sizes: np.ndarray | None = None,
                       pck_dist_factor: float = 5.0, amp_dtype=None,
                       memory_format: torch.memory_format = torch.contiguous_format) -> dict:
    """Validation metrics of a :class:`MultiTaskPoseSegNet` on ``loader``'s dataset (in order).

    Pose (when the model predicts heat maps): the last stage's heat maps decoded with ``codec``
    (arg-max + quarter offset), mapped to original image px; official PCKh@0.5 and @0.1 (pelvis and
    thorax out of the mean) with ``head_sizes`` (default: the annotations'), and ``PCK_dist``
    (:func:`posekit.evaluation.segmentation.pck_dist`, original px, threshold ``pck_dist_factor``
    x the shortest ground-truth limb). Segmentation (when the model predicts it): arg-max of the
    logits against the crop's label map, in crop px, over samples with ``has_seg`` (void pixels
    ignored): pixel accuracy, mean accuracy, mean IU, frequency-weighted IU (Long et al. 2015,
    Sec. 5), as percentages, plus per-class IU.

    Samples the dataset drops (``on_error: skip``) leave every metric, as in
    :func:`posekit.training.trainer.validate`.

    Returns:
        dict with ``val_loss`` and ``val_<term>`` (loss terms, sample-weighted means over batches),
        and when available ``pckh``, ``pckh@0.1``, ``per_joint`` (name -> %), ``pck_dist``
        (px), ``pck_dist_matched`` (%), ``pixel_acc``, ``mean_acc``, ``mean_iu``, ``fw_iu`` (%),
        ``iu_per_class`` (list, %; NaN for classes never seen), ``preds`` ``(M, J, 2)`` of the
        ``indices`` ``(M,)`` evaluated, ``skipped`` (reason -> count of the dropped samples).

    Raises:
        DataError: every sample was dropped.
    """
    model.eval()
    sums: dict[str, float] = {}
    preds, cm, n = [], np.zeros((num_classes, num_classes), np.int64), 0
    indices, skipped = [], []
    for batch in loaded_batches(loader, skipped):
        indices.append(batch["index"].numpy())
        images = batch["image"].to(device).contiguous(memory_format=memory_format)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            out = model(images)
        out = {k: v.float() for k, v in out.items()}
        terms = criterion(out, batch_targets(batch, device))
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(images)
        n += len(images)
        if "heatmaps" in out:
            coords, _ = codec.decode(out["heatmaps"][:, -1].cpu().numpy())
            preds.append(crop_to_original(coords, batch["affine"].numpy()))
        if "segmentation" in out:
            keep = torch.as_tensor(batch["has_seg"]).numpy().astype(bool)
            if keep.any():
                labels = out["segmentation"].argmax(1).cpu().numpy()
                confusion_matrix(batch["segmentation"].numpy()[keep], labels[keep], num_classes, out=cm)
    dataset = loader.dataset
    keep = evaluated_indices(indices, skipped, dataset)
    result: dict = {"val_loss": sums.get("total", float("nan")) / max(n, 1), "indices": keep,
                    "skipped": skip_counts(skipped)}
    result.update({f"val_{k}": v / max(n, 1) for k, v in sums.items() if k != "total"})
    ann = dataset.annotations.subset(keep)
    if preds:
        result["preds"] = preds = np.concatenate(preds)
        pose = pckh_metrics(preds, ann, dataset.joint_ids, dataset.keypoints,
                            None if head_sizes is None else np.asarray(head_sizes)[keep])
        if pose["per_joint"]:   # no head sizes: no PCKh columns
            result.update(pose)
        ids = list(dataset.joint_ids)
        dist = pck_dist(preds, ann.joints[:, ids], ann.annotated[:, ids], factor=pck_dist_factor,
                        limbs=dataset.channel_keypoints.limbs())
        result.update({"pck_dist": dist.mean_distance, "pck_dist_matched": 100.0 * dist.matched_fraction})
    if cm.sum() > 0:
        s = segmentation_scores(cm)
        result.update({"pixel_acc": 100 * s.pixel_accuracy, "mean_acc": 100 * s.mean_accuracy,
                       "mean_iu": 100 * s.mean_iu, "fw_iu": 100 * s.frequency_weighted_iu,
                       "iu_per_class": (100 * s.iu).tolist()})
    return result


class MultiTaskTrainer(Trainer):
    """Trains ``model.name: multitask`` configs (see the module docstring).

    Raises:
        ValueError: ``data.heatmap_size != data.input_size / 8``, an FCN-32s head with an input size
            not divisible by 32, unknown ``model.tasks``, or joints without a skeleton limb.
    """

    def __init__(self, cfg: Config, progress: bool = True, on_step=None):
        d = cfg.data
        if d.input_size % TRUNK_STRIDE or d.heatmap_size * TRUNK_STRIDE != d.input_size:
            raise ValueError(f"multitask: data.heatmap_size must be data.input_size / {TRUNK_STRIDE} "
                             f"(the VGG trunk's stride), got {d.heatmap_size} for input {d.input_size}")
        if "seg" in cfg.model.tasks and cfg.model.seg_head == "fcn32" and d.input_size % FCN32_STRIDE:
            raise ValueError(f"multitask: the FCN-32s head needs data.input_size divisible by {FCN32_STRIDE}, "
                             f"got {d.input_size}")
        super().__init__(cfg, progress=progress, on_step=on_step)

    # ---------------------------------------------------------------- Trainer hooks
    def _dataset(self, split: str, train: bool) -> MultiTaskDataset:
        d = self.data_cfg
        ann, images, parts = ((d.annotations, d.image_dir, d.parts_dir) if split == "train" else
                              (d.val_annotations, d.val_image_dir or d.image_dir, d.val_parts_dir))
        return MultiTaskDataset(ann, images, d, train=train, parts_dir=parts or None,
                                paf_width=self.cfg.model.paf_width, joint_ids=self.joint_ids, seed=self.cfg.train.seed,
                                keypoints=self.keypoints)

    def build_datasets(self) -> tuple[Dataset, Dataset | None]:
        d = self.data_cfg
        if d.extra_train or d.train_samples or d.val_samples:
            raise ValueError("data.extra_train, data.train_samples and data.val_samples are not supported by the "
                             "multi-task trainer (it reads whole annotation files)")
        train_set = self._dataset("train", train=True)
        if d.pascal_root:
            from posekit.data.pascal_parts import (
                pascal_person_part_annotations,
                pascal_person_part_folders,
            )

            ann = pascal_person_part_annotations(d.pascal_root, d.pascal_split, num_joints=len(self.keypoints))
            image_dir, label_dir = pascal_person_part_folders(d.pascal_root)
            pascal = MultiTaskDataset(ann, image_dir, d, train=True, parts_dir=label_dir,
                                      paf_width=self.cfg.model.paf_width, joint_ids=self.joint_ids,
                                      seed=self.cfg.train.seed, keypoints=self.keypoints)
            log.info("added %d PASCAL-Person-Part segmentation-only samples from %s", len(pascal), d.pascal_root)
            train_set = MixedDataset([train_set, pascal])
        val_set = self._dataset("val", train=False) if d.val_annotations else None
        return train_set, val_set

    def build_network(self) -> nn.Module:
        net = super().build_network()
        if self.cfg.model.backbone_weights:
            load_backbone_weights(net, self.cfg.model.backbone_weights)
        else:
            log.warning("multitask: no model.backbone_weights given: the VGG16 trunk starts from random "
                        "initialisation (the paper used ImageNet weights)")
        return net

    def batch_is_empty(self, batch: dict) -> bool:
        """No annotated joint in the crops and no sample with part labels: nothing to learn from."""
        return super().batch_is_empty(batch) and not bool(torch.as_tensor(batch["has_seg"]).any())

    def build_criterion(self) -> nn.Module:
        m = self.cfg.model
        return MultiTaskLoss(m.w_heatmap, m.w_paf, m.w_seg, threshold=m.loss_threshold, reduction=m.loss)

    def batch_loss(self, batch: dict) -> torch.Tensor:
        images = batch["image"].to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            out = self.forward_model(images)
        return self.criterion({k: v.float() for k, v in out.items()}, batch_targets(batch, self.device))["total"]

    def evaluate(self, val_loader: DataLoader) -> tuple[dict, float]:
        m = self.cfg.model
        val = validate_multitask(self.model, val_loader, self.codec, self.criterion, self.device, m.num_classes,
                                 head_sizes=self.val_head_sizes, pck_dist_factor=m.pck_dist_factor,
                                 amp_dtype=self.amp_dtype, memory_format=self.memory_format)
        self.val_samples = val.get("samples")
        row = {k: v for k, v in val.items() if np.isscalar(v)}
        row.update({f"pckh_{k}": v for k, v in val.get("per_joint", {}).items()})
        row.update(skip_columns("val", val["skipped"], len(val["indices"])))
        for name, iu in zip(PART_CLASS_NAMES[: m.num_classes], val.get("iu_per_class", [])):
            row[f"iu_{name}"] = iu
        if "pose" in m.tasks:
            score = val.get("pckh", float("nan"))
        else:
            score = val.get("mean_iu", float("nan"))
        return row, (score if not math.isnan(score) else -val["val_loss"])

