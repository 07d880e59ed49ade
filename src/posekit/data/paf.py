"""Part affinity field (PAF) targets (Cao et al. 2017, "Realtime Multi-Person 2D Pose Estimation
using Part Affinity Fields", Sec. 2.2, eqs. 8-9).

For a limb ``(a, b)`` of one person with both joints annotated, the field at pixel ``p`` is the
unit vector ``v = (x_b - x_a) / |x_b - x_a|`` if ``p`` lies on the limb, else 0. A pixel lies on
the limb when

* ``0 <= v . (p - x_a) <= |x_b - x_a|`` (its projection falls within the segment), and
* ``|v_perp . (p - x_a)| <= width`` (its distance to the limb's line is at most ``width``),

i.e. a rectangle of half-width ``width`` around the segment (no round caps). Where the same limb
type of several persons covers a pixel, the target is the average of their vectors (eq. 9:
``sum_k L_k(p) / n(p)``, ``n(p)`` = number of non-zero vectors at ``p``).

Coordinates: ``(x, y)`` in **target-map pixels** (the heat-map grid of
:class:`posekit.data.targets.HeatmapCodec`: integer = pixel centre); convert crop pixels first with
the codec's mapping ``u = (x + 0.5) / stride - 0.5``. ``width`` is in the same pixels.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from posekit.keypoints import MPII

__all__ = ["paf_targets"]

#: Limbs shorter than this (target px) have no direction and are skipped (weight 0).
MIN_LIMB_LENGTH = 1e-6


def paf_targets(joints: np.ndarray | Sequence[np.ndarray], size: tuple[int, int], width: float = 1.0,
                annotated: np.ndarray | Sequence[np.ndarray] | None = None,
                limbs: Sequence[tuple[int, int]] = MPII.limbs()) -> tuple[np.ndarray, np.ndarray]:
    """PAF targets for one image with one or several persons.

    Args:
        joints: ``(J, 2)`` for one person, or ``(P, J, 2)`` / a list of ``(J, 2)`` for P persons;
            ``(x, y)`` target-map px.
        size: ``(h, w)`` of the target maps.
        width: half-width of the limb band, target-map px (>= 0).
        annotated: ``(J,)`` / ``(P, J)`` booleans (or 0/1), True where a joint is annotated;
            default: every joint with finite coordinates. Joint visibility is a separate matter:
            an annotated occluded joint still defines its limbs.
        limbs: joint pairs ``(a, b)``, the vector pointing from a to b; default the MPII skeleton
            (:meth:`posekit.keypoints.KeypointSet.limbs`).

    Returns:
        pafs: ``(2 * L, h, w)`` float32; channels ``2l`` and ``2l + 1`` are the x and y components
            of limb ``l``; averaged over the persons covering a pixel, 0 elsewhere.
        weight: ``(L,)`` float32, 1 where the limb is annotated (both joints, length > 0) for
            **every** person given, else 0: a limb missing for some person has unknown ground truth
            somewhere in the image, so its channels should not be trained (the loss multiplies
            by it). With one person: 1 iff both of the limb's joints are annotated.

    Raises:
        ValueError: wrong shapes, a joint id of ``limbs`` out of range, or ``width < 0``.
    """
    pts = np.asarray(joints, dtype=np.float64)
    if pts.ndim == 2:
        pts = pts[None]
    if pts.ndim != 3 or pts.shape[-1] != 2:
        raise ValueError(f"joints must be (J, 2) or (P, J, 2), got shape {pts.shape}")
    p_count, j_count = pts.shape[:2]
    if annotated is None:
        ann = np.isfinite(pts).all(-1)
    else:
        ann = np.asarray(annotated).astype(bool)
        if ann.ndim == 1:
            ann = ann[None]
        if ann.shape != (p_count, j_count):
            raise ValueError(f"annotated must have shape {(p_count, j_count)}, got {ann.shape}")
    if width < 0:
        raise ValueError(f"width must be >= 0, got {width}")
    h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size}")
    for a, b in limbs:
        if not (0 <= a < j_count and 0 <= b < j_count):
            raise ValueError(f"limb ({a}, {b}) out of range for {j_count} joints")

    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    pafs = np.zeros((2 * len(limbs), h, w), np.float32)
    weight = np.zeros(len(limbs), np.float32)
    for li, (a, b) in enumerate(limbs):
        acc = np.zeros((2, h, w))
        count = np.zeros((h, w))
        complete = True
        for p in range(p_count):
            if not (ann[p, a] and ann[p, b]):
                complete = False
                continue
            pa, pb = pts[p, a], pts[p, b]
            d = pb - pa
            length = float(np.hypot(d[0], d[1]))
            if length < MIN_LIMB_LENGTH:
                complete = False
                continue
            v = d / length
            rx, ry = xs - pa[0], ys - pa[1]
            along = v[0] * rx + v[1] * ry
            across = np.abs(-v[1] * rx + v[0] * ry)
            on = (along >= 0) & (along <= length) & (across <= width)
            acc[0][on] += v[0]
            acc[1][on] += v[1]
            count[on] += 1
        nz = count > 0
        pafs[2 * li][nz] = acc[0][nz] / count[nz]
        pafs[2 * li + 1][nz] = acc[1][nz] / count[nz]
        weight[li] = 1.0 if complete and p_count > 0 else 0.0
    return pafs, weight
