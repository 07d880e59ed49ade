"""Masked MSE with intermediate supervision."""

from __future__ import annotations

import pytest
import torch

from posekit.losses import HeatmapMSELoss


def test_known_value_and_mask():
    crit = HeatmapMSELoss()
    target = torch.zeros(1, 2, 2, 2)
    pred = torch.zeros(1, 1, 2, 2, 2)
    pred[0, 0, 0] = 1.0     # joint 0 off by 1 everywhere: MSE 1
    pred[0, 0, 1] = 5.0     # joint 1 off by 5 but unweighted
    loss = crit(pred, target, torch.tensor([[1.0, 0.0]]))
    assert loss.item() == pytest.approx(1.0)
    assert crit(pred, target, torch.tensor([[1.0, 1.0]])).item() == pytest.approx((1 + 25) / 2)


def test_sum_over_stacks_and_4d_input():
    crit = HeatmapMSELoss()
    target = torch.rand(2, 3, 4, 4)
    w = torch.ones(2, 3)
    one = torch.rand(2, 3, 4, 4)
    stacked = torch.stack([one, one, target], dim=1)
    assert crit(stacked, target, w).item() == pytest.approx(2 * crit(one, target, w).item(), rel=1e-6)


def test_all_masked_is_zero_not_nan():
    crit = HeatmapMSELoss()
    loss = crit(torch.rand(2, 2, 3, 8, 8), torch.rand(2, 3, 8, 8), torch.zeros(2, 3))
    assert loss.item() == 0.0


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape mismatch"):
        HeatmapMSELoss()(torch.rand(2, 2, 3, 8, 8), torch.rand(2, 4, 8, 8), torch.ones(2, 4))
