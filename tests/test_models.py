"""Stacked hourglass and the model registry: shapes, the stems' exact parameter counts, named
variants, resolved specs, input normalisation inside the model."""

from __future__ import annotations

import pytest
import torch

import posekit
from posekit.config import load_config
from posekit.keypoints import MPII
from posekit.models import count_conv_parameters, create_model, list_models
from posekit.models.hourglass import Hourglass, Residual, StackedHourglass
from posekit.models.layers import IMAGENET_MEAN, IMAGENET_STD


@pytest.mark.parametrize("stem, expected", [("newell", 350_848), ("reduced", 235_328)])
def test_stem_conv_parameter_counts(stem, expected):
    model = create_model("hourglass", num_stacks=1, num_joints=16, stem=stem)
    assert count_conv_parameters(model.stem) == expected


def test_output_shape_every_stack():
    model = create_model("hourglass", num_stacks=3, num_joints=7, num_features=32, depth=3, stem_width=8)
    out = model(torch.rand(2, 3, 64, 64))
    assert isinstance(model, StackedHourglass) and out.shape == (2, 3, 7, 16, 16)


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
    model = create_model("hourglass", num_stacks=2, num_joints=4, num_features=16, depth=2, stem_width=8).eval()
    x = torch.rand(1, 3, 32, 32)
    before = model(x)
    with torch.no_grad():
        model.stacks.heads[0].conv.weight.add_(1.0)
    after = model(x)
    assert not torch.allclose(before[:, 1], after[:, 1])
    assert not torch.allclose(before[:, 0], after[:, 0])


def test_input_normalisation_is_inside_the_model():
    """The network takes RGB in [0, 1]; with the ImageNet mean/std it equals the stem applied to
    the normalised image, and other mean/std are constructor arguments recorded in the spec."""
    torch.manual_seed(0)
    model = create_model("hourglass", num_stacks=1, num_joints=3, num_features=16, depth=2, stem_width=8).eval()
    x = torch.rand(2, 3, 32, 32)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    want = model.stacks(model.stem((x - mean) / std))[0]
    torch.testing.assert_close(model(x), want)
    plain = create_model("hourglass", num_stacks=1, num_joints=3, num_features=16, depth=2, stem_width=8,
                         input_mean=[0, 0, 0], input_std=[1, 1, 1])
    assert plain.posekit_spec["kwargs"]["input_mean"] == [0, 0, 0]
    assert "normalize.mean" not in plain.state_dict()      # not a weight: part of the architecture's arguments


def test_registry_variants_resolve_to_family_specs():
    names = list_models()
    for n in ("hourglass", "hourglass_2stack", "hourglass_8stack", "hourglass_8stack_reduced", "pbn", "pbn_8stack",
              "pbn_baseline", "pbn_baseline_deep_8stack", "kptransfer", "kptransfer_4stack", "multitask"):
        assert n in names
    assert posekit.list_models("hourglass_8*") == ["hourglass_8stack", "hourglass_8stack_reduced"]
    m = posekit.create_model("hourglass_8stack_reduced", num_joints=14)
    spec = m.posekit_spec
    assert spec["arch"] == "hourglass" and spec["variant"] == "hourglass_8stack_reduced"
    assert spec["kwargs"] == {"num_joints": 14, "num_stacks": 8, "num_features": 256, "depth": 4, "stem": "reduced",
                              "stem_width": 64, "input_mean": list(IMAGENET_MEAN), "input_std": list(IMAGENET_STD)}
    again = create_model(spec["arch"], **spec["kwargs"])
    assert [tuple(p.shape) for p in again.parameters()] == [tuple(p.shape) for p in m.parameters()]


def test_create_model_errors_name_the_problem():
    with pytest.raises(KeyError, match="unknown model 'vit'; registered models: hourglass"):
        create_model("vit")
    with pytest.raises(TypeError, match="create_model\\('hourglass'\\): .*groups.*arguments: num_joints"):
        create_model("hourglass", groups=[])
    with pytest.raises(ValueError, match="unknown stem"):
        create_model("hourglass", stem="resnet")


def test_config_maps_onto_the_family_builder():
    cfg = load_config(None, ["model.num_stacks=2", "model.num_features=16", "model.depth=2", "model.stem=reduced",
                             "model.stem_width=8"])
    model = create_model(cfg.model.name, **cfg.model.create_kwargs(MPII.subset(range(5))))
    assert model.stacks.heads[-1].conv.out_channels == 5
    assert model.stem[1][0].kernel_size == (3, 3)  # reduced stem: plain 3x3 conv after the 7x7


def test_eight_stack_parameter_count():
    """The paper's 8-stack model: about 25.4M parameters (Newell et al. report ~25M)."""
    n = sum(p.numel() for p in create_model("hourglass_8stack").parameters())
    assert 25.0e6 < n < 26.0e6


@pytest.mark.parametrize("stem, stacks, expected", [
    ("newell", 2, 6_570_400),    # princeton's PoseNet(2, 256, 16) without its 1,858,688 unused skip-conv parameters
    ("newell", 8, 25_434_112),   # PoseNet(8, 256, 16): 32,819,328 built, 7,385,216 of them unused
    ("bearpaw", 2, 6_730_912),   # bearpaw's hg(num_stacks=2, num_blocks=1)
    ("bearpaw", 8, 25_594_624),  # hg(num_stacks=8, num_blocks=1)
])
def test_parameter_counts_match_the_reference_implementations(stem, stacks, expected):
    """Counted on the reference code's own modules (princeton-vl/pytorch_stacked_hourglass @ ceedc14,
    bearpaw/pytorch-pose @ edc7aec, run outside posekit)."""
    model = create_model("hourglass", num_stacks=stacks, stem=stem)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_bearpaw_stem_widths():
    stem = create_model("hourglass", num_stacks=1, stem="bearpaw").stem
    widths = [(m.conv1.in_channels, m.conv3.out_channels) for m in stem if isinstance(m, Residual)]
    assert widths == [(64, 128), (128, 256), (256, 256)]
    assert isinstance(stem[3].skip, torch.nn.Conv2d) and isinstance(stem[4].skip, torch.nn.Identity)
