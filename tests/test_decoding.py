"""Back-projection to original pixels and flip testing."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from posekit.data.targets import HeatmapCodec
from posekit.data.transforms import affine_points, get_affine_transform
from posekit.decoding import crop_to_original, predict_heatmaps
from posekit.keypoints import MPII

NUM_JOINTS = len(MPII)


def test_crop_to_original_inverts_the_crop_affine():
    rng = np.random.default_rng(0)
    affines, pts = [], []
    for _ in range(5):
        m = get_affine_transform(rng.uniform(100, 500, 2), rng.uniform(1, 5), rng.uniform(-30, 30), 256, 1.25)
        p = rng.uniform(0, 600, (16, 2))
        affines.append(m)
        pts.append(p)
    crop = np.stack([affine_points(p, m) for p, m in zip(pts, affines)])
    np.testing.assert_allclose(crop_to_original(crop, np.stack(affines)), np.stack(pts), atol=1e-8)


class MirrorEquivariantModel(nn.Module):
    """Finds the brightest pixel (x, y) of channel 0 and predicts right joints at (x + 8, y), left
    joints at (x - 8, y), centre joints at (x, y): a perfectly mirror-equivariant 'network'."""

    def __init__(self, codec: HeatmapCodec):
        super().__init__()
        self.codec = codec
        side = {"right": 8.0, "left": -8.0, "center": 0.0}
        self.offsets = np.array([side[MPII.side(n)] for n in MPII.names])

    def forward(self, images):
        out = []
        for img in images:
            y, x = np.unravel_index(int(img[0].argmax()), img.shape[1:])
            kp = np.stack([x + self.offsets, np.full(NUM_JOINTS, float(y))], axis=1)
            out.append(self.codec.encode(kp)[0])
        return torch.from_numpy(np.stack(out))[:, None]  # (B, 1 stack, J, h, w)


def test_flip_test_of_an_equivariant_model_equals_the_plain_prediction():
    codec = HeatmapCodec(64, 16, sigma=1.0)
    model = MirrorEquivariantModel(codec)
    images = torch.zeros(3, 3, 64, 64)
    for b, (x, y) in enumerate([(20, 30), (33, 17), (41, 44)]):  # odd and even columns: sub-pixel maps
        images[b, 0, y, x] = 1.0
    plain = predict_heatmaps(model, images, flip=False)
    flipped = predict_heatmaps(model, images, flip=True, keypoints=MPII)
    torch.testing.assert_close(flipped, plain, atol=1e-6, rtol=0)
    coords, _ = codec.decode(plain.numpy())
    assert np.allclose(coords[0, 10], [28.0, 30.0], atol=1.0)  # r_wrist right of the dot


def test_flip_test_needs_the_keypoint_set():
    import pytest

    model = MirrorEquivariantModel(HeatmapCodec(64, 16, sigma=1.0))
    with pytest.raises(ValueError, match="keypoint set"):
        predict_heatmaps(model, torch.zeros(1, 3, 64, 64), flip=True)


def test_predictor_crops_and_decodes_as_the_artifact_says():
    """The crop protocol and the decoding come from the model artifact: the MPII box (x 1.25, centre
    y + 15 x scale) for new artifacts, no shift for artifacts written before ``center_shift``
    existed, and a --bbox is covered exactly whatever the shift."""
    import dataclasses

    from posekit.checkpoint import make_artifact
    from posekit.decoding.predictor import PosePredictor
    from posekit.models import create_model

    model = create_model("hourglass", num_stacks=1, num_features=8, depth=2, stem_width=4)
    art = make_artifact(model.posekit_spec, MPII, input_size=64, heatmap_size=16, sigma=1.0, flip_test=False)
    image = np.zeros((300, 400, 3), np.uint8)
    new = PosePredictor(model, art).predict(image, center=(200.0, 100.0), scale=0.8)
    np.testing.assert_allclose(affine_points([200.0, 100.0 + 15 * 0.8], new.affine), [32.0, 32.0], atol=1e-9)
    assert new.affine[0, 0] == 64 / (0.8 * 200 * 1.25)
    old_art = dataclasses.replace(art, crop={"mode": "center_scale", "scale_factor": 1.25, "input_size": 64})
    old = PosePredictor(model, old_art).predict(image, center=(200.0, 100.0), scale=0.8)
    np.testing.assert_allclose(affine_points([200.0, 100.0], old.affine), [32.0, 32.0], atol=1e-9)
    boxed = PosePredictor(model, art).predict(image, bbox=(100.0, 50.0, 300.0, 150.0))
    np.testing.assert_allclose(affine_points([[100.0, 0.0], [300.0, 200.0]], boxed.affine), [[0, 0], [64, 64]],
                               atol=1e-9)
    bear = dataclasses.replace(art, codec=dict(art.codec, decoding="bearpaw"))
    pred = PosePredictor(model, bear).predict(image, center=(200.0, 100.0), scale=0.8)
    np.testing.assert_array_equal(pred.keypoints, np.trunc(pred.keypoints))
