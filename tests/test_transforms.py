"""Tests for posekit.data.transforms: crop geometry, clip-and-pad box, flips, augmentation sampling."""

from __future__ import annotations


import cv2
import numpy as np
import pytest
import torch

from conftest import SHARED
from posekit.config import AugmentConfig
from posekit.data.annotations import read_mpii_h5
from posekit.data.transforms import (
    AugParams,
    affine_points,
    apply_color_jitter,
    compose_affine,
    crop_image,
    flip_heatmaps,
    flip_image,
    flip_joint_axis,
    flip_keypoints,
    get_affine_transform,
    hflip_affine,
    invert_affine,
    sample_augmentation,
    clip_pad_square_box,
    person_crop,
    tall_person_box,
)
from posekit.keypoints import MPII

joint_index = MPII.index

DATA = SHARED
VALID_H5 = DATA / "mpii" / "valid.h5"


def test_affine_maps_box_onto_crop():
    center, scale, size, sf = np.array([300.0, 200.0]), 1.6, 128, 1.25
    side = scale * 200 * sf  # 400 px
    m = get_affine_transform(center, scale, 0.0, size, scale_factor=sf)
    assert m.shape == (2, 3)
    corners = center + np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]) * side
    np.testing.assert_allclose(affine_points(corners, m), [[0, 0], [128, 0], [128, 128], [0, 128]], atol=1e-9)
    np.testing.assert_allclose(affine_points(center, m), [64, 64], atol=1e-12)
    inv = get_affine_transform(center, scale, 0.0, size, scale_factor=sf, inverse=True)
    np.testing.assert_allclose(affine_points([[0, 0], [64, 64]], inv), [corners[0], center], atol=1e-9)


def test_rotation_convention_matches_opencv():
    # with a box of side S the zoom is 1, so the map is cv2's rotation about the centre plus a shift
    center, size, rot = (150.0, 90.0), 200, 25.0
    m = get_affine_transform(center, 1.0, rot, size)
    ref = cv2.getRotationMatrix2D(center, rot, 1.0)
    np.testing.assert_allclose(m[:, :2], ref[:, :2], atol=1e-12)
    # positive angle: a point right of the centre goes up (counter-clockwise as displayed, y down)
    p = affine_points(np.array(center) + [50.0, 0.0], m)
    assert p[0] > 100 and p[1] < 100
    np.testing.assert_allclose(p, [100 + 50 * np.cos(np.radians(rot)), 100 - 50 * np.sin(np.radians(rot))])


@pytest.mark.skipif(not VALID_H5.is_file(), reason=f"shared MPII data not found: {VALID_H5}")
def test_crop_inverse_round_trip_on_all_real_joints():
    ann = read_mpii_h5(VALID_H5)
    rng = np.random.default_rng(1)
    worst = 0.0
    count = 0
    for i in range(len(ann)):
        rot = rng.uniform(-30, 30)
        smult = rng.uniform(0.75, 1.25)
        m = get_affine_transform(ann.centers[i], ann.scales[i] * smult, rot, 256, scale_factor=1.25)
        if i % 2:
            m = compose_affine(hflip_affine(256), m)
        inv = invert_affine(m)
        pts = ann.joints[i][ann.annotated[i]]
        back = affine_points(affine_points(pts, m), inv)
        worst = max(worst, float(np.abs(back - pts).max()))
        count += len(pts)
    assert count == 2958 * 16 - 3088
    assert worst < 0.5
    assert worst < 1e-6  # in fact exact up to float64 rounding


def _blob_image(h: int, w: int, point, sigma: float = 2.0) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w]
    g = np.exp(-((xs - point[0]) ** 2 + (ys - point[1]) ** 2) / (2 * sigma**2))
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 1] = np.rint(255 * g).astype(np.uint8)
    return img


@pytest.mark.parametrize(
    "rot, scale, flip", [(0.0, 1.0, False), (30.0, 0.9, False), (-47.0, 1.3, True), (90.0, 1.1, True)]
)
def test_pixels_move_with_keypoints(rot, scale, flip):
    h, w, size = 240, 320, 128
    keypoint = np.array([171.0, 97.0])
    img = _blob_image(h, w, keypoint)
    m = get_affine_transform((160.0, 120.0), scale, rot, size)  # box of 200*scale px
    if flip:
        m = compose_affine(hflip_affine(size), m)
    crop = crop_image(img, m, size)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
    y, x = np.unravel_index(np.argmax(crop[..., 1]), crop.shape[:2])
    expected = affine_points(keypoint, m)
    assert np.hypot(x - expected[0], y - expected[1]) <= 1.0, (x, y, expected)


def test_clip_pad_square_crop_of_a_box_crossing_the_image_edges():
    """Kim, Novossyolov & Nurambek, Sec. IV: the 210 s x 120 s box clipped to the image, zero-padded to a
    square. A 60x40 image (W x H), centre (12, 20), s = 0.3: the box x -6..30, y -11.5..51.5 is
    clipped to x 0..30 (columns 0-29), y 0..40 (all rows) and padded to a 40 px square centred on
    (15, 20). Cropped at 40 px (zoom 1), image column c lands on crop column
    c + 5: crop columns 0-4 and 35-39 are padding, and image column 30 (outside the box) never shows."""
    assert tuple(tall_person_box((12.0, 20.0), 0.3)) == pytest.approx((-6.0, -11.5, 30.0, 51.5))
    box, center, side = clip_pad_square_box((12.0, 20.0), 0.3, (40, 60, 3))
    np.testing.assert_allclose(box, [0, 0, 30, 40])
    np.testing.assert_allclose(center, [15, 20])
    assert side == 40.0
    ys, xs = np.mgrid[0:40, 0:60]
    image = np.stack([xs + 1, ys + 1, np.full_like(xs, 7)], axis=-1).astype(np.uint8)  # pixel = (col+1, row+1, 7)
    affine, keep_box, c, scale = person_crop((12.0, 20.0), 0.3, 40, mode="clip_pad_square", image_shape=image.shape)
    assert scale * 200 == pytest.approx(40.0) and c == pytest.approx((15, 20))
    crop = crop_image(image, affine, 40, keep_box=keep_box)
    assert crop[0, 5].tolist() == [1, 1, 7]            # image pixel (0, 0) -> crop (5, 0)
    assert crop[39, 34].tolist() == [30, 40, 7]        # image pixel (29, 39) -> crop (34, 39)
    assert crop[17, 20].tolist() == [16, 18, 7]        # an inner pixel, column 15 row 17
    assert (crop[:, :5] == 0).all() and (crop[:, 35:] == 0).all()
    assert (crop[:, 5:35, 2] == 7).all()
    np.testing.assert_allclose(affine_points([[0.0, 0.0], [29.0, 39.0]], affine), [[5, 0], [34, 39]], atol=1e-9)
    # a box entirely outside the image, and no image size to clip to
    with pytest.raises(ValueError, match="outside"):
        clip_pad_square_box((500.0, 20.0), 0.3, (40, 60, 3))
    with pytest.raises(ValueError, match="image size"):
        person_crop((12.0, 20.0), 0.3, 40, mode="clip_pad_square")


def test_flip_twice_is_identity_and_swaps_names():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    np.testing.assert_array_equal(flip_image(flip_image(img)), img)
    assert not np.array_equal(flip_image(img), img)

    joints = rng.uniform(0, 22, (5, 16, 2))
    np.testing.assert_allclose(flip_keypoints(flip_keypoints(joints, 23), 23), joints, atol=1e-12)

    hm = rng.random((2, 16, 8, 9)).astype(np.float32)
    np.testing.assert_array_equal(flip_heatmaps(flip_heatmaps(hm)), hm)
    t = torch.from_numpy(hm)
    torch.testing.assert_close(flip_heatmaps(t), torch.from_numpy(flip_heatmaps(hm)))
    torch.testing.assert_close(flip_heatmaps(flip_heatmaps(t)), t)

    # joint subset (arms): channel order kept, partners swapped
    arms = MPII.subset((10, 11, 12, 13, 14, 15))
    sub = rng.uniform(0, 22, (6, 2))
    np.testing.assert_allclose(flip_keypoints(flip_keypoints(sub, 23, arms), 23, arms), sub)
    with pytest.raises(ValueError):
        flip_keypoints(sub[:3], 23, MPII.subset((10, 11, 12)))

    # names: after the flip, "l_ankle" holds the mirrored r_ankle, and vice versa
    j = np.zeros((16, 2))
    j[joint_index("r_ankle")] = [3.0, 7.0]
    j[joint_index("l_wrist")] = [20.0, 1.0]
    f = flip_keypoints(j, 23)
    np.testing.assert_array_equal(f[joint_index("l_ankle")], [19.0, 7.0])
    np.testing.assert_array_equal(f[joint_index("r_wrist")], [2.0, 1.0])
    np.testing.assert_array_equal(f[joint_index("pelvis")], [22.0, 0.0])
    names = np.array(MPII.names)
    flipped_names = flip_joint_axis(names)
    assert flipped_names[joint_index("r_knee")] == "l_knee" and flipped_names[joint_index("thorax")] == "thorax"

    # heat-map channels: the r_ankle peak appears mirrored in the l_ankle channel
    h = np.zeros((16, 8, 9), np.float32)
    h[joint_index("r_ankle"), 2, 1] = 1.0
    fh = flip_heatmaps(h)
    assert fh[joint_index("l_ankle"), 2, 7] == 1.0 and fh.sum() == 1.0


def test_flip_keypoints_follows_flip_image():
    img = _blob_image(50, 70, (12.0, 30.0))
    y, x = np.unravel_index(np.argmax(flip_image(img)[..., 1]), (50, 70))
    j = np.zeros((16, 2))
    j[0] = [12.0, 30.0]
    np.testing.assert_array_equal(flip_keypoints(j, 70)[5], [x, y])
    # the crop-frame flip affine is the same mirror
    np.testing.assert_array_equal(affine_points([12.0, 30.0], hflip_affine(70)), [x, y])


def test_sample_augmentation_ranges_and_reproducibility():
    cfg = AugmentConfig(scale_min=0.7, scale_max=1.3, rotation=40.0, rotation_prob=0.6, brightness=0.3, contrast=0.1)
    rng = np.random.default_rng(5)
    draws = [sample_augmentation(cfg, rng) for _ in range(2000)]
    s = np.array([d.scale_mult for d in draws])
    r = np.array([d.rot_deg for d in draws])
    f = np.array([d.flip for d in draws])
    b = np.array([d.brightness for d in draws])
    c = np.array([d.contrast for d in draws])
    assert s.min() >= 0.7 and s.max() <= 1.3 and s.max() - s.min() > 0.55
    assert np.abs(r).max() <= 40.0 and np.abs(r).max() > 38
    assert 0.55 < np.mean(r != 0) < 0.65
    assert 0.45 < f.mean() < 0.55
    assert b.min() >= 0.7 and b.max() <= 1.3 and c.min() >= 0.9 and c.max() <= 1.1
    again = [sample_augmentation(cfg, np.random.default_rng(5)) for _ in range(1)]
    assert again[0] == draws[0]

    off = sample_augmentation(AugmentConfig(enabled=False), np.random.default_rng(0))
    assert off == AugParams()
    no_flip = [sample_augmentation(AugmentConfig(flip=False, rotation_prob=0.0), rng) for _ in range(200)]
    assert not any(d.flip for d in no_flip) and all(d.rot_deg == 0.0 for d in no_flip)


def test_color_jitter():
    img = np.full((4, 5, 3), 100, np.uint8)
    img[0, 0] = 200
    np.testing.assert_array_equal(apply_color_jitter(img, AugParams()), img)
    brighter = apply_color_jitter(img, AugParams(brightness=1.2))
    assert brighter.dtype == np.uint8 and brighter[1, 1, 0] == 120 and brighter[0, 0, 0] == 240
    flat = apply_color_jitter(img.astype(np.float32), AugParams(contrast=0.0))
    np.testing.assert_allclose(flat, img.mean(), rtol=1e-6)
    saturated = apply_color_jitter(img, AugParams(brightness=2.0))
    assert saturated[0, 0, 0] == 255
