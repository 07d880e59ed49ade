"""Reading, validating and writing single-person pose annotations (MPII layouts, any keypoint set).

Two on-disk layouts are supported, both with one entry per *person sample* and all coordinates
in **original image pixels** (x to the right, y down, integer coordinate = pixel centre):

* the HDF5 layout of Newell et al. (stacked hourglass, ``princeton-vl/pytorch_stacked_hourglass``,
  ``valid.h5``): datasets ``imgname`` (N,) bytes, ``center`` (N, 2), ``scale`` (N,),
  ``part`` (N, J, 2), ``visible`` (N, J) and optionally ``normalize`` (N,) (head-size normaliser);
* the json layout of HRNet / mmpose: a list of ``{"image", "center", "scale", "joints" (J x 2),
  "joints_vis" (J)}`` with the optional extra keys ``head_size`` (float, px), ``headbox``
  (``[[x1, y1], [x2, y2]]``) and ``parts`` (file name of a part-segmentation label image);
* the ``joints.mat`` of LSP and LSP-extended (:mod:`posekit.data.lsp`): 14 joints, no person box
  (one is made from the joints), read into another keypoint set with :func:`read_annotations`.

``scale`` is the usual MPII person scale: the person box is ``scale * 200`` px high.

What the readers accept (anything else is an :class:`AnnotationError`): at least one sample;
numbers that are JSON numbers (a string such as ``"12"``, a boolean or ``null`` is refused) or
numeric HDF5 datasets; finite coordinates and scales, ``scale > 0``; visibility flags of exactly 0
or 1; image (and part-label) names that are relative paths inside their folder (no absolute path,
no ``..``). Whether a person box fits its image is checked when the image is read
(:func:`posekit.data.transforms.check_crop_box`).

**Person boxes are raw in memory.** The two layouts store different boxes for the same person
(checked on the five people present in both ``valid.h5`` and the shared mmpose json): the json holds
the raw values of the MPII release (``objpos``, ``scale``), the HDF5 holds the box after the MPII
crop protocol (scale x 1.25, centre y + 15 x raw scale). Each reader declares its file's convention
(``box_convention``: ``mpii_raw`` for the json, ``mpii_adjusted`` for the HDF5, overridable for a
file that differs) and returns raw boxes, so that the crop protocol
(:func:`posekit.data.transforms.person_crop`) is applied exactly once whatever the file.

A joint without a coordinate is stored in the files as ``(0, 0)`` (MPII/Newell) or ``(-1, -1)``
(HRNet-style json). Such joints get ``annotated = False``, coordinates ``(0, 0)`` and
``visible = 0``, and must never be trained on or evaluated. Other negative coordinates are real
annotations (MPII has head tops a few pixels above the image border, e.g. ``y = -14``).

Every problem found while reading raises :class:`AnnotationError` whose message names the file,
the sample index (where one is at fault) and the field.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posekit.checkpoint import atomic_write
from posekit.data.transforms import BOX_CONVENTIONS, MPII_CENTER_SHIFT, MPII_SCALE_FACTOR, crop_box, raw_person_box
from posekit.config import ANNOTATION_FORMATS
from posekit.data.lsp import IMAGE_NAMES, lsp_person_boxes, read_lsp_file
from posekit.keypoints import LSP, KeypointSet

log = logging.getLogger(__name__)

__all__ = [
    "AnnotationError",
    "PoseAnnotations",
    "read_mpii_h5",
    "read_mpii_json",
    "load_annotations",
    "write_json_annotations",
    "ANNOTATION_FORMATS",
    "annotation_format",
    "parse_samples",
    "map_keypoints",
    "read_annotations",
    "read_lsp_annotations",
    "check_num_joints",
    "unannotated_mask",
    "json_float_array",
    "FILE_BOX_CONVENTIONS",
]

#: Fraction of the head-box diagonal used as the PCKh head size (MPII evaluation code).
HEAD_SIZE_FACTOR = 0.6
#: The person-box convention each file layout declares (see the module docstring).
FILE_BOX_CONVENTIONS = {"h5": "mpii_adjusted", "json": "mpii_raw"}


class AnnotationError(ValueError):
    """A malformed annotation file; the message names the file, sample index and field."""


@dataclass
class PoseAnnotations:
    """Struct-of-arrays for N person samples, all coordinates in ORIGINAL image pixels.

    Attributes:
        source: annotation file path (used in error messages).
        image_names: N image file names, relative to the image folder.
        centers: (N, 2) float64 raw MPII person centre (x, y), px (module docstring).
        scales: (N,) float64 raw MPII person scale; the person is about ``scale * 200`` px high.
        joints: (N, J, 2) float64 joint (x, y), px; unannotated joints hold (0, 0).
        visible: (N, J) float64, 1 = visible, 0 = occluded or unannotated.
        annotated: (N, J) bool, True where the joint has a coordinate.
        head_sizes: (N,) float64 head-size normaliser in px (h5 ``normalize``, json ``head_size`` or
            ``0.6 * ||headbox[1] - headbox[0]||``), or None when the file has none.
        headboxes: (N, 2, 2) float64 ``[[x1, y1], [x2, y2]]`` head boxes, px, or None.
        part_label_files: N part-segmentation label file names (json ``parts``), or None.

    Raises:
        AnnotationError: on construction, when the array shapes do not agree.
    """

    source: str
    image_names: list[str]
    centers: np.ndarray
    scales: np.ndarray
    joints: np.ndarray
    visible: np.ndarray
    annotated: np.ndarray
    head_sizes: np.ndarray | None = None
    headboxes: np.ndarray | None = None
    part_label_files: list[str] | None = None

    def __post_init__(self) -> None:
        n = len(self.image_names)
        self.image_names = list(self.image_names)
        self.centers = np.asarray(self.centers, dtype=np.float64)
        self.scales = np.asarray(self.scales, dtype=np.float64)
        self.joints = np.asarray(self.joints, dtype=np.float64)
        self.visible = np.asarray(self.visible, dtype=np.float64)
        self.annotated = np.asarray(self.annotated, dtype=bool)
        j = self.joints.shape[1] if self.joints.ndim == 3 else -1
        expected = {
            "centers": (self.centers, (n, 2)),
            "scales": (self.scales, (n,)),
            "joints": (self.joints, (n, j, 2)),
            "visible": (self.visible, (n, j)),
            "annotated": (self.annotated, (n, j)),
        }
        if self.head_sizes is not None:
            self.head_sizes = np.asarray(self.head_sizes, dtype=np.float64)
            expected["head_sizes"] = (self.head_sizes, (n,))
        if self.headboxes is not None:
            self.headboxes = np.asarray(self.headboxes, dtype=np.float64)
            expected["headboxes"] = (self.headboxes, (n, 2, 2))
        for name, (arr, shape) in expected.items():
            if arr.shape != shape or j < 0:
                raise AnnotationError(
                    f"{self.source}: field {name!r} has shape {arr.shape}, expected {shape} "
                    f"(N = {n} samples, J = {j} joints)"
                )
        if self.part_label_files is not None:
            self.part_label_files = list(self.part_label_files)
            if len(self.part_label_files) != n:
                raise AnnotationError(
                    f"{self.source}: field 'part_label_files' has {len(self.part_label_files)} entries, expected {n}"
                )

    def __len__(self) -> int:
        return len(self.image_names)

    @property
    def num_joints(self) -> int:
        """J, the number of joints per sample."""
        return self.joints.shape[1]

    def crop_boxes(self, mode: str = "center_scale", scale_factor: float = MPII_SCALE_FACTOR,
                   center_shift: float = MPII_CENTER_SHIFT) -> tuple[np.ndarray, np.ndarray]:
        """The square box each person's crop covers, without augmentation
        (:func:`posekit.data.transforms.crop_box`; default: the MPII crop protocol).

        Returns:
            ``(centers (N, 2), sides (N,))`` float64, original px.

        Raises:
            ValueError: unknown mode.
        """
        centers, sides = np.zeros((len(self), 2)), np.zeros(len(self))
        for i in range(len(self)):
            centers[i], sides[i] = crop_box(self.centers[i], float(self.scales[i]), mode, scale_factor, center_shift)
        return centers, sides

    def select_joints(self, ids: Any) -> PoseAnnotations:
        """A copy with only the joints ``ids`` (in that order), e.g. a model's channel keypoints."""
        ids = list(ids)
        return dataclasses.replace(self, joints=self.joints[:, ids].copy(), visible=self.visible[:, ids].copy(),
                                   annotated=self.annotated[:, ids].copy())

    def subset(self, idx: Any) -> PoseAnnotations:
        """The samples selected by ``idx`` (int array, bool mask of length N, slice or list), as a copy."""
        sel = np.arange(len(self))[idx]
        sel = np.atleast_1d(sel)
        return PoseAnnotations(
            source=self.source,
            image_names=[self.image_names[i] for i in sel],
            centers=self.centers[sel].copy(),
            scales=self.scales[sel].copy(),
            joints=self.joints[sel].copy(),
            visible=self.visible[sel].copy(),
            annotated=self.annotated[sel].copy(),
            head_sizes=None if self.head_sizes is None else self.head_sizes[sel].copy(),
            headboxes=None if self.headboxes is None else self.headboxes[sel].copy(),
            part_label_files=None if self.part_label_files is None else [self.part_label_files[i] for i in sel],
        )


def unannotated_mask(joints: np.ndarray) -> np.ndarray:
    """True where a joint has no coordinate: stored as exactly (0, 0) or (-1, -1).

    Args:
        joints: (..., J, 2) joint coordinates as read from a file, original px.

    Returns:
        (..., J) bool.
    """
    joints = np.asarray(joints)
    return np.all(joints == 0, axis=-1) | np.all(joints == -1, axis=-1)


def check_num_joints(ann: PoseAnnotations, expected: int) -> None:
    """Check that every sample of ``ann`` has ``expected`` joints.

    Raises:
        AnnotationError: the joint count differs; the message names the file.
    """
    if ann.num_joints != expected:
        raise AnnotationError(
            f"{ann.source}: field 'joints' has {ann.num_joints} joints per sample, expected {expected}"
        )


# --------------------------------------------------------------------------------------------------
# validation helpers (vectorised: the first offending sample is reported)


def _first_bad(bad: np.ndarray) -> int | None:
    """Index of the first sample (axis 0) where ``bad`` is True anywhere, or None."""
    bad = bad.reshape(bad.shape[0], -1).any(axis=1) if bad.ndim > 1 else bad
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


def json_float_array(value: Any, allow_null: bool = False) -> np.ndarray:
    """A float64 array from a JSON value made of numbers and (nested, regular) lists of numbers.

    Unlike ``np.asarray(value, float)``, nothing is converted silently: a string (``"12"``), a
    boolean, an object or (unless ``allow_null``, which reads it as NaN) ``null`` is an error.

    Raises:
        ValueError: the first element that is not a number (with its position), or ragged lists.
    """
    def check(v: Any, where: tuple[int, ...]) -> None:
        if isinstance(v, list):
            for k, x in enumerate(v):
                check(x, (*where, k))
        elif v is None:
            if not allow_null:
                raise ValueError(f"null at position {list(where)} is not a number")
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{v!r} at position {list(where)} is not a number")

    check(value, ())
    try:
        return np.array(value, dtype=np.float64)
    except (ValueError, OverflowError) as e:
        raise ValueError(f"not a regular array of numbers ({str(e).splitlines()[0]})") from None


def _check_finite(source: str, field: str, arr: np.ndarray) -> None:
    i = _first_bad(~np.isfinite(arr))
    if i is not None:
        raise AnnotationError(f"{source}: sample {i}: field {field!r} has a non-finite value {arr[i].tolist()}")


def _check_scales(source: str, field: str, scales: np.ndarray) -> None:
    _check_finite(source, field, scales)
    i = _first_bad(scales <= 0)
    if i is not None:
        raise AnnotationError(f"{source}: sample {i}: field {field!r} is {float(scales[i])}, expected > 0")


def _check_flags(source: str, field: str, flags: np.ndarray) -> None:
    i = _first_bad((flags != 0) & (flags != 1))
    if i is not None:
        j = int(np.flatnonzero((flags[i] != 0) & (flags[i] != 1))[0])
        raise AnnotationError(f"{source}: sample {i}: field {field!r} is {flags[i, j]:g} at joint {j}, expected 0 "
                              "(occluded or unannotated) or 1 (visible)")


def _check_relative_names(source: str, field: str, names: list[str]) -> None:
    """Image / label names must stay inside their folder: relative, without ``..``."""
    from pathlib import PurePosixPath, PureWindowsPath

    for i, name in enumerate(names):
        posix, windows = PurePosixPath(name), PureWindowsPath(name)
        if (not name or posix.is_absolute() or windows.is_absolute() or windows.drive
                or ".." in posix.parts or ".." in windows.parts):
            raise AnnotationError(f"{source}: sample {i}: field {field!r} is {name!r}; expected a file name "
                                  "relative to the image folder (no absolute path, no '..')")


def _finish(
    source: str,
    names: list[str],
    centers: np.ndarray,
    scales: np.ndarray,
    joints: np.ndarray,
    visible: np.ndarray | None,
    head_sizes: np.ndarray | None,
    headboxes: np.ndarray | None,
    part_files: list[str] | None,
    fields: dict[str, str],
    box_convention: str,
) -> PoseAnnotations:
    """Validate numeric content, bring the person boxes to the raw convention and apply the
    unannotated-joint convention."""
    if not names:
        raise AnnotationError(f"{source}: the file holds no samples")
    _check_relative_names(source, fields["image"], names)
    if part_files is not None:
        _check_relative_names(source, "parts", part_files)
    _check_finite(source, fields["center"], centers)
    _check_scales(source, fields["scale"], scales)
    if box_convention == "mpii_adjusted":
        centers, scales = raw_person_box(centers, scales)
    _check_finite(source, fields["joints"], joints)
    missing = unannotated_mask(joints)
    annotated = ~missing
    joints = np.where(missing[..., None], 0.0, joints)
    if visible is None:
        visible = annotated.astype(np.float64)
    else:
        _check_finite(source, fields["visible"], visible)
        _check_flags(source, fields["visible"], visible)
        visible = np.where(annotated & (visible > 0), 1.0, 0.0)
    if head_sizes is not None:
        _check_finite(source, fields["head_size"], head_sizes)
    if headboxes is not None:
        _check_finite(source, "headbox", headboxes)
    return PoseAnnotations(
        source=source,
        image_names=names,
        centers=centers,
        scales=scales,
        joints=joints,
        visible=visible,
        annotated=annotated,
        head_sizes=head_sizes,
        headboxes=headboxes,
        part_label_files=part_files,
    )


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")


def _check_convention(box_convention: str) -> str:
    if box_convention not in BOX_CONVENTIONS:
        raise ValueError(f"unknown box convention {box_convention!r}; expected one of {', '.join(BOX_CONVENTIONS)}")
    return box_convention


# --------------------------------------------------------------------------------------------------
# HDF5 (Newell et al. 2016)


def read_mpii_h5(path: str | Path, num_joints: int | None = None,
                 box_convention: str = FILE_BOX_CONVENTIONS["h5"]) -> PoseAnnotations:
    """Read the Newell/princeton HDF5 annotation layout (e.g. ``valid.h5``).

    Required datasets: ``imgname`` (N,) bytes, ``center`` (N, 2), ``scale`` (N,), ``part`` (N, J, 2).
    Optional: ``visible`` (N, J) (default: 1 for annotated joints), ``normalize`` (N,) (head size, px).
    ``part`` entries of (0, 0) or (-1, -1) are unannotated joints.

    Args:
        path: the ``.h5`` file.
        num_joints: expected J (e.g. ``len(posekit.keypoints.MPII)``); None accepts any J.
        box_convention: what ``center`` / ``scale`` hold: ``mpii_adjusted`` (the Newell files: the
            MPII protocol box) is converted to raw boxes; ``mpii_raw`` is kept.

    Returns:
        :class:`PoseAnnotations` in original image pixels, raw person boxes; ``headboxes`` and
        ``part_label_files`` are None.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: an unknown ``box_convention``.
        AnnotationError: unreadable file, no samples, missing key, a non-numeric dataset, wrong shape
            or length, wrong joint count, non-finite number, ``scale <= 0``, a visibility flag other
            than 0 / 1 or an image name outside the image folder; the message names the file, sample
            and field.
    """
    import h5py

    _check_convention(box_convention)
    path = Path(path)
    _require_file(path)
    source = str(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise AnnotationError(f"{source}: not a readable HDF5 file ({e})") from None
    with f:
        keys = set(f.keys())
        for key in ("imgname", "center", "scale", "part"):
            if key not in keys:
                raise AnnotationError(f"{source}: missing key {key!r} (file has: {', '.join(sorted(keys))})")
        def numeric(key: str) -> np.ndarray | None:
            if key not in keys:
                return None
            try:
                arr = np.asarray(f[key][()])
            except (TypeError, ValueError, OSError) as e:
                raise AnnotationError(f"{source}: field {key!r} is unreadable ({e})") from None
            if arr.dtype.kind not in "iuf":
                raise AnnotationError(f"{source}: field {key!r} is not numeric (dtype {arr.dtype})")
            return arr.astype(np.float64)

        try:
            raw_names = f["imgname"][()]
        except (TypeError, ValueError, OSError) as e:
            raise AnnotationError(f"{source}: field 'imgname' is unreadable ({e})") from None
        centers, scales, joints = numeric("center"), numeric("scale"), numeric("part")
        visible, head_sizes = numeric("visible"), numeric("normalize")

    names = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in np.atleast_1d(raw_names)]
    n = len(names)

    def shape_check(field: str, arr: np.ndarray, tail: tuple[int, ...], what: str) -> None:
        if arr.ndim != 1 + len(tail) or arr.shape[0] != n or arr.shape[1:] != tail:
            raise AnnotationError(
                f"{source}: field {field!r} has shape {arr.shape}, expected {(n, *tail)} ({what}; N from 'imgname')"
            )

    shape_check("center", centers, (2,), "x, y per sample")
    shape_check("scale", scales, (), "one scale per sample")
    if joints.ndim != 3 or joints.shape[0] != n or joints.shape[2] != 2:
        raise AnnotationError(f"{source}: field 'part' has shape {joints.shape}, expected (N={n}, J, 2)")
    j = joints.shape[1]
    if num_joints is not None and j != num_joints:
        raise AnnotationError(f"{source}: all samples: field 'part' has {j} joints, expected {num_joints}")
    if visible is not None:
        if visible.ndim == 2 and visible.shape[0] == n and visible.shape[1] != j:
            raise AnnotationError(f"{source}: field 'part' has {j} joints per sample but field 'visible' has "
                                  f"{visible.shape[1]}: the two must describe the same joints")
        shape_check("visible", visible, (j,), "one flag per joint")
    if head_sizes is not None:
        shape_check("normalize", head_sizes, (), "one head size per sample")

    return _finish(
        source, names, centers, scales, joints, visible, head_sizes, None, None,
        fields={"image": "imgname", "center": "center", "scale": "scale", "joints": "part", "visible": "visible",
                "head_size": "normalize"},
        box_convention=box_convention,
    )


# --------------------------------------------------------------------------------------------------
# json (HRNet / mmpose)


def _as_array(source: str, i: int, field: str, value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        arr = json_float_array(value)
    except ValueError as e:
        raise AnnotationError(f"{source}: sample {i}: field {field!r} is not numeric: {e}") from None
    if arr.shape != shape:
        raise AnnotationError(f"{source}: sample {i}: field {field!r} has shape {arr.shape}, expected {shape} ({what})")
    return arr


def read_mpii_json(path: str | Path, num_joints: int | None = None,
                   box_convention: str = FILE_BOX_CONVENTIONS["json"]) -> PoseAnnotations:
    """Read the HRNet / mmpose json layout: a list of per-sample objects.

    Each object needs ``image`` (str), ``center`` ([x, y]), ``scale`` (float) and ``joints`` (J x 2);
    ``joints_vis`` (J) is optional (default: 1 for annotated joints) and is read into ``visible``; in
    the HRNet MPII json it is 1 for every annotated joint (occlusion is not recorded there), while
    the posekit synthetic json uses 0 for occluded joints. Optional extra keys, which
    must then be present in every sample: ``head_size`` (px), ``headbox`` ([[x1, y1], [x2, y2]])
    and ``parts`` (part-segmentation label file name). Without ``head_size``, head sizes are
    ``0.6 * ||headbox[1] - headbox[0]||`` when head boxes are given (MPII PCKh convention).

    Args:
        path: the ``.json`` file.
        num_joints: expected J; None accepts any J that is the same for all samples.
        box_convention: what ``center`` / ``scale`` hold: ``mpii_raw`` (the mmpose / HRNet files:
            the MPII release values) is kept; ``mpii_adjusted`` is converted to raw boxes.

    Returns:
        :class:`PoseAnnotations` in original image pixels, raw person boxes.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: an unknown ``box_convention``.
        AnnotationError: invalid json, no samples, missing key, a value that is not a JSON number,
            wrong shape, wrong joint count, non-finite number, ``scale <= 0``, a visibility flag
            other than 0 / 1 or an image name outside the image folder; the message names the file,
            sample and field.
    """
    _check_convention(box_convention)
    path = Path(path)
    _require_file(path)
    source = str(path)
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AnnotationError(f"{source}: invalid json ({e})") from None
    if not isinstance(data, list):
        raise AnnotationError(f"{source}: expected a json list of samples, got {type(data).__name__}")

    n = len(data)
    names: list[str] = []
    centers = np.zeros((n, 2))
    scales = np.zeros(n)
    joint_list: list[np.ndarray] = []
    vis_list: list[np.ndarray | None] = []
    optional = {key: key in data[0] for key in ("head_size", "headbox", "parts")} if n and isinstance(data[0], dict) \
        else {}
    head_sizes = np.zeros(n) if optional.get("head_size") else None
    headboxes = np.zeros((n, 2, 2)) if optional.get("headbox") else None
    part_files: list[str] | None = [] if optional.get("parts") else None
    expected_j = num_joints

    for i, s in enumerate(data):
        if not isinstance(s, dict):
            raise AnnotationError(f"{source}: sample {i}: expected an object, got {type(s).__name__}")
        for key in ("image", "center", "scale", "joints"):
            if key not in s:
                raise AnnotationError(f"{source}: sample {i}: missing field {key!r}")
        for key, present in optional.items():
            if present and key not in s:
                raise AnnotationError(f"{source}: sample {i}: missing field {key!r} (present in sample 0)")
        if not isinstance(s["image"], str) or not s["image"]:
            raise AnnotationError(f"{source}: sample {i}: field 'image' must be a non-empty string, got {s['image']!r}")
        names.append(s["image"])
        centers[i] = _as_array(source, i, "center", s["center"], (2,), "x, y")
        scale = s["scale"]
        if isinstance(scale, list) and len(scale) == 1:
            scale = scale[0]
        scales[i] = _as_array(source, i, "scale", scale, (), "a single number")
        try:
            jarr = json_float_array(s["joints"])
        except ValueError as e:
            raise AnnotationError(f"{source}: sample {i}: field 'joints' is not a numeric J x 2 array: {e}") from None
        if jarr.ndim != 2 or jarr.shape[1] != 2:
            raise AnnotationError(f"{source}: sample {i}: field 'joints' has shape {jarr.shape}, expected (J, 2)")
        if expected_j is None:
            expected_j = jarr.shape[0]
        if jarr.shape[0] != expected_j:
            raise AnnotationError(
                f"{source}: sample {i}: field 'joints' has {jarr.shape[0]} joints, expected {expected_j}"
            )
        joint_list.append(jarr)
        if "joints_vis" in s:
            vis_list.append(_as_array(source, i, "joints_vis", s["joints_vis"], (expected_j,), "one flag per joint"))
        else:
            vis_list.append(None)
        if head_sizes is not None:
            head_sizes[i] = _as_array(source, i, "head_size", s["head_size"], (), "a single number")
        if headboxes is not None:
            headboxes[i] = _as_array(source, i, "headbox", s["headbox"], (2, 2), "[[x1, y1], [x2, y2]]")
        if part_files is not None:
            if not isinstance(s["parts"], str):
                raise AnnotationError(f"{source}: sample {i}: field 'parts' must be a file name, got {s['parts']!r}")
            part_files.append(s["parts"])

    j = expected_j if expected_j is not None else 0
    joints = np.stack(joint_list) if n else np.zeros((0, j, 2))
    vis_given = [v for v in vis_list if v is not None]
    if vis_given and len(vis_given) != n:
        i = next(k for k, v in enumerate(vis_list) if v is None)
        raise AnnotationError(f"{source}: sample {i}: missing field 'joints_vis' (present in other samples)")
    visible = np.stack(vis_given) if vis_given else None
    if headboxes is not None:
        _check_finite(source, "headbox", headboxes)
        if head_sizes is None:
            head_sizes = HEAD_SIZE_FACTOR * np.linalg.norm(headboxes[:, 1] - headboxes[:, 0], axis=-1)
    return _finish(
        source, names, centers, scales, joints, visible, head_sizes, headboxes, part_files,
        fields={"image": "image", "center": "center", "scale": "scale", "joints": "joints", "visible": "joints_vis",
                "head_size": "head_size"},
        box_convention=box_convention,
    )


_SUFFIX_FORMATS = {".h5": "h5", ".hdf5": "h5", ".json": "json", ".mat": "auto"}


def annotation_format(path: str | Path, format: str = "auto") -> str:
    """The reader for ``path``: ``format`` itself unless ``"auto"``; else by suffix ``h5``, ``json``
    or, for ``.mat``, ``"mat"`` (LSP or LSP-extended, told apart by the file's content).

    Raises:
        AnnotationError: an unknown ``format``, or ``"auto"`` with an unknown suffix.
    """
    if format not in ANNOTATION_FORMATS:
        raise AnnotationError(f"{path}: unknown annotation format {format!r}; expected one of "
                              f"{', '.join(ANNOTATION_FORMATS)}")
    if format != "auto":
        return format
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_FORMATS:
        raise AnnotationError(f"{path}: unknown annotation format {suffix!r}; expected .h5, .hdf5, .json or .mat "
                              "(LSP joints.mat)")
    return _SUFFIX_FORMATS[suffix] if suffix != ".mat" else "mat"


def load_annotations(path: str | Path, num_joints: int | None = None, format: str = "auto",
                     box_convention: str | None = None) -> PoseAnnotations:
    """Read an annotation file with the reader of :func:`annotation_format` (LSP files in the LSP
    keypoint order: use :func:`read_annotations` to read them into another set).

    Args:
        box_convention: the file's person-box convention; None (or ``"auto"``): the layout's own
            (:data:`FILE_BOX_CONVENTIONS`: HDF5 adjusted, json raw). LSP boxes are derived from the
            joints (:func:`~posekit.data.lsp.lsp_person_boxes`) and take no convention.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: an unknown ``box_convention``.
        AnnotationError: unknown suffix or format, malformed content or another joint count than
            ``num_joints`` (see the readers).
        KeyError, ValueError: an LSP ``.mat`` without ``joints`` or with a wrong shape.
    """
    path = Path(path)
    fmt = annotation_format(path, format)
    auto = box_convention in (None, "auto")
    if fmt in ("h5", "json"):
        return (read_mpii_h5 if fmt == "h5" else read_mpii_json)(
            path, num_joints, FILE_BOX_CONVENTIONS[fmt] if auto else box_convention)
    _require_file(path)
    ann = read_lsp_annotations(path, layout="auto" if fmt == "mat" else fmt)
    if num_joints is not None:
        check_num_joints(ann, num_joints)
    return ann


def parse_samples(spec: str, count: int, where: str) -> slice | None:
    """A ``"START:STOP"`` sample range (0-based, STOP excluded, either side may be empty) of a file
    of ``count`` samples; ``""`` is None (all samples).

    Raises:
        AnnotationError: not of that form, or a range outside ``0..count`` or empty (names ``where``).
    """
    spec = str(spec or "").strip()
    if not spec:
        return None
    parts = spec.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        start = int(parts[0]) if parts[0].strip() else 0
        stop = int(parts[1]) if parts[1].strip() else count
    except ValueError:
        raise AnnotationError(f"{where}: samples {spec!r} is not of the form START:STOP (e.g. 1000:2000)") from None
    if not 0 <= start < stop <= count:
        raise AnnotationError(f"{where}: samples {spec!r} is not a non-empty range inside the file's {count} samples")
    return slice(start, stop)


def map_keypoints(ann: PoseAnnotations, source: KeypointSet, target: KeypointSet) -> PoseAnnotations:
    """``ann`` (joints of ``source``) with the joints of ``target`` instead, matched by name
    (:meth:`KeypointSet.map_from`): a ``target`` joint that ``source`` lacks is unannotated in
    every sample (coordinates (0, 0), ``visible`` 0, never trained on or evaluated). E.g. LSP's 14
    joints as MPII's 16: pelvis and thorax are unannotated.

    Raises:
        AnnotationError: ``ann`` has not one joint per ``source`` keypoint, or the sets share no joint.
    """
    check_num_joints(ann, len(source))
    rows = target.map_from(source)
    if all(r is None for r in rows):
        raise AnnotationError(f"{ann.source}: keypoint set {source.name!r} has none of the joints of {target.name!r}")
    n, k = len(ann), len(target)
    joints, visible, annotated = np.zeros((n, k, 2)), np.zeros((n, k)), np.zeros((n, k), bool)
    for j, r in enumerate(rows):
        if r is not None:
            joints[:, j], visible[:, j], annotated[:, j] = ann.joints[:, r], ann.visible[:, r], ann.annotated[:, r]
    return dataclasses.replace(ann, joints=joints, visible=visible, annotated=annotated)


def read_annotations(path: str | Path, keypoints: KeypointSet, format: str = "auto",
                     samples: str = "", box_convention: str | None = None) -> PoseAnnotations:
    """The samples ``samples`` of an annotation file, in the joint order of ``keypoints``.

    h5 and json files hold the joints of ``keypoints`` already; LSP / LSP-extended ``joints.mat``
    files hold LSP's 14 and are mapped by name (:func:`map_keypoints`; into MPII: pelvis and thorax
    unannotated). ``samples`` (:func:`parse_samples`) selects by position in the file, before LSP
    samples without a person box are left out, so ``"1000:2000"`` is LSP's test half.

    Raises:
        FileNotFoundError: no such file.
        AnnotationError: unknown format, malformed content, a bad ``samples`` range or a joint count
            that does not fit ``keypoints`` (the file, sample and field are named).
        KeyError, ValueError: an LSP ``.mat`` without ``joints`` or with a wrong shape.
    """
    path = Path(path)
    fmt = annotation_format(path, format)
    if fmt in ("h5", "json"):
        ann = load_annotations(path, len(keypoints), fmt, box_convention)
        rng = parse_samples(samples, len(ann), f"{path}")
        return ann if rng is None else ann.subset(rng)
    _require_file(path)
    ann = read_lsp_annotations(path, "auto" if fmt == "mat" else fmt, samples)
    return ann if keypoints.names == LSP.names else map_keypoints(ann, LSP, keypoints)


def read_lsp_annotations(path: str | Path, layout: str = "auto", samples: str = "") -> PoseAnnotations:
    """An LSP / LSPET ``joints.mat`` as :class:`~posekit.data.annotations.PoseAnnotations` in the
    LSP keypoint order, for training and evaluation (:mod:`posekit.data.lsp`).

    Image names are the releases' (``im0001.jpg`` for LSP, ``im00001.jpg`` for LSPET, numbered by
    the sample's position in the file), relative to the release's ``images/`` folder; the person
    box comes from :func:`~posekit.data.lsp.lsp_person_boxes`. A sample with fewer than two annotated joints has no
    box and is left out (a warning gives how many and the first); the others keep their image names.

    Args:
        path: the ``joints.mat``.
        layout: ``"lsp"``, ``"lspet"`` or ``"auto"`` (:func:`~posekit.data.lsp.read_lsp_joints`).
        samples: ``"START:STOP"``, the samples to read by position in the file (0-based, STOP
            excluded), before any is left out; ``"1000:2000"`` is the LSP test half; ``""``: all.

    Returns:
        ``PoseAnnotations`` with 14 joints, ``visible`` from the file's flag, no head sizes.

    Raises:
        FileNotFoundError, KeyError, ValueError: see :func:`~posekit.data.lsp.read_lsp_joints`.
        AnnotationError: a bad ``samples`` range, or no sample left.
    """
    path = Path(path)
    joints, visible, missing, found = read_lsp_file(path, "joints", layout)
    n = joints.shape[0]
    ids = np.arange(n)[parse_samples(samples, n, str(path)) or slice(None)]
    annotated = ~missing[ids]
    centers, scales = lsp_person_boxes(joints[ids], annotated)
    keep = np.isfinite(scales)
    if not keep.all():
        first = int(ids[np.flatnonzero(~keep)[0]])
        log.warning("%s: %d samples have fewer than two annotated joints and no person box; they are left out "
                    "(first: sample %d)", path, int((~keep).sum()), first)
    ids, annotated, centers, scales = ids[keep], annotated[keep], centers[keep], scales[keep]
    if not len(ids):
        raise AnnotationError(f"{path}: no sample with at least two annotated joints")
    pattern = IMAGE_NAMES[found]
    return PoseAnnotations(
        source=str(path), image_names=[pattern.format(int(i) + 1) for i in ids], centers=centers, scales=scales,
        joints=np.where(annotated[..., None], joints[ids], 0.0), visible=visible[ids].astype(np.float64),
        annotated=annotated)


def _num(x: float) -> float | int:
    """A json-friendly number: ints stay ints, floats keep full precision."""
    x = float(x)
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


def write_json_annotations(ann: PoseAnnotations, path: str | Path) -> None:
    """Write ``ann`` in the HRNet/mmpose json layout read by :func:`read_mpii_json` (raw person
    boxes, the layout's convention), atomically (:func:`posekit.checkpoint.atomic_write`).

    Unannotated joints are written as ``(-1, -1)`` with ``joints_vis = 0``; ``head_size``,
    ``headbox`` and ``parts`` are written when ``ann`` has them. Numbers keep full float64
    precision, so reading the file back gives the same arrays.
    """
    out: list[dict[str, Any]] = []
    for i in range(len(ann)):
        joints = np.where(ann.annotated[i][:, None], ann.joints[i], -1.0)
        s: dict[str, Any] = {
            "image": ann.image_names[i],
            "center": [_num(v) for v in ann.centers[i]],
            "scale": _num(ann.scales[i]),
            "joints": [[_num(x), _num(y)] for x, y in joints],
            "joints_vis": [_num(v) for v in ann.visible[i]],
        }
        if ann.head_sizes is not None:
            s["head_size"] = _num(ann.head_sizes[i])
        if ann.headboxes is not None:
            s["headbox"] = [[_num(v) for v in row] for row in ann.headboxes[i]]
        if ann.part_label_files is not None:
            s["parts"] = ann.part_label_files[i]
        out.append(s)
    atomic_write(path, json.dumps(out, indent=1))
