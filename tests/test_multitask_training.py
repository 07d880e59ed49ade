"""Multi-task samples (heat maps + PAFs + part labels), mixed-label batches, and the three Table 1
configs training end to end (issue 5)."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from posekit.config import load_config
from posekit.data.annotations import load_annotations
from posekit.data.dataset import DataError
from posekit.data.multitask import MixedDataset, MultiTaskDataset, channel_limbs
from posekit.data.pascal_parts import IGNORE_INDEX
from posekit.data.sources import prepare_data
from posekit.data.transforms import affine_points
from posekit.keypoints import MPII
from posekit.losses.multitask import MultiTaskLoss
from posekit.training.multitask import MultiTaskTrainer, batch_targets
from posekit.training.run import train

JOINT_NAMES, SKELETON = MPII.names, MPII.limbs()

CONFIGS = {name: f"multitask/{name}" for name in ("fcn32", "paf_stage1", "joint")}


def tiny_overrides(root: Path, out: Path) -> list[str]:
    """The Table 1 configs shrunk to 64 px crops of the session's tiny synthetic dataset."""
    return [f"data.root={root}", "data.synthetic_train=24", "data.synthetic_val=8", "data.synthetic_image_size=64",
            "data.input_size=64", "data.heatmap_size=8", "model.trunk_width=8", "model.feature_channels=8",
            "model.stage_width=8", "train.batch_size=4", "train.epochs=2", "train.iters_per_epoch=3",
            "train.milestones=[1]", f"train.output_dir={out}", "eval.batch_size=8", "train.num_threads=0"]


def data_config(synthetic_root: Path, **changes):
    cfg = load_config(CONFIGS["joint"], tiny_overrides(synthetic_root, Path("unused")))
    return dataclasses.replace(prepare_data(cfg.data), **changes)


def test_samples_carry_pafs_and_the_warped_part_map(synthetic_root):
    d = data_config(synthetic_root)
    ds = MultiTaskDataset(d.val_annotations, d.val_image_dir, d, train=False, parts_dir=d.val_parts_dir)
    ann = load_annotations(d.val_annotations)
    for index in range(3):
        s = ds[index]
        assert s["has_pose"] and s["has_seg"]
        assert s["pafs"].shape == (2 * len(SKELETON), 8, 8) and s["segmentation"].shape == (64, 64)
        # the label map is the generator's part PNG under the same affine as the image
        labels = cv2.imread(str(Path(d.val_parts_dir) / ann.part_label_files[index]), cv2.IMREAD_UNCHANGED)
        affine = s["affine"].numpy().astype(np.float64)
        expected = cv2.warpAffine(labels, affine, (64, 64), flags=cv2.INTER_NEAREST, borderValue=0)
        assert np.array_equal(s["segmentation"].numpy(), expected)
        assert set(np.unique(expected)) >= {0, 1, 2}  # background, head and torso are in every person
        # PAF of every annotated limb: unit vectors along the limb, in heat-map px (stride 8)
        joints = affine_points(ann.joints[index], affine)
        for li, (a, b) in enumerate(SKELETON):
            if not (ann.annotated[index, a] and ann.annotated[index, b]):
                assert s["paf_weight"][li] == 0
                continue
            assert s["paf_weight"][li] == 1
            v = s["pafs"][2 * li: 2 * li + 2].numpy()
            on = np.hypot(v[0], v[1]) > 0
            d_ab = joints[b] - joints[a]
            if np.hypot(*d_ab) < 8:   # shorter than one heat-map pixel: may cover no pixel centre
                continue
            assert on.any()
            unit = d_ab / np.hypot(*d_ab)
            np.testing.assert_allclose(v[:, on].T, np.broadcast_to(unit, (on.sum(), 2)), atol=1e-6)


def test_pose_only_and_seg_only_samples_and_their_loss_terms(synthetic_root):
    d = data_config(synthetic_root)
    pose_only = MultiTaskDataset(d.val_annotations, d.val_image_dir, d, train=False)   # no parts_dir (MPII-like)
    ann = load_annotations(d.val_annotations)
    unposed = dataclasses.replace(ann, annotated=np.zeros_like(ann.annotated))          # PASCAL-like
    seg_only = MultiTaskDataset(unposed, d.val_image_dir, d, train=False, parts_dir=d.val_parts_dir)
    p, s = pose_only[0], seg_only[0]
    assert p["has_pose"] and not p["has_seg"] and (p["segmentation"] == IGNORE_INDEX).all()
    assert s["has_seg"] and not s["has_pose"]
    assert s["target_weight"].sum() == 0 and s["paf_weight"].sum() == 0 and s["pafs"].abs().sum() == 0

    mixed = MixedDataset([pose_only, seg_only])
    mixed.set_epoch(3)
    assert pose_only.epoch == seg_only.epoch == 3 and len(mixed) == 16
    batch = next(iter(DataLoader(torch.utils.data.Subset(mixed, [0, 8]), batch_size=2)))
    targets = batch_targets(batch, torch.device("cpu"))
    assert targets["has_pose"].tolist() == [True, False] and targets["has_seg"].tolist() == [False, True]
    # each term sees only its own sample: changing the other sample's prediction changes nothing
    g = torch.Generator().manual_seed(0)
    out = {"heatmaps": torch.rand(2, 1, 16, 8, 8, generator=g), "pafs": torch.rand(2, 1, 30, 8, 8, generator=g),
           "segmentation": torch.randn(2, 7, 64, 64, generator=g)}
    loss = MultiTaskLoss(threshold=None)
    ref = loss(out, targets)
    out2 = {k: v.clone() for k, v in out.items()}
    out2["heatmaps"][1] += 5.0
    out2["pafs"][1] -= 3.0
    out2["segmentation"][0] *= -7.0
    changed = loss(out2, targets)
    for term in ("heatmap", "paf", "seg", "total"):
        assert torch.allclose(ref[term], changed[term]), term
    assert ref["heatmap"] > 0 and ref["paf"] > 0 and ref["seg"] > 0


def test_missing_part_file_names_file_and_sample(synthetic_root, tmp_path):
    d = data_config(synthetic_root)
    ds = MultiTaskDataset(d.val_annotations, d.val_image_dir, d, train=False, parts_dir=tmp_path)
    with pytest.raises(DataError, match=r"sample 2 .*part labels"):
        ds[2]
    skipping = MultiTaskDataset(d.val_annotations, d.val_image_dir, dataclasses.replace(d, on_error="skip"),
                                train=False, parts_dir=tmp_path)
    assert skipping[0] == {"index": 0, "skipped_reason": "bad_labels"}   # evaluation: dropped, not replaced
    skipping.bad_samples = "replace"
    with pytest.raises(DataError, match="no loadable sample"):
        skipping[0]


def test_channel_limbs_and_bad_settings(synthetic_root, tmp_path):
    assert channel_limbs(MPII) == tuple(SKELETON)
    # the skeleton has r_wrist -> r_elbow -> r_shoulder; channels [r_shoulder, r_elbow, r_wrist]
    assert channel_limbs(MPII.subset([12, 11, 10])) == ((2, 1), (1, 0))
    with pytest.raises(ValueError, match="no skeleton limb"):
        channel_limbs(MPII.subset([0, 9]))
    cfg = load_config(CONFIGS["joint"], tiny_overrides(synthetic_root, tmp_path) + ["data.heatmap_size=16"])
    with pytest.raises(ValueError, match="input_size / 8"):
        MultiTaskTrainer(cfg, progress=False)
    cfg = load_config(CONFIGS["joint"], tiny_overrides(synthetic_root, tmp_path) + ["model.tasks=[pose, depth]"])
    with pytest.raises(ValueError, match="tasks"):
        MultiTaskTrainer(cfg, progress=False)


@pytest.mark.parametrize("name", ["fcn32", "paf_stage1", "joint"])
def test_table1_configs_train_a_few_steps(name, synthetic_root, tmp_path):
    cfg = load_config(CONFIGS[name], tiny_overrides(synthetic_root, tmp_path / name))
    summary = train(cfg, progress=False)
    assert summary["global_step"] == 6 and summary["epochs_run"] == 2
    with open(tmp_path / name / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    row = rows[-1]
    has_pose, has_seg = name != "fcn32", name != "paf_stage1"
    assert ("pckh" in row) == has_pose and ("pck_dist" in row) == has_pose
    assert ("mean_iu" in row) == has_seg and ("iu_lower_legs" in row) == has_seg
    assert np.isfinite(float(row["val_loss"]))
    if has_pose:
        assert 0 <= float(row["pckh"]) <= 100 and f"pckh_{JOINT_NAMES[0]}" in row
    if has_seg:
        assert 0 <= float(row["mean_iu"]) <= 100 and 0 <= float(row["pixel_acc"]) <= 100
    ckpt = torch.load(tmp_path / name / "best.pt", weights_only=True)
    keys = ckpt["model"].keys()
    assert any(k.startswith("segmentation.") for k in keys) == has_seg
    assert any(k.startswith("stages.") for k in keys) == has_pose
    assert json.loads((tmp_path / name / "summary.json").read_text())["best_epoch"] in (1, 2)


def test_backbone_weights_flag_loads_a_local_vgg16_file(synthetic_root, tmp_path):
    from posekit.cli.main import main
    from posekit.models.multitask import VGGTrunk

    trunk = VGGTrunk(8)
    weights = {f"features.{k}": v * 0 + 0.01 * i for i, (k, v) in enumerate(trunk.features.state_dict().items())}
    torch.save(weights, tmp_path / "vgg.pth")
    args = ["train", CONFIGS["fcn32"], "--no-progress", "--backbone-weights", str(tmp_path / "vgg.pth")]
    for o in tiny_overrides(synthetic_root, tmp_path / "run") + ["train.epochs=1", "train.lr=0"]:
        args += ["--set", o]
    assert main(args) == 0
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]
    for k, v in weights.items():
        torch.testing.assert_close(state[f"trunk.{k}"], v)   # lr 0: the loaded weights are kept


def test_pascal_person_part_samples_join_training_as_segmentation_only(synthetic_root, tmp_path):
    from test_pascal_parts import write_pascal_person_part_sample

    pascal = tmp_path / "pascal"
    rng = np.random.default_rng(0)
    for i in range(4):
        labels = np.zeros((48, 40), np.uint8)
        labels[8:16, 15:25], labels[16:36, 12:28], labels[2, 2] = 1, 2, IGNORE_INDEX   # head, torso, void
        write_pascal_person_part_sample(pascal, f"2008_{i:06d}", rng.integers(0, 255, (48, 40, 3), np.uint8),
                                        labels, "train")
    cfg = load_config(CONFIGS["joint"], tiny_overrides(synthetic_root, tmp_path / "run") + [
        f"data.pascal_root={pascal}", "train.epochs=1", "train.iters_per_epoch=7"])
    trainer = MultiTaskTrainer(cfg, progress=False)
    assert isinstance(trainer.train_set, MixedDataset) and len(trainer.train_set) == 24 + 4
    s = trainer.train_set[24]                       # the first PASCAL sample
    assert s["has_seg"] and not s["has_pose"] and s["target_weight"].sum() == 0
    seg = s["segmentation"].numpy()
    assert {1, 2} <= set(np.unique(seg)) and (seg == 0).any()
    summary = trainer.fit()                         # 7 x 4 = 28 samples: every PASCAL sample is drawn
    assert summary["global_step"] == 7 and np.isfinite(summary["last"]["val_loss"])
