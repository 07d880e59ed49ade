"""PBN (Tang & Wu 2019): Table 6 parameter counts, branch scatter/average, stack wiring, builder, configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.config import list_configs, load_config
from posekit.keypoints import MPII
from posekit.models import count_parameters, create_model
from posekit.models.hourglass import StackedHourglass
from posekit.models.pbn import BranchingHead, pbn_stem

NAMES = list(MPII.names)
FIVE_GROUPS = [[NAMES[j] for j in g] for g in ((0, 1, 2), (3, 4, 5), (6, 7, 8, 9), (10, 11, 12), (13, 14, 15))]


def pbn(groups, joint_names=NAMES, **kwargs):
    return create_model("pbn", joint_names=joint_names, groups=groups, **kwargs)


def pbn_baseline(kind, **kwargs):
    return create_model("pbn_baseline", kind=kind, **kwargs)


def test_stem_parameters_and_resolution():
    stem = pbn_stem(256, 64)
    assert count_parameters(stem) == 419_072
    assert pbn_stem(32, 8)(torch.randn(1, 3, 64, 64)).shape == (1, 32, 16, 16)


@pytest.mark.parametrize("build, expected, paper", [
    (lambda: pbn(FIVE_GROUPS, num_stacks=8, branch_width=64, branch_depth=1), 26_686_848, 26.69e6),
    (lambda: pbn_baseline("deep", num_stacks=8), 27_216_768, 27.22e6),
    (lambda: pbn_baseline("plain", num_stacks=8), 25_500_544, None),
    (lambda: create_model("pbn_8stack"), 26_686_848, 26.69e6),
    (lambda: create_model("pbn_baseline_deep_8stack"), 27_216_768, 27.22e6),
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
    model = pbn([["a", "b"], ["c", "d", "e"]], joint_names=list("abcde"), num_stacks=2, num_features=16, depth=2,
                branch_width=8, stem_width=8, next_stack_features=next_stack).eval()
    expected_in = 16 if next_stack == "shared" else 2 * 8
    assert model.stacks.remap_features[0].in_channels == expected_in
    x = torch.randn(2, 3, 64, 64)
    out = model(x)
    assert out.shape == (2, 2, 5, 16, 16)
    with torch.no_grad():
        model.stacks.heads[0].convs[0].bias.add_(1.0)
        out2 = model(x)
    assert torch.allclose(out2[:, 0, 2:], out[:, 0, 2:])        # group 2 of stack 1 unchanged
    assert not torch.allclose(out2[:, 1], out[:, 1])             # stack 2 sees stack 1's heat maps


def test_baselines_share_the_trunk_and_differ_in_head():
    sizes = dict(num_stacks=2, num_joints=16, num_features=32, depth=2, stem_width=8)
    plain, deep = pbn_baseline("plain", **sizes), pbn_baseline("deep", **sizes)
    assert count_parameters(deep) - count_parameters(plain) == 2 * count_parameters(deep.stacks.heads[0].block)
    assert deep(torch.randn(1, 3, 64, 64)).shape == (1, 2, 16, 16, 16)
    with pytest.raises(ValueError, match="baseline"):
        pbn_baseline("wide")


def test_pbn_from_config_with_presets_and_name_groups():
    cfg = load_config(None, ["model.name=pbn", "model.num_stacks=1", "model.num_features=16", "model.depth=2",
                             "model.stem_width=8", "model.groups=body", "model.branch_width=8", "model.branch_depth=2"])
    kwargs = cfg.model.create_kwargs(MPII)
    assert kwargs["groups"] == [list(g) for g in MPII.groups["body"]]          # a preset becomes explicit names
    model = create_model("pbn", **kwargs)
    assert isinstance(model, StackedHourglass)
    assert model.stacks.heads[0].groups == [tuple(MPII.indices(g)) for g in MPII.groups["body"]]
    assert len(model.stacks.heads[0].branches[0]) == 1 + 2                    # 1x1 layer + D residual blocks
    overlap = [["r_ankle", "r_knee", "r_hip", "pelvis"], ["pelvis", "l_hip", "l_knee", "l_ankle", "thorax"],
               ["upper_neck", "head_top", "thorax"], ["r_wrist", "r_elbow", "r_shoulder"],
               ["l_shoulder", "l_elbow", "l_wrist"]]
    model = create_model("pbn", **{**kwargs, "groups": overlap})
    assert model.stacks.heads[0].inv_count[0, 6].item() == 0.5               # pelvis in two groups
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 1, 16, 16, 16)
    with pytest.raises(ValueError, match="unknown joints \\['tail'\\]"):
        create_model("pbn", **{**kwargs, "groups": overlap + [["tail"]]})
    with pytest.raises(ValueError, match="no group"):
        create_model("pbn", **{**kwargs, "groups": [["r_ankle"]]})
    cfg.model.groups = "mi:5"
    with pytest.raises(ValueError, match="must be resolved"):
        cfg.model.create_kwargs(MPII)
    paper = load_config(None, ["model.name=pbn", "model.groups=pbn_paper"]).model.create_kwargs(MPII)["groups"]
    assert paper == [list(g) for g in MPII.groups["pbn_paper"]] and len(paper) == 5
    base = create_model("pbn_baseline", kind="plain", num_stacks=1, num_features=16, depth=2, stem_width=8)
    assert base.stacks.heads[0].__class__.__name__ == "LinearHead"


PBN_CONFIGS = [n for n in list_configs() if n.startswith("pbn/")]


#: Fig. 5 of Tang & Wu (2019): three-stack PBNs, (D, W) and grouping of each packaged ablation.
FIG5 = {"group_paper": (1, 64, "pbn_paper"), "width_w32": (1, 32, "pbn_paper"), "depth_d2_w32": (2, 32, "pbn_paper"),
        "depth_d2": (2, 64, "pbn_paper"), "width_w128": (1, 128, "pbn_paper"), "group_body": (1, 64, "body"),
        "group_body_w32": (1, 32, "body"), "group_body_w128": (1, 128, "body"), "group_mi2": (1, 64, 2),
        "group_mi8": (1, 64, 8), "group_mi16": (1, 64, 16), "group_overlap": (1, 64, "pbn_paper_overlap")}


def test_pbn_configs_exist():
    names = {n.split("/")[1] for n in PBN_CONFIGS}
    assert {"mpii_8stack_pbn", "mpii_lsp_8stack", "baseline_deep", "baseline_plain", "group_body", "group_mi5",
            *FIG5} <= names


@pytest.mark.parametrize("name", [n for n in PBN_CONFIGS if n != "pbn/quickstart_pbn"])
def test_mpii_pbn_configs_train_as_sec_4_1(name):
    """RMSprop, batch 16, 250 epochs, lr 2.5e-4 / 10 at 170 and 220; scale +/-0.25, rotation +/-30,
    shear +/-0.5, flip, colour jitter; 256 px crops; three stacks for the ablations, eight for the
    benchmark models, which use the paper's five groups."""
    cfg = load_config(name)
    t, a = cfg.train, cfg.data.augment
    assert (t.optimizer, t.batch_size, t.epochs, t.lr, t.scheduler, t.milestones, t.gamma) == \
        ("rmsprop", 16, 250, 2.5e-4, "multistep", [170, 220], 0.1)
    assert (a.scale_min, a.scale_max, a.rotation, a.rotation_prob, a.shear, a.flip) == (0.75, 1.25, 30, 1.0, 0.5, True)
    assert a.enabled and a.brightness > 0 and a.contrast > 0 and cfg.data.input_size == 256
    assert cfg.model.num_stacks == (8 if "8stack" in name else 3)
    if "8stack" in name and cfg.model.name == "pbn":
        assert cfg.model.groups == "pbn_paper" and (cfg.model.branch_depth, cfg.model.branch_width) == (1, 64)


@pytest.mark.parametrize("name, spec", FIG5.items())
def test_fig5_ablation_configs(name, spec):
    from posekit.data.grouping import resolve_groups

    depth, width, groups = spec
    m = load_config(f"pbn/{name}").model
    assert (m.branch_depth, m.branch_width) == (depth, width)
    if isinstance(groups, int):
        assert len(resolve_groups(m.groups, MPII)) == groups
    else:
        assert m.groups == groups


def test_default_config_has_no_shear():
    assert load_config("quickstart").data.augment.shear == 0.0
    assert load_config("pbn/quickstart_pbn").data.augment.shear == 0.0


@pytest.mark.parametrize("name", PBN_CONFIGS)
def test_every_pbn_config_builds(name):
    """Each config loads, resolves its groups and builds; tiny sizes keep it fast (the full 8-stack
    model is counted above)."""
    from posekit.data.grouping import resolve_groups

    cfg = load_config(name, ["model.num_features=16", "model.stem_width=8", "model.depth=2"])
    assert cfg.model.name in ("pbn", "pbn_baseline") and cfg.model.stem == "pbn"
    if cfg.model.name == "pbn" and isinstance(cfg.model.groups, str):
        cfg.model.groups = [list(g) for g in resolve_groups(cfg.model.groups, MPII)]
    model = create_model(cfg.model.name, **cfg.model.create_kwargs(MPII))
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, cfg.model.num_stacks, 16, 16, 16)


def test_benchmark_config_is_table6_pbn():
    from posekit.data.grouping import resolve_groups

    cfg = load_config("pbn/mpii_8stack_pbn")
    if isinstance(cfg.model.groups, str):
        cfg.model.groups = [list(g) for g in resolve_groups(cfg.model.groups, MPII)]
    assert count_parameters(create_model("pbn", **cfg.model.create_kwargs(MPII))) == 26_686_848


def test_pbn_trains_through_the_trainer(tmp_path, synthetic_root):
    """Two steps of the unchanged trainer on a tiny 2-stack PBN with ``mi:3`` groups; the checkpoint
    records the groups as explicit joint names and loads without any clustering."""
    from conftest import tiny_config
    from posekit.decoding.predictor import PosePredictor
    from posekit.training.run import train

    cfg = tiny_config(tmp_path / "run", synthetic_root, epochs=1, iters_per_epoch=2,
                      model={"name": "pbn", "stem": "pbn", "groups": "mi:3", "branch_width": 8,
                             "next_stack_features": "specific"})
    summary = train(cfg, progress=False)
    assert summary["global_step"] == 2
    losses = [float(line.split(",")[2]) for line in (tmp_path / "run" / "steps.csv").read_text().splitlines()[1:]]
    assert len(losses) == 2 and all(np.isfinite(losses))
    predictor = PosePredictor.from_checkpoint(tmp_path / "run" / "best.pt", device="cpu", flip=False)
    groups = predictor.artifact.arch_kwargs["groups"]
    assert len(groups) == 3 and sorted(n for g in groups for n in g) == sorted(MPII.names)
    assert predictor.model.stacks.next_stack_features == "specific"
    saved = load_config(tmp_path / "run" / "config.yaml")
    assert saved.model.groups == groups                # the run's config holds the resolved groups too
