"""Losses of the multi-task pose + part segmentation network (:mod:`posekit.models.multitask`).

Two forms (``MultiTaskLoss(reduction=...)``):

``reduction="paper"``: Agrawal, Agarwal & Gupta, eqs. 1-4, literally, per image:

* eq. 1, segmentation: ``- sum_i sum_c t_ic log p_ic``, a **sum** of the pixel-wise cross-entropy
  over the image's labelled pixels;
* eq. 2, heat maps: ``sum_j sum_p W(p) ||S_j(p) - S*_j(p)||^2`` with ``W(p) = 1`` where the ground
  truth heat map exceeds ``threshold`` (0.02), else 0 (per joint channel);
* eq. 3, PAFs: ``sum_c sum_p W(p) ||L_c(p) - L*_c(p)||^2`` with "W(p) as above": the text defines
  W(p) only through the ground-truth heat maps, so here ``W(p) = 1`` where any joint's ground-truth
  heat map exceeds ``threshold`` at pixel p (the same mask for every limb);
* eq. 4, total: ``Loss_seg + Loss_pose + Loss_paf``, an unweighted sum (``w_*`` are 1 by default).

Eqs. 2-3 are summed over the pose stages (intermediate supervision, as in OpenPose). The text
defines the loss of one image; over a batch posekit averages the per-image sums over the images
that carry the label (so the learning rate does not depend on the batch size). ``threshold=None``
gives ``W = 1``.

``reduction="normalized"``: masked means instead of sums (OpenPose-style ``f = sum_p W(p) ||.||^2 /
N``, ``N`` = entries with ``W = 1``), with the PAF mask per limb where the ground-truth vector's
length exceeds ``threshold``, and the segmentation cross-entropy averaged over labelled pixels.
Its values do not grow with the map sizes, which makes learning rates transfer between input sizes.

In both forms ``W`` is further multiplied by the per-joint / per-limb annotation weights (0 for an
unannotated joint or limb); pixels labelled ``ignore_index`` (255, PASCAL's "void") are not
segmentation targets. Mixed labels: a batch may mix pose-only, segmentation-only and fully labelled
samples; each term only counts the samples carrying its label (``has_pose`` / ``has_seg`` ``(B,)``
booleans, default all True). A term with no labelled entries is exactly 0 (and still part of the
graph), never NaN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MultiTaskLoss", "masked_mse", "masked_sse", "masked_cross_entropy", "REDUCTIONS"]

#: The two loss forms (see the module docstring).
REDUCTIONS = ("paper", "normalized")


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


def masked_sse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    """``sum(mask * (pred - target)^2)`` per image (eqs. 2-3), averaged over the ``samples`` images,
    summed over stages.

    Args:
        pred: ``(B, T, C, h, w)`` (or ``(B, C, h, w)``); target, mask: ``(B, C, h, w)``.
        samples: ``(B,)`` booleans, the images carrying the label (the mask is 0 on the others).

    Returns:
        Scalar tensor; 0 when no image is labelled.

    Raises:
        ValueError: shapes disagree.
    """
    n = samples.to(torch.float32).sum().clamp(min=1)
    return masked_mse(pred, target, mask) * mask.to(torch.float32).sum().clamp(min=1) / n


def masked_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, has_seg: torch.Tensor | None = None,
                         ignore_index: int = 255, class_weight: torch.Tensor | None = None,
                         reduction: str = "normalized") -> torch.Tensor:
    """Pixel-wise cross-entropy of labelled pixels of labelled samples: their mean
    (``reduction="normalized"``) or the per-image sum averaged over the labelled images (eq. 1,
    ``reduction="paper"``).

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
    if reduction == "normalized":
        return F.cross_entropy(logits.float(), labels, weight=class_weight, ignore_index=ignore_index)
    per_pixel = F.cross_entropy(logits.float(), labels, weight=class_weight, ignore_index=ignore_index,
                                reduction="none")
    images = valid.flatten(1).any(dim=1).sum()
    return per_pixel.sum() / images


class MultiTaskLoss(nn.Module):
    """Sum of the heat-map, PAF and segmentation terms (eq. 4), in one of the two forms of the
    module docstring.

    Args:
        w_heatmap, w_paf, w_seg: term weights (1: eq. 4 as written).
        threshold: ``W(p)`` threshold on the ground truth (0.02); None = no thresholding.
        ignore_index: unlabelled segmentation pixels (255).
        reduction: ``"paper"`` (eqs. 1-3: sums over pixels) or ``"normalized"`` (masked means).

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
                 threshold: float | None = 0.02, ignore_index: int = 255, reduction: str = "normalized"):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; expected one of {REDUCTIONS}")
        self.w_heatmap, self.w_paf, self.w_seg = w_heatmap, w_paf, w_seg
        self.threshold, self.ignore_index, self.reduction = threshold, ignore_index, reduction

    def _pose_mask(self, target: torch.Tensor, per_channel: torch.Tensor | None, has_pose: torch.Tensor | None,
                   paf: bool, heatmaps: torch.Tensor | None = None) -> torch.Tensor:
        b, c = target.shape[:2]
        if self.threshold is None:
            mask = torch.ones_like(target, dtype=torch.float32)
        elif paf and self.reduction == "paper" and heatmaps is not None:   # eq. 3: W(p) of the heat maps
            mask = (heatmaps.float() > self.threshold).any(dim=1, keepdim=True).float().expand_as(target)
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
        if self.reduction == "paper":
            pose_images = (torch.ones(ref.shape[0], device=ref.device) if has_pose is None
                           else has_pose.to(ref.device))

            def pose_term(pred, target, mask):
                return masked_sse(pred, target, mask, pose_images)
        else:
            pose_term = masked_mse
        terms = {}
        if "heatmaps" in targets and "heatmaps" in outputs:
            mask = self._pose_mask(targets["heatmaps"], targets.get("heatmap_weight"), has_pose, paf=False)
            terms["heatmap"] = pose_term(outputs["heatmaps"], targets["heatmaps"], mask)
        else:
            terms["heatmap"] = _zero(outputs.get("heatmaps", ref))
        if "pafs" in targets and "pafs" in outputs:
            mask = self._pose_mask(targets["pafs"], targets.get("paf_weight"), has_pose, paf=True,
                                   heatmaps=targets.get("heatmaps"))
            terms["paf"] = pose_term(outputs["pafs"], targets["pafs"], mask)
        else:
            terms["paf"] = _zero(outputs.get("pafs", ref))
        if "segmentation" in targets and "segmentation" in outputs:
            terms["seg"] = masked_cross_entropy(outputs["segmentation"], targets["segmentation"], has_seg,
                                                self.ignore_index, reduction=self.reduction)
        else:
            terms["seg"] = _zero(outputs.get("segmentation", ref))
        terms["total"] = self.w_heatmap * terms["heatmap"] + self.w_paf * terms["paf"] + self.w_seg * terms["seg"]
        return terms
