"""Heat maps of a batch of crops at test time: the last stack, flip testing (Newell et al. 2016,
Sec. 4) and multi-scale + flip testing (PBN's benchmark protocol; Tang & Wu 2019, Sec. 4.1).

Every network posekit builds returns its heat maps as ``(B, stacks, J, h, w)`` (or a dict whose
``"heatmaps"`` entry is that); :func:`output_heatmaps` takes the last stack.

Multi-scale: each crop is zoomed about its centre by every test scale, passed through the network (optionally
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

from posekit.keypoints import KeypointSet

#: Six test scales by default, evenly spaced from 0.7 to 1.2 (the paper fixes the number of scales,
#: not their values; these are posekit's choice: pass ``scales`` to change them).
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


def output_heatmaps(out) -> torch.Tensor:
    """The last stack's heat maps ``(B, J, h, w)`` of a network output: ``(B, stacks, J, h, w)``,
    ``(B, J, h, w)`` or a dict holding ``"heatmaps"``.

    Raises:
        ValueError: a dict without ``"heatmaps"`` (e.g. a segmentation-only multi-task model).
    """
    if isinstance(out, dict):
        if "heatmaps" not in out:
            raise ValueError(f"the model predicts no heat maps (its outputs: {', '.join(out)})")
        out = out["heatmaps"]
    return out[:, -1] if out.dim() == 5 else out


@torch.no_grad()
def predict_heatmaps(model: nn.Module, images: torch.Tensor, flip: bool = False,
                     keypoints: KeypointSet | None = None) -> torch.Tensor:
    """Last-stack heat maps for a batch of crops, optionally averaged with the flipped crops.

    Flip testing (Newell 2016, Sec. 4): the crops are mirrored, passed through the network, and the
    resulting heat maps are mirrored back and their left/right channels swapped before averaging.

    Args:
        model: a posekit network (see :func:`output_heatmaps`).
        images: ``(B, 3, S, S)`` crops, RGB in [0, 1].
        flip: average with the flipped prediction.
        keypoints: the keypoints of the model's channels (needed for ``flip``: the left/right swap).

    Returns:
        ``(B, J, h, w)`` float32 heat maps (heat-map frame of the crop).

    Raises:
        ValueError: ``flip`` without ``keypoints``, or a set lacking a mirror partner.
    """
    heatmaps = output_heatmaps(model(images))
    if flip:
        if keypoints is None:
            raise ValueError("flip testing needs the model's keypoint set (its left/right pairs)")
        perm = keypoints.flip_permutation()
        flipped = output_heatmaps(model(torch.flip(images, dims=[3])))
        heatmaps = 0.5 * (heatmaps + torch.flip(flipped, dims=[3])[:, perm])
    return heatmaps.float()


@torch.no_grad()
def predict_heatmaps_multiscale(model: nn.Module, images: torch.Tensor, scales: Sequence[float] = DEFAULT_SCALES,
                                flip: bool = True, keypoints: KeypointSet | None = None) -> torch.Tensor:
    """Last-stack heat maps averaged over test scales (and flips), in the original crop's frame.

    For scale ``s`` the crop is zoomed by ``s`` (the person appears ``s`` times larger, as if the
    person box were ``1/s`` times the size), the network's heat maps (flip-averaged by
    :func:`predict_heatmaps` when ``flip``) are zoomed by ``1/s`` back into the crop frame, and all
    scales are averaged with equal weight. With ``scales=(1.0,)`` this is exactly
    :func:`predict_heatmaps`.

    Args:
        model: a posekit network (see :func:`output_heatmaps`).
        images: ``(B, 3, S, S)`` crops, RGB in [0, 1].
        scales: zoom factors, each > 0 (default: :data:`DEFAULT_SCALES`, six scales).
        flip: also average with the mirrored crops (left/right channels swapped back).
        keypoints: the keypoints of the model's channels (for the flip swap).

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
        heatmaps = predict_heatmaps(model, inputs, flip=flip, keypoints=keypoints)
        if s != 1.0:
            heatmaps = zoom(heatmaps, 1.0 / s)
        total = heatmaps if total is None else total + heatmaps
    return total / len(scales)
