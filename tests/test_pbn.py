"""PBN (Tang & Wu 2019): Table 6 parameter counts, branch scatter/average, stack wiring, builder, configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.config import ModelConfig, load_config
from posekit.joints import BODY_STRUCTURE_GROUPS
from posekit.models import build_model
from posekit.models.pbn import PBN, BranchingHead, count_parameters, pbn, pbn_baseline, pbn_stem

REPO = Path(__file__).resolve().parents[1]
FIVE_GROUPS = ((0, 1, 2), (3, 4, 5), (6, 7, 8, 9), (10, 11, 12), (13, 14, 15))


def test_stem_parameters_and_resolution():
    stem = pbn_stem(256, 64)
    assert count_parameters(stem) == 419_072
    assert pbn_stem(32, 8)(torch.randn(1, 3, 64, 64)).shape == (1, 32, 16, 16)


@pytest.mark.parametrize("build, expected, paper", [
    (lambda: pbn(FIVE_GROUPS, num_stacks=8, branch_width=64, branch_depth=1), 26_686_848, 26.69e6),
    (lambda: pbn_baseline("deep", num_stacks=8), 27_216_768, 27.22e6),
    (lambda: pbn_baseline("plain", num_stacks=8), 25_500_544, None),
])
def test_table6_parameter_counts(build, expected, paper):
    n = count_parameters(build())
    assert n == expected
    if paper is not None:
        assert abs(n - paper) / paper < 0.01
        assert round(n / 1e6, 2) == round(paper / 1e6, 2)


def test_overlapping_groups_average_their_branches():
    """Joint 1 is in both groups: its heat map is the mean of the two branches' outputs."""
    head = BranchingHead(num_features=8, groups=[(0, 1), (1, 2)], num_joints=3, width=4, depth=1)
    with torch.no_grad():
        for conv, bias in zip(head.convs, ([1.0, 2.0], [4.0, 8.0])):
            conv.weight.zero_()
            conv.bias.copy_(torch.tensor(bias))
    heatmaps, specific = head(torch.randn(2, 8, 5, 5))
    assert heatmaps.shape == (2, 3, 5, 5) and specific.shape == (2, 8, 5, 5)
    assert torch.allclose(heatmaps[0, :, 0, 0], torch.tensor([1.0, 3.0, 8.0]))


def test_groups_scatter_to_dataset_joint_order():
    """A group listed out of order still writes each heat map onto its own joint."""
    head = BranchingHead(num_features=8, groups=[(2, 0), (1,)], num_joints=3, width=4, depth=0)
    with torch.no_grad():
        for conv, bias in zip(head.convs, ([20.0, 0.0], [10.0])):
            conv.weight.zero_()
            conv.bias.copy_(torch.tensor(bias))
    heatmaps, _ = head(torch.randn(1, 8, 2, 2))
    assert heatmaps[0, :, 1, 1].tolist() == [0.0, 10.0, 20.0]


@pytest.mark.parametrize("groups", [[(0, 1)], [(0, 1, 2), (3,)]])
def test_groups_must_cover_the_joints_exactly(groups):
    with pytest.raises(ValueError, match="cover"):
        BranchingHead(8, groups, num_joints=3)


@pytest.mark.parametrize("next_stack", ["shared", "specific"])
def test_output_shape_and_stacks_feed_the_next(next_stack):
    torch.manual_seed(0)
    model = pbn([(0, 1), (2, 3, 4)], num_stacks=2, num_joints=5, num_features=16, depth=2, branch_width=8,
                stem_width=8, next_stack_features=next_stack).eval()
    expected_in = 16 if next_stack == "shared" else 2 * 8
    assert model.remap_features[0].in_channels == expected_in
    x = torch.randn(2, 3, 64, 64)
    out = model(x)
    assert out.shape == (2, 2, 5, 16, 16)
    with torch.no_grad():
        model.heads[0].convs[0].bias.add_(1.0)
        out2 = model(x)
    assert torch.allclose(out2[:, 0, 2:], out[:, 0, 2:])        # group 2 of stack 1 unchanged
    assert not torch.allclose(out2[:, 1], out[:, 1])             # stack 2 sees stack 1's heat maps


def test_baselines_share_the_trunk_and_differ_in_head():
    plain, deep = pbn_baseline("plain", 2, 16, 32, 2, stem_width=8), pbn_baseline("deep", 2, 16, 32, 2, stem_width=8)
    assert count_parameters(deep) - count_parameters(plain) == 2 * count_parameters(deep.heads[0].block)
    assert deep(torch.randn(1, 3, 64, 64)).shape == (1, 2, 16, 16, 16)
    with pytest.raises(ValueError, match="baseline"):
        pbn_baseline("wide")


def test_build_model_pbn_from_config():
    cfg = ModelConfig(name="pbn", num_stacks=1, num_features=16, depth=2, stem="pbn", stem_width=8,
                      groups="body", branch_width=8, branch_depth=2)
    model = build_model(cfg, 16)
    assert isinstance(model, PBN)
    assert model.heads[0].groups == [tuple(g) for g in BODY_STRUCTURE_GROUPS]
    assert len(model.heads[0].branches[0]) == 1 + 2                    # 1x1 layer + D residual blocks
    cfg.groups = [["r_ankle", "r_knee", "r_hip", "pelvis"], ["pelvis", "l_hip", "l_knee", "l_ankle", "thorax"],
                  ["upper_neck", "head_top", "thorax"], ["r_wrist", "r_elbow", "r_shoulder"],
                  ["l_shoulder", "l_elbow", "l_wrist"]]
    model = build_model(cfg, 16)
    assert model.heads[0].inv_count[0, 6].item() == 0.5               # pelvis in two groups
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1, 16, 16, 16)
    with pytest.raises(ValueError, match="all joints"):
        build_model(cfg, 14)
    cfg.groups = [["r_ankle"]]
    with pytest.raises(ValueError, match="no group"):
        build_model(cfg, 16)
    base = build_model(ModelConfig(name="pbn_baseline", baseline="plain", num_stacks=1, num_features=16, depth=2,
                                   stem="pbn", stem_width=8), 16)
    assert base.heads[0].__class__.__name__ == "LinearHead"


PBN_CONFIGS = sorted((REPO / "configs" / "pbn").glob("*.yaml"))


def test_pbn_configs_exist():
    names = {p.stem for p in PBN_CONFIGS}
    assert {"mpii_8stack_pbn", "baseline_deep", "baseline_plain", "group_body", "group_mi5"} <= names


@pytest.mark.parametrize("path", PBN_CONFIGS, ids=lambda p: p.stem)
def test_every_pbn_config_builds(path):
    """Each config loads and builds; tiny sizes keep it fast, the full 8-stack model is counted above."""
    cfg = load_config(path, ["model.num_features=16", "model.stem_width=8", "model.depth=2"])
    assert cfg.model.name in ("pbn", "pbn_baseline") and cfg.model.stem == "pbn"
    model = build_model(cfg.model, 16)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, cfg.model.num_stacks, 16, 16, 16)


def test_benchmark_config_is_table6_pbn():
    cfg = load_config(REPO / "configs" / "pbn" / "mpii_8stack_pbn.yaml")
    assert count_parameters(build_model(cfg.model, 16)) == 26_686_848


def test_pbn_trains_through_the_trainer(tmp_path, synthetic_root):
    """Two steps of the unchanged trainer on a tiny 2-stack PBN with overlapping body groups."""
    from conftest import tiny_config
    from posekit.training.trainer import train

    cfg = tiny_config(tmp_path / "run", synthetic_root, epochs=1, iters_per_epoch=2)
    cfg.model.name, cfg.model.stem, cfg.model.groups = "pbn", "pbn", "body"
    cfg.model.branch_width, cfg.model.next_stack_features = 8, "specific"
    summary = train(cfg, progress=False)
    assert summary["global_step"] == 2
    losses = [float(line.split(",")[2]) for line in (tmp_path / "run" / "steps.csv").read_text().splitlines()[1:]]
    assert len(losses) == 2 and all(np.isfinite(losses))
    from posekit.decoding.predictor import PosePredictor

    predictor = PosePredictor.from_checkpoint(tmp_path / "run" / "best.pt", device="cpu", flip=False)
    assert isinstance(predictor.model, PBN) and predictor.model.next_stack_features == "specific"
