"""Heat-map regression loss with intermediate supervision (Newell et al. 2016, Sec. 3.4)."""

from __future__ import annotations

import torch
from torch import nn


class HeatmapMSELoss(nn.Module):
    """Mean squared error between predicted and target heat maps, masked per joint, summed over stacks.

    For each stack ``s``: ``sum_{b,j,y,x} w_bj * (P_bsjyx - T_bjyx)^2 / (H * W * max(1, sum_{b,j} w_bj))``:
    the mean squared error over the annotated joints only (a joint with target weight 0, e.g. not
    annotated or outside the crop, contributes nothing and is not counted). Every stack gets the full
    loss (intermediate supervision); the returned loss is their sum.

    Args (forward):
        pred: ``(B, S, J, H, W)`` every stack's heat maps, or ``(B, J, H, W)`` for one stack.
        target: ``(B, J, H, W)`` Gaussian heat maps.
        target_weight: ``(B, J)`` per-joint weights (0 or 1).

    Returns:
        Scalar loss tensor.

    Raises:
        ValueError: shapes do not agree.
    """

    def forward(self, pred: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor) -> torch.Tensor:
        if pred.dim() == 4:
            pred = pred.unsqueeze(1)
        if pred.shape[:1] + pred.shape[2:] != target.shape or target.shape[:2] != target_weight.shape:
            raise ValueError(f"shape mismatch: pred {tuple(pred.shape)}, target {tuple(target.shape)}, "
                             f"target_weight {tuple(target_weight.shape)}")
        h, w = target.shape[-2:]
        weight = target_weight.to(pred.dtype)
        sq = (pred.float() - target.unsqueeze(1).float()).pow(2).sum(dim=(-2, -1))  # (B, S, J)
        per_stack = (sq * weight.unsqueeze(1)).sum(dim=(0, 2)) / (h * w * weight.sum().clamp(min=1))
        return per_stack.sum()
