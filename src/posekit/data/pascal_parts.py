"""Reader for PASCAL-Person-Part, the part-segmentation data of the multi-task model
(:mod:`posekit.models.multitask`).

Source: the PASCAL-Part annotations of Chen et al. 2014 ("Detect What You Can: Detecting and
Representing Objects using Holistic Models and Body Parts", CVPR) on PASCAL VOC 2010 images,
with the person parts merged into 6 classes by Xia et al. 2016 ("Zoom Better to See Clearer:
Human and Object Parsing with Hierarchical Auto-Zoom Net", ECCV): 1,716 training and 1,817
validation images.

Layout, as the dataset is commonly distributed::

    root/JPEGImages/<id>.jpg
    root/SegmentationPart/<id>.png      uint8 class ids, see PART_CLASS_NAMES; 255 = void
    root/train_id.txt, root/val_id.txt  one image id per line (``<split>.txt`` is accepted too)
    root/Annotations_Part/<id>.mat      optional: the original PASCAL-Part annotations

Label ids (:data:`PART_CLASS_NAMES`, the same order as
:data:`posekit.data.synthetic.PART_CLASSES`): 0 background, 1 head, 2 torso, 3 upper arms,
4 lower arms, 5 upper legs, 6 lower legs; :data:`IGNORE_INDEX` (255) marks void / unlabelled
pixels, which are neither trained on nor evaluated.

Label PNGs should be single-channel 8-bit index images. PASCAL-style *palette* PNGs (colour
type 3) are read as their palette indices (with Pillow, a dependency of matplotlib; OpenCV would
expand them to colours), and grayscale PNGs stored with 1, 2 or 4 bits per pixel are read as their
stored values (OpenCV scales them up to 0..255). Colour (RGB/RGBA) and 16-bit PNGs are refused:
a colour rendering of a label map cannot be mapped back to class ids unambiguously.

The alternative label source ``Annotations_Part/<id>.mat`` is the original PASCAL-Part MATLAB
struct ``anno`` whose field ``objects`` is a struct array with ``class`` (e.g. ``'person'``),
``mask`` (H x W, 0/1) and ``parts`` (struct array with ``part_name`` and ``mask``). Person parts are
merged with :data:`PASCAL_PART_TO_CLASS`, the usual Person-Part merge.

The dataset has no joint annotations: :func:`pascal_person_part_annotations` returns samples with
no annotated joint, a person box around the labelled foreground and the label file of each image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posekit.data.annotations import PoseAnnotations
from posekit.data.images import (
    DataError,
    check_complete,
    check_pixel_limit,
    header_size,
)

__all__ = [
    "IGNORE_INDEX",
    "PART_CLASS_NAMES",
    "PASCAL_PART_TO_CLASS",
    "load_part_labels",
    "pascal_person_part_annotations",
    "pascal_person_part_folders",
]

#: Class names, index = label id in the label maps.
PART_CLASS_NAMES: tuple[str, ...] = (
    "background", "head", "torso", "upper_arms", "lower_arms", "upper_legs", "lower_legs",
)
#: Label of void / unlabelled pixels (excluded from losses and metrics).
IGNORE_INDEX = 255

#: PASCAL-Part person part name -> Person-Part class id (the usual 6-class Person-Part merge:
#: face parts and hair into head, neck into torso, hands into lower arms, feet into lower legs).
PASCAL_PART_TO_CLASS: dict[str, int] = {
    **{name: 1 for name in ("head", "hair", "leye", "reye", "lear", "rear", "lebrow", "rebrow",
                            "nose", "mouth")},
    **{name: 2 for name in ("torso", "neck")},
    **{name: 3 for name in ("luarm", "ruarm")},
    **{name: 4 for name in ("llarm", "rlarm", "lhand", "rhand")},
    **{name: 5 for name in ("luleg", "ruleg")},
    **{name: 6 for name in ("llleg", "rlleg", "lfoot", "rfoot")},
}

_NUM_CLASSES = len(PART_CLASS_NAMES)
_LABEL_DIRS = {"png": ("SegmentationPart", ".png"), "mat": ("Annotations_Part", ".mat")}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load_part_labels(path: str | Path) -> np.ndarray:
    """Read one PASCAL-Person-Part label map.

    Args:
        path: a ``.png`` index image (``SegmentationPart``) or a PASCAL-Part ``.mat`` annotation
            (``Annotations_Part``, merged with :data:`PASCAL_PART_TO_CLASS`; pixels of a person
            mask without any part become :data:`IGNORE_INDEX`; where parts overlap, the one later
            in the file wins; non-person objects are background).

    Returns:
        ``(H, W)`` uint8 class ids 0..6 (:data:`PART_CLASS_NAMES`) or 255 (void), image pixels.

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        ValueError: the file cannot be decoded, is a colour / 16-bit / multi-channel PNG, holds
            labels other than 0..6 and 255, is a ``.mat`` without a usable ``anno`` struct or with an
            unknown person part name, or has an unsupported extension (all messages name the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"part label file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".png":
        labels = _read_png_labels(path)
    elif suffix == ".mat":
        labels = _read_mat_labels(path)
    else:
        raise ValueError(f"{path}: unsupported part label file type {path.suffix!r} (expected .png or .mat)")
    bad = np.unique(labels[(labels >= _NUM_CLASSES) & (labels != IGNORE_INDEX)])
    if bad.size:
        shown = ", ".join(str(int(v)) for v in bad[:10]) + (", ..." if bad.size > 10 else "")
        raise ValueError(f"{path}: label values {shown} outside 0..{_NUM_CLASSES - 1} and {IGNORE_INDEX}")
    return labels


def _png_header(path: Path) -> tuple[int, int] | None:
    """(bit depth, colour type) from the PNG IHDR chunk, or None when the file is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _read_png_labels(path: Path) -> np.ndarray:
    header = _png_header(path)
    if header is not None and header[1] == 3:  # palette: the indices are the labels
        try:
            from PIL import Image
        except ImportError as err:  # pragma: no cover - Pillow comes with matplotlib
            raise ValueError(
                f"{path}: palette PNG; reading its indices needs Pillow (pip install pillow), "
                "or save the labels as single-channel 8-bit index images"
            ) from err
        with Image.open(path) as im:
            if im.mode != "P":  # pragma: no cover - Pillow opens colour type 3 as "P"
                raise ValueError(f"{path}: palette PNG opened in mode {im.mode!r}, expected 'P'")
            return np.array(im, dtype=np.uint8)
    data = path.read_bytes()
    try:   # the pixel limit and truncation checks of posekit.data.images
        size = header_size(data)
        if size is not None:
            check_pixel_limit(*size, str(path))
        check_complete(data, str(path))
    except DataError as e:
        raise ValueError(str(e)) from None
    labels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if labels is None:
        raise ValueError(f"{path}: cannot decode the image")
    if labels.ndim != 2:
        raise ValueError(
            f"{path}: label image has {labels.shape[2]} channels; part labels must be a single-channel "
            "8-bit (or palette) PNG of class ids, not a colour rendering"
        )
    if labels.dtype != np.uint8:
        raise ValueError(f"{path}: label image is {labels.dtype}, expected 8-bit class ids")
    if header is not None and header[1] == 0 and header[0] < 8:
        # OpenCV expands 1/2/4-bit grayscale to 0..255 (v * 255 / (2^bits - 1)); undo it.
        labels = labels // (255 // (2 ** header[0] - 1))
    return np.ascontiguousarray(labels, dtype=np.uint8)


def _struct_items(value: Any) -> list[Any]:
    """The elements of a MATLAB struct array read with ``squeeze_me=True``: a single element comes
    back as a ``mat_struct``, several as an object array, none as an empty array."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return [] if value.size == 0 else list(value.ravel())
    return [value]


def _mask(path: Path, value: Any, what: str) -> np.ndarray:
    mask = np.asarray(value)
    if mask.ndim != 2:
        raise ValueError(f"{path}: {what} mask has shape {mask.shape}, expected (H, W)")
    return mask != 0


def _read_mat_labels(path: Path) -> np.ndarray:
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except Exception as err:  # scipy raises several types for malformed files
        raise ValueError(f"{path}: cannot read the MATLAB file ({err})") from err
    anno = mat.get("anno")
    if anno is None or not hasattr(anno, "objects"):
        raise ValueError(f"{path}: no struct 'anno' with a field 'objects' (PASCAL-Part annotation)")
    objects = _struct_items(anno.objects)
    if not objects:
        raise ValueError(f"{path}: 'anno.objects' is empty; the image size is unknown")
    shape = None
    persons: list[tuple[np.ndarray, list[tuple[int, np.ndarray]]]] = []
    for k, obj in enumerate(objects):
        mask = _mask(path, getattr(obj, "mask", None), f"object {k}")
        if shape is None:
            shape = mask.shape
        elif mask.shape != shape:
            raise ValueError(f"{path}: object {k} mask has shape {mask.shape}, object 0 has {shape}")
        if str(getattr(obj, "class", "")).strip().lower() != "person":
            continue
        parts = []
        for part in _struct_items(getattr(obj, "parts", None)):
            name = str(getattr(part, "part_name", "")).strip().lower()
            if name not in PASCAL_PART_TO_CLASS:
                raise ValueError(f"{path}: object {k}: unknown person part name {name!r}")
            pmask = _mask(path, getattr(part, "mask", None), f"object {k} part {name!r}")
            if pmask.shape != shape:
                raise ValueError(f"{path}: object {k} part {name!r} mask has shape {pmask.shape}, expected {shape}")
            parts.append((PASCAL_PART_TO_CLASS[name], pmask))
        persons.append((mask, parts))
    labels = np.zeros(shape, np.uint8)
    # All person masks first, then all parts, so that one person's unlabelled pixels never erase
    # another person's part labels.
    for mask, _ in persons:
        labels[mask] = IGNORE_INDEX
    for _, parts in persons:
        for cls, pmask in parts:
            labels[pmask] = cls
    return labels


def pascal_person_part_folders(root: str | Path, label_source: str = "png") -> tuple[Path, Path]:
    """``(image folder, label folder)`` of the layout: ``root/JPEGImages`` and
    ``root/SegmentationPart`` (``label_source="png"``) or ``root/Annotations_Part`` (``"mat"``).

    Raises:
        ValueError: unknown ``label_source``.
    """
    if label_source not in _LABEL_DIRS:
        raise ValueError(f"label_source must be one of {sorted(_LABEL_DIRS)}, got {label_source!r}")
    return Path(root) / "JPEGImages", Path(root) / _LABEL_DIRS[label_source][0]


def _foreground_box(labels: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre (x, y) px and scale (box side / 200) of the labelled foreground (ids 1..6), or of the
    whole image when it has none. Pixel-centre convention: pixels x0..x1 give centre (x0+x1)/2 and
    width x1 - x0 + 1."""
    fg = (labels != 0) & (labels != IGNORE_INDEX)
    if fg.any():
        ys, xs = np.nonzero(fg)
        x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    else:
        x0, y0 = 0, 0
        y1, x1 = labels.shape[0] - 1, labels.shape[1] - 1
    center = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0])
    scale = max(x1 - x0 + 1, y1 - y0 + 1) / 200.0
    return center, float(scale)


def _find_list_file(root: Path, split: str) -> Path:
    candidates = [root / f"{split}_id.txt", root / f"{split}.txt"]
    for cand in candidates:
        if cand.is_file():
            return cand
    raise FileNotFoundError(
        f"PASCAL-Person-Part split list not found: {' or '.join(str(c) for c in candidates)}"
    )


def _read_ids(list_file: Path) -> list[str]:
    """Image ids, one per line. Only the first whitespace-separated token counts, with any folder
    and extension removed, so ``/JPEGImages/2008_000003.jpg /SegmentationPart/2008_000003.png``
    lines give the id ``2008_000003`` too."""
    ids = []
    for line in list_file.read_text().splitlines():
        tokens = line.split()
        if tokens:
            ids.append(Path(tokens[0]).stem)
    return ids


def pascal_person_part_annotations(root: str | Path, split: str = "train",
                                   label_source: str = "png", num_joints: int = 16) -> PoseAnnotations:
    """One sample per image of a PASCAL-Person-Part split (see the module docstring for the layout).

    Every label map is read once, to place the person box: ``centers`` is the centre of the
    bounding box of the labelled foreground pixels (ids 1..6; background and void excluded), and
    ``scales`` its longer side / 200 (``box side = scale * 200`` px, pixel-centre convention: pixels
    x0..x1 span x1 - x0 + 1 px around (x0 + x1) / 2); an image without foreground gets the whole
    image. The dataset has no joints: ``joints`` and ``visible`` are zeros ``(N, num_joints, 2)`` /
``(N, num_joints)`` (``num_joints``: the keypoint set of the data it is mixed with),
    ``annotated`` is all False, ``head_sizes`` and ``headboxes`` are None. Image files are not opened.

    Args:
        root: dataset folder holding ``JPEGImages``, ``SegmentationPart`` (or ``Annotations_Part``)
            and the split lists.
        split: split name; the ids come from ``root/<split>_id.txt`` or else ``root/<split>.txt``.
        label_source: ``"png"`` (``SegmentationPart/<id>.png``) or ``"mat"``
            (``Annotations_Part/<id>.mat``, the original PASCAL-Part annotation).

    Returns:
        :class:`~posekit.data.annotations.PoseAnnotations` with ``source`` = the list file,
        ``image_names`` = ``"<id>.jpg"`` (relative to ``root/JPEGImages``) and
        ``part_label_files`` = ``"<id>.png"`` / ``"<id>.mat"`` (relative to ``root/SegmentationPart``
        / ``root/Annotations_Part``); all coordinates in original image pixels.

    Raises:
        FileNotFoundError: ``root``, the split list or a label file is missing (the message names it).
        ValueError: unknown ``label_source``, an empty split list, or a malformed label file
            (see :func:`load_part_labels`).
    """
    _, label_dir = pascal_person_part_folders(root, label_source)
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"PASCAL-Person-Part root not found: {root}")
    list_file = _find_list_file(root, split)
    ids = _read_ids(list_file)
    if not ids:
        raise ValueError(f"{list_file}: no image id in the split list")
    ext = _LABEL_DIRS[label_source][1]
    centers = np.zeros((len(ids), 2))
    scales = np.zeros(len(ids))
    label_files = [f"{image_id}{ext}" for image_id in ids]
    for i, name in enumerate(label_files):
        centers[i], scales[i] = _foreground_box(load_part_labels(label_dir / name))
    n = len(ids)
    return PoseAnnotations(
        source=str(list_file),
        image_names=[f"{image_id}.jpg" for image_id in ids],
        centers=centers,
        scales=scales,
        joints=np.zeros((n, num_joints, 2)),
        visible=np.zeros((n, num_joints)),
        annotated=np.zeros((n, num_joints), bool),
        part_label_files=label_files,
    )
