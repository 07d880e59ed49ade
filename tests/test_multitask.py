"""Multi-task pose + part segmentation network and its losses."""

from __future__ import annotations

import logging

import pytest
import torch

from posekit.keypoints import MPII
from posekit.losses.multitask import MultiTaskLoss, masked_cross_entropy, masked_mse
from posekit.models import create_model
from posekit.models.multitask import MultiTaskPoseSegNet, VGGTrunk, load_backbone_weights

NUM_JOINTS = len(MPII)
L = len(MPII.skeleton)
TINY = dict(trunk_width=8, feature_channels=8, stage_width=8, refine_convs=1, refine_kernel=3)


def tiny(**kw) -> MultiTaskPoseSegNet:
    torch.manual_seed(0)
    return MultiTaskPoseSegNet(**{**TINY, **kw})


@pytest.mark.parametrize("stages,upsample", [(1, "bilinear"), (3, "deconv")])
def test_forward_shapes(stages, upsample):
    model = tiny(num_stages=stages, seg_upsample=upsample)
    out = model(torch.randn(2, 3, 32, 48))
    assert out["heatmaps"].shape == (2, stages, NUM_JOINTS, 4, 6)
    assert out["pafs"].shape == (2, stages, 2 * L, 4, 6)
    assert out["segmentation"].shape == (2, 7, 32, 48)


def test_trunk_layout_matches_torchvision_vgg16():
    trunk = VGGTrunk(64)
    convs = [i for i, m in enumerate(trunk.features) if isinstance(m, torch.nn.Conv2d)]
    assert convs == [0, 2, 5, 7, 10, 12, 14, 17, 19, 21] and len(trunk.features) == 23
    assert trunk.features[21].weight.shape == (512, 512, 3, 3)


def test_stage_inputs_and_errors():
    model = tiny(num_stages=2)
    assert model.stages[1].heatmap[0].in_channels == 8 + NUM_JOINTS + 2 * L
    with pytest.raises(ValueError, match="num_stages"):
        tiny(num_stages=7)
    with pytest.raises(ValueError, match="divisible"):
        model(torch.randn(1, 3, 30, 32))


def test_load_backbone_weights(tmp_path, caplog):
    model = MultiTaskPoseSegNet(num_stages=1, feature_channels=8, stage_width=8)
    # a torchvision-style full VGG16 state dict: features.N for all 13 convs plus a classifier
    state = {k: v.clone() + 1.0 for k, v in model.trunk.state_dict().items()}
    assert all(k.startswith("features.") for k in state)
    state["features.24.weight"] = torch.zeros(512, 512, 3, 3)
    state["classifier.0.weight"] = torch.zeros(4, 4)
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    loaded = load_backbone_weights(model, path)
    assert len(loaded) == 20 and "features.0.weight" in loaded
    assert torch.equal(model.trunk.features[21].bias, state["features.21.bias"])
    bad = {k: v for k, v in state.items() if k != "features.21.bias"}
    torch.save(bad, path)
    with pytest.raises(ValueError, match="features.21.bias missing"):
        load_backbone_weights(model, path)
    with pytest.raises(FileNotFoundError):
        load_backbone_weights(model, tmp_path / "nope.pth")
    with caplog.at_level(logging.INFO, logger="posekit.models.multitask"):
        m = create_model("multitask", num_stages=1, trunk_width=8, feature_channels=8, stage_width=8)
        assert load_backbone_weights(m, None) == []
    assert isinstance(m, MultiTaskPoseSegNet) and "randomly initialised" in caplog.text


# ---------------------------------------------------------------- losses


def _batch(b=3, h=4, w=4, H=8, W=8):
    g = torch.Generator().manual_seed(1)
    outputs = {
        "heatmaps": torch.randn(b, 2, NUM_JOINTS, h, w, generator=g, requires_grad=True),
        "pafs": torch.randn(b, 2, 2 * L, h, w, generator=g, requires_grad=True),
        "segmentation": torch.randn(b, 7, H, W, generator=g, requires_grad=True),
    }
    targets = {
        "heatmaps": torch.rand(b, NUM_JOINTS, h, w, generator=g) * (torch.rand(b, NUM_JOINTS, h, w, generator=g) > 0.5),
        "pafs": torch.randn(b, 2 * L, h, w, generator=g) * (torch.rand(b, 2 * L, h, w, generator=g) > 0.5),
        "segmentation": torch.randint(0, 7, (b, H, W), generator=g),
        "has_pose": torch.tensor([True, False, True]),
        "has_seg": torch.tensor([False, True, True]),
    }
    targets["segmentation"][2, :3] = 255
    return outputs, targets


def test_masked_losses_ignore_unlabelled():
    outputs, targets = _batch()
    loss = MultiTaskLoss(w_heatmap=1.0, w_paf=0.5, w_seg=2.0)
    terms = loss(outputs, targets)
    torch.testing.assert_close(terms["total"], terms["heatmap"] + 0.5 * terms["paf"] + 2.0 * terms["seg"])
    terms["total"].backward()
    hm_mask = (targets["heatmaps"] > 0.02)
    g = outputs["heatmaps"].grad
    assert (g[1] == 0).all()                                   # pose-less sample
    assert (g[0][:, ~hm_mask[0]] == 0).all()                  # below-threshold pixels
    assert (g[0][:, hm_mask[0]] != 0).any()
    assert (outputs["pafs"].grad[1] == 0).all()
    sg = outputs["segmentation"].grad
    assert (sg[0] == 0).all()                                  # seg-less sample
    assert (sg[2][:, :3] == 0).all() and (sg[2][:, 3:] != 0).any()   # ignore-index pixels

    # changing predictions where nothing is labelled does not change the loss
    out2 = {k: v.detach().clone() for k, v in outputs.items()}
    out2["heatmaps"][1] += 5
    out2["pafs"][1] -= 3
    out2["segmentation"][0] *= -4
    out2["segmentation"][2, :, :3] += 7
    out2["heatmaps"][0][:, ~hm_mask[0]] += 9
    torch.testing.assert_close(loss(out2, targets)["total"], terms["total"].detach())


def test_loss_without_labels_is_zero_not_nan():
    outputs, targets = _batch()
    targets["has_pose"] = torch.zeros(3, dtype=torch.bool)
    targets["has_seg"] = torch.zeros(3, dtype=torch.bool)
    terms = MultiTaskLoss()(outputs, targets)
    for k in ("heatmap", "paf", "seg", "total"):
        assert terms[k].item() == 0.0
    terms["total"].backward()
    assert (outputs["segmentation"].grad == 0).all()


def test_masked_mse_and_ce_values():
    pred = torch.tensor([[[[1.0, 2.0]]], [[[3.0, 4.0]]]])      # (B=2, C=1, 1, 2)
    target = torch.zeros(2, 1, 1, 2)
    mask = torch.tensor([[[[1.0, 0.0]]], [[[0.0, 1.0]]]])
    assert masked_mse(pred, target, mask).item() == pytest.approx((1 + 16) / 2)
    logits = torch.zeros(1, 3, 1, 2)
    labels = torch.tensor([[[0, 255]]])
    assert masked_cross_entropy(logits, labels).item() == pytest.approx(torch.log(torch.tensor(3.0)).item())
    # PAF mask uses the vector length; threshold None supervises everywhere
    t = {"pafs": torch.tensor([[[[0.015]], [[0.015]]]])}   # (1, 2, 1, 1): |v| = 0.0212 > 0.02
    o = {"pafs": torch.zeros(1, 1, 2, 1, 1)}
    assert MultiTaskLoss()(o, t)["paf"].item() == pytest.approx(0.015 ** 2)
    t0 = {"heatmaps": torch.zeros(1, 1, 1, 2)}
    o0 = {"heatmaps": torch.ones(1, 1, 1, 1, 2)}
    assert MultiTaskLoss()(o0, t0)["heatmap"].item() == 0.0
    assert MultiTaskLoss(threshold=None)(o0, t0)["heatmap"].item() == pytest.approx(1.0)


def test_model_and_loss_train_step():
    model = tiny(num_stages=2)
    x = torch.randn(2, 3, 32, 32)
    out = model(x)
    targets = {"heatmaps": torch.rand(2, NUM_JOINTS, 4, 4), "pafs": torch.rand(2, 2 * L, 4, 4),
               "segmentation": torch.randint(0, 7, (2, 32, 32)), "paf_weight": torch.ones(2, L)}
    MultiTaskLoss()(out, targets)["total"].backward()
    assert model.trunk.features[0].weight.grad is not None
