"""Tests for posekit.data.dataset on the five real MPII images of ../shared/data/mpii/images."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import SHARED
from posekit.config import AugmentConfig, DataConfig
from posekit.data.annotations import AnnotationError, load_annotations
from posekit.data.dataset import (
    DataError,
    PoseDataset,
    collate_samples,
    image_to_tensor,
    load_image,
    loaded_batches,
    tensor_to_image,
)
from posekit.data.transforms import (
    affine_points,
    crop_image,
    flip_image,
    get_affine_transform,
    invert_affine,
    seed002_content_box,
)
from posekit.keypoints import MPII

joint_index = MPII.index

DATA = SHARED
IMAGES = DATA / "mpii" / "images"
JSON = IMAGES / "annotations.json"

pytestmark = pytest.mark.skipif(
    not JSON.is_file(), reason=f"shared MPII sample images not found under {IMAGES} (see ../shared/data/README.md)"
)

S, H = 128, 32
STRIDE = S / H


def to_hm(crop_xy):
    """Crop px -> heat-map px under the codec's centre-aligned convention."""
    return (np.asarray(crop_xy) + 0.5) / STRIDE - 0.5


def small_cfg(**kw) -> DataConfig:
    return DataConfig(dataset="files", input_size=S, heatmap_size=H, sigma=1.0, **kw)


def peak_xy(hm: torch.Tensor) -> np.ndarray:
    """(J, h, w) -> (J, 2) integer arg-max (x, y)."""
    j, h, w = hm.shape
    idx = hm.reshape(j, -1).argmax(-1).numpy()
    return np.stack([idx % w, idx // w], axis=-1).astype(np.float64)


def test_val_sample_shapes_and_peaks():
    ds = PoseDataset(str(JSON), IMAGES, small_cfg(), train=False)
    assert len(ds) == 5
    for i in range(len(ds)):
        s = ds[i]
        assert s["image"].shape == (3, S, S) and s["image"].dtype == torch.float32
        assert s["heatmaps"].shape == (16, H, H) and s["heatmaps"].dtype == torch.float32
        assert s["target_weight"].shape == (16,) and s["joints"].shape == (16, 2)
        assert s["annotated"].dtype == torch.bool and s["visible"].shape == (16,)
        assert s["affine"].shape == (2, 3) and s["center"].shape == (2,) and s["scale"].shape == ()
        assert s["index"] == i and s["flipped"] is False and float(s["rotation"]) == 0.0
        # no augmentation: the standard box of the annotation
        ann = ds.annotations
        np.testing.assert_allclose(s["center"].numpy(), ann.centers[i], rtol=1e-6)
        assert float(s["scale"]) == pytest.approx(ann.scales[i], rel=1e-6)
        expected_affine = get_affine_transform(ann.centers[i], ann.scales[i], 0.0, S, scale_factor=1.25)
        np.testing.assert_allclose(s["affine"].numpy(), expected_affine, rtol=1e-5, atol=1e-4)
        # heat-map peaks at the transformed annotated joints; unannotated joints weight 0, empty map
        crop_kp = affine_points(ann.joints[i], expected_affine)
        w = s["target_weight"].numpy()
        np.testing.assert_array_equal(w, ann.annotated[i].astype(np.float32))
        on = w > 0
        assert np.abs(peak_xy(s["heatmaps"])[on] - to_hm(crop_kp[on])).max() <= 0.5
        assert not s["heatmaps"][~torch.from_numpy(on)].any()
    # samples 2 and 3 have unannotated ankles
    s = ds[2]
    assert s["target_weight"][0] == 0 and s["target_weight"][5] == 0 and not s["annotated"][0]


def test_image_is_the_normalised_crop():
    ds = PoseDataset(str(JSON), IMAGES, small_cfg(), train=False)
    s = ds[0]
    ann = ds.annotations
    img = load_image(IMAGES / ann.image_names[0])
    crop = crop_image(img, get_affine_transform(ann.centers[0], ann.scales[0], 0.0, S, scale_factor=1.25), S)
    assert np.abs(tensor_to_image(s["image"]).astype(int) - crop.astype(int)).max() <= 1
    # RGB order: cv2 loads BGR, load_image converts
    import cv2

    bgr = cv2.imread(str(IMAGES / ds.annotations.image_names[0]))
    np.testing.assert_array_equal(img, bgr[..., ::-1])
    torch.testing.assert_close(image_to_tensor(crop), s["image"], atol=1e-5, rtol=0)


def _decoded_error_crop_px(s: dict, perm: np.ndarray) -> np.ndarray:
    """Decode heat maps, map back with the inverse affine, distance to the true joints in crop px."""
    from posekit.data.targets import HeatmapCodec

    coords, _ = HeatmapCodec(S, H).decode(s["heatmaps"][None].numpy())
    affine = s["affine"].numpy().astype(np.float64)
    back = affine_points(coords[0], invert_affine(affine))  # original px
    truth = s["joints"].numpy()[perm]
    px_per_crop_px = 1.0 / np.sqrt(abs(np.linalg.det(affine[:, :2])))
    return np.linalg.norm(back - truth, axis=1) / px_per_crop_px


def test_affine_inverse_maps_decoded_heatmaps_back_with_augmentation():
    ds = PoseDataset(str(JSON), IMAGES, small_cfg(), train=True, seed=3)
    seen_flip = seen_plain = False
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            s = ds[i]
            perm = np.array(MPII.flip_permutation()) if s["flipped"] else np.arange(16)
            seen_flip |= s["flipped"]
            seen_plain |= not s["flipped"]
            w = s["target_weight"].numpy() > 0
            assert w.sum() >= 12
            err = _decoded_error_crop_px(s, perm)[w]
            assert err.max() <= 1.5 * STRIDE, (epoch, i, err)
    assert seen_flip and seen_plain


def _find_flipped(ds: PoseDataset, index: int) -> dict:
    for epoch in range(50):
        ds.set_epoch(epoch)
        s = ds[index]
        if s["flipped"]:
            return s
    raise AssertionError("no flipped draw in 50 epochs")


def test_flip_swaps_left_and_right():
    aug = AugmentConfig(brightness=0.0, contrast=0.0)  # no colour jitter, so pixels can be compared
    ds = PoseDataset(str(JSON), IMAGES, small_cfg(augment=aug), train=True)
    s = _find_flipped(ds, 0)
    ann = ds.annotations
    # the same crop without the flip, rebuilt from the reported center / scale / rotation
    plain = get_affine_transform(s["center"].numpy(), float(s["scale"]), float(s["rotation"]), S, scale_factor=1.25)
    l_ankle = affine_points(ann.joints[0, joint_index("l_ankle")], plain)
    mirrored = np.array([S - 1 - l_ankle[0], l_ankle[1]])
    r_peak = peak_xy(s["heatmaps"])[joint_index("r_ankle")]
    assert np.abs(r_peak - to_hm(mirrored)).max() <= 0.5
    r_wrist = affine_points(ann.joints[0, joint_index("r_wrist")], plain)
    l_peak = peak_xy(s["heatmaps"])[joint_index("l_wrist")]
    assert np.abs(l_peak - to_hm(np.array([S - 1 - r_wrist[0], r_wrist[1]]))).max() <= 0.5
    # the image is the mirrored crop
    img = load_image(IMAGES / ann.image_names[0])
    expected = flip_image(crop_image(img, plain, S))
    # The flip is folded into the one warp, so bilinear sample positions differ from a flip after
    # the warp by float rounding: a few edge pixels may move by a few grey levels, nothing more.
    diff = np.abs(tensor_to_image(s["image"]).astype(int) - expected.astype(int))
    assert diff.max() <= 4 and (diff > 1).mean() < 1e-3
    # and the returned affine includes the flip
    returned = s["affine"].numpy().astype(np.float64)
    np.testing.assert_allclose(affine_points(ann.joints[0, joint_index("l_ankle")], returned), mirrored, atol=1e-2)


def test_flip_swaps_target_weights():
    ds = PoseDataset(str(JSON), IMAGES, small_cfg(), train=True)
    s = _find_flipped(ds, 2)  # sample 2: both ankles unannotated, so the swap is symmetric; check knees too
    assert s["target_weight"][0] == 0 and s["target_weight"][5] == 0
    ds_sub = PoseDataset(str(JSON), IMAGES, small_cfg(), train=True, joint_ids=[0, 1, 4, 5])
    ds_sub.set_epoch(ds.epoch)
    t = ds_sub[2]
    assert t["flipped"] and t["heatmaps"].shape == (4, H, H)
    torch.testing.assert_close(t["heatmaps"][1], s["heatmaps"][1])  # r_knee channel, same draw
    torch.testing.assert_close(t["heatmaps"][2], s["heatmaps"][4])


def test_augmentation_is_reproducible_per_epoch_and_seed():
    cfg = small_cfg()
    a = PoseDataset(str(JSON), IMAGES, cfg, train=True, seed=7)
    b = PoseDataset(str(JSON), IMAGES, cfg, train=True, seed=7)
    s1, s2 = a[1], b[1]
    for key in ("image", "heatmaps", "affine", "scale", "rotation"):
        torch.testing.assert_close(s1[key], s2[key])
    a.set_epoch(1)
    s3 = a[1]
    assert not torch.equal(s3["affine"], s1["affine"])
    assert 0.75 * 1.761835 <= float(s1["scale"]) <= 1.25 * 1.761835
    assert abs(float(s1["rotation"])) <= 30.0


def test_dataloader_workers_match_main_process():
    ds = PoseDataset(str(JSON), IMAGES, small_cfg(), train=True, seed=1)
    ds.set_epoch(4)
    ref = [ds[i]["affine"] for i in range(len(ds))]
    loader = torch.utils.data.DataLoader(ds, batch_size=5, num_workers=2, shuffle=False)
    batch = next(iter(loader))
    torch.testing.assert_close(batch["affine"], torch.stack(ref))
    assert batch["heatmaps"].shape == (5, 16, H, H) and batch["flipped"].dtype == torch.bool


def test_joint_subset_from_config():
    ds = PoseDataset(str(JSON), IMAGES, small_cfg(joints="arms"), train=False)
    assert ds.joint_ids == (10, 11, 12, 13, 14, 15)
    s = ds[0]
    assert s["heatmaps"].shape == (6, H, H) and s["target_weight"].shape == (6,) and s["joints"].shape == (16, 2)
    crop_kp = affine_points(ds.annotations.joints[0, 10:16], s["affine"].numpy().astype(np.float64))
    assert np.abs(peak_xy(s["heatmaps"]) - to_hm(crop_kp)).max() <= 0.5
    with pytest.raises(ValueError, match="flip"):
        PoseDataset(str(JSON), IMAGES, small_cfg(joints="r_arm"), train=True)


def test_seed002_crop():
    ds = PoseDataset(str(JSON), IMAGES, small_cfg(crop="seed002"), train=False)
    s = ds[1]
    ann = ds.annotations
    np.testing.assert_allclose(s["center"].numpy(), ann.centers[1], rtol=1e-6)
    assert float(s["scale"]) == pytest.approx(1.05 * ann.scales[1], rel=1e-6)
    affine = s["affine"].numpy().astype(np.float64)
    x1, y1, x2, y2 = seed002_content_box(ann.centers[1], ann.scales[1])
    np.testing.assert_allclose(affine_points([[x1, y1], [x2, y2]], affine),
                               [[S / 2 - S * 60 / 210, 0], [S / 2 + S * 60 / 210, S]], atol=1e-3)
    img = tensor_to_image(s["image"])
    left = int(np.floor(S / 2 - S * 60 / 210))  # 27: the padding columns 0..26 are black
    assert (img[:, :left] == 0).all() and (img[:, S - left:] == 0).all()
    assert img[:, left + 2:S - left - 2].mean() > 20


def _tmp_image_dir(tmp_path: Path) -> Path:
    d = tmp_path / "images"
    d.mkdir()
    for f in IMAGES.glob("*.jpg"):
        shutil.copy(f, d / f.name)
    (d / "broken.jpg").write_bytes(b"\x00garbage, not a jpeg\xff" * 50)
    return d


def test_corrupt_and_missing_images(tmp_path):
    image_dir = _tmp_image_dir(tmp_path)
    ann = load_annotations(JSON)
    ann.image_names[1] = "broken.jpg"
    ann.image_names[3] = "gone.jpg"
    ds = PoseDataset(ann, image_dir, small_cfg(), train=False)
    with pytest.raises(DataError, match=r"sample 1 .*broken\.jpg"):
        ds[1]
    with pytest.raises(DataError, match=r"sample 3 .*not found.*gone\.jpg"):
        ds[3]
    assert ds[0]["index"] == 0

    # training: a bad sample is replaced by the next loadable one
    skip = PoseDataset(ann, image_dir, small_cfg(on_error="skip"), train=False, bad_samples="replace")
    s = skip[1]
    assert s["index"] == 2 and skip.skipped == 1
    np.testing.assert_array_equal(s["joints"].numpy(), ann.joints[2].astype(np.float32))
    assert skip[3]["index"] == 4 and skip.skipped == 2
    assert skip[0]["index"] == 0 and skip.skipped == 2
    # counted across DataLoader workers too; distinct bad samples by reason
    loader = torch.utils.data.DataLoader(skip, batch_size=1, num_workers=2)
    assert [int(b["index"]) for b in loader] == [0, 2, 2, 4, 4]
    assert skip.skipped == 4
    assert skip.skipped_by_reason == {"missing_image": 1, "corrupt_image": 1}

    # evaluation: a bad sample is dropped from its batch, never replaced by another person
    drop = PoseDataset(ann, image_dir, small_cfg(on_error="skip"), train=False)
    assert drop.bad_samples == "drop" and drop[1] == {"index": 1, "skipped_reason": "corrupt_image"}
    loader = torch.utils.data.DataLoader(drop, batch_size=2, num_workers=2, collate_fn=collate_samples)
    dropped: list = []
    batches = list(loaded_batches(loader, dropped))
    assert [b["index"].tolist() for b in batches] == [[0], [2], [4]]
    assert dropped == [(1, "corrupt_image"), (3, "missing_image")]
    assert drop.skipped_by_reason == {"missing_image": 1, "corrupt_image": 1}
    drop.reset_skipped()
    assert drop.skipped_by_reason == {}


def test_wrong_joint_count_and_bad_config(tmp_path):
    samples = json.loads(JSON.read_text())
    for s in samples:
        s["joints"] = s["joints"][:14]
        s["joints_vis"] = s["joints_vis"][:14]
    bad = tmp_path / "fourteen.json"
    bad.write_text(json.dumps(samples))
    with pytest.raises(AnnotationError, match=r"fourteen\.json.*14 joints.*expected 16"):
        PoseDataset(str(bad), IMAGES, small_cfg(), train=False)
    with pytest.raises(ValueError, match="data.crop"):
        PoseDataset(str(JSON), IMAGES, small_cfg(crop="square"), train=False)
    with pytest.raises(ValueError, match="data.on_error"):
        PoseDataset(str(JSON), IMAGES, small_cfg(on_error="ignore"), train=False)


def test_from_config():
    cfg = small_cfg(annotations=str(JSON), image_dir=str(IMAGES))
    train = PoseDataset.from_config(cfg, "train")
    assert train.train and len(train) == 5
    with pytest.raises(ValueError, match="data.val_annotations"):
        PoseDataset.from_config(cfg, "val")
    val = PoseDataset.from_config(dataclasses.replace(cfg, val_annotations=str(JSON)), "val")
    assert not val.train and val.image_dir == IMAGES and val[0]["flipped"] is False
    with pytest.raises(ValueError, match="split"):
        PoseDataset.from_config(cfg, "test")
