"""Person detection for images without a given person box: a small detector interface and an
offline default.

posekit is a single-person (top-down) estimator: it needs one box per person. A detector is any
callable ``detector(image) -> list[Detection]`` (RGB uint8 ``(H, W, 3)`` in, boxes in original
image pixels out), so a better detector (a COCO-trained one, your own boxes) plugs in without
changes. The default, :class:`HOGPersonDetector`, is the pedestrian detector that ships inside
OpenCV 4 (histograms of oriented gradients and a linear SVM, Dalal & Triggs, CVPR 2005): it needs
no download and runs on a CPU, but it is trained on upright pedestrians and misses seated,
bent or partly visible people; measured hit rates on the sample photos are in docs/inference.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

__all__ = ["Detection", "PersonDetector", "HOGPersonDetector", "make_detector", "box_iou", "DETECTORS"]


@dataclass(frozen=True)
class Detection:
    """One detected person: ``box`` ``(x1, y1, x2, y2)`` original image px and a ``score`` (higher
    is more confident; its scale depends on the detector)."""

    box: tuple[float, float, float, float]
    score: float


#: A person detector: RGB uint8 image ``(H, W, 3)`` -> detections, best first.
PersonDetector = Callable[[np.ndarray], list[Detection]]


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes (0 when either is empty)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


class HOGPersonDetector:
    """OpenCV's HOG + linear-SVM people detector (``cv2.HOGDescriptor_getDefaultPeopleDetector``).

    Args:
        max_side: images are shrunk so that their longer side is at most this many pixels before
            detection (speed; boxes are mapped back to original pixels).
        min_score: detections with a lower SVM score are dropped.
        nms_iou: overlapping detections above this IoU are merged (non-maximum suppression).
        max_people: keep at most this many, best first.

    Raises:
        RuntimeError: the installed OpenCV has no HOG people detector (OpenCV 5 removed it; install
            ``opencv-python-headless<5``).
    """

    def __init__(self, max_side: int = 800, min_score: float = 0.3, nms_iou: float = 0.4, max_people: int = 10):
        if not hasattr(cv2, "HOGDescriptor"):
            raise RuntimeError(f"OpenCV {cv2.__version__} has no HOG people detector; install "
                               "'opencv-python-headless<5', pass person boxes, or plug in another detector")
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.max_side, self.min_score, self.nms_iou, self.max_people = max_side, min_score, nms_iou, max_people

    def __call__(self, image: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        f = min(1.0, self.max_side / max(h, w))
        small = cv2.resize(image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA) if f < 1 else image
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        rects, scores = self.hog.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8), scale=1.05)
        if len(rects) == 0:
            return []
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        keep = cv2.dnn.NMSBoxes([list(map(int, r)) for r in rects], scores.tolist(), self.min_score, self.nms_iou)
        keep = sorted(np.asarray(keep, dtype=int).reshape(-1).tolist(), key=lambda i: -scores[i])[: self.max_people]
        out = []
        for i in keep:
            x, y, bw, bh = (float(v) / f for v in rects[i])
            out.append(Detection((max(0.0, x), max(0.0, y), min(w - 1.0, x + bw), min(h - 1.0, y + bh)), float(scores[i])))
        return out


#: Detector names for the command line.
DETECTORS = ("hog", "none")


def make_detector(name: str | PersonDetector | None) -> PersonDetector | None:
    """A detector from a name (``"hog"``; ``"none"`` or None: no detector) or a callable (returned as is).

    Raises:
        ValueError: an unknown name.
        RuntimeError: the detector cannot run here (see :class:`HOGPersonDetector`).
    """
    if name is None or name == "none":
        return None
    if callable(name):
        return name
    if name == "hog":
        return HOGPersonDetector()
    raise ValueError(f"unknown detector {name!r}; expected one of {', '.join(DETECTORS)} or a callable")
