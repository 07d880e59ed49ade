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
x and along y (Newell et al. 2016 evaluation code; HRNet ``get_final_preds``), then maps it to crop
pixels.

**Decoding conventions** (:data:`DECODINGS`, the model artifact's ``codec["decoding"]``). A network
trained elsewhere learnt that repository's encoder, so it must be decoded with that repository's
inverse, not with posekit's:

* ``posekit`` (default): the inverse of :meth:`HeatmapCodec.encode` above,
  ``x = (u + q + 0.5) * stride - 0.5`` with ``q = 0.25 * sign(right - left)`` on interior pixels,
  sub-pixel results kept. Because it is the exact inverse of posekit's own targets (a target decoded
  lands on its keypoint, and the flip mirror is exact), it stays the default for posekit-trained
  models.
* ``princeton`` (princeton-vl/pytorch_stacked_hourglass, ``utils/group.py`` ``HeatmapParser`` and
  ``test.py``): its targets sit at ``floor(x / stride)``, so it decodes ``x = (u + q + 0.5) * stride``;
  flip-averaged heat maps are clamped at 1 first; the arg-max follows a 3x3 non-maximum suppression
  that zeroes every other pixel (so a map whose maximum is <= 0 decodes to its first suppressed
  pixel); ``q = +0.25`` when the right (lower) neighbour is strictly higher than the left (upper)
  one, else ``-0.25`` (ties included), neighbours clamped at the border; no quarter step and no
  half-pixel offset when the peak is <= 0; the original-pixel result is truncated toward zero.
* ``bearpaw`` (bearpaw/pytorch-pose, ``pose/utils/evaluation.py`` ``final_preds`` and
  ``pose/utils/transforms.py`` ``transform``): ``x = (u + q + 0.5) * stride`` with
  ``q = 0.25 * sign(right - left)`` only when the peak is inside the border on *both* axes; a peak
  <= 0 decodes as heat-map pixel -1; in original pixels the result is truncated toward zero and then
  1 is added (the MATLAB 1-based frame of its annotations).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["HeatmapCodec", "decode_heatmaps", "DECODINGS"]

#: Decoding conventions (module docstring).
DECODINGS: tuple[str, ...] = ("posekit", "princeton", "bearpaw")


def _check_decoding(decoding: str) -> str:
    if decoding not in DECODINGS:
        raise ValueError(f"unknown heat-map decoding {decoding!r}; expected one of {', '.join(DECODINGS)}")
    return decoding


def decode_heatmaps(heatmaps: torch.Tensor, decoding: str = "posekit") -> tuple[torch.Tensor, torch.Tensor]:
    """Arg-max + quarter-offset decoding of a batch of heat maps, in heat-map px.

    ``posekit``: for each map the arg-max pixel ``(x, y)`` is found; then
    ``x += 0.25 * sign(H[y, x+1] - H[y, x-1])`` when ``0 < x < w - 1`` (no shift on the border), and
    the same along y. ``princeton`` / ``bearpaw`` follow those repositories' rules (module
    docstring); their results are expressed so that :meth:`HeatmapCodec.heatmap_to_crop` with the
    same convention gives the crop pixel the repository computes. Differentiable nowhere, runs on
    any device, no Python loops.

    Args:
        heatmaps: (B, J, h, w) tensor (any float dtype).
        decoding: one of :data:`DECODINGS`.

    Returns:
        coords: (B, J, 2) float32 (x, y) heat-map px (integer = pixel centre).
        maxvals: (B, J) float32 heat-map value at the arg-max (confidence; 0 for an all-zero map,
            whose coords are then (0, 0) with ``posekit``).

    Raises:
        ValueError: ``heatmaps`` is not 4-D, or an unknown ``decoding``.
    """
    _check_decoding(decoding)
    if heatmaps.ndim != 4:
        raise ValueError(f"heatmaps must be (B, J, h, w), got shape {tuple(heatmaps.shape)}")
    b, j, h, w = heatmaps.shape
    flat = heatmaps.detach().reshape(b, j, h * w).float()
    if decoding == "princeton":
        flat = flat.clamp(max=1.0)
        # its arg-max runs after a 3x3 non-maximum suppression that sets every other pixel to 0, so
        # a map whose maximum is <= 0 yields the first suppressed pixel (value 0)
        maps = flat.reshape(b * j, 1, h, w)
        keep = torch.nn.functional.max_pool2d(maps, 3, stride=1, padding=1) == maps
        maxvals, idx = torch.where(keep, maps, torch.zeros_like(maps)).reshape(b, j, h * w).max(dim=-1)
    else:
        maxvals, idx = flat.max(dim=-1)
    x = idx % w
    y = torch.div(idx, w, rounding_mode="floor")

    def at(xx: torch.Tensor, yy: torch.Tensor) -> torch.Tensor:
        return flat.gather(-1, (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).unsqueeze(-1)).squeeze(-1)

    diff_x = at(x + 1, y) - at(x - 1, y)
    diff_y = at(x, y + 1) - at(x, y - 1)
    inside_x, inside_y = (x > 0) & (x < w - 1), (y > 0) & (y < h - 1)
    if decoding == "posekit":
        dx, dy = torch.sign(diff_x) * inside_x, torch.sign(diff_y) * inside_y
    elif decoding == "princeton":   # strict '>' else down; the border compares with itself (clamped)
        dx, dy = torch.where(diff_x > 0, 1.0, -1.0), torch.where(diff_y > 0, 1.0, -1.0)
    else:                           # bearpaw: a step only when the peak is inside on both axes
        both = inside_x & inside_y
        dx, dy = torch.sign(diff_x) * both, torch.sign(diff_y) * both
    coords = torch.stack([x.float() + 0.25 * dx, y.float() + 0.25 * dy], dim=-1)
    if decoding != "posekit":
        low = (maxvals <= 0).unsqueeze(-1)
        # princeton: the integer arg-max without the half-pixel offset; bearpaw: pixel -1
        if decoding == "princeton":
            fallback = torch.stack([x, y], dim=-1).float() - 0.5
        else:
            fallback = torch.full_like(coords, -1.0)
        coords = torch.where(low, fallback, coords)
    return coords, maxvals


class HeatmapCodec:
    """Encode crop-pixel keypoints as Gaussian heat maps and decode heat maps back (see module doc).

    Args:
        input_size: crop side ``S``, crop px.
        heatmap_size: heat-map side ``h``, heat-map px.
        sigma: Gaussian standard deviation, heat-map px.
        decoding: how :meth:`decode` and :meth:`round_original` read heat maps, one of
            :data:`DECODINGS` (``posekit``: the inverse of :meth:`encode`).

    Attributes:
        stride: ``input_size / heatmap_size`` crop px per heat-map px (float).

    Raises:
        ValueError: non-positive sizes or sigma, or an unknown ``decoding``.
    """

    def __init__(self, input_size: int = 256, heatmap_size: int = 64, sigma: float = 1.0, decoding: str = "posekit"):
        if input_size <= 0 or heatmap_size <= 0 or sigma <= 0:
            raise ValueError(
                f"input_size, heatmap_size and sigma must be > 0, got {input_size}, {heatmap_size}, {sigma}"
            )
        self.input_size = int(input_size)
        self.heatmap_size = int(heatmap_size)
        self.sigma = float(sigma)
        self.decoding = _check_decoding(decoding)
        self.stride = self.input_size / self.heatmap_size

    def __repr__(self) -> str:
        return (f"HeatmapCodec(input_size={self.input_size}, heatmap_size={self.heatmap_size}, sigma={self.sigma}, "
                f"decoding={self.decoding!r})")

    def crop_to_heatmap(self, points: np.ndarray) -> np.ndarray:
        """Crop px -> heat-map px: ``u = (x + 0.5) / stride - 0.5``. (..., 2) -> (..., 2)."""
        return (np.asarray(points, dtype=np.float64) + 0.5) / self.stride - 0.5

    def heatmap_to_crop(self, points):
        """Heat-map px -> crop px: ``x = (u + 0.5) * stride - 0.5`` (``posekit``), ``x = (u + 0.5) * stride``
        (``princeton``, ``bearpaw``). (..., 2) numpy array or tensor."""
        offset = 0.5 if self.decoding == "posekit" else 0.0
        return (points + 0.5) * self.stride - offset

    def round_original(self, points: np.ndarray) -> np.ndarray:
        """The convention's last step on original-pixel predictions: none (``posekit``), truncation
        toward zero (``princeton``), truncation toward zero plus 1 (``bearpaw``). (..., 2) -> (..., 2)
        float64; NaN stays NaN."""
        points = np.asarray(points, dtype=np.float64)
        if self.decoding == "posekit":
            return points
        return np.trunc(points) + (1.0 if self.decoding == "bearpaw" else 0.0)

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
        """Keypoints in crop px from heat maps (arg-max + quarter offset in the codec's ``decoding``,
        see :func:`decode_heatmaps`; without the original-pixel rounding of :meth:`round_original`).

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
        coords, maxvals = decode_heatmaps(t, self.decoding)
        coords = self.heatmap_to_crop(coords)
        if unbatched:
            coords, maxvals = coords[0], maxvals[0]
        if is_numpy:
            return coords.cpu().numpy(), maxvals.cpu().numpy()
        return coords, maxvals
