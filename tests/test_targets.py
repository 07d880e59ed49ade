"""Tests for posekit.data.targets: Gaussian encoding and arg-max + quarter-offset decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.data.targets import HeatmapCodec, decode_heatmaps


def test_peak_position_value_and_sigma():
    codec = HeatmapCodec(input_size=256, heatmap_size=64, sigma=2.0)
    assert codec.stride == 4.0
    kp = np.array([[41.5, 101.5]])  # heat-map centre (10, 25): x = (u + 0.5) * 4 - 0.5
    hm, w = codec.encode(kp, np.ones(1))
    assert hm.shape == (1, 64, 64) and hm.dtype == np.float32 and w.dtype == np.float32
    assert w[0] == 1.0
    assert np.unravel_index(np.argmax(hm[0]), (64, 64)) == (25, 10)  # (row y, column x)
    assert hm[0, 25, 10] == pytest.approx(1.0)
    assert hm[0, 25, 11] == pytest.approx(np.exp(-1 / (2 * 4.0)))  # 1 px at sigma 2
    assert hm[0, 27, 10] == pytest.approx(np.exp(-4 / (2 * 4.0)))  # 2 px
    assert hm[0, 26, 11] == pytest.approx(np.exp(-2 / (2 * 4.0)))  # diagonal
    # truncation at 3 sigma = 6 px: inside up to 6, zero beyond
    assert hm[0, 25, 16] > 0 and hm[0, 25, 17] == 0 and hm[0, 19, 10] > 0 and hm[0, 18, 10] == 0


def test_sigma_one_neighbour_value():
    codec = HeatmapCodec(128, 32, sigma=1.0)
    hm, _ = codec.encode(np.array([[65.5, 33.5]]))  # heat-map centre (16, 8)
    assert hm[0, 8, 16] == pytest.approx(1.0)
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        assert hm[0, 8 + dy, 16 + dx] == pytest.approx(np.exp(-0.5))


def test_integer_positions_round_trip_exactly():
    codec = HeatmapCodec(256, 64, sigma=1.0)
    rng = np.random.default_rng(0)
    hm_pts = rng.integers(0, 64, (16, 2)).astype(np.float64)
    hm, w = codec.encode(codec.heatmap_to_crop(hm_pts), np.ones(16))
    coords, maxvals = codec.decode(hm[None])
    assert coords.shape == (1, 16, 2) and maxvals.shape == (1, 16)
    np.testing.assert_array_equal(coords[0], (hm_pts + 0.5) * 4.0 - 0.5)
    np.testing.assert_allclose(maxvals[0], 1.0)


def test_subpixel_round_trip_within_quarter_pixel():
    codec = HeatmapCodec(256, 64, sigma=1.5)
    rng = np.random.default_rng(1)
    kp = rng.uniform(4.0, 248.0, (500, 2))  # crop px; heat-map 1..62, arg-max never on the border
    hm, _ = codec.encode(kp, np.ones(len(kp)))
    coords, _ = codec.decode(torch.from_numpy(hm)[None])
    assert isinstance(coords, torch.Tensor)
    err_hm = np.abs(coords[0].numpy() - kp) / codec.stride
    assert err_hm.max() <= 0.25 + 1e-6  # quarter offset: |u - (round(u) +/- 0.25)| <= 0.25
    assert err_hm.mean() < 0.15
    # anywhere between the first and last heat-map pixel centres (crop 1.5..253.5), borders
    # included (no shift there): within half a heat-map pixel
    kp = rng.uniform(1.5, 253.5, (500, 2))
    coords, _ = codec.decode(codec.encode(kp)[0])
    assert (np.abs(coords - kp) / codec.stride).max() <= 0.5


def test_quarter_offset_direction_and_border():
    hm = torch.zeros(1, 3, 5, 6)
    hm[0, 0, 2, 3] = 1.0
    hm[0, 0, 2, 4] = 0.5  # right neighbour higher -> +0.25 in x
    hm[0, 0, 1, 3] = 0.2  # upper neighbour higher -> -0.25 in y
    hm[0, 1, 0, 5] = 1.0  # corner: no shift
    hm[0, 1, 0, 4] = 0.9
    coords, maxvals = decode_heatmaps(hm)
    torch.testing.assert_close(coords[0, 0], torch.tensor([3.25, 1.75]))
    torch.testing.assert_close(coords[0, 1], torch.tensor([5.0, 0.0]))
    torch.testing.assert_close(coords[0, 2], torch.tensor([0.0, 0.0]))  # empty map
    torch.testing.assert_close(maxvals[0], torch.tensor([1.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match=r"\(B, J, h, w\)"):
        decode_heatmaps(hm[0])


def test_unannotated_and_outside_joints_get_zero_weight():
    codec = HeatmapCodec(128, 32, sigma=1.0)
    kp = np.array([
        [65.5, 65.5],      # inside, on heat-map centre (16, 16)
        [65.5, 65.5],      # unannotated (weight 0)
        [-20.0, 65.5],     # hm x = -5.375: Gaussian (radius 3) entirely left of the map
        [65.5, 140.0],     # hm y = 34.625: entirely below the map (last row 31, 34.625 - 3 > 31)
        [-10.0, 65.5],     # hm x = -2.875: Gaussian tail reaches column 0
        [np.nan, 3.0],     # not finite
    ])
    hm, w = codec.encode(kp, np.array([1, 0, 1, 1, 1, 1]))
    np.testing.assert_array_equal(w, [1, 0, 0, 0, 1, 0])
    assert hm[0].max() == pytest.approx(1.0)
    for j in (1, 2, 3, 5):
        assert not hm[j].any()
    assert 0 < hm[4].max() < 0.1 and hm[4][:, 0].argmax() == 16
    with pytest.raises(ValueError):
        codec.encode(kp, np.ones(3))


def test_unbatched_numpy_decode_and_heatmap_scaling():
    codec = HeatmapCodec(192, 48, sigma=2.0)
    kp = np.array([[97.5, 41.5], [9.5, 181.5]])  # heat-map centres (24, 10), (2, 45)
    hm, _ = codec.encode(kp)
    coords, maxvals = codec.decode(hm)
    assert isinstance(coords, np.ndarray) and coords.shape == (2, 2) and maxvals.shape == (2,)
    np.testing.assert_array_equal(coords, kp)
    np.testing.assert_allclose(codec.crop_to_heatmap(kp), (kp + 0.5) / 4.0 - 0.5)
    np.testing.assert_allclose(codec.heatmap_to_crop(codec.crop_to_heatmap(kp)), kp)


def test_mirroring_commutes_with_encoding():
    """Encoding the mirrored crop's keypoints (x -> S - 1 - x) gives exactly the mirrored heat maps
    (u -> w - 1 - u), at sub-pixel positions too: flip testing needs no pixel shift."""
    from posekit.data.transforms import flip_heatmaps, flip_keypoints

    codec = HeatmapCodec(128, 32, sigma=1.0)
    kp = np.random.default_rng(3).uniform(10.0, 118.0, (16, 2))
    hm, _ = codec.encode(kp)
    hm_of_mirror, _ = codec.encode(flip_keypoints(kp, 128))
    np.testing.assert_allclose(flip_heatmaps(hm_of_mirror), hm, atol=1e-6)


# ------------------------------------------------------------------------------ decoding conventions
def _map(h: int = 8, w: int = 8, peak=(3, 2), value: float = 0.9, **neighbours) -> np.ndarray:
    """One (1, 1, h, w) map: ``value`` at ``peak`` (x, y), given neighbour values (right/left/down/up)."""
    m = np.full((1, 1, h, w), 0.1, np.float32)
    x, y = peak
    for name, (dx, dy) in {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}.items():
        if name in neighbours:
            m[0, 0, y + dy, x + dx] = neighbours[name]
    m[0, 0, y, x] = value
    return m


def _crop(decoding: str, heatmap: np.ndarray) -> np.ndarray:
    return HeatmapCodec(32, 8, 1.0, decoding).decode(heatmap)[0][0, 0]   # stride 4


def test_decoding_conventions_on_hand_made_maps():
    right_higher = _map(right=0.5, left=0.2, down=0.3, up=0.3)      # x: right higher; y: a tie
    assert _crop("posekit", right_higher).tolist() == [(3.25 + 0.5) * 4 - 0.5, (2 + 0.5) * 4 - 0.5]
    assert _crop("bearpaw", right_higher).tolist() == [(3.25 + 0.5) * 4, (2 + 0.5) * 4]
    assert _crop("princeton", right_higher).tolist() == [(3.25 + 0.5) * 4, (1.75 + 0.5) * 4]   # ties go down
    on_border = _map(peak=(0, 5), right=0.5, down=0.4, up=0.2)      # x on the left border
    assert _crop("posekit", on_border).tolist() == [0.5 * 4 - 0.5, 5.75 * 4 - 0.5]
    assert _crop("bearpaw", on_border).tolist() == [0.5 * 4, 5.5 * 4]          # no step on either axis
    # princeton compares the right neighbour with the clamped left one, the peak itself: a step left
    assert _crop("princeton", on_border).tolist() == [(0 - 0.25 + 0.5) * 4, 5.75 * 4]
    negative = _map(value=0.9) - 2.0                                          # peak -1.1, all else -1.9
    assert _crop("posekit", negative).tolist() == [3 * 4 + 1.5, 2 * 4 + 1.5]
    assert _crop("bearpaw", negative).tolist() == [-2.0, -2.0]                 # heat-map pixel -1
    # princeton: its 3x3 suppression zeroes the peak's neighbours, the first of them (2, 1) wins; no offset
    assert _crop("princeton", negative).tolist() == [2 * 4.0, 1 * 4.0]
    above_one = _map(value=1.3, right=1.2, left=0.3)                          # a tie once clamped at 1
    heat, conf = HeatmapCodec(32, 8, 1.0, "princeton").decode(above_one)
    assert heat[0, 0].tolist() == [(3 + 0.25 + 0.5) * 4, (2 - 0.25 + 0.5) * 4] and conf[0, 0] == 1.0
    assert _crop("posekit", above_one).tolist() == [(3 + 0.25 + 0.5) * 4 - 0.5, (2 + 0.5) * 4 - 0.5]
    with pytest.raises(ValueError, match="unknown heat-map decoding 'hrnet'"):
        HeatmapCodec(32, 8, 1.0, "hrnet")


def test_round_original_truncates_like_the_references():
    pts = np.array([[12.7, -3.7], [np.nan, 0.2]])
    np.testing.assert_array_equal(HeatmapCodec(decoding="posekit").round_original(pts), pts)
    np.testing.assert_array_equal(HeatmapCodec(decoding="princeton").round_original(pts), [[12, -3], [np.nan, 0]])
    np.testing.assert_array_equal(HeatmapCodec(decoding="bearpaw").round_original(pts), [[13, -2], [np.nan, 1]])


@pytest.mark.parametrize("decoding", ["princeton", "bearpaw"])
def test_decoding_reproduces_the_reference_code(decoding):
    """Six sets of 16 planted 64 x 64 maps (generic, x / y on the border, peaks above 1, equal
    neighbours, all negative) decoded to original pixels exactly as princeton's test.py
    (inference -> HeatmapParser -> post_process) and bearpaw's final_preds do
    (tests/fixtures/reference/README.md)."""
    from pathlib import Path

    from reference_data import decoding_heatmaps

    from posekit.data.transforms import get_affine_transform
    from posekit.decoding.inference import heatmaps_to_original

    maps, centers, scales = decoding_heatmaps()
    expected = np.load(Path(__file__).resolve().parent / "fixtures" / "reference" / "decoding.npz")[decoding]
    affines = np.stack([get_affine_transform(c, s, 0.0, 256) for c, s in zip(centers, scales)])
    got, _ = heatmaps_to_original(HeatmapCodec(256, 64, 1.0, decoding), maps, affines)
    np.testing.assert_array_equal(got, expected)
    # posekit's own convention keeps sub-pixel values and differs by about half a crop pixel
    mine, _ = heatmaps_to_original(HeatmapCodec(256, 64, 1.0), maps[:1], affines[:1])
    assert 0 < np.abs(mine - expected[:1]).max() < 3
