"""The real MPII layout end to end: an image folder plus one annotation file, as `posekit train` sees it."""

from __future__ import annotations

import csv
import math

import numpy as np

from posekit.config import load_config
from posekit.data.annotations import load_annotations
from posekit.data.dataset import PoseDataset
from posekit.training.run import train


def mpii_config(shared, out, **extra):
    images = shared / "mpii" / "images"
    overrides = [
        "data.dataset=files", f"data.annotations={images / 'annotations.json'}", f"data.image_dir={images}",
        f"data.val_annotations={images / 'annotations.json'}", "data.input_size=64", "data.heatmap_size=16",
        "model.num_stacks=1", "model.num_features=16", "model.depth=2", "model.stem_width=8",
        "train.batch_size=2", "train.epochs=2", f"train.output_dir={out}",
    ] + [f"{k}={v}" for k, v in extra.items()]
    return load_config(None, overrides)


def test_train_on_the_real_mpii_json_layout(shared, tmp_path):
    summary = train(mpii_config(shared, tmp_path / "run"), progress=False)
    assert summary["epochs_run"] == 2
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    # the mmpose json has no head sizes: PCKh is reported as NaN, the validation loss is real
    assert math.isnan(float(rows[-1]["pckh"])) and float(rows[-1]["val_loss"]) > 0


def test_valid_h5_samples_with_images_present(shared):
    """valid.h5 read through PoseDataset with the 5 shared images: the samples whose image is
    present load with heat-map peaks on their joints; with on_error=skip the rest are skipped."""
    ann = load_annotations(shared / "mpii" / "valid.h5")
    present = {p.name for p in (shared / "mpii" / "images").glob("*.jpg")}
    idx = [i for i, name in enumerate(ann.image_names) if name in present]
    assert idx, "at least one validation person has its image in the shared folder"
    cfg = load_config(None, ["data.dataset=files", "data.input_size=128", "data.heatmap_size=32"]).data
    ds = PoseDataset(ann.subset(idx), str(shared / "mpii" / "images"), cfg, train=False)
    item = ds[0]
    w = item["target_weight"].numpy()
    assert item["heatmaps"].shape == (16, 32, 32) and w.sum() == ann.subset(idx).annotated[0].sum()
    assert np.allclose(item["heatmaps"].numpy().max(axis=(1, 2))[w > 0], 1.0, atol=0.25)

    skip_cfg = load_config(None, ["data.dataset=files", "data.input_size=64", "data.heatmap_size=16",
                                  "data.on_error=skip"]).data
    mixed = PoseDataset(ann.subset([idx[0], 0 if idx[0] != 0 else 1, *range(2, 6)]),
                        str(shared / "mpii" / "images"), skip_cfg, train=False)
    for i in range(len(mixed)):
        mixed[i]
    assert mixed.skipped >= 1  # the validation images that are not in the shared folder


def test_plateau_scheduler_divides_the_lr_by_the_factor():
    import torch

    from posekit.config import TrainConfig
    from posekit.training.optim import build_optimizer, build_scheduler, current_lr

    cfg = TrainConfig(optimizer="rmsprop", lr=2.5e-4, scheduler="plateau", plateau_factor=0.2, plateau_patience=1)
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(1))], cfg)
    sched = build_scheduler(opt, cfg)
    for pckh in (50.0, 50.0):  # best, then one epoch without improvement (= patience): unchanged
        sched.step(pckh)
    assert current_lr(opt) == 2.5e-4
    sched.step(49.0)            # the second epoch without improvement: lr / 5
    assert current_lr(opt) == 2.5e-4 * 0.2
    sched.step(60.0)            # an improvement keeps it
    assert current_lr(opt) == 2.5e-4 * 0.2
