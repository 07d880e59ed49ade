"""Shear augmentation (Tang & Wu 2019, Sec. 4.1): the crop warp and the keypoints move together."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from posekit.config import AugmentConfig, DataConfig
from posekit.data.dataset import PoseDataset, tensor_to_image
from posekit.decoding.inference import crop_to_original
from posekit.data.transforms import (
    AugParams,
    affine_points,
    compose_affine,
    crop_image,
    get_affine_transform,
    hflip_affine,
    sample_augmentation,
    shear_affine,
)

MARKED = [(60.0, 40.0), (140.0, 52.0), (100.0, 100.0), (75.0, 150.0), (132.0, 161.0)]


def test_shear_affine_fixes_the_centre_line_and_shifts_rows():
    m = shear_affine(64, 0.5)
    np.testing.assert_allclose(affine_points([[32.0, 32.0], [10.0, 32.0]], m), [[32.0, 32.0], [10.0, 32.0]])
    np.testing.assert_allclose(affine_points([[32.0, 52.0], [32.0, 12.0]], m), [[42.0, 52.0], [22.0, 12.0]])
    np.testing.assert_allclose(shear_affine(64, 0.0), [[1, 0, 0], [0, 1, 0]])


@pytest.mark.parametrize("shear, flip", [(0.5, False), (-0.5, True), (0.27, False)])
def test_sheared_crop_pixels_follow_the_keypoint(shear, flip):
    img = np.zeros((200, 240, 3), np.uint8)
    x, y = 171, 57
    img[y, x] = 255
    m = compose_affine(shear_affine(96, shear), get_affine_transform((120.0, 100.0), 1.0, 20.0, 96))
    if flip:
        m = compose_affine(hflip_affine(96), m)
    crop = crop_image(cv2.GaussianBlur(img, (0, 0), 2.0), m, 96)
    peak = np.unravel_index(np.argmax(crop[..., 0]), crop.shape[:2])[::-1]
    assert np.hypot(*(np.asarray(peak) - affine_points([x, y], m))) <= 1.0


def test_no_shear_leaves_the_other_draws_unchanged():
    """Shear is the seventh draw: with ``shear = 0`` the first six are those of a six-draw sampler."""
    cfg = AugmentConfig(scale_min=0.7, scale_max=1.3, rotation=40.0, rotation_prob=0.6, brightness=0.3, contrast=0.1)
    got = sample_augmentation(cfg, np.random.default_rng(11))
    u = np.random.default_rng(11).random(6)
    expected = AugParams(0.7 + 0.6 * u[0], (2 * u[1] - 1) * 40.0 if u[2] < 0.6 else 0.0, bool(u[3] < 0.5),
                         1 + 0.3 * (2 * u[4] - 1), 1 + 0.1 * (2 * u[5] - 1), 0.0)
    assert got == expected
    sheared = sample_augmentation(AugmentConfig(**{**cfg.__dict__, "shear": 0.5}), np.random.default_rng(11))
    assert sheared.scale_mult == got.scale_mult and sheared.rot_deg == got.rot_deg
    assert 0 < abs(sheared.shear) <= 0.5
    draws = [sample_augmentation(AugmentConfig(shear=0.5), np.random.default_rng(i)).shear for i in range(400)]
    assert max(np.abs(draws)) <= 0.5 and min(draws) < -0.45 and max(draws) > 0.45


def test_dataset_keypoints_land_on_the_marked_pixels_of_the_sheared_crop(tmp_path):
    """Marked pixels at five joints of a synthetic image: in every augmented crop (shear up to 0.5,
    rotation, scale, flip) each warped keypoint sits on a marked blob, and the inverse of the
    sample's affine maps the blobs back onto the marks."""
    img = np.zeros((200, 200, 3), np.uint8)
    for x, y in MARKED:
        img[int(y) - 1:int(y) + 2, int(x) - 1:int(x) + 2] = 255
    cv2.imwrite(str(tmp_path / "marks.png"), img)
    joints = [[-1, -1]] * 16
    for k, (x, y) in zip((0, 5, 7, 10, 15), MARKED):
        joints[k] = [x, y]
    (tmp_path / "ann.json").write_text(json.dumps([{"image": "marks.png", "center": [100, 100], "scale": 0.8,
                                                     "joints": joints}]))
    aug = AugmentConfig(scale_min=0.9, scale_max=1.1, rotation=20.0, shear=0.5, brightness=0.0, contrast=0.0)
    cfg = DataConfig(dataset="files", input_size=128, heatmap_size=32, augment=aug)
    ds = PoseDataset(tmp_path / "ann.json", tmp_path, cfg, train=True)
    shears = []
    for epoch in range(6):
        ds.set_epoch(epoch)
        s = ds[0]
        crop = tensor_to_image(s["image"])[..., 0]
        affine = s["affine"].numpy().astype(np.float64)
        plain = get_affine_transform(s["center"].numpy(), float(s["scale"]), float(s["rotation"]), 128,
                                     scale_factor=1.25)
        if s["flipped"]:
            plain = compose_affine(hflip_affine(128), plain)
        shears.append(float(np.abs(affine[:, :2] - plain[:, :2]).max()))
        n, labels, _, centroids = cv2.connectedComponentsWithStats((crop > 60).astype(np.uint8))
        points = affine_points(np.array(MARKED), affine)
        assert n - 1 == len(MARKED)
        for p in points:
            assert np.min(np.hypot(*(centroids[1:] - p).T)) <= 1.0, (epoch, p)
        # inverse: the blobs found in the sheared crop map back onto the marked original pixels (1 crop
        # px is up to about 1.8 original px here)
        back = crop_to_original(centroids[None, 1:], s["affine"].numpy()[None])[0]
        for x, y in MARKED:
            assert np.min(np.hypot(back[:, 0] - x, back[:, 1] - y)) <= 2.5, (epoch, x, y)   # ~1 crop px
    assert max(shears) > 0.1          # the crops were really sheared
