"""Prediction on image files: expand the inputs, run a predictor, write keypoint JSON and overlays.

Inputs may be image files, folders (their images, sorted, not recursive) and glob patterns. Each
result is written as ``OUT/NAME.json`` and ``OUT/NAME_pose.png``; when two inputs share a file name
(``a/img.jpg``, ``b/img.jpg``) the second and later get ``NAME-2``, ``NAME-3``, ... so no result
overwrites another (the JSON records the input path).
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

import cv2
import numpy as np

from posekit.checkpoint import write_text_atomic
from posekit.data.dataset import load_image
from posekit.viz.draw import draw_result

__all__ = ["IMAGE_SUFFIXES", "expand_inputs", "predict_files", "segmentation_overlay"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Image paths from files, folders and glob patterns, in the given order (duplicates dropped).

    Raises:
        FileNotFoundError: an input that is neither a file, a folder nor a pattern matching files.
    """
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES and q.is_file())
            if not found:
                raise FileNotFoundError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in folder {p}")
        elif p.is_file():
            found = [p]
        elif any(ch in item for ch in "*?["):
            found = sorted(Path(q) for q in glob.glob(item) if Path(q).is_file())
            if not found:
                raise FileNotFoundError(f"no file matches {item!r}")
        else:
            raise FileNotFoundError(f"image file not found: {p}")
        out += [q for q in found if q not in out]
    return out


def _unique_stem(path: Path, used: set[str]) -> str:
    stem, k = path.stem, 2
    name = stem
    while name in used:
        name, k = f"{stem}-{k}", k + 1
    used.add(name)
    return name


#: RGB colours of the 7 part classes (background, head, torso, upper arms, lower arms, upper legs, lower legs).
PART_COLORS = np.array([[0, 0, 0], [255, 215, 0], [80, 200, 120], [0, 160, 255], [150, 80, 255], [255, 120, 0],
                        [255, 60, 160]], np.uint8)


def segmentation_overlay(image: np.ndarray, labels: np.ndarray, affine: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Part labels predicted in crop pixels, warped back onto the original image and blended.

    Args:
        image: ``(H, W, 3)`` uint8 RGB; labels: ``(S, S)`` class ids in crop px; affine: original -> crop.
    """
    h, w = image.shape[:2]
    back = cv2.warpAffine(labels, affine, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    colours = PART_COLORS[np.clip(back, 0, len(PART_COLORS) - 1)]
    out = image.copy()
    fg = back > 0
    out[fg] = (alpha * colours[fg] + (1 - alpha) * image[fg]).astype(np.uint8)
    return out


def predict_files(predictor, images: list[str | Path], out: str | Path, center=None, scale=None, bbox=None,
                  used_names: set[str] | None = None) -> list[dict]:
    """Run ``predictor`` on image files and write a JSON and an overlay PNG for each.

    Args:
        predictor: a :class:`posekit.decoding.predictor.PosePredictor`.
        images: image paths (see :func:`expand_inputs` for folders and patterns).
        center, scale, bbox: the person box (the whole image when none is given).
        used_names: output names already taken (shared across calls into the same folder).

    Returns:
        One dict per image: ``image``, ``json``, ``overlay`` paths and the prediction record.

    Raises:
        posekit.data.dataset.DataError: an image is missing or cannot be decoded (named).
        ValueError: an invalid person box (named with the image).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    used = used_names if used_names is not None else set()
    results = []
    for path in images:
        image = load_image(path)
        try:
            pred = predictor.predict(image, center=center, scale=scale, bbox=bbox)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        stem = _unique_stem(Path(path), used)
        record = {"image": str(path), "width": image.shape[1], "height": image.shape[0], **pred.to_dict()}
        json_path, png_path = out / f"{stem}.json", out / f"{stem}_pose.png"
        write_text_atomic(json_path, json.dumps(record, indent=2))
        shown = image
        if "segmentation" in pred.extra:
            shown = segmentation_overlay(image, pred.extra["segmentation"], pred.affine)
        overlay = draw_result(shown, pred.keypoints, pred.keypoint_set, display_size=None)
        cv2.imwrite(str(png_path), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
        results.append({"image": str(path), "json": str(json_path), "overlay": str(png_path), "prediction": record})
    return results

