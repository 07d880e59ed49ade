"""Joint groups for the Part-based Branching Network (Tang & Wu, CVPR 2019, Sec. 3.1).

Joints whose locations carry much information about each other share features well; the
paper measures this with the mutual information between joint locations and splits the joints
into groups by spectral clustering of that matrix. This module reads top to bottom:

1. :func:`lattice_cells`: every annotated pose is normalised into a ``bins x bins`` lattice (16 x 16
   in the paper) over its crop box (the MPII protocol box, as in ``valid.h5``);
2. :func:`mutual_information`: ``I(l_m; l_n)`` for every joint pair from histograms (eq. 1);
3. :func:`normalised_affinity`: diagonal removed, scaled to [0, 1];
4. :func:`spectral_groups`: K groups by spectral clustering of the affinity;
5. :func:`resolve_groups`: a group spec of a config (a preset of the keypoint set such as
   ``"body"`` or ``"pbn_paper"``, ``"mi:K"``, or lists of joint names, overlapping allowed) ->
   explicit groups of joint names, which is what a PBN model artifact records.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from posekit.data.transforms import adjust_person_box
from posekit.keypoints import MPII, KeypointSet

#: Lattice side used by the paper (Sec. 3.1: "a 16 x 16 lattice").
DEFAULT_BINS = 16


def lattice_cells(joints: np.ndarray, centers: np.ndarray, scales: np.ndarray, annotated: np.ndarray,
                  bins: int = DEFAULT_BINS) -> np.ndarray:
    """Quantise each joint into a ``bins x bins`` lattice over its person box.

    The box is the square of side ``scale * 200`` px centred on ``center`` (the MPII person-box
    convention, see docs/conventions.md); a joint outside it is clipped to the border cell.

    Args:
        joints: (N, J, 2) joint (x, y), original image px.
        centers: (N, 2) person centre (x, y), px.
        scales: (N,) person scale (box side = ``scale * 200`` px).
        annotated: (N, J) bool, False for joints without a coordinate.
        bins: lattice side.

    Returns:
        (N, J) int64 cell index ``row * bins + col`` in ``[0, bins**2)``, or -1 where not annotated.

    Raises:
        ValueError: inconsistent shapes, ``bins < 1`` or a non-positive scale.
    """
    joints = np.asarray(joints, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64)
    annotated = np.asarray(annotated, dtype=bool)
    if joints.ndim != 3 or joints.shape[2] != 2:
        raise ValueError(f"joints must have shape (N, J, 2), got {joints.shape}")
    n, j, _ = joints.shape
    if centers.shape != (n, 2) or scales.shape != (n,) or annotated.shape != (n, j):
        raise ValueError(f"centers {centers.shape}, scales {scales.shape}, annotated {annotated.shape} "
                         f"do not match joints {joints.shape}")
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if np.any(scales <= 0):
        raise ValueError("scales must be > 0")
    side = scales * 200.0
    rel = (joints - centers[:, None, :]) / side[:, None, None] + 0.5        # (N, J, 2) in [0, 1) inside the box
    cell = np.clip(np.floor(rel * bins), 0, bins - 1).astype(np.int64)
    index = cell[..., 1] * bins + cell[..., 0]
    return np.where(annotated, index, -1)


def mutual_information(cells: np.ndarray, num_cells: int) -> np.ndarray:
    """Mutual information between the locations of every pair of joints (Tang & Wu 2019, eq. 1).

    ``I(l_m; l_n) = sum_{a, b} p(a, b) log(p(a, b) / (p(a) p(b)))`` in nats, with ``p(a, b)`` the
    joint histogram of the two joints' cells and ``p(a)``, ``p(b)`` its marginals, all estimated over
    the samples where *both* joints are annotated. The diagonal is the entropy ``H(l_m)``.

    Args:
        cells: (N, J) int cell indices from :func:`lattice_cells`, -1 = not annotated.
        num_cells: number of lattice cells (``bins**2``).

    Returns:
        (J, J) float64, symmetric, >= 0; 0 for a pair never annotated together.
    """
    cells = np.asarray(cells, dtype=np.int64)
    j = cells.shape[1]
    mi = np.zeros((j, j))
    for m in range(j):
        for k in range(m, j):
            both = (cells[:, m] >= 0) & (cells[:, k] >= 0)
            if not both.any():
                continue
            a, b = cells[both, m], cells[both, k]
            joint = np.bincount(a * num_cells + b, minlength=num_cells * num_cells).reshape(num_cells, num_cells)
            p_ab = joint / both.sum()
            p_a, p_b = p_ab.sum(axis=1), p_ab.sum(axis=0)
            nz = p_ab > 0
            value = float(np.sum(p_ab[nz] * np.log(p_ab[nz] / np.outer(p_a, p_b)[nz])))
            mi[m, k] = mi[k, m] = max(value, 0.0)  # clamp -1e-16 rounding
    return mi


def normalised_affinity(mi: np.ndarray) -> np.ndarray:
    """The clustering affinity of Sec. 3.1: MI with the diagonal removed, min-max scaled to [0, 1].

    The smallest off-diagonal MI maps to 0, the largest to 1; the diagonal is 0.

    Args:
        mi: (J, J) mutual information (any unit).

    Returns:
        (J, J) float64 in [0, 1].
    """
    mi = np.asarray(mi, dtype=np.float64)
    off = ~np.eye(len(mi), dtype=bool)
    lo, hi = mi[off].min(), mi[off].max()
    out = np.where(off, (mi - lo) / (hi - lo) if hi > lo else 0.0, 0.0)
    return out


def joint_mutual_information(annotations, bins: int = DEFAULT_BINS) -> np.ndarray:
    """(J, J) mutual information (nats) of a :class:`posekit.data.annotations.PoseAnnotations`,
    on a lattice over each person's MPII protocol crop box
    (:func:`posekit.data.transforms.adjust_person_box` of its raw box)."""
    centers, scales = adjust_person_box(annotations.centers, annotations.scales)
    cells = lattice_cells(annotations.joints, centers, scales, annotations.annotated, bins)
    return mutual_information(cells, bins * bins)


def spectral_groups(affinity: np.ndarray, k: int, random_state: int = 0) -> tuple[tuple[int, ...], ...]:
    """Split the joints into ``k`` groups by spectral clustering of a precomputed affinity.

    scikit-learn ``SpectralClustering(affinity="precomputed", assign_labels="kmeans")`` with a fixed
    ``random_state``, so the result is deterministic.

    Args:
        affinity: (J, J) symmetric, non-negative (e.g. :func:`normalised_affinity`).
        k: number of groups, ``1 <= k <= J``.

    Returns:
        ``k`` tuples of joint ids, each sorted, ordered by their smallest joint id.

    Raises:
        ValueError: ``k`` out of range.
    """
    from sklearn.cluster import SpectralClustering

    affinity = np.asarray(affinity, dtype=np.float64)
    j = len(affinity)
    if not 1 <= k <= j:
        raise ValueError(f"number of groups must be in 1..{j}, got {k}")
    if k == 1:
        return (tuple(range(j)),)
    if k == j:
        return tuple((i,) for i in range(j))
    labels = SpectralClustering(n_clusters=k, affinity="precomputed", random_state=random_state,
                                assign_labels="kmeans").fit_predict(affinity)
    groups = [tuple(int(i) for i in np.flatnonzero(labels == c)) for c in range(k)]
    return tuple(sorted((g for g in groups if g), key=lambda g: g[0]))


def mpii_affinity() -> np.ndarray:
    """The normalised MI affinity of the 2958 MPII validation people (``valid.h5``), packaged as
    ``posekit/assets/mpii_valid_mi.json`` (see assets/README.md; written by ``posekit groups
    --annotations valid.h5 --json``), so that ``groups: "mi:K"`` for MPII gives exactly the groups of
    ``posekit groups --annotations valid.h5 --k K`` without the file.

    Returns:
        (16, 16) float64 in [0, 1], diagonal 0, MPII joint order.
    """
    import json
    from importlib import resources

    ref = resources.files("posekit").joinpath("assets").joinpath("mpii_valid_mi.json")
    return np.asarray(json.loads(ref.read_text())["mutual_information"], dtype=np.float64)


def resolve_groups(spec: Any, keypoints: KeypointSet = MPII, annotations=None,
                   random_state: int = 0) -> tuple[tuple[str, ...], ...]:
    """Turn a group spec into explicit groups of joint names.

    Args:
        spec: a grouping preset of ``keypoints`` (``"body"``, ``"pbn_paper"``, ...), ``"mi:K"`` (K
            groups by spectral clustering of the joint-location mutual information of
            ``annotations``, or of the packaged MPII validation MI (:func:`mpii_affinity`) when no
            annotations are given and ``keypoints`` is MPII), or a list of groups of joint names or
            ids; a joint may be in several groups (overlapping groups).
        keypoints: the model's keypoints (every one must be covered).
        annotations: :class:`~posekit.data.annotations.PoseAnnotations` in ``keypoints`` order, for ``mi:K``.

    Returns:
        The groups as name tuples, in the order given (``mi:K``: each sorted by joint id, groups by
        their first joint).

    Raises:
        ValueError: unknown spec, ``mi:K`` without data for a non-MPII set, an empty group, a joint
            repeated inside a group, a joint in no group, or an id out of range.
        KeyError: unknown joint name.
    """
    k_all = len(keypoints)
    if isinstance(spec, str):
        if spec in keypoints.groups:
            ids = [keypoints.indices(g) for g in keypoints.groups[spec]]
        elif spec.startswith("mi:"):
            try:
                k = int(spec[3:])
            except ValueError:
                raise ValueError(f"group spec {spec!r}: expected 'mi:K' with an integer K") from None
            if annotations is not None:
                affinity = normalised_affinity(joint_mutual_information(annotations))
            elif keypoints.names == MPII.names:
                affinity = mpii_affinity()
            else:
                raise ValueError(f"group spec {spec!r} for keypoint set {keypoints.name!r} needs annotations "
                                 "to measure the mutual information on")
            ids = spectral_groups(affinity, k, random_state=random_state)
        else:
            raise ValueError(f"unknown group spec {spec!r}; expected one of {sorted(keypoints.groups)}, 'mi:K' or "
                             "a list of joint-name lists")
    else:
        ids = [tuple(keypoints.index(x) if isinstance(x, str) else int(x) for x in g) for g in spec]
    seen: set[int] = set()
    for i, g in enumerate(ids):
        if not g:
            raise ValueError(f"group {i} is empty")
        if len(set(g)) != len(g):
            raise ValueError(f"group {i} lists a joint twice: {list(g)}")
        bad = [x for x in g if not 0 <= x < k_all]
        if bad:
            raise ValueError(f"group {i}: joint id(s) {bad} out of range 0..{k_all - 1}")
        seen.update(g)
    uncovered = sorted(set(range(k_all)) - seen)
    if uncovered:
        raise ValueError(f"joint(s) {', '.join(keypoints.names[x] for x in uncovered)} are in no group")
    return tuple(tuple(keypoints.names[x] for x in g) for g in ids)
