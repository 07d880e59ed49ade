"""PAF targets, FCN segmentation metrics and PCK_dist on small hand-computed cases (issue 5)."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.data.paf import paf_targets
from posekit.evaluation.segmentation import (
    confusion_matrix,
    pck_dist,
    segmentation_scores,
)

H, W = 8, 10  # target-map size used by the PAF tests


def _field(pixels: dict[tuple[int, int], tuple[float, float]], h: int = H, w: int = W) -> np.ndarray:
    """A (2, h, w) float32 field that is ``pixels[(x, y)]`` at the listed pixels and 0 elsewhere."""
    out = np.zeros((2, h, w), np.float32)
    for (x, y), (vx, vy) in pixels.items():
        out[0, y, x] = vx
        out[1, y, x] = vy
    return out


# --------------------------------------------------------------------------------------------------
# PAF targets


def test_paf_direction_horizontal_and_diagonal_limb():
    # joint 0 = (1, 1), joint 1 = (5, 4): d = (4, 3), |d| = 5, v = (4/5, 3/5) = (0.8, 0.6).
    # joint 2 = (9, 4): limb 1 -> 2 has d = (4, 0), v = (1, 0).
    joints = np.array([[1.0, 1.0], [5.0, 4.0], [9.0, 4.0]])
    pafs, weight = paf_targets(joints, (H, W), width=0.5, limbs=[(0, 1), (1, 2)])
    assert pafs.shape == (4, H, W) and pafs.dtype == np.float32
    np.testing.assert_array_equal(weight, [1.0, 1.0])

    # Diagonal limb, width 0.5. With r = p - (1, 1): along = 0.8 rx + 0.6 ry in [0, 5] and
    # across = |-0.6 rx + 0.8 ry| <= 0.5. On the band:
    #   (1, 1): along 0,   across 0       (2, 2): along 1.4, across 0.2
    #   (3, 2): along 2.2, across 0.4     (3, 3): along 2.8, across 0.4
    #   (4, 3): along 3.6, across 0.2     (5, 4): along 5,   across 0
    # Some neighbours that are off: (2, 1) across 0.6; (1, 2) across 0.8; (4, 4) across 0.6;
    # (5, 3) across 0.8; (6, 5) across 0.2 but along 6.4 > 5; (0, 0) across 0.2 but along -1.4 < 0.
    diag_on = [(1, 1), (2, 2), (3, 2), (3, 3), (4, 3), (5, 4)]
    np.testing.assert_array_equal(pafs[0:2], _field({p: (0.8, 0.6) for p in diag_on}))
    for x, y in [(2, 1), (1, 2), (4, 4), (5, 3), (6, 5), (0, 0)]:
        assert pafs[0, y, x] == 0 and pafs[1, y, x] == 0

    # Horizontal limb (5, 4) -> (9, 4), width 0.5: only row y = 4, x = 5..9, vector (1, 0).
    np.testing.assert_array_equal(pafs[2:4], _field({(x, 4): (1.0, 0.0) for x in range(5, 10)}))
    # every band pixel holds a unit vector
    norms = np.hypot(pafs[0::2], pafs[1::2])
    np.testing.assert_allclose(norms[pafs[0::2] != 0], 1.0, rtol=1e-6)


def test_paf_band_limits_width_and_segment_ends():
    # Horizontal limb (2, 3) -> (7, 3), length 5, width 1: on iff 2 <= x <= 7 and |y - 3| <= 1.
    joints = np.array([[2.0, 3.0], [7.0, 3.0]])
    pafs, _ = paf_targets(joints, (H, W), width=1.0, limbs=[(0, 1)])
    expected = {(x, y): (1.0, 0.0) for x in range(2, 8) for y in (2, 3, 4)}  # 6 x 3 = 18 pixels
    np.testing.assert_array_equal(pafs, _field(expected))
    assert (pafs[0] != 0).sum() == 18
    assert pafs[0, 3, 2] == 1 and pafs[0, 3, 7] == 1  # projection exactly 0 and exactly 5: on
    assert pafs[0, 3, 1] == 0 and pafs[0, 3, 8] == 0  # projection -1 and 6: off (no round caps)
    assert pafs[0, 4, 4] == 1 and pafs[0, 2, 4] == 1  # distance exactly 1 = width: on
    assert pafs[0, 5, 4] == 0 and pafs[0, 1, 4] == 0  # distance 2 > width: off

    # width 0.99 < 1: rows 2 and 4 drop out, only the centre row remains (6 pixels).
    thin, _ = paf_targets(joints, (H, W), width=0.99, limbs=[(0, 1)])
    np.testing.assert_array_equal(thin, _field({(x, 3): (1.0, 0.0) for x in range(2, 8)}))
    # width 0: exactly the pixels on the segment.
    line, _ = paf_targets(joints, (H, W), width=0.0, limbs=[(0, 1)])
    np.testing.assert_array_equal(line, thin)

    # Half-pixel limb end: (2, 3) -> (6.5, 3) covers x = 2..6; x = 7 projects to 5 > 4.5.
    short, _ = paf_targets(np.array([[2.0, 3.0], [6.5, 3.0]]), (H, W), width=0.0, limbs=[(0, 1)])
    np.testing.assert_array_equal(short, _field({(x, 3): (1.0, 0.0) for x in range(2, 7)}))

    # Reversed limb (7, 3) -> (2, 3): same band, vector (-1, 0).
    rev, _ = paf_targets(joints[::-1].copy(), (H, W), width=1.0, limbs=[(0, 1)])
    np.testing.assert_array_equal(rev, -pafs)


def test_paf_overlapping_persons_are_averaged_not_renormalised():
    # Person A: (1, 3) -> (7, 3), v = (1, 0). Person B: (4, 0) -> (4, 6), v = (0, 1). Width 0.
    joints = np.array([[[1.0, 3.0], [7.0, 3.0]], [[4.0, 0.0], [4.0, 6.0]]])
    pafs, weight = paf_targets(joints, (H, W), width=0.0, limbs=[(0, 1)])
    np.testing.assert_array_equal(weight, [1.0])
    expected = {(x, 3): (1.0, 0.0) for x in range(1, 8)}
    expected.update({(4, y): (0.0, 1.0) for y in range(7)})
    # crossing (4, 3): ((1, 0) + (0, 1)) / 2 = (0.5, 0.5), norm 1/sqrt(2), kept as is
    expected[(4, 3)] = (0.5, 0.5)
    np.testing.assert_array_equal(pafs, _field(expected))
    assert pafs[0, 3, 2] == 1 and pafs[1, 3, 2] == 0  # only A covers (2, 3)
    assert pafs[0, 1, 4] == 0 and pafs[1, 1, 4] == 1  # only B covers (4, 1)

    # A list of (J, 2) arrays is accepted too and gives the same result.
    listed, _ = paf_targets([joints[0], joints[1]], (H, W), width=0.0, limbs=[(0, 1)])
    np.testing.assert_array_equal(listed, pafs)

    # Anti-parallel overlap: A (1, 3) -> (7, 3) and C (7, 3) -> (3, 3): x = 3..7 average to 0.
    anti = np.array([[[1.0, 3.0], [7.0, 3.0]], [[7.0, 3.0], [3.0, 3.0]]])
    pafs2, _ = paf_targets(anti, (H, W), width=0.0, limbs=[(0, 1)])
    np.testing.assert_array_equal(pafs2, _field({(1, 3): (1.0, 0.0), (2, 3): (1.0, 0.0)}))


def test_paf_weight_single_person_unannotated_joint():
    # 3 joints, joint 1 unannotated: limbs (0,1) and (1,2) weight 0 and empty, (0,2) weight 1.
    joints = np.array([[1.0, 2.0], [5.0, 2.0], [8.0, 2.0]])
    limbs = [(0, 1), (1, 2), (0, 2)]
    pafs, weight = paf_targets(joints, (H, W), width=0.0, annotated=[1, 0, 1], limbs=limbs)
    np.testing.assert_array_equal(weight, [0.0, 0.0, 1.0])
    assert not pafs[0:4].any()
    np.testing.assert_array_equal(pafs[4:6], _field({(x, 2): (1.0, 0.0) for x in range(1, 9)}))

    # Default annotation = finite coordinates: a NaN joint 1 gives the same result.
    nan_joints = joints.copy()
    nan_joints[1] = np.nan
    pafs_nan, weight_nan = paf_targets(nan_joints, (H, W), width=0.0, limbs=limbs)
    np.testing.assert_array_equal(weight_nan, weight)
    np.testing.assert_array_equal(pafs_nan, pafs)


def test_paf_weight_limb_missing_in_one_of_several_persons():
    # Person A complete; person B lacks joint 1. Limb (0,1): weight 0 (B's limb is unknown), but
    # A's band is still drawn. Limb (0,2): complete for both -> weight 1.
    joints = np.array([
        [[1.0, 1.0], [6.0, 1.0], [1.0, 6.0]],
        [[8.0, 7.0], [0.0, 0.0], [8.0, 2.0]],
    ])
    annotated = np.array([[True, True, True], [True, False, True]])
    pafs, weight = paf_targets(joints, (H, W), width=0.0, annotated=annotated, limbs=[(0, 1), (0, 2)])
    np.testing.assert_array_equal(weight, [0.0, 1.0])
    np.testing.assert_array_equal(pafs[0:2], _field({(x, 1): (1.0, 0.0) for x in range(1, 7)}))
    # limb (0,2): A (1,1) -> (1,6) downwards, B (8,7) -> (8,2) upwards
    expected = {(1, y): (0.0, 1.0) for y in range(1, 7)}
    expected.update({(8, y): (0.0, -1.0) for y in range(2, 8)})
    np.testing.assert_array_equal(pafs[2:4], _field(expected))


def test_paf_zero_length_limb_has_weight_zero():
    joints = np.array([[3.0, 3.0], [3.0, 3.0], [6.0, 3.0]])
    pafs, weight = paf_targets(joints, (H, W), width=1.0, limbs=[(0, 1), (1, 2)])
    np.testing.assert_array_equal(weight, [0.0, 1.0])
    assert not pafs[0:2].any()
    # zero-length limb of one person among two: weight 0, the other person's band stays
    two = np.array([[[3.0, 3.0], [3.0, 3.0]], [[1.0, 6.0], [4.0, 6.0]]])
    pafs2, weight2 = paf_targets(two, (H, W), width=0.0, limbs=[(0, 1)])
    np.testing.assert_array_equal(weight2, [0.0])
    np.testing.assert_array_equal(pafs2, _field({(x, 6): (1.0, 0.0) for x in range(1, 5)}))


@pytest.mark.parametrize("kwargs", [
    {"joints": np.zeros((3, 3))},  # last axis not 2
    {"joints": np.zeros((3,))},  # 1-D
    {"joints": np.zeros((1, 2, 3, 2))},  # 4-D
    {"annotated": np.ones((2, 3), bool)},  # one person, two annotation rows
    {"annotated": np.ones(2, bool)},  # 3 joints, 2 flags
    {"width": -0.5},
    {"limbs": [(0, 3)]},  # joint 3 of 3
    {"limbs": [(-1, 0)]},
    {"size": (0, 10)},
])
def test_paf_errors(kwargs):
    args = {"joints": np.zeros((3, 2)), "size": (H, W), "width": 1.0, "annotated": None,
            "limbs": [(0, 1)]}
    args.update(kwargs)
    with pytest.raises(ValueError):
        paf_targets(**args)


# --------------------------------------------------------------------------------------------------
# Segmentation metrics (FCN Sec. 5)

# 3 x 4 label maps, classes 0..2 of C = 4 (class 3 never occurs), 255 = ignore in gt.
GT = np.array([
    [0, 0, 0, 1],
    [1, 1, 2, 2],
    [255, 2, 255, 0],
])
PRED = np.array([
    [0, 0, 1, 1],
    [1, 2, 2, 2],
    [255, 2, 1, 0],  # predictions under ignored gt (255 and 1) are skipped
])
# (gt, pred) pairs of the 10 kept pixels: (0,0) x3, (0,1) x1, (1,1) x2, (1,2) x1, (2,2) x3
CM = np.array([
    [3, 1, 0, 0],
    [0, 2, 1, 0],
    [0, 0, 3, 0],
    [0, 0, 0, 0],
])


def test_confusion_matrix_entries_and_ignore():
    cm = confusion_matrix(GT, PRED, num_classes=4)
    assert cm.dtype == np.int64 and cm.shape == (4, 4)
    np.testing.assert_array_equal(cm, CM)
    assert cm.sum() == 10  # 12 pixels - 2 ignored
    # another ignore value: 255 is then an out-of-range label
    with pytest.raises(ValueError):
        confusion_matrix(GT, PRED, num_classes=4, ignore_index=0)


def test_segmentation_scores_hand_computed():
    s = segmentation_scores(confusion_matrix(GT, PRED, num_classes=4))
    # t = row sums = (4, 3, 3, 0); column sums = (3, 3, 4, 0); diagonal = (3, 2, 3, 0); total 10
    assert s.pixel_accuracy == pytest.approx((3 + 2 + 3) / 10)  # 8/10
    # per-class accuracy 3/4, 2/3, 3/3; class 3 is 0/0 -> NaN, left out: mean over 3 classes
    np.testing.assert_allclose(s.accuracy[:3], [3 / 4, 2 / 3, 1.0])
    assert np.isnan(s.accuracy[3])
    assert s.mean_accuracy == pytest.approx((3 / 4 + 2 / 3 + 3 / 3) / 3)  # 29/36
    # IU_i = n_ii / (t_i + col_i - n_ii): 3/(4+3-3) = 3/4, 2/(3+3-2) = 1/2, 3/(3+4-3) = 3/4
    np.testing.assert_allclose(s.iu[:3], [3 / 4, 1 / 2, 3 / 4])
    assert np.isnan(s.iu[3])
    assert s.mean_iu == pytest.approx((3 / 4 + 1 / 2 + 3 / 4) / 3)  # 2/3, class 3 left out
    # fw IU = (4 * 3/4 + 3 * 1/2 + 3 * 3/4) / 10 = (3 + 3/2 + 9/4) / 10 = 27/40
    assert s.frequency_weighted_iu == pytest.approx(27 / 40)


def test_segmentation_scores_predicted_only_class_counts_iu_zero():
    gt = np.array([0, 0, 1, 1])
    pred = np.array([0, 2, 1, 1])
    cm = confusion_matrix(gt, pred, num_classes=3)
    np.testing.assert_array_equal(cm, [[1, 0, 1], [0, 2, 0], [0, 0, 0]])
    s = segmentation_scores(cm)
    # t = (2, 2, 0), column sums = (1, 2, 1), diagonal = (1, 2, 0)
    assert s.pixel_accuracy == pytest.approx(3 / 4)
    # accuracy: 1/2, 2/2, class 2 = 0/0 (not in gt) -> left out: (1/2 + 1) / 2 = 3/4
    assert np.isnan(s.accuracy[2])
    assert s.mean_accuracy == pytest.approx((1 / 2 + 1) / 2)
    # IU: 1/(2+1-1) = 1/2, 2/(2+2-2) = 1, class 2: 0/(0+1-0) = 0 -> counted: (1/2 + 1 + 0) / 3 = 1/2
    np.testing.assert_allclose(s.iu, [1 / 2, 1.0, 0.0])
    assert s.mean_iu == pytest.approx(1 / 2)
    # fw IU = (2 * 1/2 + 2 * 1 + 0 * 0) / 4 = 3/4
    assert s.frequency_weighted_iu == pytest.approx(3 / 4)


def test_confusion_matrix_streaming_equals_one_shot():
    acc = np.zeros((4, 4), np.int64)
    returned = confusion_matrix(GT[:1], PRED[:1], num_classes=4, out=acc)
    assert returned is acc
    np.testing.assert_array_equal(acc, [[2, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    confusion_matrix(GT[1:], PRED[1:], num_classes=4, out=acc)
    np.testing.assert_array_equal(acc, CM)
    # a batch (B, H, W) in one call gives the same matrix
    batch = confusion_matrix(np.stack([GT, GT]), np.stack([PRED, PRED]), num_classes=4)
    np.testing.assert_array_equal(batch, 2 * CM)
    # scores of the doubled matrix are unchanged (all ratios)
    assert segmentation_scores(batch).mean_iu == pytest.approx(2 / 3)


def test_segmentation_errors():
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(GT, PRED[:, :3], num_classes=4)
    with pytest.raises(ValueError, match="labels"):
        confusion_matrix(np.array([0, 3]), np.array([0, 0]), num_classes=3)  # gt 3 >= C
    with pytest.raises(ValueError, match="labels"):
        confusion_matrix(np.array([0, 1]), np.array([0, 255]), num_classes=3)  # pred 255 on kept gt
    with pytest.raises(ValueError, match="labels"):
        confusion_matrix(np.array([0, 1]), np.array([0, -1]), num_classes=3)
    with pytest.raises(ValueError, match="out"):
        confusion_matrix(GT, PRED, num_classes=4, out=np.zeros((3, 3), np.int64))
    with pytest.raises(ValueError, match="empty"):
        segmentation_scores(np.zeros((4, 4)))
    all_ignored = confusion_matrix(np.full((2, 2), 255), np.zeros((2, 2), int), num_classes=4)
    with pytest.raises(ValueError, match="empty"):
        segmentation_scores(all_ignored)
    with pytest.raises(ValueError, match="square"):
        segmentation_scores(np.ones((3, 4)))


# --------------------------------------------------------------------------------------------------
# PCK_dist

LIMBS3 = [(0, 1), (1, 2), (0, 2)]


def test_pck_dist_hand_computed():
    gt = np.array([
        # sample 0: limbs |(3,4)| = 5, |(0,10)| = 10, |(3,14)| = sqrt(205): shortest 5 -> threshold 25
        [[0.0, 0.0], [3.0, 4.0], [3.0, 14.0]],
        # sample 1: joint 1 unannotated; only limb (0,2) counts, |(0,10)| = 10 -> threshold 50
        # (with joint 1 the shortest limb would be |(0,2)| = 2, threshold 10)
        [[10.0, 10.0], [10.0, 12.0], [10.0, 20.0]],
    ])
    offsets = np.array([
        [[3.0, 4.0], [15.0, 20.0], [30.0, 40.0]],  # distances 5 (in), 25 (= threshold: in), 50 (out)
        [[0.0, 30.0], [1000.0, 0.0], [6.0, 8.0]],  # 30 (in, > 10), unannotated, 10 (in)
    ])
    annotated = np.array([[True, True, True], [True, False, True]])
    r = pck_dist(gt + offsets, gt, annotated=annotated, factor=5.0, limbs=LIMBS3)
    np.testing.assert_allclose(r.thresholds, [25.0, 50.0])
    assert r.num_annotated == 5 and r.num_matched == 4
    assert r.matched_fraction == pytest.approx(4 / 5)
    assert r.mean_distance == pytest.approx((5 + 25 + 30 + 10) / 4)  # 70/4 = 17.5

    # factor 1: thresholds 5 and 10 -> matched: 5 (s0 j0) and 10 (s1 j2)
    r1 = pck_dist(gt + offsets, gt, annotated=annotated, factor=1.0, limbs=LIMBS3)
    np.testing.assert_allclose(r1.thresholds, [5.0, 10.0])
    assert r1.num_matched == 2 and r1.mean_distance == pytest.approx((5 + 10) / 2)


def test_pck_dist_single_sample_and_no_limb():
    gt = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 14.0]])
    pred = gt + np.array([[3.0, 4.0], [0.0, 0.0], [30.0, 40.0]])
    r = pck_dist(pred, gt, limbs=[(0, 1)])  # (J, 2) input, default factor 5: threshold 25
    np.testing.assert_allclose(r.thresholds, [25.0])
    assert (r.num_matched, r.num_annotated) == (2, 3)
    assert r.mean_distance == pytest.approx((5 + 0) / 2)

    # only joint 2 annotated: no limb with both joints -> threshold NaN, nothing matched
    r2 = pck_dist(pred, gt, annotated=[[False, False, True]], limbs=LIMBS3)
    assert np.isnan(r2.thresholds[0]) and np.isnan(r2.mean_distance)
    assert (r2.num_matched, r2.num_annotated) == (0, 1) and r2.matched_fraction == 0.0


def test_pck_dist_errors():
    gt = np.zeros((2, 3, 2))
    with pytest.raises(ValueError):
        pck_dist(np.zeros((2, 4, 2)), gt, limbs=LIMBS3)
    with pytest.raises(ValueError):
        pck_dist(np.zeros((2, 3, 3)), np.zeros((2, 3, 3)), limbs=LIMBS3)
    with pytest.raises(ValueError):
        pck_dist(gt, gt, factor=0.0, limbs=LIMBS3)
    # annotated must be (N, J): a transposed (J, N) mask is refused, not silently reshaped
    with pytest.raises(ValueError, match="annotated"):
        pck_dist(gt, gt, annotated=np.ones((3, 2), bool), limbs=LIMBS3)
    # limb joint ids must be in range (a negative id would otherwise wrap around)
    with pytest.raises(ValueError, match="limb"):
        pck_dist(gt, gt, limbs=[(0, 3)])
    with pytest.raises(ValueError, match="limb"):
        pck_dist(gt, gt, limbs=[(-1, 0)])
    # (J,) mask for a single (J, 2) sample is accepted
    r = pck_dist(gt[0], gt[0], annotated=[True, True, False], limbs=LIMBS3)
    assert r.num_annotated == 2
