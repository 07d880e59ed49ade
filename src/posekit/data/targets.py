"""The heat-map codec: keypoints in crop pixels <-> Gaussian heat maps.

Convention (used by both :meth:`HeatmapCodec.encode` and :meth:`HeatmapCodec.decode`, so a round
trip is exact at heat-map pixel centres): with ``stride = input_size / heatmap_size``, heat-map pixel
``u`` (integer = pixel centre) covers crop pixels ``u * stride ... (u + 1) * stride - 1``, so its
centre is the crop point ``x = (u + 0.5) * stride - 0.5``; conversely ``u = (x + 0.5) / stride - 0.5``.
This centre-aligned mapping is the one under which mirroring commutes with the codec: the crop
mirror ``x -> S - 1 - x`` becomes exactly the heat-map mirror ``u -> w - 1 - u``, so flip testing
needs no ad-hoc pixel shift (HRNet's one-pixel shift approximates the 1 - 1/stride offset that the
plain ``u = x / stride`` mapping leaves).

Targets are 2D Gaussians (Tompson et al. 2014; Newell et al. 2016, Sec. 3.4) of standard deviation
``sigma`` heat-map px, centred at the *unrounded* position ``u``, with peak 1 (reached exactly when
``u`` falls on a pixel centre), truncated to the square ``|i - u_x| <= 3 sigma, |j - u_y| <= 3 sigma``.

Decoding takes the arg-max pixel and moves it a quarter pixel toward the higher neighbour along
x and along y (Newell et al. 2016 evaluation code; HRNet ``get_final_preds``), then multiplies by
``stride``.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["HeatmapCodec", "decode_heatmaps"]


def decode_heatmaps(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Arg-max + quarter-offset decoding of a batch of heat maps, in heat-map px.

    For each map the arg-max pixel ``(x, y)`` is found; then ``x += 0.25 * sign(H[y, x+1] - H[y, x-1])``
    when ``0 < x < w - 1`` (no shift on the border), and the same along y. Differentiable nowhere,
    runs on any device, no Python loops.

    Args:
        heatmaps: (B, J, h, w) tensor (any float dtype).

    Returns:
        coords: (B, J, 2) float32 (x, y) heat-map px (integer = pixel centre).
        maxvals: (B, J) float32 heat-map value at the arg-max (confidence; 0 for an all-zero map,
            whose coords are then (0, 0)).

    Raises:
        ValueError: ``heatmaps`` is not 4-D.
    """
    if heatmaps.ndim != 4:
        raise ValueError(f"heatmaps must be (B, J, h, w), got shape {tuple(heatmaps.shape)}")
    b, j, h, w = heatmaps.shape
    flat = heatmaps.detach().reshape(b, j, h * w).float()
    maxvals, idx = flat.max(dim=-1)
    x = idx % w
    y = torch.div(idx, w, rounding_mode="floor")

    def at(offset: int) -> torch.Tensor:
        return flat.gather(-1, (idx + offset).clamp(0, h * w - 1).unsqueeze(-1)).squeeze(-1)

    dx = torch.sign(at(1) - at(-1)) * ((x > 0) & (x < w - 1))
    dy = torch.sign(at(w) - at(-w)) * ((y > 0) & (y < h - 1))
    coords = torch.stack([x.float() + 0.25 * dx, y.float() + 0.25 * dy], dim=-1)
    return coords, maxvals


class HeatmapCodec:
    """Encode crop-pixel keypoints as Gaussian heat maps and decode heat maps back (see module doc).

    Args:
        input_size: crop side ``S``, crop px.
        heatmap_size: heat-map side ``h``, heat-map px.
        sigma: Gaussian standard deviation, heat-map px.

    Attributes:
        stride: ``input_size / heatmap_size`` crop px per heat-map px (float).

    Raises:
        ValueError: non-positive sizes or sigma.
    """

    def __init__(self, input_size: int = 256, heatmap_size: int = 64, sigma: float = 1.0):
        if input_size <= 0 or heatmap_size <= 0 or sigma <= 0:
            raise ValueError(
                f"input_size, heatmap_size and sigma must be > 0, got {input_size}, {heatmap_size}, {sigma}"
            )
        self.input_size = int(input_size)
        self.heatmap_size = int(heatmap_size)
        self.sigma = float(sigma)
        self.stride = self.input_size / self.heatmap_size

    def __repr__(self) -> str:
        return f"HeatmapCodec(input_size={self.input_size}, heatmap_size={self.heatmap_size}, sigma={self.sigma})"

    def crop_to_heatmap(self, points: np.ndarray) -> np.ndarray:
        """Crop px -> heat-map px: ``u = (x + 0.5) / stride - 0.5``. (..., 2) -> (..., 2)."""
        return (np.asarray(points, dtype=np.float64) + 0.5) / self.stride - 0.5

    def heatmap_to_crop(self, points):
        """Heat-map px -> crop px: ``x = (u + 0.5) * stride - 0.5``. (..., 2) numpy array or tensor."""
        return (points + 0.5) * self.stride - 0.5

    def encode(self, keypoints: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Gaussian target heat maps for one sample.

        Args:
            keypoints: (J, 2) (x, y) crop px.
            weights: (J,) per-joint weight (e.g. 1 = annotated, 0 = unannotated); default all 1.

        Returns:
            heatmaps: (J, h, h) float32; the map of a joint with weight 0 is all zero.
            target_weight: (J,) float32 = ``weights``, but 0 for joints whose coordinates are not
                finite or whose truncated Gaussian lies entirely outside the heat map.

        Raises:
            ValueError: shapes do not match.
        """
        kp = np.asarray(keypoints, dtype=np.float64)
        if kp.ndim != 2 or kp.shape[1] != 2:
            raise ValueError(f"keypoints must be (J, 2), got shape {kp.shape}")
        j = kp.shape[0]
        wts = np.ones(j) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
        if wts.shape != (j,):
            raise ValueError(f"weights must be ({j},), got shape {wts.shape}")
        size, radius = self.heatmap_size, 3.0 * self.sigma
        finite = np.isfinite(kp).all(axis=1)
        mu = np.where(finite[:, None], self.crop_to_heatmap(np.nan_to_num(kp)), 0.0)
        # the truncation square must overlap at least one pixel centre 0..size-1 on both axes
        inside = np.all((mu >= -radius) & (mu <= size - 1 + radius), axis=1)
        target_weight = np.where(finite & inside, wts, 0.0)

        grid = np.arange(size, dtype=np.float64)
        d = grid[None, None, :] - mu[:, :, None]  # (J, 2, size): distance along x and along y
        g = np.exp(-(d**2) / (2.0 * self.sigma**2)) * (np.abs(d) <= radius)
        heatmaps = g[:, 1, :, None] * g[:, 0, None, :]  # (J, y, x)
        heatmaps[target_weight == 0] = 0.0
        return heatmaps.astype(np.float32), target_weight.astype(np.float32)

    def decode(self, heatmaps):
        """Keypoints in crop px from heat maps (arg-max + quarter offset, see :func:`decode_heatmaps`).

        Args:
            heatmaps: (B, J, h, w) or (J, h, w) numpy array or torch tensor.

        Returns:
            coords: (B, J, 2) (or (J, 2)) (x, y) crop px.
            maxvals: (B, J) (or (J,)) heat-map value at the arg-max.
            Both numpy float32 for numpy input, torch float32 tensors (same device) for tensor input.
        """
        is_numpy = isinstance(heatmaps, np.ndarray)
        t = torch.from_numpy(np.ascontiguousarray(heatmaps)) if is_numpy else heatmaps
        unbatched = t.ndim == 3
        if unbatched:
            t = t.unsqueeze(0)
        coords, maxvals = decode_heatmaps(t)
        coords = self.heatmap_to_crop(coords)
        if unbatched:
            coords, maxvals = coords[0], maxvals[0]
        if is_numpy:
            return coords.cpu().numpy(), maxvals.cpu().numpy()
        return coords, maxvals
