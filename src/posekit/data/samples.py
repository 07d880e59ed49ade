"""The sample photos used by the demos (``posekit quickstart``, the GUI): real MPII and COCO images
with their person boxes (and MPII ground truth).

posekit does not ship photos. The demos look for a folder laid out like the project's test and demo
data (``mpii/images/annotations.json`` with its images, ``coco/test_coco.json`` with its images),
in this order: the folder given explicitly (``--samples``), the ``POSEKIT_SAMPLE_DATA`` environment
variable, ``./shared/data`` and ``../shared/data`` from the working folder. Without one, the demos
use the synthetic validation images instead and say so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posekit.data.annotations import load_annotations

__all__ = ["SAMPLE_DATA_ENV", "Sample", "find_sample_data", "sample_photos"]

#: Environment variable naming the sample-data folder.
SAMPLE_DATA_ENV = "POSEKIT_SAMPLE_DATA"


def find_sample_data(explicit: str | Path | None = None) -> Path | None:
    """The sample-data folder (see the module docstring), or None when there is none.

    Raises:
        FileNotFoundError: ``explicit`` is given but is not a folder.
    """
    if explicit is not None:
        path = Path(explicit)
        if not path.is_dir():
            raise FileNotFoundError(f"sample data folder not found: {path}")
        return path
    candidates = [os.environ.get(SAMPLE_DATA_ENV), "shared/data", "../shared/data"]
    for c in candidates:
        if c and ((Path(c) / "mpii").is_dir() or (Path(c) / "coco").is_dir()):
            return Path(c)
    return None


@dataclass
class Sample:
    """A sample photo, its person box (``center`` + ``scale`` or ``bbox``) and optional ground truth
    (MPII joints, original px; ``missing`` flags; PCKh head size, px, and where it came from)."""

    label: str
    path: str
    box: dict
    joints: np.ndarray | None = None
    missing: np.ndarray | None = None
    head_size: float | None = None
    head_size_source: str = ""
    extra: dict = field(default_factory=dict)


def _valid_h5_head_sizes(folder: Path) -> dict[tuple[str, int], float]:
    """(image name, rounded center x) -> ``normalize`` of ``mpii/valid.h5`` (empty if absent)."""
    path = folder / "mpii" / "valid.h5"
    if not path.is_file():
        return {}
    ann = load_annotations(path)
    return {(n, int(round(c[0]))): float(h) for n, c, h in zip(ann.image_names, ann.centers, ann.head_sizes)}


def sample_photos(folder: Path | None) -> list[Sample]:
    """The photos of a sample-data folder: MPII images with their annotated center/scale and joints
    (head size from ``valid.h5`` when the person is one of its validation people, else an estimate:
    ``0.1 * 200 * scale * 1.25``, since ``normalize / (200 * scale)`` is 0.1 on ``valid.h5`` and the
    json ``scale`` is the ``valid.h5`` scale / 1.25), then COCO images with the largest annotated
    person's box (no MPII ground truth)."""
    if folder is None:
        return []
    out: list[Sample] = []
    mpii = folder / "mpii" / "images" / "annotations.json"
    if mpii.is_file():
        heads = _valid_h5_head_sizes(folder)
        ann = load_annotations(mpii)
        for i, name in enumerate(ann.image_names):
            key = (name, int(round(ann.centers[i, 0])))
            if key in heads:
                head, source = heads[key], "valid.h5 normalize (official head size)"
            else:
                head, source = 0.1 * 200 * ann.scales[i] * 1.25, "estimate 0.1 x 200 x scale x 1.25"
            out.append(Sample(f"MPII {name}", str(mpii.parent / name),
                              {"center": ann.centers[i].tolist(), "scale": float(ann.scales[i])},
                              ann.joints[i], ~ann.annotated[i], float(head), source))
    coco = folder / "coco" / "test_coco.json"
    if coco.is_file():
        data = json.loads(coco.read_text())
        for img in data.get("images", []):
            anns = [a for a in data.get("annotations", []) if a["image_id"] == img["id"] and a.get("num_keypoints", 1) > 0]
            if anns:
                x, y, w, h = max(anns, key=lambda a: a["bbox"][2] * a["bbox"][3])["bbox"]
                out.append(Sample(f"COCO {img['file_name']}", str(coco.parent / img["file_name"]),
                                  {"bbox": (x, y, x + w, y + h)}))
    return out
