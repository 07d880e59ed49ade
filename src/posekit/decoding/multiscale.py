"""Multi-scale + flip test-time augmentation (PBN's benchmark protocol; Tang & Wu 2019, experiments).

Each crop is zoomed about its centre by every test scale, passed through the network (optionally
with its mirror image), and the heat maps are warped back into the heat-map frame of the original
crop, where they are averaged. Averaging in the crop frame means the result decodes like any
single-scale heat map (:class:`posekit.data.targets.HeatmapCodec`, :func:`crop_to_original`).

Zooms use ``torch.nn.functional.affine_grid`` / ``grid_sample`` with ``align_corners=False``: there a
normalised coordinate ``p`` in [-1, 1] spans the image *edges*, so crop pixel ``x`` and heat-map pixel
``u`` with ``u = (x + 0.5) / stride - 0.5`` (docs/conventions.md) share the same ``p``, and a zoom is
the same map in both frames.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from posekit.decoding.inference import predict_heatmaps

#: Six test scales by default, evenly spaced from 0.7 to 1.2 (the values are our choice: the
#: protocol fixes the number of scales, not the values; pass ``scales`` to change them).
DEFAULT_SCALES: tuple[float, ...] = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2)


def zoom(images: torch.Tensor, factor: float) -> torch.Tensor:
    """Zoom ``(B, C, H, W)`` about the image centre by ``factor`` (> 1 enlarges the content; the
    border outside the source is zero), same output size, bilinear.

    Output pixel at normalised position ``p`` samples the input at ``p / factor``.
    """
    b = images.shape[0]
    theta = images.new_zeros(b, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0 / factor
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@torch.no_grad()
def predict_heatmaps_multiscale(model: nn.Module, images: torch.Tensor, scales: Sequence[float] = DEFAULT_SCALES,
                                flip: bool = True, joint_ids: list[int] | None = None) -> torch.Tensor:
    """Last-stack heat maps averaged over test scales (and flips), in the original crop's frame.

    For scale ``s`` the crop is zoomed by ``s`` (the person appears ``s`` times larger, as if the
    person box were ``1/s`` times the size), the network's heat maps (flip-averaged by
    :func:`predict_heatmaps` when ``flip``) are zoomed by ``1/s`` back into the crop frame, and all
    scales are averaged with equal weight. With ``scales=(1.0,)`` this is exactly
    :func:`predict_heatmaps`.

    Args:
        model: returns ``(B, stacks, J, h, w)`` or ``(B, J, h, w)``.
        images: ``(B, 3, S, S)`` normalised crops.
        scales: zoom factors, each > 0 (default: :data:`DEFAULT_SCALES`, six scales).
        flip: also average with the mirrored crops (left/right channels swapped back).
        joint_ids: dataset joint ids of the model's channels (for the flip swap; default all 16).

    Returns:
        ``(B, J, h, w)`` float32 heat maps in the heat-map frame of ``images``.

    Raises:
        ValueError: no scales or a non-positive scale.
    """
    scales = [float(s) for s in scales]
    if not scales or min(scales) <= 0:
        raise ValueError(f"scales must be a non-empty list of positive numbers, got {scales}")
    total = None
    for s in scales:
        inputs = images if s == 1.0 else zoom(images, s)
        heatmaps = predict_heatmaps(model, inputs, flip=flip, joint_ids=joint_ids)
        if s != 1.0:
            heatmaps = zoom(heatmaps, 1.0 / s)
        total = heatmaps if total is None else total + heatmaps
    return total / len(scales)
