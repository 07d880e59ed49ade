"""Multi-task pose + part segmentation network and its losses."""

from __future__ import annotations

import logging
import math

import pytest
import torch

from posekit.keypoints import MPII
from posekit.losses.multitask import MultiTaskLoss, masked_cross_entropy, masked_mse
from posekit.models import create_model
from posekit.models.multitask import MultiTaskPoseSegNet, VGGTrunk, load_backbone_weights

NUM_JOINTS = len(MPII)
L = len(MPII.skeleton)
TINY = dict(trunk_width=8, feature_channels=8, stage_width=8, refine_convs=1, refine_kernel=3, fc_channels=16)


def tiny(**kw) -> MultiTaskPoseSegNet:
    torch.manual_seed(0)
    return MultiTaskPoseSegNet(**{**TINY, **kw})


@pytest.mark.parametrize("stages,upsample,head", [(1, "bilinear", "stride8"), (3, "deconv", "stride8"),
                                                 (1, "bilinear", "fcn32"), (2, "deconv", "fcn32")])
def test_forward_shapes(stages, upsample, head):
    model = tiny(num_stages=stages, seg_upsample=upsample, seg_head=head)
    out = model(torch.randn(2, 3, 32, 64) if head == "fcn32" else torch.randn(2, 3, 32, 48))
    if head == "fcn32":
        assert out["segmentation"].shape == (2, 7, 32, 64) and out["heatmaps"].shape[-2:] == (4, 8)
        return
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
    with pytest.raises(ValueError, match="divisible by 32"):
        model(torch.randn(1, 3, 40, 32))                      # the FCN-32s head needs multiples of 32
    with pytest.raises(ValueError, match="divisible by 8"):
        tiny(num_stages=1, seg_head="stride8")(torch.randn(1, 3, 30, 32))
    with pytest.raises(ValueError, match="seg_head"):
        tiny(seg_head="fcn8")


def test_fcn32_head_is_fcn_32s_on_the_shared_trunk():
    """pool4, conv5 x 3, pool5, fc6 (7x7) and fc7 (1x1) as convolutions, a score layer at stride 32,
    one upsampling (Long et al. 2015); the scores are zero-initialised as in FCN."""
    model = tiny(num_stages=1, tasks=("seg",))
    head = model.segmentation
    convs = [m for m in head.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(3, 3)] * 3 + [(7, 7), (1, 1), (1, 1)]
    assert convs[3].in_channels == 64 and convs[3].out_channels == 16 and convs[-1].out_channels == 7
    feats = model.trunk(torch.zeros(1, 3, 64, 64))
    x = head.pool5(head.conv5(head.pool4(feats)))
    assert feats.shape[-1] == 8 and x.shape[-1] == 2               # stride 8 -> stride 32
    assert torch.count_nonzero(head.score.weight) == 0


def test_load_backbone_weights(tmp_path, caplog):
    model = MultiTaskPoseSegNet(num_stages=1, feature_channels=8, stage_width=8, seg_head="stride8")
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


def test_vgg16_conv5_and_classifier_load_into_the_fcn32_head(tmp_path):
    """torchvision's features.24/26/28 (conv5) and classifier.0/3 (fc6, fc7 as Linear layers) become
    the head's convolutions, the linear weights reshaped to 7x7 and 1x1 kernels as FCN does."""
    model = tiny(num_stages=1, tasks=("seg",))
    state = {k: v.clone() + 1.0 for k, v in model.trunk.state_dict().items()}
    g = torch.Generator().manual_seed(0)
    for i in (24, 26, 28):
        state[f"features.{i}.weight"] = torch.randn(64, 64, 3, 3, generator=g)
        state[f"features.{i}.bias"] = torch.randn(64, generator=g)
    state["classifier.0.weight"] = torch.randn(16, 64 * 7 * 7, generator=g)
    state["classifier.0.bias"] = torch.randn(16, generator=g)
    state["classifier.3.weight"] = torch.randn(16, 16, generator=g)
    state["classifier.3.bias"] = torch.randn(16, generator=g)
    torch.save(state, tmp_path / "vgg16.pth")
    loaded = load_backbone_weights(model, tmp_path / "vgg16.pth")
    assert len(loaded) == 30
    head = model.segmentation
    assert torch.equal(head.conv5[4].weight, state["features.28.weight"])
    assert torch.equal(head.fc6[0].weight, state["classifier.0.weight"].view(16, 64, 7, 7))
    assert torch.equal(head.fc7[0].weight[:, :, 0, 0], state["classifier.3.weight"])
    x = torch.randn(1, 64, 7, 7, generator=g)          # the conv equals the linear layer on a 7x7 map
    torch.testing.assert_close(torch.nn.functional.conv2d(x, head.fc6[0].weight, head.fc6[0].bias)[0, :, 0, 0],
                               state["classifier.0.weight"] @ x.flatten() + state["classifier.0.bias"],
                               rtol=1e-4, atol=1e-3)       # sums of 3136 products: float32 order differs
    smaller = tiny(num_stages=1, tasks=("seg",), fc_channels=8)   # does not fit: the head stays random
    assert len(load_backbone_weights(smaller, tmp_path / "vgg16.pth")) == 20


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


def test_paper_losses_are_per_image_sums_by_hand():
    """Eqs. 1-4 as written: per-image sums over pixels, W(p) = 1 where the ground-truth heat map
    exceeds 0.02 (the PAF term takes the same W(p): any joint's heat map above it at p), averaged
    over the images that carry the label, added without weights."""
    targets = {
        "heatmaps": torch.tensor([[[[0.5, 0.0]], [[0.01, 0.03]]], [[[0.9, 0.9]], [[0.9, 0.9]]]]),   # (2, J=2, 1, 2)
        "pafs": torch.tensor([[[[0.3, 0.0]], [[0.4, 0.0]]], [[[1.0, 1.0]], [[1.0, 1.0]]]]),        # (2, 2L=2, 1, 2)
        "segmentation": torch.tensor([[[0, 255]], [[1, 2]]]),
        "has_pose": torch.tensor([True, False]), "has_seg": torch.tensor([True, True]),
    }
    outputs = {"heatmaps": torch.ones(2, 1, 2, 1, 2), "pafs": torch.zeros(2, 1, 2, 1, 2),
               "segmentation": torch.zeros(2, 3, 1, 2)}
    terms = MultiTaskLoss(reduction="paper")(outputs, targets)
    heat = 0.5 ** 2 + 0.97 ** 2        # image 0: joint 0 at pixel 0, joint 1 at pixel 1 (image 1 has no pose)
    paf = 0.3 ** 2 + 0.4 ** 2          # pixel 0 (pixel 1 is masked in but its vector is 0)
    seg = (1 + 2) * math.log(3) / 2    # 1 labelled pixel in image 0, 2 in image 1, mean over the 2 images
    assert terms["heatmap"].item() == pytest.approx(heat)
    assert terms["paf"].item() == pytest.approx(paf)
    assert terms["seg"].item() == pytest.approx(seg)
    assert terms["total"].item() == pytest.approx(heat + paf + seg)
    normalized = MultiTaskLoss(reduction="normalized")(outputs, targets)
    assert normalized["heatmap"].item() == pytest.approx(heat / 2) and normalized["seg"].item() == pytest.approx(
        math.log(3))
    with pytest.raises(ValueError, match="reduction"):
        MultiTaskLoss(reduction="mean")


def test_model_and_loss_train_step():
    model = tiny(num_stages=2)
    x = torch.randn(2, 3, 32, 32)
    out = model(x)
    targets = {"heatmaps": torch.rand(2, NUM_JOINTS, 4, 4), "pafs": torch.rand(2, 2 * L, 4, 4),
               "segmentation": torch.randint(0, 7, (2, 32, 32)), "paf_weight": torch.ones(2, L)}
    MultiTaskLoss()(out, targets)["total"].backward()
    assert model.trunk.features[0].weight.grad is not None
