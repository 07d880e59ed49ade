"""FLOP counting (torch.utils.flop_counter) and the parameters / GFLOPs table of configs."""

from __future__ import annotations

import pytest
from torch import nn

from posekit.models import count_flops, count_parameters, create_model
from posekit.pipelines.complexity import complexity_table, config_complexity


def test_count_flops_of_a_hand_computable_network():
    """conv 3x3, 3 -> 4 channels on 8x8 (2 * 3*4*9 * 64 = 13,824 FLOPs), BN / ReLU / max-pool free,
    conv 1x1, 4 -> 2 on 4x4 (2 * 4*2 * 16 = 256), linear 32 -> 5 (2 * 32*5 = 320)."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 2, 1), nn.Flatten(), nn.Linear(32, 5))
    net.train()
    assert count_flops(net, input_size=8) == 13_824 + 256 + 320
    assert net.training                                    # the mode is put back
    assert count_flops(net[:1], input_size=8, batch=3) == 3 * 13_824
    with pytest.raises(ValueError, match="input_size"):
        count_flops(net, input_size=0)


def test_pbn_flops_grow_with_the_input_area():
    """A fully convolutional PBN: every layer's output area scales with the input area."""
    model = create_model("pbn", joint_names=["a", "b", "c"], groups=[["a"], ["b", "c"]], num_stacks=1,
                         num_features=16, depth=2, stem_width=8, branch_width=8)
    assert count_flops(model, 128) == 4 * count_flops(model, 64) > 0


def test_config_complexity_of_a_shrunk_fig5_config():
    trunk = ["model.num_stacks=1", "model.num_features=16", "model.depth=2", "model.stem_width=8"]
    overrides = trunk + ["model.branch_width=8"]
    c = config_complexity("pbn/group_paper", overrides, input_size=64)
    from posekit.config import load_config
    from posekit.keypoints import MPII

    cfg = load_config("pbn/group_paper", overrides)
    model = create_model("pbn", **cfg.model.create_kwargs(MPII))
    assert c["params"] == count_parameters(model) and c["flops"] == count_flops(model, 64)
    assert c["gflops"] == pytest.approx(c["flops"] / 1e9) and c["gmacs"] == pytest.approx(c["flops"] / 2e9)
    table = complexity_table(["pbn/group_paper"], overrides, input_size=64).splitlines()
    assert len(table) == 3 and table[2] == f"| `pbn/group_paper` | {c['params'] / 1e6:.2f} | {c['gflops']:.2f} | " \
        f"{c['gmacs']:.2f} |"
    deep = config_complexity("pbn/baseline_deep", trunk, input_size=64)
    plain = config_complexity("pbn/baseline_plain", trunk, input_size=64)
    assert deep["flops"] > plain["flops"] and deep["params"] > plain["params"]
