"""From crops to keypoints in original image pixels: forward pass, flip testing, back-projection.

The heat-map -> crop-pixel step is the codec's (:class:`posekit.data.targets.HeatmapCodec`); this
module adds what happens around it at test time.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from posekit.data.targets import HeatmapCodec
from posekit.joints import flip_permutation


@torch.no_grad()
def predict_heatmaps(model: nn.Module, images: torch.Tensor, flip: bool = False,
                     joint_ids: list[int] | None = None) -> torch.Tensor:
    """Last-stack heat maps for a batch of crops, optionally averaged with the flipped crops.

    Flip testing (Newell 2016, Sec. 4): the crops are mirrored, passed through the network, and the
    resulting heat maps are mirrored back and their left/right channels swapped before averaging.

    Args:
        model: returns ``(B, stacks, J, h, w)`` or ``(B, J, h, w)``.
        images: ``(B, 3, S, S)`` normalised crops.
        flip: average with the flipped prediction.
        joint_ids: dataset joint ids of the model's channels (for the left/right swap; default all 16).

    Returns:
        ``(B, J, h, w)`` float32 heat maps (heat-map frame of the crop).
    """
    out = model(images)
    heatmaps = out[:, -1] if out.dim() == 5 else out
    if flip:
        out_f = model(torch.flip(images, dims=[3]))
        flipped = out_f[:, -1] if out_f.dim() == 5 else out_f
        perm = flip_permutation(joint_ids)
        heatmaps = 0.5 * (heatmaps + torch.flip(flipped, dims=[3])[:, perm])
    return heatmaps.float()


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


@torch.no_grad()
def run_inference(model: nn.Module, dataset, codec: HeatmapCodec, batch_size: int = 32, flip: bool = False,
                  device: str | torch.device = "cpu", joint_ids: list[int] | None = None,
                  num_workers: int = 0, scales: list[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Predict keypoints for every sample of a :class:`posekit.data.dataset.PoseDataset`.

    ``scales`` (e.g. six zooms around 1.0) switches to multi-scale testing
    (:func:`posekit.decoding.multiscale.predict_heatmaps_multiscale`, flip-averaged when ``flip``).

    Returns:
        ``(preds, maxvals)``: ``(N, J, 2)`` keypoints in original image pixels and ``(N, J)`` heat-map
        peak values (the per-joint confidence), in dataset order.
    """
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    preds, maxvals = [], []
    for batch in loader:
        images = batch["image"].to(device)
        if scales:
            from posekit.decoding.multiscale import predict_heatmaps_multiscale

            heatmaps = predict_heatmaps_multiscale(model, images, scales, flip=flip, joint_ids=joint_ids)
        else:
            heatmaps = predict_heatmaps(model, images, flip=flip, joint_ids=joint_ids)
        coords, conf = codec.decode(heatmaps.cpu().numpy())
        preds.append(crop_to_original(coords, batch["affine"].numpy()))
        maxvals.append(conf)
    return np.concatenate(preds), np.concatenate(maxvals)
