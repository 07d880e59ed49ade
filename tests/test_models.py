"""Stacked hourglass: shapes, the stems' exact parameter counts, builder and stack wiring."""

from __future__ import annotations

import pytest
import torch

from posekit.config import ModelConfig
from posekit.models import StackedHourglass, build_model, count_conv_parameters
from posekit.models.hourglass import Hourglass, Residual


@pytest.mark.parametrize("stem, expected", [("newell", 350_848), ("reduced", 235_328)])
def test_stem_conv_parameter_counts(stem, expected):
    model = StackedHourglass(num_stacks=1, num_joints=16, stem=stem)
    assert count_conv_parameters(model.stem) == expected


def test_output_shape_every_stack():
    model = StackedHourglass(num_stacks=3, num_joints=7, num_features=32, depth=3, stem_width=8)
    out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 3, 7, 16, 16)


def test_hourglass_keeps_resolution_and_recurses_to_depth():
    hg = Hourglass(depth=4, num_features=16)
    assert hg(torch.randn(1, 16, 32, 32)).shape == (1, 16, 32, 32)
    depth, node = 0, hg
    while isinstance(node, Hourglass):
        depth, node = depth + 1, node.inner
    assert depth == 4 and isinstance(node, Residual)


def test_residual_identity_skip_only_when_channels_match():
    assert isinstance(Residual(32, 32).skip, torch.nn.Identity)
    assert isinstance(Residual(32, 64).skip, torch.nn.Conv2d)


def test_intermediate_stacks_feed_the_next():
    """Changing stack 1's heat-map head changes stack 2's output (remapped heat maps are added)."""
    torch.manual_seed(0)
    model = StackedHourglass(num_stacks=2, num_joints=4, num_features=16, depth=2, stem_width=8).eval()
    x = torch.randn(1, 3, 32, 32)
    before = model(x)
    with torch.no_grad():
        model.heads[0].weight.add_(1.0)
    after = model(x)
    assert not torch.allclose(before[:, 1], after[:, 1])
    assert not torch.allclose(before[:, 0], after[:, 0])


def test_build_model_from_config_and_errors():
    cfg = ModelConfig(num_stacks=2, num_features=16, depth=2, stem="reduced", stem_width=8)
    model = build_model(cfg, num_joints=5)
    assert isinstance(model, StackedHourglass) and model.heads[-1].out_channels == 5
    assert model.stem[1][0].kernel_size == (3, 3)  # reduced stem: plain 3x3 conv after the 7x7
    with pytest.raises(ValueError, match="unknown stem"):
        StackedHourglass(stem="resnet")
    with pytest.raises(ValueError, match="unknown model"):
        build_model(ModelConfig(name="vit"), 16)


def test_eight_stack_parameter_count():
    """The paper's 8-stack model: about 25.4M parameters (Newell et al. report ~25M)."""
    n = sum(p.numel() for p in StackedHourglass(num_stacks=8).parameters())
    assert 25.0e6 < n < 26.0e6
