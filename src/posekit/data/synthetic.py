"""Synthetic people: the built-in default dataset, learnable on a CPU in minutes.

Every sample is one stick-and-capsule figure drawn with OpenCV in a real human pose taken from a
pose bank derived from the MPII validation annotations (``posekit/assets/pose_bank.npz``, built by
``scripts/build_pose_bank.py`` from ``../shared/data/mpii/valid.h5``; MPII Human Pose annotations,
Simplified BSD licence, via princeton-vl/pytorch_stacked_hourglass). The figure gets a random scale,
in-plane rotation, horizontal flip and position on a textured background with clutter, and sometimes
an occluder.

Conventions
-----------
* Joints: the renderer draws the 16 MPII joints (:data:`posekit.keypoints.MPII`, addressed by name);
  :func:`generate_synthetic` writes them in any keypoint set, matched by name (a keypoint the figure
  does not have, e.g. COCO's nose, eyes and ears, is written as unannotated: ``(-1, -1)`` with
  ``joints_vis`` 0, so it is never trained on or scored). (x, y) in **image pixels**, 0-based, pixel
  centres at integer coordinates (OpenCV's convention).
* Left/right are anatomical (the person's left). A horizontally flipped figure has its coordinates
  mirrored *and* its left/right joint ids swapped, so the labels stay anatomically correct.
* Colour cue for left/right: the person's left arm and leg are always dressed in a warm hue
  (:data:`LEFT_HUES`, red/orange/yellow), the right arm and leg in a cool hue (:data:`RIGHT_HUES`,
  cyan/blue). Torso, head and clutter colours are free (clutter may use the limb palettes too).
* ``visible``: 1 = visible, 0 = covered by an occluder (the joint keeps its coordinates, like an
  annotated-but-occluded MPII joint). Self-occlusion by other body parts does not clear it.
* Part labels (the 7-class PASCAL-Person-Part convention), see :data:`PART_CLASSES`:
  0 background, 1 head, 2 torso (including the neck), 3 upper arms, 4 lower arms (including the
  hands), 5 upper legs, 6 lower legs (including the feet). Occluders overwrite labels with 0.
* Head box: the axis-aligned box around the head ellipse, (x1, y1, x2, y2) image pixels; the PCKh
  head size is ``0.6 * diagonal`` as in the official MPII evaluation. Because the diagonal of an
  ellipse's bounding box does not depend on its rotation, the head size is 0.86 x the
  head-top/upper-neck distance for every head orientation (MPII: about 0.75).
* Person box (``center``, ``scale``): the *raw* MPII convention of the official release and the
  mmpose/HRNet json (:mod:`posekit.data.annotations`), placed so that the MPII crop protocol
  (scale x 1.25, centre y + 15 x scale, :func:`posekit.data.transforms.adjust_person_box`) frames a
  synthetic person as it frames the MPII person its pose comes from: the protocol box has side
  ``unit`` (the pose bank's unit is the protocol box side of ``valid.h5``) and its centre lies
  :data:`MPII_BOX_OFFSET` x ``unit`` below the centre of the joints' bounding box (the median over
  the 2017 fully annotated people of ``valid.h5``).

Difficulty: rotation up to +/-30 degrees, 1-6 distractor shapes (some limb-like, in the limb
palettes), an occluder in 25% of the images; ``render_options`` of :func:`generate_synthetic` turns
these down or off.

The public entry points are :func:`render_person` (one figure, in memory) and
:func:`generate_synthetic` (a cached dataset on disk in the mmpose/HRNet MPII json layout).
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posekit.data.transforms import raw_person_box
from posekit.keypoints import MPII, KeypointSet, get_keypoint_set

#: Bumped whenever the rendered output changes; part of the cache key in ``meta.json``.
#: 2: person boxes in the raw MPII convention (images unchanged).
GENERATOR_VERSION = 2
#: Vertical offset of the MPII protocol box centre below the joints' bounding-box centre, in units
#: of the box side: median of ``(center_y - (min_y + max_y) / 2) / (scale * 200)`` over the 2017
#: people of ``valid.h5`` whose 16 joints are annotated (0.0351; the horizontal offset is 0.003).
MPII_BOX_OFFSET = 0.035

#: Part label ids (index = label value in the part maps).
PART_CLASSES: tuple[str, ...] = (
    "background", "head", "torso", "upper_arm", "lower_arm", "upper_leg", "lower_leg",
)
BACKGROUND, HEAD, TORSO, UPPER_ARM, LOWER_ARM, UPPER_LEG, LOWER_LEG = range(7)

#: The renderer's joints: MPII names -> row of a pose (the pose bank's joint order).
J = {name: i for i, name in enumerate(MPII.names)}
NUM_RENDERED = len(MPII)

#: Limbs drawn as capsules: (joint a, joint b, part class, side). Side is anatomical.
LIMBS: tuple[tuple[int, int, int, str], ...] = tuple((J[a], J[b], cls, side) for a, b, cls, side in (
    ("r_shoulder", "r_elbow", UPPER_ARM, "r"), ("r_elbow", "r_wrist", LOWER_ARM, "r"),
    ("l_shoulder", "l_elbow", UPPER_ARM, "l"), ("l_elbow", "l_wrist", LOWER_ARM, "l"),
    ("r_hip", "r_knee", UPPER_LEG, "r"), ("r_knee", "r_ankle", LOWER_LEG, "r"),
    ("l_hip", "l_knee", UPPER_LEG, "l"), ("l_knee", "l_ankle", LOWER_LEG, "l"),
))

#: Hue ranges (degrees, OpenCV-independent 0-360 scale) of the clothing on each side.
#: Left: warm (magenta-red through yellow, wrapping at 0); right: cool (cyan through blue).
LEFT_HUES: tuple[float, float] = (-20.0, 55.0)
RIGHT_HUES: tuple[float, float] = (175.0, 250.0)

# Body proportions, in units of the person size U (MPII ``scale * 200``; head-neck length ~ 0.133 U).
_LIMB_WIDTH = {UPPER_ARM: 0.076, LOWER_ARM: 0.062, UPPER_LEG: 0.105, LOWER_LEG: 0.082}  # full width
_TORSO_WIDTH = 0.18       # thickness of the thorax-pelvis band
_NECK_WIDTH = 0.055
_HEAD_A = 0.58            # head ellipse semi-axis along upper_neck -> head_top, x head length
_HEAD_B = 0.42            # head ellipse semi-axis across, x head length
_SKIN_TONES = np.array([
    [255, 224, 196], [241, 194, 160], [224, 172, 130], [198, 134, 96],
    [160, 102, 66], [120, 76, 48], [90, 58, 40], [250, 210, 180],
], dtype=np.float64)
_SHIFT = 4                # fixed-point bits for sub-pixel OpenCV drawing
_SCALE = 1 << _SHIFT

_MIRROR = np.array(MPII.flip_permutation())


# --------------------------------------------------------------------------------------------
# pose bank
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PoseBank:
    """Normalised MPII poses (see ``posekit/assets/README.md``).

    Attributes:
        poses: (K, 16, 2) float32, joint bounding-box centre at the origin, units of the MPII
            person size ``scale * 200`` px.
        visible: (K, 16) uint8, the original MPII visibility flags.
        source_index: (K,) int, the row of each pose in ``valid.h5``.
        split: (K,) uint8, 0 = train pose, 1 = val pose (split by image, 90/10).
    """

    poses: np.ndarray
    visible: np.ndarray
    source_index: np.ndarray
    split: np.ndarray

    def indices(self, split: str) -> np.ndarray:
        """Bank rows of ``split`` ("train" or "val")."""
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        return np.flatnonzero(self.split == (1 if split == "val" else 0))


@functools.lru_cache(maxsize=1)
def load_pose_bank() -> PoseBank:
    """Load the packaged pose bank ``posekit/assets/pose_bank.npz`` (via importlib.resources)."""
    ref = resources.files("posekit").joinpath("assets").joinpath("pose_bank.npz")
    with ref.open("rb") as fh, np.load(fh) as z:
        return PoseBank(
            poses=z["poses"].astype(np.float32),
            visible=z["visible"].astype(np.uint8),
            source_index=z["source_index"].astype(np.int64),
            split=z["split"].astype(np.uint8),
        )


# --------------------------------------------------------------------------------------------
# colours and textures
# --------------------------------------------------------------------------------------------

def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """HSV (hue in degrees, s and v in [0, 1]) -> RGB float in [0, 255]."""
    h = (h % 360.0) / 60.0
    c = v * s
    x = c * (1 - abs(h % 2 - 1))
    i = int(h) % 6
    r, g, b = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][i]
    m = v - c
    return np.array([r + m, g + m, b + m]) * 255.0


def rgb_hue(rgb: np.ndarray) -> np.ndarray:
    """Hue in degrees [0, 360) of RGB colours (..., 3); grey pixels get hue 0."""
    rgb = np.asarray(rgb, dtype=np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx, mn = rgb.max(-1), rgb.min(-1)
    d = np.where(mx - mn == 0, 1.0, mx - mn)
    h = np.where(mx == r, ((g - b) / d) % 6, np.where(mx == g, (b - r) / d + 2, (r - g) / d + 4))
    return np.where(mx - mn == 0, 0.0, h * 60.0) % 360.0


def hue_in_range(hue: np.ndarray, hue_range: tuple[float, float]) -> np.ndarray:
    """Whether hues (degrees) fall in ``hue_range`` (lo, hi), ranges may wrap below 0."""
    lo, hi = hue_range
    return ((np.asarray(hue) - lo) % 360.0) <= (hi - lo)


def _random_colour(rng: np.random.Generator, hues: tuple[float, float] | None = None,
                   sat: tuple[float, float] = (0.15, 0.95), val: tuple[float, float] = (0.2, 0.95)) -> np.ndarray:
    h = rng.uniform(*hues) if hues is not None else rng.uniform(0, 360)
    return _hsv_to_rgb(h, rng.uniform(*sat), rng.uniform(*val))


def _limb_colour(rng: np.random.Generator, side: str) -> np.ndarray:
    """A saturated clothing colour from the side's palette (hue stays readable after shading)."""
    return _random_colour(rng, LEFT_HUES if side == "l" else RIGHT_HUES, sat=(0.6, 1.0), val=(0.5, 1.0))


def _segment_colours(rng: np.random.Generator, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Colours of the upper and lower segment of one arm or leg: both in the side's palette, with
    hues 22-37 degrees apart and different brightness, so that elbows and knees show as a
    colour boundary even on a straight limb."""
    lo, hi = LEFT_HUES if side == "l" else RIGHT_HUES
    h1 = rng.uniform(lo, hi)
    delta = rng.uniform(22.0, 37.0)
    h2 = h1 + delta if (h1 + delta <= hi and (h1 - delta < lo or rng.random() < 0.5)) else h1 - delta
    v1 = rng.uniform(0.5, 1.0)
    v2 = v1 * 0.7 if v1 > 0.75 else min(v1 * 1.4, 1.0)
    return _hsv_to_rgb(h1, rng.uniform(0.6, 1.0), v1), _hsv_to_rgb(h2, rng.uniform(0.6, 1.0), v2)


@functools.lru_cache(maxsize=8)
def _axis(size: int) -> np.ndarray:
    """Normalised pixel coordinates 0 .. (size-1)/size, float32 (size,)."""
    return np.arange(size, dtype=np.float32) / size


def _smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 3) -> np.ndarray:
    """Value noise: a random ``cells x cells`` grid upsampled bicubically, float32 in about [0, 1]."""
    low = rng.random((cells, cells, channels), dtype=np.float32)
    out = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    return out.reshape(size, size, channels)


def _pattern(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random periodic pattern in [0, 1] (oriented stripes or checks), float32 (size, size).

    Uses sin(ax + by) = sin(ax)cos(by) + cos(ax)sin(by), so only 1-D sines are evaluated.
    """
    t = _axis(size)
    a = rng.uniform(0, math.pi)
    w = 2 * math.pi * rng.uniform(4, 18)

    def wave(ca: float, sa: float) -> np.ndarray:
        u, v = w * ca * t, w * sa * t
        return np.outer(np.cos(v), np.sin(u)) + np.outer(np.sin(v), np.cos(u))   # rows = y, cols = x

    p = wave(math.cos(a), math.sin(a))
    if rng.random() < 0.4:
        p = p * wave(-math.sin(a), math.cos(a))
    if rng.random() < 0.5:
        p = np.sign(p)
    return (0.5 + 0.5 * p).astype(np.float32)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Random textured background, (size, size, 3) uint8 RGB."""
    c1, c2 = _random_colour(rng), _random_colour(rng)
    kind = rng.integers(4)
    if kind == 0:     # smooth colour noise
        img = _smooth_noise(rng, size, int(rng.integers(2, 9))) * 255.0
    elif kind == 1:   # linear gradient between two colours
        ax = _axis(size)
        a = rng.uniform(0, 2 * math.pi)
        t = (math.cos(a) * ax)[None, :] + (math.sin(a) * ax)[:, None]
        t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
        img = c1.astype(np.float32) + (c2 - c1).astype(np.float32) * t[..., None]
    elif kind == 2:   # stripes or checks
        t = _pattern(rng, size)[..., None]
        img = c1.astype(np.float32) + (c2 - c1).astype(np.float32) * t
    else:             # blobs
        img = np.empty((size, size, 3), np.float32)
        img[:] = c1
        for _ in range(int(rng.integers(6, 20))):
            centre = tuple(int(v) for v in rng.integers(0, size, 2))
            axes = tuple(int(v) for v in rng.integers(size // 20, size // 4, 2))
            cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360,
                        _random_colour(rng).tolist(), -1, cv2.LINE_AA)
        k = int(rng.integers(1, 4)) * 2 + 1
        img = cv2.GaussianBlur(img, (k, k), 0)
    # fine texture on top
    amp = np.float32(rng.uniform(10, 45))
    img = img + (_smooth_noise(rng, size, int(rng.integers(12, 48)), 1) - np.float32(0.5)) * amp
    return np.clip(img, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# drawing primitives (sub-pixel, on the image and on the label map together)
# --------------------------------------------------------------------------------------------

def _fx(p: np.ndarray) -> tuple[int, int]:
    """Float (x, y) -> fixed-point OpenCV point."""
    return int(round(float(p[0]) * _SCALE)), int(round(float(p[1]) * _SCALE))


def _capsule(img: np.ndarray, lab: np.ndarray | None, a: np.ndarray, b: np.ndarray, width: float,
             colour, label: int = 0) -> None:
    """A thick segment with round caps from ``a`` to ``b`` (image px), ``width`` = full thickness."""
    t = max(int(round(width)), 1)
    cv2.line(img, _fx(a), _fx(b), colour, t, cv2.LINE_AA, _SHIFT)
    if lab is not None:
        cv2.line(lab, _fx(a), _fx(b), label, t, cv2.LINE_8, _SHIFT)
        # make sure the end points themselves are labelled even for thin limbs
        r = max(int(round(width / 2 * _SCALE)), _SCALE)
        cv2.circle(lab, _fx(a), r, label, -1, cv2.LINE_8, _SHIFT)
        cv2.circle(lab, _fx(b), r, label, -1, cv2.LINE_8, _SHIFT)


def _shaded_capsule(img, lab, a, b, width, colour, label, light: np.ndarray) -> None:
    """Capsule with a lighter stripe along one side (a tube lit from direction ``light``)."""
    _capsule(img, lab, a, b, width, colour.tolist(), label)
    d = b - a
    n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-6)
    if n @ light < 0:
        n = -n
    off = n * width * 0.18
    hi = colour + (255.0 - colour) * 0.3             # towards white: hue is unchanged
    _capsule(img, None, a + off, b + off, width * 0.35, hi.tolist())


def _ellipse_poly(centre: np.ndarray, a: float, b: float, angle_deg: float, n: int = 36) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    x, y = a * np.cos(t), b * np.sin(t)
    return np.stack([centre[0] + c * x - s * y, centre[1] + s * x + c * y], 1)


def _fill_poly(img, lab, pts: np.ndarray, colour, label: int = 0) -> None:
    p = np.round(np.asarray(pts) * _SCALE).astype(np.int32)
    cv2.fillPoly(img, [p], colour, cv2.LINE_AA, _SHIFT)
    if lab is not None:
        cv2.fillPoly(lab, [p], label, cv2.LINE_8, _SHIFT)


def _clutter(rng: np.random.Generator, img: np.ndarray, count: int, unit: float) -> None:
    """Distractors on the background: capsules and limb-like chains (some in the limb palettes),
    ellipses, polygons and skin-coloured discs. ``unit``: the person size in px (sets their size)."""
    size = img.shape[0]
    for _ in range(count):
        kind = rng.random()
        r = rng.random()
        if r < 0.25:
            colour = _limb_colour(rng, "l")
        elif r < 0.5:
            colour = _limb_colour(rng, "r")
        elif r < 0.6:
            colour = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.85, 1.05)
        else:
            colour = _random_colour(rng)
        colour = np.clip(colour, 0, 255)
        p0 = rng.uniform(0, size, 2)
        if kind < 0.45:     # capsule or 2-3 segment chain (limb-like)
            width = unit * rng.uniform(0.035, 0.1)
            pts = [p0]
            ang = rng.uniform(0, 2 * math.pi)
            for _ in range(int(rng.integers(1, 4))):
                ang += rng.uniform(-1.5, 1.5)
                length = unit * rng.uniform(0.12, 0.3)
                pts.append(pts[-1] + length * np.array([math.cos(ang), math.sin(ang)]))
            light = rng.normal(size=2)
            for a, b in zip(pts[:-1], pts[1:]):
                _shaded_capsule(img, None, a, b, width, colour, 0, light)
        elif kind < 0.75:   # ellipse
            a, b = unit * rng.uniform(0.03, 0.2, 2)
            _fill_poly(img, None, _ellipse_poly(p0, a, b, rng.uniform(0, 180)), colour.tolist())
        else:               # random polygon
            n = int(rng.integers(3, 7))
            ang = np.sort(rng.uniform(0, 2 * math.pi, n))
            rad = unit * rng.uniform(0.05, 0.25, n)
            pts = p0 + np.stack([np.cos(ang) * rad, np.sin(ang) * rad], 1)
            _fill_poly(img, None, pts, colour.tolist())


# --------------------------------------------------------------------------------------------
# the figure
# --------------------------------------------------------------------------------------------

def _rotate(points: np.ndarray, angle_deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    return points @ np.array([[c, s], [-s, c]])


def _head_geometry(joints: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """Head ellipse (centre, semi-axis along, semi-axis across, angle deg) from upper_neck/head_top."""
    neck, top = joints[J["upper_neck"]], joints[J["head_top"]]
    d = top - neck
    length = max(float(np.hypot(*d)), 1.0)
    centre = (neck + top) / 2.0
    angle = math.degrees(math.atan2(d[1], d[0]))
    return centre, _HEAD_A * length, _HEAD_B * length, angle


def _head_box(centre: np.ndarray, a: float, b: float, angle_deg: float) -> np.ndarray:
    """Axis-aligned bounding box (x1, y1, x2, y2) of an ellipse."""
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    hx = math.sqrt((a * c) ** 2 + (b * s) ** 2)
    hy = math.sqrt((a * s) ** 2 + (b * c) ** 2)
    return np.array([centre[0] - hx, centre[1] - hy, centre[0] + hx, centre[1] + hy])


def _figure_extent(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min and max (x, y) of the figure drawn from a pose (any units): joints padded by the
    widest half-limb, plus the head ellipse."""
    pad = max(_LIMB_WIDTH.values()) / 2 + 0.03    # feet/hands stick out a little
    lo = pose.min(0) - pad
    hi = pose.max(0) + pad
    box = _head_box(*_head_geometry(pose))
    return np.minimum(lo, box[:2]), np.maximum(hi, box[2:])


def render_person(
    pose: np.ndarray,
    rng: np.random.Generator,
    image_size: int = 256,
    *,
    flip: bool | None = None,
    rotation: float = 30.0,
    occluder_prob: float = 0.25,
    clutter: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Draw one synthetic person in a given pose on a random textured, cluttered background.

    Args:
        pose: (16, 2) normalised pose from the pose bank (MPII joint order, origin at the centre of
            the joints' bounding box, units of the MPII person size ``scale * 200``).
        rng: the only source of randomness (same generator state => same output).
        image_size: side S of the square output image, pixels.
        flip: mirror the figure horizontally (coordinates mirrored and left/right joint ids swapped,
            so labels stay anatomical); None = with probability 0.5.
        rotation: in-plane rotation drawn uniformly from [-rotation, rotation] degrees.
        occluder_prob: probability of an occluding rectangle/ellipse over part of the person.
        clutter: draw distractor shapes on the background.

    Returns:
        image: (S, S, 3) uint8 RGB.
        joints: (16, 2) float64 joint (x, y), image pixels (0-based, pixel centres at integers);
            all inside the image.
        visible: (16,) uint8, 0 where the joint's pixel is covered by the occluder.
        parts: (S, S) uint8 part labels, :data:`PART_CLASSES` (0 background, 1 head, 2 torso,
            3 upper arms, 4 lower arms, 5 upper legs, 6 lower legs); occluder pixels are 0.
        meta: dict with ``headbox`` (x1, y1, x2, y2) and ``head_size`` (0.6 x its diagonal),
            ``center`` (x, y) and ``scale`` (raw MPII person box, module docstring), ``unit`` (person size U
            in px), ``angle`` (degrees), ``flipped``, ``front_side`` ("l"/"r": the side drawn in
            front), ``draw_order`` (back to front: "leg_l", "torso", "head" (with the neck),
            "arm_r", ...), ``occluder`` (bool); all lengths in image pixels.
    """
    S = int(image_size)
    pose = np.asarray(pose, dtype=np.float64).reshape(NUM_RENDERED, 2).copy()

    # --- geometry: proportions jitter, flip, rotation, scale, position
    pose[:, 0] *= rng.uniform(0.9, 1.1)
    flipped = bool(rng.random() < 0.5) if flip is None else bool(flip)
    if flipped:
        pose[:, 0] = -pose[:, 0]
        pose = pose[_MIRROR]
    angle = float(rng.uniform(-rotation, rotation)) if rotation > 0 else 0.0
    pose = _rotate(pose, angle)
    lo, hi = _figure_extent(pose)
    unit = S * rng.uniform(0.55, 1.1)
    unit = min(unit, 0.94 * S / float((hi - lo).max()))
    lo, hi = lo * unit, hi * unit
    offset = np.array([rng.uniform(-lo[0], S - 1 - hi[0]), rng.uniform(-lo[1], S - 1 - hi[1])])
    joints = pose * unit + offset
    light = rng.normal(size=2)

    # --- background and clutter
    img = _background(rng, S)
    if clutter:
        _clutter(rng, img, int(rng.integers(1, 7)), unit)
    lab = np.zeros((S, S), np.uint8)

    # --- colours of this person
    skin = np.clip(_SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.85, 1.05), 0, 255)
    shirt = _random_colour(rng)
    hair = _random_colour(rng, sat=(0.0, 0.6), val=(0.05, 0.45)) if rng.random() < 0.85 else None
    shoes = _random_colour(rng, sat=(0.0, 0.5), val=(0.05, 0.5))
    side_colour = {}
    for side in ("l", "r"):
        upper_arm, lower_arm = _segment_colours(rng, side)
        upper_leg, lower_leg = _segment_colours(rng, side)
        side_colour[side] = {UPPER_ARM: upper_arm, LOWER_ARM: lower_arm, UPPER_LEG: upper_leg, LOWER_LEG: lower_leg}
    pads = rng.random() < 0.7          # darker discs on elbows and knees (image only)
    widths = {k: w * unit * rng.uniform(0.8, 1.2) for k, w in _LIMB_WIDTH.items()}
    bare_arms = rng.random() < 0.3     # forearms and hands in skin colour: only sleeves carry the cue

    def draw_leg(side: str) -> None:
        for a, b, cls, sd in LIMBS:
            if sd == side and cls in (UPPER_LEG, LOWER_LEG):
                _shaded_capsule(img, lab, joints[a], joints[b], widths[cls], side_colour[side][cls], cls, light)
        knee, ankle = joints[J[f"{side}_knee"]], joints[J[f"{side}_ankle"]]
        if pads:
            _capsule(img, None, knee, knee, widths[LOWER_LEG] * 0.6, (side_colour[side][LOWER_LEG] * 0.55).tolist())
        d = ankle - knee
        d = d / max(float(np.hypot(*d)), 1e-6)
        foot = ankle + d * widths[LOWER_LEG] * 0.5
        _capsule(img, lab, ankle, foot, widths[LOWER_LEG] * 1.1, shoes.tolist(), LOWER_LEG)

    def draw_arm(side: str) -> None:
        for a, b, cls, sd in LIMBS:
            if sd == side and cls in (UPPER_ARM, LOWER_ARM):
                c = side_colour[side][cls]
                if bare_arms and cls == LOWER_ARM:
                    c = skin
                _shaded_capsule(img, lab, joints[a], joints[b], widths[cls], c, cls, light)
        elbow, wrist = joints[J[f"{side}_elbow"]], joints[J[f"{side}_wrist"]]
        if pads:
            _capsule(img, None, elbow, elbow, widths[LOWER_ARM] * 0.6, (side_colour[side][UPPER_ARM] * 0.55).tolist())
        d = wrist - elbow
        d = d / max(float(np.hypot(*d)), 1e-6)
        hand_r = widths[LOWER_ARM] * 0.75
        _capsule(img, lab, wrist, wrist + d * hand_r, hand_r * 2, skin.tolist(), LOWER_ARM)

    def draw_torso() -> None:
        quad = joints[[J["r_shoulder"], J["l_shoulder"], J["l_hip"], J["r_hip"]]]
        hull = cv2.convexHull(quad.astype(np.float32)).reshape(-1, 2)
        _fill_poly(img, lab, hull, shirt.tolist(), TORSO)
        # a band of width _TORSO_WIDTH along thorax -> pelvis (square ends: nothing below the hips)
        thorax, pelvis = joints[J["thorax"]], joints[J["pelvis"]]
        d = pelvis - thorax
        n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-6) * (_TORSO_WIDTH * unit / 2)
        band = np.array([thorax + n, pelvis + n, pelvis - n, thorax - n])
        _fill_poly(img, lab, band, shirt.tolist(), TORSO)
        _capsule(img, lab, joints[J["r_shoulder"]], joints[J["l_shoulder"]], widths[UPPER_ARM] * 1.2,
                 shirt.tolist(), TORSO)
        _capsule(img, lab, joints[J["r_hip"]], joints[J["l_hip"]], widths[UPPER_LEG], shirt.tolist(), TORSO)

    def draw_head() -> None:
        _capsule(img, lab, joints[J["thorax"]], joints[J["upper_neck"]], _NECK_WIDTH * unit, (skin * 0.9).tolist(),
                 TORSO)
        centre, a, b, ang = _head_geometry(joints)
        _fill_poly(img, lab, _ellipse_poly(centre, a, b, ang), skin.tolist(), HEAD)
        if hair is not None:   # hair: the part of the ellipse towards head_top
            t = np.linspace(-0.5 * np.pi, 0.5 * np.pi, 19) * rng.uniform(0.6, 1.0)
            c, s = math.cos(math.radians(ang)), math.sin(math.radians(ang))
            x, y = a * np.cos(t), b * np.sin(t)
            pts = np.stack([centre[0] + c * x - s * y, centre[1] + s * x + c * y], 1)
            _fill_poly(img, lab, pts, hair.tolist(), HEAD)

    # depth order: a random side is in front. Legs are drawn over the torso (their round caps mark
    # the hips). The back arm goes behind the torso mostly in profile views (shoulders close
    # together); in frontal views both arms are usually in front of it.
    front = "l" if rng.random() < 0.5 else "r"
    back = "r" if front == "l" else "l"
    shoulder_span = float(np.hypot(*(joints[J["r_shoulder"]] - joints[J["l_shoulder"]])))
    trunk = max(float(np.hypot(*(joints[J["thorax"]] - joints[J["pelvis"]]))), 1e-6)
    p_behind = 0.8 if shoulder_span < 0.5 * trunk else 0.1
    order = ["torso", f"leg_{back}", f"leg_{front}", "head", f"arm_{back}", f"arm_{front}"]
    if rng.random() < p_behind:
        order.insert(0, order.pop(4))
    steps = {"torso": draw_torso, "head": draw_head,
             "leg_l": lambda: draw_leg("l"), "leg_r": lambda: draw_leg("r"),
             "arm_l": lambda: draw_arm("l"), "arm_r": lambda: draw_arm("r")}
    for name in order:
        steps[name]()

    # --- clothing texture (multiplicative: hues are kept), applied with the lighting below
    person = lab > 0
    clothing_shade = None
    if rng.random() < 0.5:
        clothing = person & (lab != HEAD)
        clothing_shade = np.where(clothing, 1.0 - 0.25 * _pattern(rng, S), 1.0).astype(np.float32)

    # raw MPII person box (module docstring): protocol box of side `unit` around the joints' box centre
    # moved down by MPII_BOX_OFFSET * unit, converted back to the raw convention
    box_center = (joints.min(axis=0) + joints.max(axis=0)) / 2.0 + np.array([0.0, MPII_BOX_OFFSET * unit])
    raw_center, raw_scale = raw_person_box(box_center, unit / 200.0)
    center, scale = [float(raw_center[0]), float(raw_center[1])], float(raw_scale)

    # --- occluder
    visible = np.ones(NUM_RENDERED, np.uint8)
    has_occluder = bool(rng.random() < occluder_prob)
    if has_occluder:
        mask = np.zeros((S, S), np.uint8)
        target = joints[rng.integers(NUM_RENDERED)] + rng.normal(scale=0.06 * unit, size=2)
        w, h = unit * rng.uniform(0.06, 0.18, 2)
        ang = rng.uniform(0, 180)
        if rng.random() < 0.5:
            c, s = math.cos(math.radians(ang)), math.sin(math.radians(ang))
            corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) @ np.array([[c, s], [-s, c]]) + target
            _fill_poly(mask, None, corners, 1)
        else:
            _fill_poly(mask, None, _ellipse_poly(target, w, h, ang), 1)
        occ = mask.astype(bool)
        tex = _random_colour(rng) * (0.75 + 0.5 * _smooth_noise(rng, S, int(rng.integers(3, 12)), 1))
        if rng.random() < 0.5:
            tex = tex * (0.7 + 0.3 * _pattern(rng, S)[..., None])
        img[occ] = np.clip(tex[occ], 0, 255).astype(np.uint8)
        lab[occ] = BACKGROUND
        px = np.clip(np.round(joints).astype(int), 0, S - 1)
        visible[occ[px[:, 1], px[:, 0]]] = 0

    # --- global lighting (and clothing texture), sensor noise, slight blur
    gain = 0.75 + 0.45 * _smooth_noise(rng, S, 3, 1)[..., 0]
    if clothing_shade is not None:
        gain *= clothing_shade
    imgf = img.astype(np.float32) * gain[..., None]
    imgf += rng.standard_normal((S, S, 1), dtype=np.float32) * np.float32(rng.uniform(0, 5))
    img = np.clip(imgf, 0, 255).astype(np.uint8)
    if rng.random() < 0.25:
        img = cv2.GaussianBlur(img, (3, 3), 0)

    centre_h, a_h, b_h, ang_h = _head_geometry(joints)
    headbox = _head_box(centre_h, a_h, b_h, ang_h)
    meta = {
        "headbox": headbox,
        "head_size": 0.6 * float(np.hypot(headbox[2] - headbox[0], headbox[3] - headbox[1])),
        "center": center,
        "scale": scale,
        "unit": float(unit),
        "angle": angle,
        "flipped": flipped,
        "front_side": front,
        "draw_order": order,
        "occluder": has_occluder,
    }
    return img, joints, visible, lab, meta


# --------------------------------------------------------------------------------------------
# dataset writer
# --------------------------------------------------------------------------------------------

_SPLITS = ("train", "val")
_STREAM = {"train": 0, "val": 1}


def _sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Independent RNG per sample: depends only on (seed, split, index), not on worker layout."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), _STREAM[split], int(index)]))


def _r(x: float, nd: int = 2) -> float:
    return round(float(x), nd)


_RENDER_OPTIONS = {"rotation", "occluder_prob", "clutter"}


def _render_chunk(root: str, split: str, indices: list[int], image_size: int, seed: int,
                  options: dict[str, Any], keypoints: dict | None = None) -> list[dict]:
    """Render and write samples ``indices`` of ``split``; returns their annotation records with the
    joints of ``keypoints`` (a :meth:`KeypointSet.to_dict`; None: MPII)."""
    target = MPII if keypoints is None else KeypointSet.from_dict(keypoints)
    rows_of = target.map_from(MPII)
    bank = load_pose_bank()
    rows = bank.indices(split)
    img_dir = Path(root) / split / "images"
    part_dir = Path(root) / split / "parts"
    records = []
    for i in indices:
        rng = _sample_rng(seed, split, i)
        row = int(rows[rng.integers(len(rows))])
        img, joints, vis, parts, meta = render_person(bank.poses[row], rng, image_size, **options)
        name = f"{i:06d}"
        cv2.imwrite(str(img_dir / f"{name}.jpg"), img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(str(part_dir / f"{name}.png"), parts, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        hb = meta["headbox"]
        records.append({
            "image": f"{name}.jpg",
            "center": [_r(meta["center"][0]), _r(meta["center"][1])],
            "scale": _r(meta["scale"], 4),
            "joints": [[_r(joints[r][0]), _r(joints[r][1])] if r is not None else [-1, -1] for r in rows_of],
            "joints_vis": [int(vis[r]) if r is not None else 0 for r in rows_of],
            "headbox": [[_r(hb[0]), _r(hb[1])], [_r(hb[2]), _r(hb[3])]],
            "head_size": _r(meta["head_size"], 3),
            "parts": f"{name}.png",
            "bank_index": row,
            "flipped": bool(meta["flipped"]),
        })
    return records


def _meta_params(num_train: int, num_val: int, image_size: int, seed: int, keypoints: KeypointSet) -> dict:
    return {
        "generator": "posekit.data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "num_train": int(num_train),
        "num_val": int(num_val),
        "image_size": int(image_size),
        "keypoints": {"name": keypoints.name, "names": list(keypoints.names)},
    }


def _paths(root: Path) -> dict[str, Path]:
    out = {"root": root, "meta": root / "meta.json"}
    for split in _SPLITS:
        out[f"{split}_annotations"] = root / split / "annotations.json"
        out[f"{split}_images"] = root / split / "images"
        out[f"{split}_parts"] = root / split / "parts"
    return out


def generate_synthetic(
    root: str | os.PathLike,
    num_train: int,
    num_val: int,
    image_size: int = 256,
    seed: int = 0,
    workers: int = 1,
    overwrite: bool = False,
    render_options: dict[str, Any] | None = None,
    keypoints: KeypointSet | str = MPII,
) -> dict[str, Path]:
    """Generate (or reuse) the synthetic-people dataset on disk.

    Layout::

        root/meta.json                    generator version, seed, counts, image_size, timing
        root/{train,val}/images/NNNNNN.jpg    RGB images, JPEG quality 95, image_size x image_size
        root/{train,val}/parts/NNNNNN.png     uint8 part labels (PART_CLASSES ids 0..6)
        root/{train,val}/annotations.json     list of records, mmpose/HRNet MPII layout

    Each record: ``image``, ``center`` [x, y], ``scale`` (the raw MPII person box, see the module
    docstring), ``joints`` K x [x, y] (image pixels, 0-based;
    K keypoints of ``keypoints``, ``(-1, -1)`` for those the figure does not have), ``joints_vis``
    K ints (0 = occluded or not present), plus ``headbox`` [[x1, y1], [x2, y2]], ``head_size``
    (0.6 x head-box diagonal, the MPII PCKh normaliser), ``parts`` (file name in the split's
    ``parts/`` folder), ``bank_index`` (pose-bank row) and ``flipped``.

    Train images use the train poses of the pose bank, val images the (unseen) val poses, with
    separate random streams. Every sample has its own generator seeded by (seed, split, index), so
    the output is identical for any ``workers``; same seed => byte-identical annotation files.
    If ``root/meta.json`` records the same parameters (and the annotation files exist), nothing is
    regenerated unless ``overwrite``.

    Args:
        root: output folder (created).
        num_train, num_val: number of images per split.
        image_size: image side, pixels.
        seed: base random seed.
        workers: processes used for rendering (1 = in this process).
        overwrite: regenerate even when a matching dataset exists.
        render_options: keyword arguments for :func:`render_person` that change the difficulty
            (``rotation``, ``occluder_prob``, ``clutter``); recorded in ``meta.json`` and part of
            the cache key. None: the defaults.
        keypoints: the keypoint set of the written annotations (a :class:`KeypointSet` or a name
            of :func:`posekit.keypoints.get_keypoint_set`); part of the cache key.

    Returns:
        Paths: ``root``, ``meta``, and for each split ``{split}_annotations``, ``{split}_images``,
        ``{split}_parts``.
    """
    root = Path(root)
    paths = _paths(root)
    options = dict(render_options or {})
    unknown = set(options) - _RENDER_OPTIONS
    if unknown:
        raise ValueError(f"unknown render option(s) {sorted(unknown)}; valid: {sorted(_RENDER_OPTIONS)}")
    keypoints = get_keypoint_set(keypoints)
    params = _meta_params(num_train, num_val, image_size, seed, keypoints)
    params["render_options"] = options
    if not overwrite and paths["meta"].is_file():
        try:
            old = json.loads(paths["meta"].read_text())
        except (OSError, ValueError):
            old = {}
        if all(old.get(k) == v for k, v in params.items()) and all(
            paths[f"{s}_annotations"].is_file() for s in _SPLITS
        ):
            return paths
    if paths["meta"].exists():
        paths["meta"].unlink()          # an interrupted run must not look like a valid cache

    t0 = time.perf_counter()
    counts = {"train": int(num_train), "val": int(num_val)}
    for split in _SPLITS:
        for key in ("images", "parts"):
            d = paths[f"{split}_{key}"]
            d.mkdir(parents=True, exist_ok=True)
            for old_file in d.glob("[0-9]" * 6 + (".jpg" if key == "images" else ".png")):
                if int(old_file.stem) >= counts[split]:
                    old_file.unlink()   # stale samples of a bigger earlier run
        n = counts[split]
        if workers <= 1 or n < 16:
            records = _render_chunk(str(root), split, list(range(n)), image_size, seed, options,
                                    keypoints.to_dict())
        else:
            chunk = max(1, math.ceil(n / (workers * 4)))
            jobs = [list(range(s, min(n, s + chunk))) for s in range(0, n, chunk)]
            with ProcessPoolExecutor(max_workers=workers) as ex:
                futs = [ex.submit(_render_chunk, str(root), split, j, image_size, seed, options, keypoints.to_dict())
                        for j in jobs]
                records = [r for f in futs for r in f.result()]
        paths[f"{split}_annotations"].write_text(json.dumps(records, indent=1))

    meta = dict(params)
    meta.update({
        "joint_coordinates": "image pixels, 0-based (pixel centres at integer coordinates)",
        "part_classes": list(PART_CLASSES),
        "pose_bank": "posekit/assets/pose_bank.npz (MPII valid.h5 poses; Simplified BSD)",
        "seconds": round(time.perf_counter() - t0, 2),
    })
    paths["meta"].write_text(json.dumps(meta, indent=1))
    return paths
