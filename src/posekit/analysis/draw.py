"""Drawing keypoints and skeletons on images (OpenCV)."""

from __future__ import annotations

import cv2
import numpy as np

from posekit.joints import FLIP_PAIRS, SKELETON

_LEFT = {b for _, b in FLIP_PAIRS}
_RIGHT = {a for a, _ in FLIP_PAIRS}
#: RGB colours: right side red-ish, left side blue-ish, centre line green (the usual convention).
RIGHT_COLOR, LEFT_COLOR, CENTER_COLOR = (230, 60, 60), (60, 120, 240), (60, 200, 90)


def _side_color(a: int, b: int) -> tuple[int, int, int]:
    if a in _RIGHT or b in _RIGHT:
        return RIGHT_COLOR
    if a in _LEFT or b in _LEFT:
        return LEFT_COLOR
    return CENTER_COLOR


def draw_skeleton(image: np.ndarray, keypoints: np.ndarray, valid: np.ndarray | None = None,
                  color: tuple[int, int, int] | None = None, thickness: int | None = None) -> np.ndarray:
    """Draw limbs and joints on a copy of ``image``.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        keypoints: ``(16, 2)`` x, y in the image's pixels (MPII joint order).
        valid: ``(16,)`` bool, joints to draw (default all); limbs need both ends valid.
        color: one RGB colour for everything (default: right red, left blue, centre green).
        thickness: line width in pixels (default: scaled with the image size).

    Returns:
        ``(H, W, 3)`` uint8 RGB image with the skeleton drawn.
    """
    out = np.ascontiguousarray(image.copy())
    valid = np.ones(len(keypoints), bool) if valid is None else np.asarray(valid, bool)
    th = thickness or max(1, round(max(out.shape[:2]) / 200))
    pts = np.round(keypoints).astype(int)
    for a, b in SKELETON:
        if valid[a] and valid[b]:
            cv2.line(out, tuple(pts[a]), tuple(pts[b]), color or _side_color(a, b), th, cv2.LINE_AA)
    for j, p in enumerate(pts):
        if valid[j]:
            cv2.circle(out, tuple(p), th + 1, color or _side_color(j, j), -1, cv2.LINE_AA)
    return out
