"""Keypoint sets: the joints a dataset annotates and a model predicts, with their names, left/right
flip pairs, skeleton limbs, named subsets, body-structure groupings and PCKh table rows.

Three sets are built in (:data:`KEYPOINT_SETS`):

* ``mpii`` (16 joints, the default): the official MPII Human Pose order of ``valid.h5``,
  ``gt_valid.mat`` and the mmpose / HRNet json (0 r_ankle ... 15 l_wrist);
* ``lsp`` (14 joints): the Leeds Sports Pose order of ``joints.mat`` (its "neck" is named
  ``upper_neck`` and its "head top" ``head_top``, as the same points are named in MPII);
* ``coco`` (17 joints): the COCO keypoint order (``nose`` ... ``right_ankle``); the MPII-style
  names (``l_shoulder``, ...) are aliases, so data annotated with MPII names maps onto it by name.

A user's own set is a small YAML file read by :meth:`KeypointSet.from_yaml`::

    name: my_set
    keypoints: [head_top, l_wrist, r_wrist, l_ankle, r_ankle]
    flip_pairs: [[l_wrist, r_wrist], [l_ankle, r_ankle]]
    skeleton: [[head_top, l_wrist], [head_top, r_wrist]]        # optional
    subsets: {hands: [l_wrist, r_wrist]}                          # optional
    pckh_rows: {wrist: [l_wrist, r_wrist]}                        # optional (default: one row per joint)

Everything is referred to by name in the set and in files (model artifacts store a set as
:meth:`KeypointSet.to_dict`); integer ids are positions in :attr:`KeypointSet.names`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["KeypointSet", "MPII", "LSP", "COCO", "KEYPOINT_SETS", "get_keypoint_set"]

JointSpec = str | int | Iterable[str | int]


def _pairs(items: Iterable[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(a), str(b)) for a, b in items)


@dataclass(frozen=True)
class KeypointSet:
    """An ordered set of named keypoints and what is known about them.

    Attributes:
        name: short identifier (``"mpii"``, ``"lsp"``, ``"coco"`` or a user's name).
        names: keypoint names in channel / annotation order.
        flip_pairs: (left/right) name pairs swapped by a horizontal flip.
        skeleton: limbs as name pairs (drawing, part affinity fields).
        subsets: named joint subsets (name -> keypoint names), e.g. ``"arms"``, ``"hard"``.
        groups: named groupings of all joints (name -> tuple of groups of names), e.g. the
            body-structure grouping of PBN (``"body"``) or the paper's own five groups.
        pckh_rows: rows of the PCKh table (row name -> keypoints pooled in that row, left and right
            averaged), in table order.
        mean_excluded: keypoints left out of the PCKh mean (MPII: pelvis and thorax).
        aliases: other names accepted for a keypoint (alias -> name), e.g. MPII's short names.
        missing_mirrors: keypoints of this set whose mirror partner exists in the set this one was
            taken from (:meth:`subset`) but not here; flipping such a set is an error.

    Raises:
        ValueError: duplicate names, or a pair / subset / row naming an unknown keypoint.
    """

    name: str
    names: tuple[str, ...]
    flip_pairs: tuple[tuple[str, str], ...] = ()
    skeleton: tuple[tuple[str, str], ...] = ()
    subsets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    groups: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    pckh_rows: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    mean_excluded: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    missing_mirrors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.names)
        object.__setattr__(self, "names", names)
        if not names:
            raise ValueError(f"keypoint set {self.name!r} has no keypoints")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"keypoint set {self.name!r}: duplicate keypoint names {dup}")
        object.__setattr__(self, "flip_pairs", _pairs(self.flip_pairs))
        object.__setattr__(self, "skeleton", _pairs(self.skeleton))
        object.__setattr__(self, "subsets", {str(k): tuple(v) for k, v in dict(self.subsets).items()})
        object.__setattr__(self, "groups", {str(k): tuple(tuple(g) for g in v) for k, v in dict(self.groups).items()})
        object.__setattr__(self, "pckh_rows", {str(k): tuple(v) for k, v in dict(self.pckh_rows).items()})
        object.__setattr__(self, "mean_excluded", tuple(self.mean_excluded))
        object.__setattr__(self, "aliases", {str(k): str(v) for k, v in dict(self.aliases).items()})
        object.__setattr__(self, "missing_mirrors", tuple(self.missing_mirrors))
        known = set(names)
        where = {
            "flip_pairs": [n for p in self.flip_pairs for n in p],
            "skeleton": [n for p in self.skeleton for n in p],
            "subsets": [n for v in self.subsets.values() for n in v],
            "groups": [n for v in self.groups.values() for g in v for n in g],
            "pckh_rows": [n for v in self.pckh_rows.values() for n in v],
            "mean_excluded": list(self.mean_excluded),
            "aliases": list(self.aliases.values()),
            "missing_mirrors": list(self.missing_mirrors),
        }
        for what, used in where.items():
            unknown = sorted(set(used) - known)
            if unknown:
                raise ValueError(f"keypoint set {self.name!r}: {what} names unknown keypoints {unknown}; "
                                 f"keypoints are {list(names)}")
        paired = [n for p in self.flip_pairs for n in p]
        if len(paired) != len(set(paired)) or any(a == b for a, b in self.flip_pairs):
            raise ValueError(f"keypoint set {self.name!r}: a keypoint appears in more than one flip pair")

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self):
        return iter(self.names)

    @property
    def num_keypoints(self) -> int:
        """Number of keypoints ``K``."""
        return len(self.names)

    def index(self, name: str) -> int:
        """Position of a keypoint given its name or an alias.

        Raises:
            KeyError: unknown name; the message lists the valid names.
        """
        key = self.aliases.get(name, name)
        try:
            return self.names.index(key)
        except ValueError:
            raise KeyError(f"unknown keypoint {name!r} in set {self.name!r}; expected one of "
                           f"{', '.join(self.names)}") from None

    def find(self, name: str) -> int | None:
        """Like :meth:`index`, but None for an unknown name."""
        key = self.aliases.get(name, name)
        return self.names.index(key) if key in self.names else None

    def indices(self, names: Iterable[str]) -> tuple[int, ...]:
        """Positions of several keypoints, in the given order."""
        return tuple(self.index(n) for n in names)

    def resolve(self, spec: JointSpec) -> tuple[int, ...]:
        """Sorted unique keypoint ids from a subset spec.

        ``spec`` is ``"all"``, a subset name of :attr:`subsets`, a keypoint name or alias, an id, or
        an iterable of any of these (``["arms", "l_knee", 3]``).

        Raises:
            KeyError: a name is neither a subset nor a keypoint.
            ValueError: an id out of range.
        """
        items = [spec] if isinstance(spec, (str, int)) else list(spec)
        ids: set[int] = set()
        for item in items:
            if isinstance(item, bool):
                raise ValueError(f"joint spec {item!r} is not a joint name or id")
            if isinstance(item, int):
                if not 0 <= item < len(self):
                    raise ValueError(f"joint id {item} out of range 0..{len(self) - 1} for set {self.name!r}")
                ids.add(item)
            elif item == "all":
                ids.update(range(len(self)))
            elif item in self.subsets:
                ids.update(self.indices(self.subsets[item]))
            else:
                ids.add(self.index(str(item)))
        return tuple(sorted(ids))

    # ------------------------------------------------------------------ derived sets
    def subset(self, ids: Sequence[int]) -> "KeypointSet":
        """The keypoints ``ids`` (in that order) as a set of their own: pairs, limbs, subsets, groups
        and rows keep only their members in it; joints whose mirror was dropped are recorded in
        :attr:`missing_mirrors`.

        Raises:
            ValueError: a duplicate or out-of-range id.
        """
        ids = [int(i) for i in ids]
        if len(set(ids)) != len(ids) or any(not 0 <= i < len(self) for i in ids):
            raise ValueError(f"keypoint ids must be distinct and in 0..{len(self) - 1}, got {ids}")
        if ids == list(range(len(self))):
            return self
        keep = [self.names[i] for i in ids]
        kept = set(keep)
        mirror = self.mirror_names()
        missing = tuple(n for n in keep if mirror[n] != n and mirror[n] not in kept) + tuple(
            n for n in self.missing_mirrors if n in kept)
        groups = {}
        for k, v in self.groups.items():
            gs = tuple(g for g in (tuple(n for n in grp if n in kept) for grp in v) if g)
            if gs:
                groups[k] = gs
        return KeypointSet(
            name=self.name, names=tuple(keep),
            flip_pairs=tuple(p for p in self.flip_pairs if set(p) <= kept),
            skeleton=tuple(p for p in self.skeleton if set(p) <= kept),
            subsets={k: tuple(n for n in v if n in kept) for k, v in self.subsets.items() if kept & set(v)},
            groups=groups,
            pckh_rows={k: tuple(n for n in v if n in kept) for k, v in self.pckh_rows.items() if kept & set(v)},
            mean_excluded=tuple(n for n in self.mean_excluded if n in kept),
            aliases={a: n for a, n in self.aliases.items() if n in kept},
            missing_mirrors=tuple(dict.fromkeys(missing)),
        )

    def mirror_names(self) -> dict[str, str]:
        """Keypoint name -> the name of its mirror partner (itself for centre-line keypoints)."""
        mirror = {n: n for n in self.names}
        for a, b in self.flip_pairs:
            mirror[a], mirror[b] = b, a
        return mirror

    def flip_permutation(self) -> list[int]:
        """``perm`` such that ``flipped[..., perm, :, :]`` puts every channel of a mirrored heat-map
        stack (or keypoint array) back on its own keypoint: channel ``k`` takes its partner's.

        Raises:
            ValueError: the set lacks the mirror partner of some keypoint (:attr:`missing_mirrors`).
        """
        if self.missing_mirrors:
            raise ValueError(f"keypoint set {self.name!r} ({', '.join(self.names)}) lacks the mirror partner of "
                             f"{', '.join(self.missing_mirrors)}: it cannot be flipped")
        mirror = self.mirror_names()
        return [self.names.index(mirror[n]) for n in self.names]

    def map_from(self, source: "KeypointSet") -> list[int | None]:
        """For every keypoint of this set, the index of the same keypoint in ``source`` (matched by
        name or alias, in either set), or None when ``source`` does not have it."""
        out: list[int | None] = []
        for i, name in enumerate(self.names):
            j = source.find(name)
            if j is None:
                j = next((k for k, other in enumerate(source.names) if self.find(other) == i), None)
            out.append(j)
        return out

    def limbs(self) -> tuple[tuple[int, int], ...]:
        """Skeleton limbs as id pairs."""
        return tuple((self.index(a), self.index(b)) for a, b in self.skeleton)

    def side(self, name: str) -> str:
        """``"left"``, ``"right"`` or ``"center"`` (for drawing): from the name's prefix (``l_`` /
        ``left``, ``r_`` / ``right``) when it has one, else from its flip pair (first member right)."""
        lower = name.lower()
        if lower.startswith(("l_", "left")):
            return "left"
        if lower.startswith(("r_", "right")):
            return "right"
        for a, b in self.flip_pairs:
            if name in (a, b):
                return "right" if name == a else "left"
        return "center"

    def mean_ids(self) -> tuple[int, ...]:
        """Ids in the PCKh mean (all but :attr:`mean_excluded`)."""
        return tuple(i for i, n in enumerate(self.names) if n not in self.mean_excluded)

    def table_rows(self) -> dict[str, tuple[int, ...]]:
        """PCKh table rows as ids (default when the set defines none: one row per keypoint)."""
        rows = self.pckh_rows or {n: (n,) for n in self.names}
        return {k: self.indices(v) for k, v in rows.items()}

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """A plain dict (lists and strings) that :meth:`from_dict` reads back; stored in model artifacts."""
        return {
            "name": self.name, "keypoints": list(self.names),
            "flip_pairs": [list(p) for p in self.flip_pairs], "skeleton": [list(p) for p in self.skeleton],
            "subsets": {k: list(v) for k, v in self.subsets.items()},
            "groups": {k: [list(g) for g in v] for k, v in self.groups.items()},
            "pckh_rows": {k: list(v) for k, v in self.pckh_rows.items()},
            "mean_excluded": list(self.mean_excluded), "aliases": dict(self.aliases),
            "missing_mirrors": list(self.missing_mirrors),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "keypoint set") -> "KeypointSet":
        """Read a set from a mapping (the YAML layout of the module docstring, or :meth:`to_dict`).

        Raises:
            ValueError: not a mapping, no ``keypoints`` list, an unknown key, or inconsistent names
                (the message starts with ``where``).
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected a mapping with 'name' and 'keypoints', got {type(data).__name__}")
        allowed = {"name", "keypoints", "flip_pairs", "skeleton", "subsets", "groups", "pckh_rows",
                   "mean_excluded", "aliases", "missing_mirrors"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; valid keys: {sorted(allowed)}")
        names = data.get("keypoints")
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"{where}: 'keypoints' must be a list of names")
        try:
            return cls(name=str(data.get("name", "custom")), names=tuple(names),
                       flip_pairs=_pairs(data.get("flip_pairs") or ()), skeleton=_pairs(data.get("skeleton") or ()),
                       subsets=data.get("subsets") or {}, groups=data.get("groups") or {},
                       pckh_rows=data.get("pckh_rows") or {}, mean_excluded=tuple(data.get("mean_excluded") or ()),
                       aliases=data.get("aliases") or {}, missing_mirrors=tuple(data.get("missing_mirrors") or ()))
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}: {e}") from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> "KeypointSet":
        """Read a user's keypoint set from a YAML file (layout: module docstring).

        Raises:
            FileNotFoundError: no such file.
            ValueError: malformed YAML or content (the file is named).
        """
        import yaml

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"keypoint set file not found: {path}")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise ValueError(f"{path}: malformed YAML: {e}") from None
        return cls.from_dict(data, where=str(path))


# ---------------------------------------------------------------------------------------------- MPII
_MPII_NAMES = ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
               "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist")
#: Short names of the official MPII evaluation code (``dataset_joints`` in gt_valid.mat).
MPII_SHORT_NAMES: tuple[str, ...] = ("rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor",
                                     "neck", "head", "rwri", "relb", "rsho", "lsho", "lelb", "lwri")
_LR = (("r_ankle", "l_ankle"), ("r_knee", "l_knee"), ("r_hip", "l_hip"), ("r_wrist", "l_wrist"),
       ("r_elbow", "l_elbow"), ("r_shoulder", "l_shoulder"))
_ROWS = {"head": ("head_top",), "shoulder": ("r_shoulder", "l_shoulder"), "elbow": ("r_elbow", "l_elbow"),
         "wrist": ("r_wrist", "l_wrist"), "hip": ("r_hip", "l_hip"), "knee": ("r_knee", "l_knee"),
         "ankle": ("r_ankle", "l_ankle")}
_HARD = ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow", "l_elbow", "l_wrist")

#: MPII Human Pose, 16 joints (Andriluka et al. 2014), the default set.
MPII = KeypointSet(
    name="mpii",
    names=_MPII_NAMES,
    flip_pairs=_LR,
    skeleton=(("r_ankle", "r_knee"), ("r_knee", "r_hip"), ("r_hip", "pelvis"), ("pelvis", "l_hip"),
              ("l_hip", "l_knee"), ("l_knee", "l_ankle"), ("pelvis", "thorax"), ("thorax", "upper_neck"),
              ("upper_neck", "head_top"), ("r_wrist", "r_elbow"), ("r_elbow", "r_shoulder"),
              ("r_shoulder", "thorax"), ("thorax", "l_shoulder"), ("l_shoulder", "l_elbow"),
              ("l_elbow", "l_wrist")),
    subsets={
        "head": ("thorax", "upper_neck", "head_top"),
        "r_arm": ("r_wrist", "r_elbow", "r_shoulder"), "l_arm": ("l_shoulder", "l_elbow", "l_wrist"),
        "arms": ("r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist"),
        "r_leg": ("r_ankle", "r_knee"), "l_leg": ("l_knee", "l_ankle"),
        "hips": ("r_hip", "l_hip", "pelvis"),
        "legs": ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle"),
        "torso": ("r_hip", "l_hip", "pelvis", "thorax", "r_shoulder", "l_shoulder"),
        "upper_body": ("thorax", "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder",
                       "l_elbow", "l_wrist"),
        "lower_body": ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis"),
        # the ten "hard" joints of PBN's evaluation (Tang & Wu 2019, Sec. 4): elbows, wrists, hips, knees, ankles
        "hard": _HARD,
    },
    groups={
        # body structure, 6 groups (Tang & Wu 2019, Sec. 3.1)
        "body": (("thorax", "upper_neck", "head_top"), ("r_wrist", "r_elbow", "r_shoulder"),
                 ("l_shoulder", "l_elbow", "l_wrist"), ("r_ankle", "r_knee"), ("l_knee", "l_ankle"),
                 ("r_hip", "l_hip", "pelvis")),
        # the five groups of Tang & Wu (2019), Fig. 2(b) as Sec. 3.1 describes it: knees and ankles;
        # head top, upper neck, thorax and shoulders; each elbow with its wrist; hips and pelvis
        "pbn_paper": (("r_ankle", "r_knee", "l_knee", "l_ankle"),
                      ("thorax", "upper_neck", "head_top", "r_shoulder", "l_shoulder"),
                      ("r_wrist", "r_elbow"), ("l_elbow", "l_wrist"), ("r_hip", "l_hip", "pelvis")),
        # Sec. 4.3 "overlapping groups": each shoulder also joins its elbow and wrist (Fig. 5(f))
        "pbn_paper_overlap": (("r_ankle", "r_knee", "l_knee", "l_ankle"),
                              ("thorax", "upper_neck", "head_top", "r_shoulder", "l_shoulder"),
                              ("r_wrist", "r_elbow", "r_shoulder"), ("l_shoulder", "l_elbow", "l_wrist"),
                              ("r_hip", "l_hip", "pelvis")),
    },
    pckh_rows=_ROWS,
    mean_excluded=("pelvis", "thorax"),
    aliases=dict(zip(MPII_SHORT_NAMES, _MPII_NAMES)),
)

#: Leeds Sports Pose, 14 joints (Johnson & Everingham 2010), ``joints.mat`` order.
LSP = KeypointSet(
    name="lsp",
    names=("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow", "r_shoulder",
           "l_shoulder", "l_elbow", "l_wrist", "upper_neck", "head_top"),
    flip_pairs=_LR,
    skeleton=(("r_ankle", "r_knee"), ("r_knee", "r_hip"), ("r_hip", "l_hip"), ("l_hip", "l_knee"),
              ("l_knee", "l_ankle"), ("r_hip", "r_shoulder"), ("l_hip", "l_shoulder"),
              ("r_shoulder", "upper_neck"), ("l_shoulder", "upper_neck"), ("upper_neck", "head_top"),
              ("r_wrist", "r_elbow"), ("r_elbow", "r_shoulder"), ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist")),
    subsets={"arms": ("r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist"),
             "legs": ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle"),
             "hard": ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow", "l_elbow",
                      "l_wrist")},
    pckh_rows=_ROWS,
    aliases={"neck": "upper_neck", "head": "head_top"},
)

_COCO_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
               "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
               "right_knee", "left_ankle", "right_ankle")
_COCO_ALIASES = {f"{s[0]}_{part}": f"{s}_{part}" for s in ("left", "right")
                 for part in ("eye", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle")}

#: COCO keypoints, 17 (Lin et al. 2014). Pairs are written right first, like the other sets.
COCO = KeypointSet(
    name="coco",
    names=_COCO_NAMES,
    flip_pairs=tuple((f"right_{p}", f"left_{p}") for p in ("eye", "ear", "shoulder", "elbow", "wrist", "hip",
                                                           "knee", "ankle")),
    # the ``skeleton`` of the COCO person category, 1-based ids there
    skeleton=tuple((_COCO_NAMES[a - 1], _COCO_NAMES[b - 1]) for a, b in (
        (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9), (8, 10),
        (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7))),
    subsets={"face": ("nose", "left_eye", "right_eye", "left_ear", "right_ear")},
    pckh_rows={"head": ("nose", "left_eye", "right_eye", "left_ear", "right_ear"),
               "shoulder": ("right_shoulder", "left_shoulder"), "elbow": ("right_elbow", "left_elbow"),
               "wrist": ("right_wrist", "left_wrist"), "hip": ("right_hip", "left_hip"),
               "knee": ("right_knee", "left_knee"), "ankle": ("right_ankle", "left_ankle")},
    aliases=_COCO_ALIASES,
)

#: Built-in keypoint sets by name.
KEYPOINT_SETS: dict[str, KeypointSet] = {"mpii": MPII, "lsp": LSP, "coco": COCO}


def get_keypoint_set(spec: str | Path | Mapping[str, Any] | KeypointSet) -> KeypointSet:
    """A keypoint set from a built-in name (``"mpii"``, ``"lsp"``, ``"coco"``), a YAML file path,
    a mapping (:meth:`KeypointSet.from_dict`) or a set.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: an unknown name (the built-in names are listed) or malformed content.
    """
    if isinstance(spec, KeypointSet):
        return spec
    if isinstance(spec, Mapping):
        return KeypointSet.from_dict(spec)
    text = str(spec)
    if text in KEYPOINT_SETS:
        return KEYPOINT_SETS[text]
    if text.endswith((".yaml", ".yml")) or Path(text).is_file():
        return KeypointSet.from_yaml(text)
    raise ValueError(f"unknown keypoint set {text!r}; expected one of {sorted(KEYPOINT_SETS)} or a YAML file")
