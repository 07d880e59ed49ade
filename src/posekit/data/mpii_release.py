"""MPII Human Pose from its official annotation release: train / validation annotation files and the
official-style validation ground truth.

The release (``mpii_human_pose_v1_u12_1.mat``, Andriluka et al., CVPR 2014) is one MATLAB struct
``RELEASE``; the fields read here (1-based MATLAB indices in the file):

* ``annolist(i).image.name``: the image file;
* ``annolist(i).annorect(p)``: one person: ``x1, y1, x2, y2`` (head box), ``scale`` (person height /
  200 px), ``objpos.x / .y`` (rough person position), ``annopoints.point(k)`` with ``id`` (0-15, the
  MPII joint order of :data:`posekit.keypoints.MPII`), ``x``, ``y`` and ``is_visible`` (0 / 1, a string
  in some entries, sometimes absent);
* ``img_train(i)``: 1 for the training images (the only ones with public joints);
* ``single_person{i}``: the ``annorect`` indices of the sufficiently separated people;
* ``act(i)``: the activity (``cat_name``, ``act_name``).

The split is the one of Newell et al. (2016), i.e. Tompson et al. (CVPR 2015): the validation
people are those of ``valid.h5`` (identified by image name and 0-based person index; the package
ships that list, ``posekit/assets/mpii_valid_split.json``, in ``valid.h5`` order); the training
people are all other annotated people of the training images, except those in an image that holds a
validation person (the rule of the split's generation script in bearpaw/pytorch-pose,
``miscs/gen_mpii.m``).

Outputs (:func:`convert_mpii_release`): ``train.json`` and ``valid.json`` in the mmpose/HRNet json
layout (raw MPII person boxes, MATLAB pixel coordinates as in the release, unannotated joints
``(-1, -1)``; ``valid.json`` with head boxes), and ``gt_valid.mat`` with ``dataset_joints``,
``pos_gt_src``, ``jnt_missing`` and ``headboxes_src`` in the layout of the official ``gt_valid.mat``
(:func:`posekit.data.ground_truth.load_mpii_ground_truth`), in ``valid.h5`` order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from posekit.checkpoint import atomic_write
from posekit.data.annotations import PoseAnnotations, write_json_annotations
from posekit.keypoints import MPII, MPII_SHORT_NAMES

__all__ = ["ReleasePerson", "read_mpii_release", "mpii_valid_people", "split_release", "convert_mpii_release",
           "write_mpii_ground_truth"]

_NUM_JOINTS = len(MPII)


@dataclass
class ReleasePerson:
    """One ``annorect`` of the release.

    Attributes:
        image: image file name.
        index: 0-based ``annolist`` index of the image.
        person: 0-based index of the person in the image's ``annorect`` list.
        train_image: ``img_train`` of the image.
        center: (2,) raw ``objpos`` (x, y), px, or None.
        scale: raw ``scale``, or None.
        joints: (16, 2) joint (x, y), px; NaN where the joint is not annotated.
        visible: (16,) 1 visible, 0 occluded (0 for unannotated joints).
        headbox: (2, 2) ``[[x1, y1], [x2, y2]]`` px, or None.
        single_person: the person is in the image's ``single_person`` list.
        activity: ``"cat_name / act_name"`` of the image, or ``""``.
    """

    image: str
    index: int
    person: int
    train_image: bool
    center: np.ndarray | None
    scale: float | None
    joints: np.ndarray
    visible: np.ndarray
    headbox: np.ndarray | None
    single_person: bool = False
    activity: str = ""

    @property
    def annotated(self) -> np.ndarray:
        """(16,) bool, True where the joint has coordinates."""
        return ~np.isnan(self.joints[:, 0])

    @property
    def has_box(self) -> bool:
        """Whether the person has ``objpos`` and a positive ``scale`` (what a crop needs)."""
        return self.center is not None and self.scale is not None and self.scale > 0


# ------------------------------------------------------------------------------------- reading
def _items(value: Any) -> list:
    """A MATLAB struct array / cell as read with ``squeeze_me``: a list (empty for ``[]``)."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return list(value.ravel())
    return [value]


def _get(obj: Any, name: str) -> Any:
    """Field ``name`` of a MATLAB struct, None when absent or empty."""
    value = getattr(obj, name, None)
    if isinstance(value, np.ndarray) and value.size == 0:
        return None
    if isinstance(value, str) and not value:
        return None
    return value


def _number(value: Any) -> float | None:
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float64).ravel()
    return float(arr[0]) if arr.size else None


def _visible(value: Any) -> float:
    """``is_visible``: 0 / "0" -> 0, anything else (1, "1", absent) -> 1 (as the split's generation script)."""
    if value is None:
        return 1.0
    if isinstance(value, str):
        return 0.0 if value.strip() == "0" else 1.0
    number = _number(value)
    return 0.0 if number == 0 else 1.0


def _person(rect: Any, image: str, index: int, person: int, train: bool, single: set[int],
            activity: str, where: str) -> ReleasePerson:
    joints = np.full((_NUM_JOINTS, 2), np.nan)
    visible = np.zeros(_NUM_JOINTS)
    points = _get(rect, "annopoints")
    for point in _items(_get(points, "point") if points is not None else None):
        jid = _number(_get(point, "id"))
        x, y = _number(_get(point, "x")), _number(_get(point, "y"))
        if jid is None or x is None or y is None:
            continue
        if not 0 <= int(jid) < _NUM_JOINTS:
            raise ValueError(f"{where}: annolist({index + 1}).annorect({person + 1}): joint id {int(jid)} is not an "
                             f"MPII joint (0-{_NUM_JOINTS - 1})")
        joints[int(jid)] = (x, y)
        visible[int(jid)] = _visible(_get(point, "is_visible"))
    pos = _get(rect, "objpos")
    cx, cy = (_number(_get(pos, "x")), _number(_get(pos, "y"))) if pos is not None else (None, None)
    center = np.array([cx, cy]) if cx is not None and cy is not None else None
    box = [_number(_get(rect, k)) for k in ("x1", "y1", "x2", "y2")]
    headbox = np.array(box, dtype=np.float64).reshape(2, 2) if all(v is not None for v in box) else None
    return ReleasePerson(image=image, index=index, person=person, train_image=train, center=center,
                         scale=_number(_get(rect, "scale")), joints=joints, visible=visible, headbox=headbox,
                         single_person=person in single, activity=activity)


def read_mpii_release(path: str | Path) -> list[ReleasePerson]:
    """Every person (``annorect``) of the official release file, in file order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable ``.mat``, no ``RELEASE`` struct, a missing ``annolist`` /
            ``img_train`` field, or a joint id outside 0-15 (the message names the file and entry).
    """
    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MPII release file not found: {path}")
    try:
        mat = loadmat(str(path), struct_as_record=False, squeeze_me=True)
    except Exception as e:  # scipy raises several types for corrupt / non-mat files
        raise ValueError(f"{path}: cannot read as a MATLAB .mat file ({e})") from None
    if "RELEASE" not in mat:
        raise ValueError(f"{path}: no 'RELEASE' struct (is this mpii_human_pose_v1_u12_1.mat?)")
    release = mat["RELEASE"]
    annolist, img_train = _get(release, "annolist"), _get(release, "img_train")
    if annolist is None or img_train is None:
        raise ValueError(f"{path}: RELEASE lacks 'annolist' or 'img_train'")
    annolist, img_train = _items(annolist), np.atleast_1d(np.asarray(img_train)).ravel()
    if len(img_train) != len(annolist):
        raise ValueError(f"{path}: RELEASE.img_train has {len(img_train)} entries, annolist has {len(annolist)}")
    singles = _items(_get(release, "single_person"))
    acts = _items(_get(release, "act"))
    people = []
    for i, entry in enumerate(annolist):
        image = _get(entry, "image")
        name = str(_get(image, "name")) if image is not None and _get(image, "name") is not None else ""
        listed = singles[i] if i < len(singles) and singles[i] is not None else []
        single = {int(v) - 1 for v in np.atleast_1d(listed).ravel()}       # 1-based annorect indices
        act = acts[i] if i < len(acts) else None
        names = [_get(act, k) for k in ("cat_name", "act_name")] if act is not None else []
        activity = " / ".join(str(n) for n in names if n is not None)
        for p, rect in enumerate(_items(_get(entry, "annorect"))):
            people.append(_person(rect, name, i, p, bool(img_train[i]), single, activity, str(path)))
    return people


def mpii_valid_people(path: str | Path | None = None) -> list[tuple[str, int]]:
    """The validation people of Newell et al. as ``(image name, 0-based person index)``, in ``valid.h5``
    order: from ``path`` (a ``valid.h5``: ``imgname`` and ``person``) or the packaged list.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` lacks ``imgname`` / ``person``.
    """
    if path is None:
        data = json.loads((resources.files("posekit") / "assets" / "mpii_valid_split.json").read_text())
        return list(zip(data["image"], (int(p) for p in data["person"])))
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"validation split file not found: {path}")
    with h5py.File(path, "r") as f:
        if "imgname" not in f or "person" not in f:
            raise ValueError(f"{path}: needs the 'imgname' and 'person' datasets of valid.h5")
        names = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in f["imgname"][()]]
        return list(zip(names, (int(p) for p in f["person"][()])))


def split_release(people: list[ReleasePerson], valid: list[tuple[str, int]],
                  where: str = "release") -> tuple[list[ReleasePerson], list[ReleasePerson], int]:
    """The train and validation people of the release (module docstring).

    Returns:
        ``(train, valid, skipped)``: the people in split order (validation in the order of
        ``valid``) and the number of training-image people left out because they have no joint or
        no person box.

    Raises:
        ValueError: a validation person missing from the release or without joints or box (the
            first is named).
    """
    by_key = {}
    for p in people:
        by_key.setdefault((p.image, p.person), p)
    absent = [key for key in valid if key not in by_key]
    if absent:
        raise ValueError(f"{where}: {len(absent)} validation people are not in the release (first: image "
                         f"{absent[0][0]}, person {absent[0][1]}); is it the official mpii_human_pose_v1_u12_1.mat?")
    val = [by_key[key] for key in valid]
    bad = [p for p in val if not p.has_box or not p.annotated.any()]
    if bad:
        raise ValueError(f"{where}: validation person {bad[0].image} #{bad[0].person} has no joints or no person box")
    val_images = {p.image for p in val}
    candidates = [p for p in people if p.train_image and p.image not in val_images]
    train = [p for p in candidates if p.has_box and p.annotated.any()]
    return train, val, len(candidates) - len(train)


# ------------------------------------------------------------------------------------- writing
def _annotations(people: list[ReleasePerson], source: str, headboxes: bool) -> PoseAnnotations:
    joints = np.stack([np.nan_to_num(p.joints, nan=0.0) for p in people]) if people else np.zeros((0, _NUM_JOINTS, 2))
    annotated = np.stack([p.annotated for p in people]) if people else np.zeros((0, _NUM_JOINTS), bool)
    return PoseAnnotations(
        source=source, image_names=[p.image for p in people],
        centers=np.array([p.center for p in people]).reshape(-1, 2), scales=np.array([p.scale for p in people]),
        joints=joints, visible=np.stack([p.visible for p in people]) if people else np.zeros((0, _NUM_JOINTS)),
        annotated=annotated, headboxes=np.stack([p.headbox for p in people]) if headboxes else None)


def write_mpii_ground_truth(people: list[ReleasePerson], path: str | Path) -> None:
    """Write ``gt_valid.mat``-style ground truth of ``people`` (atomically): ``dataset_joints``
    (1, 16) short names, ``pos_gt_src`` (16, 2, N) px (0 where missing), ``jnt_missing`` (16, N)
    and ``headboxes_src`` (2, 2, N) ``[corner, xy, sample]``.

    Raises:
        ValueError: a person without a head box.
    """
    from scipy.io import savemat

    missing = [p for p in people if p.headbox is None]
    if missing:
        raise ValueError(f"validation person {missing[0].image} #{missing[0].person} has no head box")
    pos = np.stack([np.nan_to_num(p.joints, nan=0.0) for p in people]).transpose(1, 2, 0)
    jnt_missing = np.stack([~p.annotated for p in people]).T.astype(np.uint8)
    boxes = np.stack([p.headbox for p in people]).transpose(1, 2, 0)
    names = np.empty((1, _NUM_JOINTS), dtype=object)
    names[0, :] = list(MPII_SHORT_NAMES)
    atomic_write(path, lambda f: savemat(f, {"dataset_joints": names, "pos_gt_src": pos,
                                             "jnt_missing": jnt_missing, "headboxes_src": boxes}))


def convert_mpii_release(release: str | Path, image_dir: str | Path, out_dir: str | Path,
                         valid: str | Path | None = None) -> dict:
    """Convert the official release into ``out_dir/{train.json, valid.json, gt_valid.mat}``.

    Args:
        release: ``mpii_human_pose_v1_u12_1.mat``.
        image_dir: the MPII ``images/`` folder (checked: the number of referenced images that are
            absent is reported).
        out_dir: output folder (created).
        valid: a ``valid.h5`` whose people define the validation split; default the packaged list.

    Returns:
        Summary: ``train`` / ``valid`` people, ``train_images``, ``skipped`` (training-image people
        without joints or box), ``single_person`` counts per split, ``missing_images`` (referenced
        images not found in ``image_dir``), the written ``files``.

    Raises:
        FileNotFoundError: ``release``, ``image_dir`` or ``valid`` does not exist.
        ValueError: a malformed release or a split that does not fit it (see :func:`split_release`).
    """
    image_dir, out_dir = Path(image_dir), Path(out_dir)
    if not image_dir.is_dir():
        raise FileNotFoundError(f"image folder not found: {image_dir}")
    people = read_mpii_release(release)
    train, val, skipped = split_release(people, mpii_valid_people(valid), where=str(release))
    files = {"train": out_dir / "train.json", "valid": out_dir / "valid.json", "ground_truth": out_dir / "gt_valid.mat"}
    write_json_annotations(_annotations(train, str(files["train"]), headboxes=False), files["train"])
    write_json_annotations(_annotations(val, str(files["valid"]), headboxes=True), files["valid"])
    write_mpii_ground_truth(val, files["ground_truth"])
    referenced = {p.image for p in train + val}
    return {"train": len(train), "valid": len(val), "train_images": len({p.image for p in train}),
            "skipped": skipped, "single_person": {"train": sum(p.single_person for p in train),
                                                  "valid": sum(p.single_person for p in val)},
            "missing_images": sum(not (image_dir / name).is_file() for name in referenced),
            "files": {k: str(v) for k, v in files.items()}}
