"""From crops to keypoints in original image pixels: back-projection and whole-dataset inference.

The heat-map -> crop-pixel step is the codec's (:class:`posekit.data.targets.HeatmapCodec`); the
heat maps themselves (flip and multi-scale testing) come from :mod:`posekit.decoding.heatmaps`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from posekit.data.targets import HeatmapCodec
from posekit.decoding.heatmaps import predict_heatmaps, predict_heatmaps_multiscale
from posekit.keypoints import KeypointSet


def crop_to_original(coords_crop: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Map crop-pixel coordinates back to original image pixels with the inverse of the crop affine.

    Args:
        coords_crop: ``(B, J, 2)`` x, y in crop pixels.
        affine: ``(B, 2, 3)`` original -> crop affine matrices (as the dataset returns them).

    Returns:
        ``(B, J, 2)`` x, y in original image pixels.
    """
    coords_crop = np.asarray(coords_crop, dtype=np.float64)
    affine = np.asarray(affine, dtype=np.float64)
    full = np.concatenate([affine, np.broadcast_to([0.0, 0.0, 1.0], affine.shape[:-2] + (1, 3))], axis=-2)
    inv = np.linalg.inv(full)[..., :2, :]                                  # (B, 2, 3)
    return np.einsum("bij,bkj->bki", inv[..., :2], coords_crop) + inv[:, None, :, 2]


def heatmaps_to_original(codec: HeatmapCodec, heatmaps: np.ndarray,
                         affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints in original image pixels from heat maps, in the codec's decoding convention.

    Arg-max and quarter offset in heat-map px, to crop px (:meth:`HeatmapCodec.decode`), to original
    px with the inverse crop affine (:func:`crop_to_original`), then the convention's rounding
    (:meth:`HeatmapCodec.round_original`).

    Args:
        heatmaps: ``(B, J, h, w)`` in the heat-map frame of the crops.
        affine: ``(B, 2, 3)`` original -> crop affines.

    Returns:
        ``(preds (B, J, 2) original px, maxvals (B, J))``.
    """
    coords, conf = codec.decode(np.asarray(heatmaps))
    return codec.round_original(crop_to_original(coords, affine)), conf


@torch.no_grad()
def run_inference(model: nn.Module, dataset, codec: HeatmapCodec, batch_size: int = 32, flip: bool = False,
                  device: str | torch.device = "cpu", keypoints: KeypointSet | None = None,
                  num_workers: int = 0, scales: list[float] | None = None,
                  memory_format: torch.memory_format = torch.contiguous_format) -> tuple[np.ndarray, np.ndarray]:
    """Predict keypoints for every sample of a :class:`posekit.data.dataset.PoseDataset`.

    ``scales`` (e.g. six zooms around 1.0) switches to multi-scale testing
    (:func:`posekit.decoding.heatmaps.predict_heatmaps_multiscale`, flip-averaged when ``flip``).

    Args:
        keypoints: the model's channel keypoints (needed for ``flip``).

    Returns:
        ``(preds, maxvals)``: ``(N, J, 2)`` keypoints in original image pixels (``codec``'s decoding
        convention, :func:`heatmaps_to_original`) and ``(N, J)`` heat-map peak values (the per-joint
        confidence), in dataset order.
    """
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    preds, maxvals = [], []
    for batch in loader:
        images = batch["image"].to(device).contiguous(memory_format=memory_format)
        if scales:
            heatmaps = predict_heatmaps_multiscale(model, images, scales, flip=flip, keypoints=keypoints)
        else:
            heatmaps = predict_heatmaps(model, images, flip=flip, keypoints=keypoints)
        coords, conf = heatmaps_to_original(codec, heatmaps.cpu().numpy(), batch["affine"].numpy())
        preds.append(coords)
        maxvals.append(conf)
    return np.concatenate(preds), np.concatenate(maxvals)
