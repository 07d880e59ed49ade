"""MPII joint definitions: names, flip pairs, skeleton limbs and named joint subsets.

The order is the official MPII Human Pose order used by the annotation files in
``../shared/data/mpii`` (``valid.h5``, ``gt_valid.mat``, the mmpose json):

====  ==========  ====  ===========
 id    name        id    name
====  ==========  ====  ===========
  0    r_ankle       8   upper_neck
  1    r_knee        9   head_top
  2    r_hip        10   r_wrist
  3    l_hip        11   r_elbow
  4    l_knee       12   r_shoulder
  5    l_ankle      13   l_shoulder
  6    pelvis       14   l_elbow
  7    thorax       15   l_wrist
====  ==========  ====  ===========
"""

from __future__ import annotations

from typing import Iterable, Sequence

JOINT_NAMES: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
)
NUM_JOINTS = len(JOINT_NAMES)

#: Short names used by the official MPII evaluation code (``dataset_joints`` in gt_valid.mat).
MPII_SHORT_NAMES: tuple[str, ...] = (
    "rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor",
    "neck", "head", "rwri", "relb", "rsho", "lsho", "lelb", "lwri",
)

#: Left/right joint pairs swapped by a horizontal flip.
FLIP_PAIRS: tuple[tuple[int, int], ...] = ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))

#: Skeleton limbs (joint index pairs) used for drawing and for part affinity fields.
SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5),        # legs and hips
    (6, 7), (7, 8), (8, 9),                                # spine, neck, head
    (10, 11), (11, 12), (12, 7), (7, 13), (13, 14), (14, 15),  # arms and shoulders
)

#: The rows of the official MPII PCKh table: row name -> joint ids (left and right pooled).
PCKH_TABLE_GROUPS: dict[str, tuple[int, ...]] = {
    "head": (9,),
    "shoulder": (12, 13),
    "elbow": (11, 14),
    "wrist": (10, 15),
    "hip": (2, 3),
    "knee": (1, 4),
    "ankle": (0, 5),
}

#: Named joint subsets (PBN body-structure grouping, KPTransfer splits, hard joints, ...).
SUBSETS: dict[str, tuple[int, ...]] = {
    "all": tuple(range(NUM_JOINTS)),
    "head": (7, 8, 9),
    "r_arm": (10, 11, 12),
    "l_arm": (13, 14, 15),
    "arms": (10, 11, 12, 13, 14, 15),
    "r_leg": (0, 1),
    "l_leg": (4, 5),
    "hips": (2, 3, 6),
    "legs": (0, 1, 2, 3, 4, 5),
    "torso": (2, 3, 6, 7, 12, 13),
    "upper_body": (7, 8, 9, 10, 11, 12, 13, 14, 15),
    "lower_body": (0, 1, 2, 3, 4, 5, 6),
    # the "ten hard joints" of PBN's evaluation: elbows, wrists, hips, knees, ankles
    "hard": (0, 1, 2, 3, 4, 5, 10, 11, 14, 15),
}

#: PBN body-structure grouping (Tang & Wu 2019, Sec. 3.1): 6 groups.
BODY_STRUCTURE_GROUPS: tuple[tuple[int, ...], ...] = (
    SUBSETS["head"], SUBSETS["r_arm"], SUBSETS["l_arm"], SUBSETS["r_leg"], SUBSETS["l_leg"], SUBSETS["hips"],
)


def joint_index(name: str) -> int:
    """Index of a joint given its name (``"l_wrist"``) or MPII short name (``"lwri"``).

    Raises:
        KeyError: the name is not an MPII joint; the message lists the valid names.
    """
    if name in JOINT_NAMES:
        return JOINT_NAMES.index(name)
    if name in MPII_SHORT_NAMES:
        return MPII_SHORT_NAMES.index(name)
    raise KeyError(f"unknown joint {name!r}; expected one of {', '.join(JOINT_NAMES)}")


def resolve_joints(spec: str | int | Iterable[str | int]) -> tuple[int, ...]:
    """Turn a joint subset spec into sorted, unique joint ids.

    ``spec`` may be a subset name from :data:`SUBSETS` (``"arms"``), a joint name, a joint id,
    or an iterable of any of these (``["head", "l_wrist", 3]``).

    Raises:
        KeyError: a name is neither a subset nor a joint.
        ValueError: a joint id is out of range.
    """
    items = [spec] if isinstance(spec, (str, int)) else list(spec)
    ids: set[int] = set()
    for item in items:
        if isinstance(item, int):
            if not 0 <= item < NUM_JOINTS:
                raise ValueError(f"joint id {item} out of range 0..{NUM_JOINTS - 1}")
            ids.add(item)
        elif item in SUBSETS:
            ids.update(SUBSETS[item])
        else:
            ids.add(joint_index(item))
    return tuple(sorted(ids))


def flip_permutation(joint_ids: Sequence[int] | None = None) -> list[int]:
    """Permutation that swaps left and right joints after a horizontal flip.

    Args:
        joint_ids: the dataset joint ids a model predicts, in channel order (default: all 16).

    Returns:
        ``perm`` such that ``flipped[:, perm]`` puts each channel back on its own joint.

    Raises:
        ValueError: a joint's mirror partner is missing from ``joint_ids``.
    """
    joint_ids = list(range(NUM_JOINTS)) if joint_ids is None else list(joint_ids)
    mirror = {j: j for j in range(NUM_JOINTS)}
    for a, b in FLIP_PAIRS:
        mirror[a], mirror[b] = b, a
    pos = {j: i for i, j in enumerate(joint_ids)}
    try:
        return [pos[mirror[j]] for j in joint_ids]
    except KeyError as e:
        raise ValueError(f"joint subset {joint_ids} lacks the mirror of joint {JOINT_NAMES[e.args[0]]}") from None
