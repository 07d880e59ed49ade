"""Prediction on images, folders, videos and cameras: :class:`PoseInferencer` and its writers.

Inputs are image files, folders (their images, sorted, not recursive), glob patterns, video files
(``.mp4``, ``.avi``, ``.mov``, ``.mkv``, ``.webm``: every frame), a camera index, or images in memory.
Each person needs a box: a box given for every image (``bbox`` or ``center`` + ``scale``), boxes
per image from a file (:func:`load_boxes_file`: COCO detection results or ``{file name: boxes}``),
or, without either, a person detector (:mod:`posekit.decoding.detection`; an image where it finds
nobody is predicted on as a whole).

:func:`predict_to_folder` writes, for each image ``OUT/NAME.json`` (every person's keypoints in
original image pixels, confidences and box) and ``OUT/NAME_pose.png`` (the overlay); for a video
``OUT/NAME.json`` (one entry per frame) and ``OUT/NAME_pose.mp4``; and for the whole run
``OUT/results_coco.json`` (the COCO keypoint-results format) plus, for an MPII model,
``OUT/pred.mat`` (``preds`` (N, 16, 2), one row per person in the order of the results, posekit's
0-based pixels). Two inputs with the same file name get ``NAME-2``, ``NAME-3``, ... so no result
overwrites another.
"""

from __future__ import annotations

import glob
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import cv2
import numpy as np

from posekit.checkpoint import atomic_write
from posekit.data.dataset import load_image
from posekit.data.transforms import crop_box
from posekit.decoding.detection import Detection, make_detector
from posekit.decoding.predictor import PosePrediction, PosePredictor
from posekit.keypoints import COCO, MPII
from posekit.viz.draw import draw_result, paf_overlay, segmentation_overlay

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "expand_inputs", "load_boxes_file", "PersonResult", "ImageResult",
           "PoseInferencer", "predict_to_folder", "prediction_overlay", "coco_results"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Image and video paths from files, folders and glob patterns, in the given order (duplicates dropped).

    Raises:
        FileNotFoundError: an input that is neither a file, a folder with images nor a pattern matching files.
    """
    out: list[Path] = []
    for item in inputs:
        item = str(item)
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"no image or video files ({', '.join(IMAGE_SUFFIXES + VIDEO_SUFFIXES)}) in "
                                        f"folder {p}")
        elif p.is_file():
            found = [p]
        elif any(ch in item for ch in "*?["):
            found = sorted(Path(q) for q in glob.glob(item) if Path(q).is_file())
            if not found:
                raise FileNotFoundError(f"no file matches {item!r}")
        else:
            raise FileNotFoundError(f"input not found: {p}")
        out += [q for q in found if q not in out]
    return out


def load_boxes_file(path: str | Path, min_score: float = 0.0) -> dict[str, list[tuple[float, float, float, float]]]:
    """Person boxes per image from a file, keyed by image file name (and, for COCO, by numeric id).

    Accepted: COCO detection results (a json list of ``{"image_id", "category_id", "bbox": [x, y, w,
    h], "score"}``; person = category 1; an image matches by its numeric file stem, e.g.
    ``000000000785.jpg`` -> 785, or by an optional ``"file_name"``), or ``{"file name": [[x1, y1,
    x2, y2], ...]}``. Boxes are returned as ``(x1, y1, x2, y2)`` original px, best score first.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not valid json or not one of the layouts (the entry is named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"boxes file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid json ({e})") from None
    out: dict[str, list] = {}
    if isinstance(data, dict):
        for name, boxes in data.items():
            try:
                out[str(name)] = [tuple(float(v) for v in b) for b in boxes]
            except (TypeError, ValueError):
                raise ValueError(f"{path}: entry {name!r}: expected a list of [x1, y1, x2, y2] boxes") from None
            if any(len(b) != 4 for b in out[str(name)]):
                raise ValueError(f"{path}: entry {name!r}: every box needs 4 numbers x1, y1, x2, y2")
        return out
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected COCO detection results (a list) or {{file name: boxes}}")
    scored: dict[str, list] = {}
    for i, det in enumerate(data):
        if not isinstance(det, dict) or "bbox" not in det or ("image_id" not in det and "file_name" not in det):
            raise ValueError(f"{path}: detection {i}: needs 'bbox' and 'image_id' (or 'file_name')")
        if det.get("category_id", 1) != 1 or det.get("score", 1.0) < min_score:
            continue
        try:
            x, y, w, h = (float(v) for v in det["bbox"])
        except (TypeError, ValueError):
            raise ValueError(f"{path}: detection {i}: 'bbox' must be [x, y, w, h]") from None
        key = str(det.get("file_name", det.get("image_id")))
        scored.setdefault(key, []).append((float(det.get("score", 1.0)), (x, y, x + w, y + h)))
    return {k: [b for _, b in sorted(v, key=lambda t: -t[0])] for k, v in scored.items()}


def _boxes_for(boxes: dict[str, list], source: str) -> list | None:
    name = Path(source).name
    if name in boxes:
        return boxes[name]
    stem = Path(source).stem
    if stem.isdigit() and str(int(stem)) in boxes:
        return boxes[str(int(stem))]
    return None


@dataclass
class PersonResult:
    """One person in one image: ``keypoints`` ``(K, 2)`` original px, ``scores`` ``(K,)`` (heat-map
    peaks), the person ``box`` ``(x1, y1, x2, y2)`` it was cropped from (original px) and where that
    box came from (``box_source``: ``"given"``, ``"boxes_file"``, ``"detector"`` or ``"image"``),
    the detector's score, and the full :class:`~posekit.decoding.predictor.PosePrediction`."""

    keypoints: np.ndarray
    scores: np.ndarray
    box: tuple[float, float, float, float]
    box_source: str
    prediction: PosePrediction
    detector_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = self.prediction.to_dict()
        d["box"] = [round(float(v), 2) for v in self.box]
        d["box_source"] = self.box_source
        if self.detector_score is not None:
            d["detector_score"] = round(self.detector_score, 4)
        return d


@dataclass
class ImageResult:
    """The people found in one image (or video frame): ``source`` path, ``frame`` index for videos
    and cameras, the image size and the RGB ``image`` itself (for overlays)."""

    source: str
    people: list[PersonResult]
    image: np.ndarray = field(repr=False)
    frame: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"image": self.source, "width": int(self.image.shape[1]),
                             "height": int(self.image.shape[0])}
        if self.frame is not None:
            d["frame"] = self.frame
        d["people"] = [p.to_dict() for p in self.people]
        return d


def _frames(source: str | int, max_frames: int | None) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB frame) of a video file or camera.

    Raises:
        FileNotFoundError: the video cannot be opened (named).
    """
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        what = f"camera {source}" if isinstance(source, int) else f"video {source}"
        raise FileNotFoundError(f"cannot open {what}")
    try:
        i = 0
        while max_frames is None or i < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            yield i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            i += 1
    finally:
        cap.release()


def video_fps(path: str | Path) -> float:
    """Frames per second stored in a video file (25 when the file does not say)."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
    cap.release()
    return float(fps) if fps and fps > 0 else 25.0


class PoseInferencer:
    """Keypoints for every person in images, folders, videos or a camera, from one checkpoint.

    Args:
        model: a checkpoint path (loaded with :func:`posekit.load_model`) or a :class:`PosePredictor`.
        device, flip, backend: see :meth:`PosePredictor.from_checkpoint` (flip: None = the checkpoint's setting).
        detector: ``"auto"`` (the HOG detector when this OpenCV has it, else none), ``"hog"``,
            ``"none"``/None, or a callable (:mod:`posekit.decoding.detection`); used for images
            without a given box.

    Example::

        from posekit import PoseInferencer
        for result in PoseInferencer("runs/quickstart/best.pt")(["photos/", "clip.mp4"]):
            for person in result.people:
                print(result.source, result.frame, person.keypoints)   # (K, 2) original pixels

    Raises:
        FileNotFoundError / posekit.checkpoint.CheckpointError: an unreadable checkpoint.
        ValueError: an unknown detector name.
    """

    def __init__(self, model: str | Path | PosePredictor, device: str = "auto", flip: bool | None = None,
                 backend: str = "torch", detector: Any = "auto"):
        self.predictor = model if isinstance(model, PosePredictor) else PosePredictor.from_checkpoint(
            model, device=device, flip=flip, backend=backend)
        if detector == "auto":
            try:
                detector = make_detector("hog")
            except RuntimeError as e:
                log.warning("no person detector: %s", e)
                detector = None
        self.detector = make_detector(detector)

    @property
    def keypoints(self):
        """The model's keypoint set."""
        return self.predictor.keypoints

    def predict_image(self, image: np.ndarray, source: str = "image", frame: int | None = None,
                      boxes: Sequence[Sequence[float]] | None = None, center=None, scale=None,
                      box_source: str = "given") -> ImageResult:
        """Every person of one RGB image: ``center`` + ``scale`` (one person), ``boxes`` (one
        person each), else the detector's boxes, else the whole image.

        Raises:
            ValueError: an invalid box (named with ``source``).
        """
        try:
            if center is not None:
                pred = self.predictor.predict(image, center=center, scale=scale)
                p = self.predictor   # the square the crop covers (after the crop protocol's shift)
                (cx, cy), side = crop_box(pred.center, pred.scale, p.crop_mode, p.scale_factor, p.center_shift,
                                          image.shape)
                box = (float(cx - side / 2), float(cy - side / 2), float(cx + side / 2), float(cy + side / 2))
                return ImageResult(source, [self._person(pred, box, box_source)], image, frame)
            detections: list[Detection] = []
            if boxes is None and self.detector is not None:
                detections = self.detector(image)
                boxes, box_source = [d.box for d in detections], "detector"
            if not boxes:
                h, w = image.shape[:2]
                boxes, box_source, detections = [(0.0, 0.0, w - 1.0, h - 1.0)], "image", []
            people = []
            for i, b in enumerate(boxes):
                pred = self.predictor.predict(image, bbox=b)
                score = detections[i].score if detections else None
                people.append(self._person(pred, tuple(float(v) for v in b), box_source, score))
            return ImageResult(source, people, image, frame)
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None

    @staticmethod
    def _person(pred: PosePrediction, box, source: str, score: float | None = None) -> PersonResult:
        return PersonResult(pred.keypoints, pred.confidence, box, source, pred, score)

    def __call__(self, inputs: Any, bbox: Sequence[float] | None = None, center=None, scale=None,
                 boxes: dict[str, list] | None = None, max_frames: int | None = None) -> Iterator[ImageResult]:
        """Results for ``inputs``: a path, folder, glob pattern, video, a list of these, an RGB image
        array, or a camera index (int); one :class:`ImageResult` per image or frame, in order.

        Args:
            bbox / center + scale: one person box for every image (original px).
            boxes: per-image boxes (:func:`load_boxes_file`); images it does not list use the detector.
            max_frames: stop each video / camera after this many frames.
        """
        given = [bbox] if bbox is not None else None
        for source, frame, image in _iter_inputs(inputs, max_frames):
            per_image, how = given, "given"
            if per_image is None and boxes is not None:
                per_image, how = _boxes_for(boxes, source), "boxes_file"
            yield self.predict_image(image, source, frame, boxes=per_image, center=center, scale=scale,
                                     box_source=how)


def _iter_inputs(inputs: Any, max_frames: int | None) -> Iterator[tuple[str, int | None, np.ndarray]]:
    if isinstance(inputs, np.ndarray):
        yield "image", None, inputs
        return
    if isinstance(inputs, int) and not isinstance(inputs, bool):
        for i, frame in _frames(inputs, max_frames):
            yield f"camera {inputs}", i, frame
        return
    items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    for path in expand_inputs(items):
        if path.suffix.lower() in VIDEO_SUFFIXES:
            for i, frame in _frames(str(path), max_frames):
                yield str(path), i, frame
        else:
            yield str(path), None, load_image(path)


def prediction_overlay(image: np.ndarray, pred: PosePrediction, correct: np.ndarray | None = None,
                       gt_points: np.ndarray | None = None, gt_missing: np.ndarray | None = None,
                       display_size: int | None = None) -> np.ndarray:
    """The picture of one prediction on its image: the part segmentation and the part affinity
    fields of a multi-task model (the paper's Figs. 2-4) when it predicts them, then the skeleton
    (with ground-truth colouring when ``correct`` is given, :func:`posekit.viz.draw.draw_result`).

    Args:
        image: ``(H, W, 3)`` uint8 RGB; pred: a :class:`posekit.decoding.predictor.PosePrediction`.

    Returns:
        ``(H', W', 3)`` uint8 RGB.
    """
    shown = image
    if "segmentation" in pred.extra:
        shown = segmentation_overlay(shown, pred.extra["segmentation"], pred.affine)
    if "pafs" in pred.extra:
        shown = paf_overlay(shown, pred.extra["pafs"], pred.affine, pred.crop.shape[0])
    return draw_result(shown, pred.keypoints, pred.keypoint_set, correct=correct, gt_points=gt_points,
                       gt_missing=gt_missing, display_size=display_size)


def _overlay(result: ImageResult) -> np.ndarray:
    out = result.image
    for person in result.people:
        out = prediction_overlay(out, person.prediction)
    return out


def coco_results(results: list[ImageResult], keypoints) -> list[dict]:
    """Results in the COCO keypoint-results format: one ``{"image_id", "category_id": 1,
    "keypoints": [x, y, v] * 17, "score"}`` per person, keypoints in COCO-17 order matched by name
    (a COCO keypoint the model does not predict is ``0, 0, 0``); ``image_id`` is the numeric file
    stem when there is one (COCO file names), else the image's index in ``results``; ``score`` is
    the mean keypoint confidence."""
    rows = COCO.map_from(keypoints)
    out = []
    for index, r in enumerate(results):
        stem = Path(r.source).stem
        image_id = int(stem) if stem.isdigit() else index
        for p in r.people:
            kps: list[float] = []
            for src in rows:
                if src is None or not np.isfinite(p.keypoints[src]).all():
                    kps += [0.0, 0.0, 0]
                else:
                    kps += [round(float(p.keypoints[src, 0]), 2), round(float(p.keypoints[src, 1]), 2), 2]
            finite = p.scores[np.isfinite(p.scores)]
            out.append({"image_id": image_id, "category_id": 1, "keypoints": kps,
                        "score": round(float(finite.mean()), 4) if finite.size else 0.0})
    return out


def _unique_stem(path: Path, used: set[str]) -> str:
    stem, k = path.stem, 2
    name = stem
    while name in used:
        name, k = f"{stem}-{k}", k + 1
    used.add(name)
    return name


def predict_to_folder(inferencer: PoseInferencer, inputs: Any, out: str | Path, progress: bool | None = None,
                      used_names: set[str] | None = None, **kwargs) -> list[dict]:
    """Run ``inferencer`` on ``inputs`` and write its results into ``out`` (layout: module docstring).

    Args:
        progress: a progress bar over the inputs (default: when stderr is a terminal).
        used_names: output names already taken in ``out`` (shared across calls).
        kwargs: passed to :meth:`PoseInferencer.__call__` (``bbox``, ``center``, ``scale``, ``boxes``, ``max_frames``).

    Returns:
        One dict per written image or video: ``input``, ``json``, ``overlay`` and ``people`` (count).

    Raises:
        posekit.data.dataset.DataError: an image is missing or cannot be decoded (named).
        ValueError: an invalid person box (named with the image).
    """
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    used = used_names if used_names is not None else set()
    written, collected = [], []
    videos: dict[str, dict] = {}
    show = sys.stderr.isatty() if progress is None else progress
    for result in tqdm(inferencer(inputs, **kwargs), disable=not show, desc="predict", unit="image"):
        collected.append(result)
        if result.frame is None:
            stem = _unique_stem(Path(result.source), used)
            json_path, png_path = out / f"{stem}.json", out / f"{stem}_pose.png"
            atomic_write(json_path, json.dumps(result.to_dict(), indent=2))
            cv2.imwrite(str(png_path), cv2.cvtColor(_overlay(result), cv2.COLOR_RGB2BGR))
            written.append({"input": result.source, "json": str(json_path), "overlay": str(png_path),
                            "people": len(result.people)})
            continue
        v = videos.get(result.source)
        if v is None:
            stem = _unique_stem(Path(result.source.replace(" ", "_")), used)
            fps = video_fps(result.source) if Path(result.source).is_file() else 25.0
            h, w = result.image.shape[:2]
            path = out / f"{stem}_pose.mp4"
            v = videos[result.source] = {"stem": stem, "frames": [], "path": path, "fps": fps,
                                         "writer": cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                                                   (w, h))}
        v["writer"].write(cv2.cvtColor(_overlay(result), cv2.COLOR_RGB2BGR))
        v["frames"].append(result.to_dict())
    for source, v in videos.items():
        v["writer"].release()
        json_path = out / f"{v['stem']}.json"
        atomic_write(json_path, json.dumps({"video": source, "fps": v["fps"], "frames": v["frames"]}, indent=1))
        written.append({"input": source, "json": str(json_path), "overlay": str(v["path"]),
                        "people": sum(len(f["people"]) for f in v["frames"])})
    atomic_write(out / "results_coco.json", json.dumps(coco_results(collected, inferencer.keypoints)))
    if inferencer.keypoints.names == MPII.names:
        from scipy.io import savemat

        preds = np.array([p.keypoints for r in collected for p in r.people], dtype=np.float64).reshape(-1, 16, 2)
        savemat(str(out / "pred.mat"), {"preds": preds})
    return written
