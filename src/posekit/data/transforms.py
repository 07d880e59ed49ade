"""Crop geometry, flips and augmentation for single-person pose estimation.

Pixel frames and conventions used throughout posekit:

* **original**: the image as read from disk, (x, y) px, x to the right, y down.
* **crop**: the square network input of side ``S = input_size``.
* **heat map**: the network output of side ``h = heatmap_size`` (see :mod:`posekit.data.targets`).

In every frame an integer coordinate is a pixel *centre* (the OpenCV convention), so pixel ``(i, j)``
of a crop made by :func:`crop_image` shows the original image at ``M^-1 (i, j)``: image pixels and
keypoints moved by the same (2, 3) affine ``M`` stay aligned exactly.

The crop of a person (Newell et al. 2016, Sec. 4; HRNet) is the square box of side
``scale * 200 * scale_factor`` original px centred on the person ``center`` moved down by
``center_shift * scale`` px, optionally rotated by ``rot_deg`` about that centre, resized to
``S x S``. The box centre lands on crop point ``(S / 2, S / 2)`` (the HRNet/mmpose convention, so
boxes map as the reference code does).

**The MPII crop protocol.** ``center`` and ``scale`` are the *raw* MPII person box of the official
annotation release (``objpos`` and ``scale``: a rough person position and the person height / 200
px). Every public hourglass implementation crops the *adjusted* box: centre ``y + 15 * scale``,
side ``1.25 * scale * 200`` (HRNet ``lib/dataset/mpii.py``, bearpaw/pytorch-pose
``pose/datasets/mpii.py``; the Newell/princeton ``valid.h5`` stores that adjusted box already).
posekit keeps raw boxes in memory (:mod:`posekit.data.annotations` converts files that store
adjusted ones) and applies the adjustment exactly once, here: :data:`MPII_SCALE_FACTOR` and
:data:`MPII_CENTER_SHIFT` are the defaults of ``scale_factor`` and ``center_shift``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from posekit.config import AugmentConfig
from posekit.keypoints import MPII, KeypointSet

__all__ = [
    "get_affine_transform",
    "invert_affine",
    "affine_points",
    "crop_image",
    "box_mask",
    "hflip_affine",
    "shear_affine",
    "compose_affine",
    "tall_person_box",
    "clip_pad_square_box",
    "check_crop_box",
    "MPII_SCALE_FACTOR",
    "MPII_CENTER_SHIFT",
    "BOX_CONVENTIONS",
    "adjust_person_box",
    "raw_person_box",
    "crop_box",
    "person_crop",
    "flip_image",
    "flip_keypoints",
    "flip_heatmaps",
    "flip_joint_axis",
    "AugParams",
    "sample_augmentation",
    "apply_color_jitter",
]

#: Pixel size of one unit of MPII ``scale``: the person box is ``scale * 200`` px.
SCALE_UNIT = 200.0
#: Smallest accepted side of a crop box, original px (a smaller box shows less than a few pixels).
MIN_BOX_SIDE = 4.0
#: Largest accepted side of a crop box, as a multiple of the image's longer side.
MAX_BOX_RATIO = 10.0
#: The MPII crop protocol: the crop box side is ``MPII_SCALE_FACTOR * scale * 200`` px ...
MPII_SCALE_FACTOR = 1.25
#: ... around the centre moved down by ``MPII_CENTER_SHIFT * scale`` px (raw ``scale``).
MPII_CENTER_SHIFT = 15.0
#: How a file's ``center`` / ``scale`` relate to the raw MPII box: ``mpii_raw`` (the official release,
#: the mmpose/HRNet json) or ``mpii_adjusted`` (the MPII protocol box already applied, as in the
#: Newell/princeton HDF5).
BOX_CONVENTIONS = ("mpii_raw", "mpii_adjusted")


def _to_3x3(m: np.ndarray) -> np.ndarray:
    return np.vstack([np.asarray(m, dtype=np.float64), [0.0, 0.0, 1.0]])


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine ``m`` (maps the destination frame back to the source frame).

    Raises:
        numpy.linalg.LinAlgError: ``m`` is singular.
    """
    return np.linalg.inv(_to_3x3(m))[:2]


def get_affine_transform(
    center: Sequence[float] | np.ndarray,
    scale: float,
    rot_deg: float,
    output_size: int | Sequence[int],
    scale_factor: float = 1.0,
    inverse: bool = False,
) -> np.ndarray:
    """Affine that maps original-image px to crop px for a person box.

    The box is the square of side ``side = scale * 200 * scale_factor`` original px centred on
    ``center``. The map is the composition

        crop = T(S/2) . Z(S / side) . R(rot_deg) . T(-center)

    i.e. move the centre to the origin, rotate, zoom so the box side becomes the crop side ``S``,
    and move the origin to the crop centre ``(S/2, S/2)``. ``R`` follows ``cv2.getRotationMatrix2D``:
    a positive ``rot_deg`` makes the image content appear rotated **counter-clockwise** in the
    crop (as displayed, y down); ``R = [[cos, sin], [-sin, cos]]``.

    Args:
        center: (2,) person centre (x, y), original px.
        scale: person scale (box side / 200 px) before ``scale_factor``.
        rot_deg: rotation in degrees, positive = counter-clockwise.
        output_size: crop side ``S`` (int) or ``(width, height)``; non-square sizes zoom each axis
            to its own side.
        scale_factor: box enlargement (e.g. 1.25 for the usual margin around the person).
        inverse: return the crop -> original affine instead.

    Returns:
        (2, 3) float64 affine ``M`` with ``[x', y'] = M @ [x, y, 1]``.

    Raises:
        ValueError: ``scale * scale_factor`` is not positive and finite, or ``center`` is not finite.
    """
    side = float(scale) * SCALE_UNIT * float(scale_factor)
    if not 0 < side < float("inf"):
        raise ValueError(f"box side must be > 0 and finite, got scale={scale}, scale_factor={scale_factor}")
    if not np.isfinite(np.asarray(center, dtype=np.float64)).all():
        raise ValueError(f"box center must be finite, got {np.asarray(center).tolist()}")
    if np.isscalar(output_size):
        out_w = out_h = float(output_size)
    else:
        out_w, out_h = (float(v) for v in output_size)
    cx, cy = (float(v) for v in np.asarray(center, dtype=np.float64).reshape(2))
    theta = np.deg2rad(rot_deg)
    c, s = np.cos(theta), np.sin(theta)
    zx, zy = out_w / side, out_h / side
    a = np.array([[zx * c, zx * s], [-zy * s, zy * c]])
    t = np.array([out_w / 2.0, out_h / 2.0]) - a @ np.array([cx, cy])
    m = np.hstack([a, t[:, None]])
    return invert_affine(m) if inverse else m


def affine_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine to points.

    Args:
        points: (..., 2) (x, y) in the source frame of ``m``.
        m: (2, 3) affine.

    Returns:
        (..., 2) float64 points in the destination frame.
    """
    points = np.asarray(points, dtype=np.float64)
    m = np.asarray(m, dtype=np.float64)
    return points @ m[:, :2].T + m[:, 2]


def hflip_affine(output_size: int) -> np.ndarray:
    """(2, 3) affine that mirrors a crop of width ``S``: ``x -> S - 1 - x`` (pixel-centre convention).

    ``hflip_affine(S) @ M`` (as 3x3 products) is the crop of :func:`get_affine_transform` mirrored,
    exactly what :func:`flip_image` does to the crop pixels.
    """
    return np.array([[-1.0, 0.0, output_size - 1.0], [0.0, 1.0, 0.0]])


def shear_affine(output_size: int, shear: float) -> np.ndarray:
    """(2, 3) affine of a horizontal shear of the crop about its centre: ``x -> x + shear * (y - S/2)``,
    ``y`` unchanged (crop px -> crop px).

    The point ``(S/2, S/2)``, where :func:`get_affine_transform` puts the person centre, stays in
    place, and so does the horizontal line through it; a point ``d`` px below it moves ``shear * d`` px
    to the right. ``compose_affine(shear_affine(S, k), M)`` is the crop of ``M`` sheared: applied to
    the image (:func:`crop_image`) and to the keypoints (:func:`affine_points`) it keeps them aligned
    exactly. Tang & Wu (2019, Sec. 4.1) augment with shearing of +/- 0.5; the paper does not say
    along which axis nor about which point, so posekit shears horizontally about the crop centre.

    Args:
        output_size: crop side ``S`` (px).
        shear: shear factor ``k`` (the tangent of the shear angle; 0.5 is about 26.6 degrees).
    """
    k = float(shear)
    return np.array([[1.0, k, -k * output_size / 2.0], [0.0, 1.0, 0.0]])


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The (2, 3) affine ``outer . inner`` (apply ``inner`` first)."""
    return (_to_3x3(outer) @ _to_3x3(inner))[:2]


def box_mask(m: np.ndarray, box: Sequence[float], output_size: int) -> np.ndarray:
    """Crop pixels whose centres come from inside an original-image box.

    Args:
        m: (2, 3) original -> crop affine.
        box: ``(x1, y1, x2, y2)`` original px (the half-open box ``x1 <= x < x2``, ``y1 <= y < y2``).
        output_size: crop side ``S``.

    Returns:
        (S, S) bool mask, row = crop y, column = crop x.
    """
    inv = invert_affine(m)
    ys, xs = np.mgrid[0:output_size, 0:output_size].astype(np.float64)
    src = affine_points(np.stack([xs, ys], axis=-1), inv)
    x1, y1, x2, y2 = box
    return (src[..., 0] >= x1) & (src[..., 0] < x2) & (src[..., 1] >= y1) & (src[..., 1] < y2)


def crop_image(
    image: np.ndarray,
    m: np.ndarray,
    output_size: int,
    keep_box: Sequence[float] | None = None,
) -> np.ndarray:
    """Warp an image into the crop frame with ``cv2.warpAffine`` (bilinear, zero border).

    Args:
        image: (H, W, C) or (H, W) image, any dtype OpenCV warps (uint8, float32).
        m: (2, 3) original -> crop affine (e.g. from :func:`get_affine_transform`).
        output_size: crop side ``S``.
        keep_box: optional ``(x1, y1, x2, y2)`` original-px box; crop pixels that come from
            outside it are set to 0 (the zero padding of the ``clip_pad_square`` crop, :func:`clip_pad_square_box`).

    Returns:
        (S, S, C) or (S, S) crop, same dtype as ``image``.

    Raises:
        ValueError: ``image`` holds 2**31 bytes or more (OpenCV's warp would crash on it; files
            above the pixel limit of :mod:`posekit.data.images` never get here).
    """
    if image.nbytes >= 2**31:
        raise ValueError(f"the image ({image.shape[1]}x{image.shape[0]}, {image.nbytes / 2**30:.1f} GiB) is too "
                         "large to crop: OpenCV's warp handles images below 2 GiB")
    crop = cv2.warpAffine(
        image,
        np.asarray(m, dtype=np.float64),
        (int(output_size), int(output_size)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    if keep_box is not None:
        crop[~box_mask(m, keep_box, output_size)] = 0
    return crop


# --------------------------------------------------------------------------------------------------
# clip-and-pad crop (Kim, Novossyolov & Nurambek, "Final Project Report - Human Pose Estimation", Sec. IV)


def tall_person_box(center: Sequence[float], scale: float) -> np.ndarray:
    """The report's person box: ``210*s`` high and ``120*s`` wide, top ``cy - 105*s``, left ``cx - 60*s``.

    Args:
        center: (2,) person centre, original px.
        scale: MPII person scale ``s``.

    Returns:
        (4,) float64 ``(x1, y1, x2, y2)`` original px.
    """
    cx, cy = (float(v) for v in np.asarray(center, dtype=np.float64).reshape(2))
    s = float(scale)
    return np.array([cx - 60.0 * s, cy - 105.0 * s, cx + 60.0 * s, cy + 105.0 * s])


def clip_pad_square_box(center: Sequence[float], scale: float, image_shape: Sequence[int]
                        ) -> tuple[np.ndarray, np.ndarray, float]:
    """The ``clip_pad_square`` crop of Kim, Novossyolov & Nurambek (Sec. IV): the box of
    :func:`tall_person_box` with every side clipped to the image edges (``[0, W] x [0, H]``, the
    frame of :func:`get_affine_transform` and :func:`box_mask`, in which a box ``[0, W)`` shows image
    columns ``0 .. W-1`` as the slice ``image[:, 0:W]`` does), then zero-padded to a square of side
    ``max(height, width)`` of the clipped box.

    The report does not say where the padding goes; posekit centres the clipped box in the square
    (equal padding on both sides). The square is an ordinary crop box: :func:`get_affine_transform`
    with the returned centre, ``scale = side / 200`` and ``scale_factor = 1``; the padding is
    ``crop_image(..., keep_box=clipped box)``.

    Args:
        center, scale: the MPII person centre (original px) and scale.
        image_shape: ``(H, W, ...)`` of the image.

    Returns:
        ``(clipped box (4,) x1, y1, x2, y2, square centre (2,), square side)``, original px.

    Raises:
        ValueError: the box lies outside the image.
    """
    h, w = int(image_shape[0]), int(image_shape[1])
    x1, y1, x2, y2 = tall_person_box(center, scale)
    box = np.array([max(x1, 0.0), max(y1, 0.0), min(x2, float(w)), min(y2, float(h))])
    if not (box[2] > box[0] and box[3] > box[1]):
        raise ValueError(f"the person box ({x1:.6g}, {y1:.6g}, {x2:.6g}, {y2:.6g}) lies outside the {w}x{h} image")
    side = float(max(box[2] - box[0], box[3] - box[1]))
    return box, np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]), side


def adjust_person_box(centers, scales, scale_factor: float = MPII_SCALE_FACTOR,
                      center_shift: float = MPII_CENTER_SHIFT) -> tuple[np.ndarray, np.ndarray]:
    """Raw MPII person boxes -> the boxes that are cropped (the MPII protocol by default).

    ``center' = (x, y + center_shift * scale)``, ``scale' = scale * scale_factor``; the crop box is the
    square of side ``scale' * 200`` px around ``center'``.

    Args:
        centers: (..., 2) raw centres, original px.
        scales: (...) raw scales (box = scale * 200 px).

    Returns:
        ``(centers', scales')`` float64 arrays of the same shapes.
    """
    centers = np.array(centers, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64)
    centers[..., 1] += float(center_shift) * scales
    return centers, scales * float(scale_factor)


def raw_person_box(centers, scales, scale_factor: float = MPII_SCALE_FACTOR,
                   center_shift: float = MPII_CENTER_SHIFT) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of :func:`adjust_person_box`: adjusted boxes (e.g. ``valid.h5``) -> raw MPII boxes.

    ``scale = scale' / scale_factor``, ``y = y' - center_shift * scale``.

    Raises:
        ValueError: a non-positive ``scale_factor``.
    """
    if not scale_factor > 0:
        raise ValueError(f"scale_factor must be > 0, got {scale_factor}")
    raw_scales = np.asarray(scales, dtype=np.float64) / float(scale_factor)
    centers = np.array(centers, dtype=np.float64)
    centers[..., 1] -= float(center_shift) * raw_scales
    return centers, raw_scales


#: Crop modes: ``center_scale`` (the square ``scale * 200 * scale_factor`` box) and
#: ``clip_pad_square`` (the ``210 s x 120 s`` box clipped to the image, zero-padded to a square,
#: :func:`clip_pad_square_box`).
CROP_MODES = ("center_scale", "clip_pad_square")


def check_crop_box(center: Sequence[float], side: float, image_shape: Sequence[int]) -> None:
    """Check that a square crop box is a usable view of an image.

    The rules: centre and side finite; side at least :data:`MIN_BOX_SIDE` (4) px and at most
    :data:`MAX_BOX_RATIO` (10) times the image's longer side; the box overlaps the image's pixel
    area ``[-0.5, W - 0.5] x [-0.5, H - 0.5]`` (pixel-centre convention). A box that fails would
    crop only padding, a few pixels blown up, or a speck of the image.

    Args:
        center: (2,) box centre (x, y), original px.
        side: box side, original px (``scale * 200 * scale_factor``).
        image_shape: ``(H, W, ...)`` of the image.

    Raises:
        ValueError: the rule that fails, with the box and the image size.
    """
    h, w = int(image_shape[0]), int(image_shape[1])
    cx, cy = (float(v) for v in np.asarray(center, dtype=np.float64).reshape(2))
    side = float(side)
    if not (np.isfinite(cx) and np.isfinite(cy) and np.isfinite(side)):
        raise ValueError(f"the person box (centre ({cx}, {cy}), side {side} px) is not finite")
    if side < MIN_BOX_SIDE:
        raise ValueError(f"the person box side is {side:.4g} px, below the minimum of {MIN_BOX_SIDE:g} px "
                         "(is the scale too small?)")
    if side > MAX_BOX_RATIO * max(h, w):
        raise ValueError(f"the person box side is {side:.4g} px, more than {MAX_BOX_RATIO:g} x the longer side of "
                         f"the {w}x{h} image (is the scale too large?)")
    half = side / 2
    if cx + half <= -0.5 or cx - half >= w - 0.5 or cy + half <= -0.5 or cy - half >= h - 0.5:
        raise ValueError(f"the person box (centre ({cx:.6g}, {cy:.6g}), side {side:.4g} px) lies outside the "
                         f"{w}x{h} image")



def _box(center: Sequence[float], scale: float, mode: str, scale_factor: float, center_shift: float,
         image_shape: Sequence[int] | None) -> tuple[np.ndarray, float, float, np.ndarray | None]:
    """``(box centre, box scale, enlargement, keep box)`` of :func:`crop_box` (side = scale * 200 *
    enlargement; keep box: the clipped box of ``clip_pad_square``, else None)."""
    if mode not in CROP_MODES:
        raise ValueError(f"unknown crop mode {mode!r}; expected one of {CROP_MODES}")
    keep_box = None
    if mode == "clip_pad_square":
        if image_shape is None:
            raise ValueError("the clip_pad_square crop needs the image size (it clips the box to the image)")
        keep_box, box_center, side = clip_pad_square_box(center, scale, image_shape)
        box_scale, factor = side / SCALE_UNIT, 1.0
    else:
        box_center = np.asarray(center, dtype=np.float64).reshape(2).copy()
        box_center[1] += float(center_shift) * float(scale)
        box_scale, factor = float(scale), float(scale_factor)
    if not box_scale * factor > 0:
        raise ValueError(f"box side must be > 0, got scale={scale}, scale_factor={scale_factor}")
    return box_center, box_scale, factor, keep_box


def crop_box(center: Sequence[float], scale: float, mode: str = "center_scale",
             scale_factor: float = MPII_SCALE_FACTOR, center_shift: float = MPII_CENTER_SHIFT,
             image_shape: Sequence[int] | None = None) -> tuple[np.ndarray, float]:
    """The square box cropped for a raw person box, without augmentation.

    Args:
        center, scale: the raw MPII person box (original px; ``scale * 200`` px high).
        mode: one of :data:`CROP_MODES`.
        scale_factor, center_shift: the box adjustment of ``center_scale`` (default: the MPII
            protocol, :func:`adjust_person_box`); ``clip_pad_square`` uses the raw box as its report
            does and ignores both.
        image_shape: ``(H, W, ...)`` of the image; ``clip_pad_square`` needs it.

    Returns:
        ``(box_center (2,), side)``: the square of side ``side`` original px around ``box_center``
        (original px) that becomes the crop.

    Raises:
        ValueError: unknown mode, a non-positive box, or ``clip_pad_square`` without ``image_shape``
            or with a box outside the image.
    """
    box_center, box_scale, factor, _ = _box(center, scale, mode, scale_factor, center_shift, image_shape)
    return box_center, box_scale * SCALE_UNIT * factor


def person_crop(center: Sequence[float], scale: float, output_size: int, mode: str = "center_scale",
                scale_factor: float = MPII_SCALE_FACTOR, rot_deg: float = 0.0, scale_mult: float = 1.0,
                center_shift: float = MPII_CENTER_SHIFT, image_shape: Sequence[int] | None = None,
                ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, float]:
    """The crop of one person: the one place that turns a raw person box into the crop affine.

    Args:
        center, scale: the raw person box (original px; box side ``scale * 200`` px).
        output_size: crop side ``S``.
        mode: one of :data:`CROP_MODES`.
        scale_factor, center_shift: the box adjustment of ``center_scale`` (:func:`crop_box`;
            ignored by ``clip_pad_square``).
        rot_deg, scale_mult: augmentation rotation (degrees, about the box centre) and box-size
            multiplier.
        image_shape: ``(H, W, ...)`` of the image; when given, the crop box (before augmentation)
            must pass :func:`check_crop_box`. ``clip_pad_square`` needs it (it clips to the image).

    Returns:
        ``(affine, keep_box, center, scale)``: the (2, 3) original -> crop affine, the box outside
        which crop pixels are zeroed (``clip_pad_square``; else None) for :func:`crop_image`, and the
        centre and scale actually cropped (the box centre after ``center_shift`` or the
        ``clip_pad_square`` conversion; the scale after that conversion and ``scale_mult``, before
        ``scale_factor``).

    Raises:
        ValueError: unknown mode, a non-positive box, a box that fails :func:`check_crop_box`, or
            ``clip_pad_square`` without ``image_shape``.
    """
    box_center, box_scale, factor, keep_box = _box(center, scale, mode, scale_factor, center_shift, image_shape)
    if image_shape is not None:
        check_crop_box(box_center, box_scale * SCALE_UNIT * factor, image_shape)
    box_scale *= float(scale_mult)
    affine = get_affine_transform(box_center, box_scale, rot_deg, output_size, scale_factor=factor)
    return affine, keep_box, box_center, box_scale


# --------------------------------------------------------------------------------------------------
# flips


def flip_image(image: np.ndarray) -> np.ndarray:
    """Mirror an (H, W, ...) image left-right: column ``x`` goes to ``W - 1 - x``. Returns a copy."""
    return np.ascontiguousarray(image[:, ::-1])


def flip_joint_axis(arr: np.ndarray, axis: int = -1, keypoints: KeypointSet = MPII) -> np.ndarray:
    """Swap left/right joints along ``axis`` of a per-joint array (weights, flags, ...).

    Args:
        arr: array with one entry per keypoint of ``keypoints`` on ``axis``.
        axis: the joint axis.
        keypoints: the keypoints of the entries, in order (see :meth:`KeypointSet.flip_permutation`).

    Raises:
        ValueError: a keypoint's mirror partner is missing from ``keypoints``.
    """
    return np.take(np.asarray(arr), keypoints.flip_permutation(), axis=axis)


def flip_keypoints(joints: np.ndarray, width: float, keypoints: KeypointSet = MPII) -> np.ndarray:
    """Mirror keypoints to match :func:`flip_image` and swap left/right joints.

    ``x -> width - 1 - x`` (pixel-centre convention), ``y`` unchanged; then joint ``k`` of the result
    is the mirrored joint that is ``k``'s left/right partner (:meth:`KeypointSet.flip_permutation`).

    Args:
        joints: (..., J, 2) (x, y) in the frame of an image of ``width`` px.
        width: image width, px.
        keypoints: the keypoints of the J entries (default: the 16 MPII joints).

    Returns:
        (..., J, 2) float64.
    """
    out = np.array(joints, dtype=np.float64)
    out[..., 0] = width - 1.0 - out[..., 0]
    return np.take(out, keypoints.flip_permutation(), axis=-2)


def flip_heatmaps(heatmaps, keypoints: KeypointSet = MPII):
    """Mirror heat maps along W and swap left/right channels (for flip testing).

    Heat-map column ``u`` goes to ``w - 1 - u``. With the centre-aligned convention of
    :class:`posekit.data.targets.HeatmapCodec` this is exactly the image of the crop mirror
    ``x -> S - 1 - x``, so flip testing averages the mirrored maps without any pixel shift.

    Args:
        heatmaps: (..., J, H, W) numpy array or torch tensor.
        keypoints: the keypoints of the J channels (default: the 16 MPII joints).

    Returns:
        Same type and shape as ``heatmaps``.
    """
    perm = keypoints.flip_permutation()
    if isinstance(heatmaps, np.ndarray):
        return np.ascontiguousarray(np.take(heatmaps[..., ::-1], perm, axis=-3))
    import torch

    return torch.flip(heatmaps, dims=(-1,))[..., perm, :, :]


# --------------------------------------------------------------------------------------------------
# augmentation


@dataclass(frozen=True)
class AugParams:
    """One draw of training augmentation.

    Attributes:
        scale_mult: multiplies the box side (> 1 zooms out: the person looks smaller).
        rot_deg: rotation, degrees, positive = counter-clockwise (see :func:`get_affine_transform`).
        flip: mirror the crop left-right and swap left/right joints.
        brightness: multiplicative brightness factor.
        contrast: contrast factor around the image mean grey level.
        shear: horizontal shear factor of the crop (:func:`shear_affine`), applied after the
            rotation and before the flip.
    """

    scale_mult: float = 1.0
    rot_deg: float = 0.0
    flip: bool = False
    brightness: float = 1.0
    contrast: float = 1.0
    shear: float = 0.0


def sample_augmentation(cfg: AugmentConfig, rng: np.random.Generator) -> AugParams:
    """Draw augmentation parameters (Newell et al. 2016, Sec. 4: scale, rotation, flip; plus colour;
    Tang & Wu 2019, Sec. 4.1: plus shear).

    * ``scale_mult ~ U[scale_min, scale_max]``
    * ``rot_deg ~ U[-rotation, rotation]`` with probability ``rotation_prob``, else 0
    * ``flip`` with probability 0.5 when ``cfg.flip``
    * ``brightness ~ U[1 - brightness, 1 + brightness]``, ``contrast ~ U[1 - contrast, 1 + contrast]``
    * ``shear ~ U[-shear, shear]``

    The same number of random draws is made whatever the settings, so changing one setting does
    not change the others' values for a given ``rng`` state. The shear is the last of the seven
    draws, so the first six (and so every run without shear) are what they were before shear
    existed. ``cfg.enabled = False`` gives the identity :class:`AugParams`.
    """
    u = rng.random(7)
    if not cfg.enabled:
        return AugParams()
    scale_mult = cfg.scale_min + (cfg.scale_max - cfg.scale_min) * u[0]
    rot = (2.0 * u[1] - 1.0) * cfg.rotation if u[2] < cfg.rotation_prob else 0.0
    flip = bool(cfg.flip and u[3] < 0.5)
    brightness = 1.0 + cfg.brightness * (2.0 * u[4] - 1.0)
    contrast = 1.0 + cfg.contrast * (2.0 * u[5] - 1.0)
    shear = cfg.shear * (2.0 * u[6] - 1.0)
    return AugParams(float(scale_mult), float(rot), flip, float(brightness), float(contrast), float(shear))


def apply_color_jitter(image: np.ndarray, params: AugParams) -> np.ndarray:
    """Contrast then brightness jitter of an RGB/BGR image with values in [0, 255].

    ``out = clip(((img - mean) * contrast + mean) * brightness, 0, 255)``, where ``mean`` is the
    image's mean grey level (mean over all pixels and channels).

    Args:
        image: (H, W, C) uint8 or float image in [0, 255].
        params: the jitter factors.

    Returns:
        Same shape and dtype as ``image`` (uint8 results are rounded).
    """
    img = image.astype(np.float32)
    mean = float(img.mean())
    out = ((img - mean) * params.contrast + mean) * params.brightness
    out = np.clip(out, 0.0, 255.0)
    if image.dtype == np.uint8:
        return np.rint(out).astype(np.uint8)
    return out.astype(image.dtype, copy=False)
