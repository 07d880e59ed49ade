"""Drawing keypoints, skeletons, part segmentations and part affinity fields on images (OpenCV), for
every keypoint set.

Colours (RGB): the predicted skeleton is drawn right side orange, left side blue, centre line
purple, so none of them is confused with the evaluation colours of Rockwell, Cortez & Huang
("CNN for Joint Location Estimation", Fig. 9): ground truth white, a correct predicted joint pink
and a wrong one red.
"""

from __future__ import annotations

import cv2
import numpy as np

from posekit.keypoints import KeypointSet

RIGHT_COLOR, LEFT_COLOR, CENTER_COLOR = (255, 150, 20), (50, 120, 255), (170, 90, 230)
GT_COLOR, CORRECT_COLOR, WRONG_COLOR = (255, 255, 255), (255, 105, 180), (230, 20, 20)
#: Coordinates further than this many image sizes outside the image are not drawn.
_DRAW_MARGIN = 4


def _side_color(keypoints: KeypointSet, *names: str) -> tuple[int, int, int]:
    sides = {keypoints.side(n) for n in names}
    if "right" in sides:
        return RIGHT_COLOR
    if "left" in sides:
        return LEFT_COLOR
    return CENTER_COLOR


def _drawable(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(K,) bool: finite and within a few image sizes of the image (OpenCV needs int32 pixels)."""
    h, w = shape[:2]
    lim = _DRAW_MARGIN * max(h, w)
    pts = np.asarray(points, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(pts).all(-1) & (np.abs(pts) <= lim).all(-1)


def draw_skeleton(image: np.ndarray, points: np.ndarray, keypoints: KeypointSet, valid: np.ndarray | None = None,
                  color: tuple[int, int, int] | None = None, thickness: int | None = None) -> np.ndarray:
    """Draw limbs and joints on a copy of ``image``.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        points: ``(K, 2)`` x, y in the image's pixels, in the order of ``keypoints``.
        keypoints: the keypoint set (skeleton limbs and sides).
        valid: ``(K,)`` bool, joints to draw (default: all finite ones); limbs need both ends.
        color: one RGB colour for everything (default: right orange, left blue, centre purple).
        thickness: line width in pixels (default: scaled with the image size).

    Returns:
        ``(H, W, 3)`` uint8 RGB image with the skeleton drawn. Joints with non-finite or absurdly
        far coordinates are skipped.
    """
    out = np.ascontiguousarray(image.copy())
    ok = _drawable(points, out.shape)
    if valid is not None:
        ok &= np.asarray(valid, bool)
    th = thickness or max(1, round(max(out.shape[:2]) / 200))
    pts = np.round(np.where(ok[:, None], points, 0)).astype(np.int64)
    for a, b in keypoints.limbs():
        if ok[a] and ok[b]:
            c = color or _side_color(keypoints, keypoints.names[a], keypoints.names[b])
            cv2.line(out, tuple(map(int, pts[a])), tuple(map(int, pts[b])), c, th, cv2.LINE_AA)
    for j, p in enumerate(pts):
        if ok[j]:
            cv2.circle(out, tuple(map(int, p)), th + 1, color or _side_color(keypoints, keypoints.names[j]), -1,
                       cv2.LINE_AA)
    return out


def draw_result(image: np.ndarray, points: np.ndarray, keypoints: KeypointSet, valid: np.ndarray | None = None,
                correct: np.ndarray | None = None, gt_points: np.ndarray | None = None,
                gt_missing: np.ndarray | None = None, display_size: int | None = 720) -> np.ndarray:
    """A prediction overlay: the predicted skeleton and, with ground truth, the ground-truth skeleton
    in white and a ring around each evaluated predicted joint, pink when correct and red when wrong.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        points: ``(K, 2)`` predicted x, y, original px; ``valid`` ``(K,)`` which were predicted.
        keypoints: their keypoint set.
        correct: ``(K,)`` bool per joint, or None (no ground truth).
        gt_points, gt_missing: ``(K, 2)`` ground truth and ``(K,)`` missing flags (with ``correct``).
        display_size: longest side of the returned image (shrunk, never enlarged); None keeps it.

    Returns:
        ``(H', W', 3)`` uint8 RGB.
    """
    valid = _drawable(points, image.shape) if valid is None else np.asarray(valid, bool) & _drawable(points, image.shape)
    out = image
    th = max(1, round(max(image.shape[:2]) / 200))
    if correct is not None:
        out = draw_skeleton(out, gt_points, keypoints, valid=~np.asarray(gt_missing, bool), color=GT_COLOR,
                            thickness=max(1, th // 2))
    out = draw_skeleton(out, points, keypoints, valid=valid, thickness=th)
    if correct is not None:
        for j in range(len(keypoints)):
            if valid[j] and not gt_missing[j]:
                p = tuple(int(round(v)) for v in points[j])
                cv2.circle(out, p, 3 * th + 2, CORRECT_COLOR if correct[j] else WRONG_COLOR, th, cv2.LINE_AA)
    scale = display_size / max(out.shape[:2]) if display_size else 1.0
    if scale < 1:
        out = cv2.resize(out, (round(out.shape[1] * scale), round(out.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    return out


#: RGB colours of the 7 part classes (background, head, torso, upper arms, lower arms, upper legs, lower legs).
PART_COLORS = np.array([[0, 0, 0], [255, 215, 0], [80, 200, 120], [0, 160, 255], [150, 80, 255], [255, 120, 0],
                        [255, 60, 160]], np.uint8)


def segmentation_overlay(image: np.ndarray, labels: np.ndarray, affine: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Part labels predicted in crop pixels, warped back onto the original image and blended
    (background left as it is).

    Args:
        image: ``(H, W, 3)`` uint8 RGB; labels: ``(S, S)`` class ids in crop px; affine: ``(2, 3)``
            original -> crop.

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    h, w = image.shape[:2]
    back = cv2.warpAffine(labels.astype(np.uint8), np.asarray(affine, np.float64), (w, h),
                          flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    colours = PART_COLORS[np.clip(back, 0, len(PART_COLORS) - 1)]
    out = image.copy()
    fg = back > 0
    out[fg] = (alpha * colours[fg] + (1 - alpha) * image[fg]).astype(np.uint8)
    return out


def paf_overlay(image: np.ndarray, pafs: np.ndarray, affine: np.ndarray, crop_size: int, alpha: float = 0.7) -> np.ndarray:
    """Part affinity fields on the original image: at each pixel the strongest limb's vector, its
    direction as hue and its length (clipped at 1) as brightness, blended where the length is > 0.1.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        pafs: ``(2L, h, w)`` x / y components per limb on the heat-map grid of the crop.
        affine: ``(2, 3)`` original -> crop; crop_size: the crop side ``S`` (px).

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    v = np.asarray(pafs, np.float32).reshape(-1, 2, *pafs.shape[-2:])
    length = np.hypot(v[:, 0], v[:, 1])
    best = length.argmax(0)
    vx = np.take_along_axis(v[:, 0], best[None], 0)[0]
    vy = np.take_along_axis(v[:, 1], best[None], 0)[0]
    mag = np.clip(np.hypot(vx, vy), 0, 1)
    hsv = np.stack([(np.degrees(np.arctan2(vy, vx)) % 360) / 2, np.full_like(mag, 255), mag * 255], -1).astype(np.uint8)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    rgb = cv2.resize(rgb, (crop_size, crop_size), interpolation=cv2.INTER_LINEAR)
    weight = cv2.resize(mag, (crop_size, crop_size), interpolation=cv2.INTER_LINEAR)
    h, w = image.shape[:2]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    rgb = cv2.warpAffine(rgb, np.asarray(affine, np.float64), (w, h), flags=flags, borderValue=0)
    weight = cv2.warpAffine(weight, np.asarray(affine, np.float64), (w, h), flags=flags, borderValue=0)
    on = weight > 0.1
    out = image.copy()
    out[on] = (alpha * rgb[on] + (1 - alpha) * image[on]).astype(np.uint8)
    return out
