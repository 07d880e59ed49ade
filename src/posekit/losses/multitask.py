"""Losses of the multi-task pose + part segmentation network (:mod:`posekit.models.multitask`).

Source and reading. The seed paper ("Multi-task learning for human pose estimation and part
segmentation with hard parameter sharing") was not available to us: its eqs. 2-4 are implemented
from the description in issue 5, literally, on top of OpenPose (Cao et al. 2017, eqs. 6-7) and FCN
(Long et al. 2015):

* eq. 2-3, heat maps ``S`` and PAFs ``L``, for every stage ``t`` (intermediate supervision)::

      f_S^t = sum_p W(p) * ||S^t(p) - S*(p)||^2 / N_S,      f_L^t = sum_p W(p) * ||L^t(p) - L*(p)||^2 / N_L

  summed over the stages. ``W(p)`` is a binary mask, ``W(p) = 1`` where the ground truth is above
  ``threshold`` (0.02 in the seed), else 0: for heat maps per channel ``S*_j(p) > threshold``; for
  PAFs (signed x/y components) per limb where the vector's length ``||L*_l(p)|| > threshold``,
  applied to both of its channels. ``threshold=None`` gives ``W = 1`` everywhere (plain OpenPose
  MSE; the form to use for training if the thresholded form lets the background drift). ``W`` is
  further multiplied by the per-joint / per-limb annotation weights (0 for an unannotated joint or
  limb) and by ``has_pose``. ``N`` = number of (sample, channel, pixel) entries with ``W = 1``
  (a masked mean; at least 1), so the value does not depend on the batch composition.
* segmentation: pixel-wise cross-entropy over the ``C`` classes, averaged over the labelled pixels
  of the samples with ``has_seg``; pixels equal to ``ignore_index`` (255, PASCAL's "void") are
  unlabelled and excluded.
* eq. 4, total: ``w_heatmap * f_S + w_paf * f_L + w_seg * f_seg`` (weights configurable, 1 by
  default).

Mixed labels: a batch may mix pose-only, segmentation-only and fully labelled samples; each term
only counts the samples carrying its label (``has_pose``/``has_seg`` ``(B,)`` booleans, default all
True). A term with no labelled entries is exactly 0 (and still part of the graph), never NaN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MultiTaskLoss", "masked_mse", "masked_cross_entropy"]


def _zero(like: torch.Tensor) -> torch.Tensor:
    return like.sum() * 0.0


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``sum(mask * (pred - target)^2) / max(1, sum(mask))`` per stage, summed over stages.

    Args:
        pred: ``(B, T, C, h, w)`` every stage's prediction (or ``(B, C, h, w)``, one stage).
        target: ``(B, C, h, w)``.
        mask: ``(B, C, h, w)`` 0/1 (any dtype), shared by all stages.

    Returns:
        Scalar tensor; 0 when the mask is empty. Masked-out entries get zero gradient.

    Raises:
        ValueError: shapes disagree.
    """
    if pred.dim() == 4:
        pred = pred.unsqueeze(1)
    if pred.shape[:1] + pred.shape[2:] != target.shape or target.shape != mask.shape:
        raise ValueError(f"shape mismatch: pred {tuple(pred.shape)}, target {tuple(target.shape)}, "
                         f"mask {tuple(mask.shape)}")
    m = mask.to(torch.float32).unsqueeze(1)
    # where() rather than multiply: masked-out entries can't inject NaN/inf into the loss or its gradient
    sq = torch.where(m > 0, (pred.float() - target.unsqueeze(1).float()).pow(2), torch.zeros((), device=pred.device))
    per_stage = (sq * m).sum(dim=(0, 2, 3, 4)) / m.sum().clamp(min=1)
    return per_stage.sum()


def masked_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, has_seg: torch.Tensor | None = None,
                         ignore_index: int = 255, class_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Pixel-wise cross-entropy averaged over labelled pixels of labelled samples.

    Args:
        logits: ``(B, C, H, W)``.
        labels: ``(B, H, W)`` integer class ids in ``0..C-1`` or ``ignore_index``.
        has_seg: ``(B,)`` booleans; samples with False are ignored entirely (default: all True).
        ignore_index: label of unlabelled pixels.
        class_weight: optional ``(C,)`` weights as in ``F.cross_entropy`` (then a weighted mean).

    Returns:
        Scalar; 0 when no pixel is labelled.

    Raises:
        ValueError: shapes disagree.
    """
    if logits.dim() != 4 or labels.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(f"shape mismatch: logits {tuple(logits.shape)}, labels {tuple(labels.shape)}")
    labels = labels.long()
    if has_seg is not None:
        keep = has_seg.to(torch.bool).to(labels.device).view(-1, 1, 1)
        labels = torch.where(keep, labels, torch.full_like(labels, ignore_index))
    valid = labels != ignore_index
    if not bool(valid.any()):
        return _zero(logits)
    return F.cross_entropy(logits.float(), labels, weight=class_weight, ignore_index=ignore_index)


class MultiTaskLoss(nn.Module):
    """Weighted sum of heat-map MSE, PAF MSE and segmentation cross-entropy (seed eq. 4).

    Args:
        w_heatmap, w_paf, w_seg: term weights.
        threshold: ``W(p)`` threshold on the ground truth (0.02); None = no thresholding.
        ignore_index: unlabelled segmentation pixels (255).

    Forward:
        outputs: the model's dict, ``heatmaps (B, T, J, h, w)``, ``pafs (B, T, 2L, h, w)``,
            ``segmentation (B, C, H, W)``.
        targets: dict with ``heatmaps (B, J, h, w)``, ``pafs (B, 2L, h, w)``, ``segmentation
            (B, H, W)`` int labels, and optional ``heatmap_weight (B, J)``, ``paf_weight (B, L)``
            (annotation weights, default 1), ``has_pose (B,)``, ``has_seg (B,)`` (default True).
            A ``heatmaps``/``pafs``/``segmentation`` key missing from ``outputs`` (a single-task
            network) or from ``targets`` drops that term (it is 0).

    Returns:
        dict ``{"heatmap", "paf", "seg", "total"}`` of scalar tensors (``total`` is the one to
        back-propagate).

    Raises:
        ValueError: shapes disagree.
    """

    def __init__(self, w_heatmap: float = 1.0, w_paf: float = 1.0, w_seg: float = 1.0,
                 threshold: float | None = 0.02, ignore_index: int = 255):
        super().__init__()
        self.w_heatmap, self.w_paf, self.w_seg = w_heatmap, w_paf, w_seg
        self.threshold, self.ignore_index = threshold, ignore_index

    def _pose_mask(self, target: torch.Tensor, per_channel: torch.Tensor | None, has_pose: torch.Tensor | None,
                   paf: bool) -> torch.Tensor:
        b, c = target.shape[:2]
        if self.threshold is None:
            mask = torch.ones_like(target, dtype=torch.float32)
        elif paf:
            if c % 2:
                raise ValueError(f"PAF target needs an even channel count, got {c}")
            mag = target.float().view(b, c // 2, 2, *target.shape[-2:]).norm(dim=2)
            mask = (mag > self.threshold).float().repeat_interleave(2, dim=1)
        else:
            mask = (target.float() > self.threshold).float()
        if per_channel is not None:
            wc = per_channel.float().to(target.device)
            if paf:
                wc = wc.repeat_interleave(2, dim=1)
            if wc.shape != (b, c):
                raise ValueError(f"channel weights must be {(b, c if not paf else c // 2)}, got {tuple(per_channel.shape)}")
            mask = mask * wc[:, :, None, None]
        if has_pose is not None:
            mask = mask * has_pose.float().to(target.device).view(-1, 1, 1, 1)
        return mask

    def forward(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        has_pose, has_seg = targets.get("has_pose"), targets.get("has_seg")
        ref = next(iter(outputs.values()))
        terms = {}
        if "heatmaps" in targets and "heatmaps" in outputs:
            mask = self._pose_mask(targets["heatmaps"], targets.get("heatmap_weight"), has_pose, paf=False)
            terms["heatmap"] = masked_mse(outputs["heatmaps"], targets["heatmaps"], mask)
        else:
            terms["heatmap"] = _zero(outputs.get("heatmaps", ref))
        if "pafs" in targets and "pafs" in outputs:
            mask = self._pose_mask(targets["pafs"], targets.get("paf_weight"), has_pose, paf=True)
            terms["paf"] = masked_mse(outputs["pafs"], targets["pafs"], mask)
        else:
            terms["paf"] = _zero(outputs.get("pafs", ref))
        if "segmentation" in targets and "segmentation" in outputs:
            terms["seg"] = masked_cross_entropy(outputs["segmentation"], targets["segmentation"], has_seg,
                                                self.ignore_index)
        else:
            terms["seg"] = _zero(outputs.get("segmentation", ref))
        terms["total"] = self.w_heatmap * terms["heatmap"] + self.w_paf * terms["paf"] + self.w_seg * terms["seg"]
        return terms
