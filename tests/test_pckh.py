"""Tests for the official MPII PCKh (posekit.evaluation.pckh) and prediction file I/O."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.io import savemat

from conftest import SHARED
from posekit.data.ground_truth import (
    GroundTruth,
    head_sizes_from_headboxes,
    load_ground_truth,
    load_mpii_ground_truth,
)
from posekit.data.predictions import load_predictions, save_predictions
from posekit.evaluation import format_table, pckh, pckh_curve, pckh_from_normalize
from posekit.keypoints import COCO, MPII

JOINT_NAMES = MPII.names

DATA = SHARED / "mpii"
GT_MAT = DATA / "gt_valid.mat"
VALID_H5 = DATA / "valid.h5"

needs_gt = pytest.mark.skipif(not GT_MAT.is_file(), reason=f"real MPII ground truth not found at {GT_MAT}")
needs_h5 = pytest.mark.skipif(not VALID_H5.is_file(), reason=f"real MPII valid.h5 not found at {VALID_H5}")

# Annotated (non-missing) joint counts in gt_valid.mat, read once from jnt_missing by hand and
# written down here so that the expected scores below are independent of the code under test.
COUNTS = [2115, 2485, 2889, 2888, 2478, 2119, 2878, 2932, 2932, 2932, 2928, 2935, 2944, 2944, 2932, 2909]
# Mean denominator (all but pelvis 2878 and thorax 2932): 38430. Wrists: 2928 + 2909 = 5837.
MEAN_WRISTS_WRONG = 84.81134530314858  # 100 * (38430 - 5837) / 38430
# Hard joints (ankles, knees, hips, wrists, elbows): 26678 instances, 5837 of them wrists.
HARD_WRISTS_WRONG = 78.12054876677412  # 100 * (26678 - 5837) / 26678


@pytest.fixture(scope="module")
def gt() -> GroundTruth:
    if not GT_MAT.is_file():
        pytest.skip(f"real MPII ground truth not found at {GT_MAT}")
    return load_mpii_ground_truth(GT_MAT)


def _shift_x(g: GroundTruth, joints, factor: float) -> np.ndarray:
    pred = g.joints.copy()
    pred[:, list(joints), 0] += factor * g.head_sizes[:, None]
    return pred


# ----------------------------------------------------------------------------- ground truth


@needs_gt
def test_load_ground_truth_shapes_and_head_sizes(gt):
    n = 2958
    assert gt.joints.shape == (n, 16, 2)
    assert gt.missing.shape == (n, 16) and gt.missing.dtype == bool
    assert gt.headboxes.shape == (n, 2, 2)
    assert gt.keypoints.names == JOINT_NAMES
    assert (~gt.missing).sum(axis=0).tolist() == COUNTS
    diag = np.hypot(*(gt.headboxes[:, 1] - gt.headboxes[:, 0]).T)
    np.testing.assert_allclose(gt.head_sizes, 0.6 * diag)
    # sample 0 by hand from the raw file layout (2, 2, N)
    from scipy.io import loadmat

    raw = loadmat(str(GT_MAT))
    box = raw["headboxes_src"][:, :, 0]
    assert gt.head_sizes[0] == pytest.approx(0.6 * np.sqrt(((box[1] - box[0]) ** 2).sum()))
    np.testing.assert_array_equal(gt.joints[5], raw["pos_gt_src"][:, :, 5])


def test_load_ground_truth_errors_name_file_and_key(tmp_path):
    n = 3
    good = {"pos_gt_src": np.zeros((16, 2, n)), "jnt_missing": np.zeros((16, n)), "headboxes_src": np.ones((2, 2, n))}
    no_box = tmp_path / "nobox.mat"
    savemat(no_box, {k: v for k, v in good.items() if k != "headboxes_src"})
    with pytest.raises(KeyError, match=r"nobox\.mat.*headboxes_src"):
        load_mpii_ground_truth(no_box)
    bad = tmp_path / "bad.mat"
    savemat(bad, {**good, "jnt_missing": np.zeros((14, n))})
    with pytest.raises(ValueError, match=r"bad\.mat.*jnt_missing.*\(14, 3\)"):
        load_mpii_ground_truth(bad)
    bad_pos = tmp_path / "badpos.mat"
    savemat(bad_pos, {**good, "pos_gt_src": np.zeros((n, 16, 2))})
    with pytest.raises(ValueError, match=r"badpos\.mat.*pos_gt_src"):
        load_mpii_ground_truth(bad_pos)
    with pytest.raises(FileNotFoundError, match="absent.mat"):
        load_mpii_ground_truth(tmp_path / "absent.mat")
    ok = tmp_path / "ok.mat"
    savemat(ok, {**good, "headboxes_src": np.stack([np.zeros((2, n)), np.full((2, n), [[3.0], [4.0]])])})
    g = load_ground_truth(ok)
    assert g.num_samples == n
    np.testing.assert_allclose(g.head_sizes, 3.0)  # boxes (0, 0)-(3, 4): 0.6 x 5
    degenerate = tmp_path / "degenerate.mat"
    savemat(degenerate, good)                       # boxes (1, 1)-(1, 1) on annotated samples
    with pytest.raises(ValueError, match=r"degenerate\.mat: sample 0: field 'headboxes_src' gives the head size 0.0"):
        load_ground_truth(degenerate)


def test_head_sizes_from_headboxes_hand_value():
    boxes = np.array([[[10.0, 20.0], [13.0, 24.0]]])  # diagonal 5
    assert head_sizes_from_headboxes(boxes).tolist() == pytest.approx([3.0])


# ----------------------------------------------------------------------------- PCKh on real GT


@needs_gt
def test_gt_against_itself_is_100(gt):
    r = pckh(gt.joints, gt.joints, gt.head_sizes, gt.missing, thresholds=(0.5, 0.1))
    for t in (0.5, 0.1):
        assert all(v == 100.0 for v in r.table(t).values())
        assert r.hard_mean(t) == 100.0
    assert np.all(r.per_joint == 100.0)
    assert r.counts.tolist() == COUNTS


@needs_gt
def test_shift_all_joints_by_0_4_head_sizes(gt):
    pred = _shift_x(gt, range(16), 0.4)
    r = pckh(pred, gt.joints, gt.head_sizes, gt.missing, thresholds=(0.5, 0.1))
    assert all(v == pytest.approx(100.0) for v in r.table(0.5).values())
    assert all(v == 0.0 for v in r.table(0.1).values())
    assert r.hard_mean(0.5) == pytest.approx(100.0) and r.hard_mean(0.1) == 0.0


@needs_gt
def test_wrists_wrong_gives_hand_computed_mean(gt):
    pred = _shift_x(gt, (10, 15), 0.6)
    r = pckh(pred, gt.joints, gt.head_sizes, gt.missing)
    tab = r.table()
    assert tab["wrist"] == 0.0
    for row in ("head", "shoulder", "elbow", "hip", "knee", "ankle"):
        assert tab[row] == 100.0
    assert tab["mean"] == pytest.approx(MEAN_WRISTS_WRONG, abs=1e-9)
    assert r.hard_mean() == pytest.approx(HARD_WRISTS_WRONG, abs=1e-9)
    # the official np.ma formulation (count-weighted, pelvis/thorax masked) gives the same number
    pj = np.ma.array(r.per_joint[0], mask=False)
    pj.mask[6:8] = True
    cnt = np.ma.array(r.counts, mask=False)
    cnt.mask[6:8] = True
    assert float(np.sum(pj * (cnt / np.sum(cnt)))) == pytest.approx(MEAN_WRISTS_WRONG, abs=1e-9)


@needs_gt
def test_pelvis_thorax_do_not_enter_the_mean(gt):
    pred = _shift_x(gt, (6, 7), 10.0)
    r = pckh(pred, gt.joints, gt.head_sizes, gt.missing)
    assert r.per_joint[0, 6] == 0.0 and r.per_joint[0, 7] == 0.0
    assert r.mean() == 100.0


@needs_gt
def test_missing_joints_are_excluded(gt):
    rng = np.random.default_rng(0)
    pred = gt.joints + rng.normal(scale=0.3, size=gt.joints.shape) * gt.head_sizes[:, None, None]
    base = pckh(pred, gt.joints, gt.head_sizes, gt.missing, thresholds=(0.5, 0.1))
    garbage = pred.copy()
    garbage[gt.missing] = 1e6
    garbage[np.flatnonzero(gt.missing.any(axis=1))[:5]] = np.nan  # whole rows of samples with misses
    garbage[~gt.missing] = pred[~gt.missing]
    r = pckh(garbage, gt.joints, gt.head_sizes, gt.missing, thresholds=(0.5, 0.1))
    np.testing.assert_array_equal(r.per_joint, base.per_joint)
    assert 0 < base.mean() < 100
    # and without the missing mask the garbage does count (the test can fail)
    assert pckh(garbage, gt.joints, gt.head_sizes).mean() < base.mean()


@needs_gt
def test_mask_restricts_evaluation(gt):
    pred = _shift_x(gt, (10, 15), 0.6)
    only_wrists = np.zeros_like(gt.missing)
    only_wrists[:, [10, 15]] = True
    r = pckh(pred, gt.joints, gt.head_sizes, gt.missing, mask=only_wrists)
    assert r.mean() == 0.0
    assert r.counts.tolist() == [0] * 10 + [2928, 0, 0, 0, 0, 2909]
    assert np.isnan(r.table()["head"])
    no_wrists = ~only_wrists
    assert pckh(pred, gt.joints, gt.head_sizes, gt.missing, mask=no_wrists).mean() == 100.0


@needs_gt
def test_curve_is_monotone_and_matches_single_thresholds(gt):
    rng = np.random.default_rng(1)
    pred = gt.joints + rng.normal(scale=0.2, size=gt.joints.shape) * gt.head_sizes[:, None, None]
    curve = pckh_curve(pred, gt.joints, gt.head_sizes, gt.missing)
    ts, means = curve.curve()
    assert len(ts) == 51 and ts[0] == 0.0 and ts[-1] == 0.5
    assert np.all(np.diff(means) >= 0)
    single = pckh(pred, gt.joints, gt.head_sizes, gt.missing, thresholds=(0.5, 0.1))
    assert curve.mean(0.5) == single.mean(0.5)
    assert curve.mean(0.1) == single.mean(0.1)
    assert single.mean(0.1) < single.mean(0.5)


# ----------------------------------------------------------------------------- conventions (synthetic)


def _one_sample(offsets_px, head_size=10.0):
    """One sample, all joints at the origin (so offsets stay exact), shifted along x."""
    gt = np.zeros((1, 16, 2))
    pred = gt.copy()
    pred[0, :, 0] += offsets_px
    return pred, gt, np.array([head_size])


def test_boundary_distance_equal_to_threshold_counts_as_correct():
    # head size 10 px, threshold 0.5 -> limit 5 px. Exact in binary floating point.
    pred, gt, hs = _one_sample(np.full(16, 5.0))
    assert pckh(pred, gt, hs).mean() == 100.0  # official MPII / HRNet: <=
    pred, gt, hs = _one_sample(np.full(16, np.nextafter(5.0, 6.0)))
    assert pckh(pred, gt, hs).mean() == 0.0
    pred, gt, hs = _one_sample(np.full(16, 1.0))
    r = pckh(pred, gt, hs, thresholds=(0.1, 0.05))
    assert r.mean(0.1) == 100.0 and r.mean(0.05) == 0.0
    # diagonal: 3-4-5 triangle
    gt = np.zeros((1, 16, 2))
    pred = gt + np.array([3.0, 4.0])
    assert pckh(pred, gt, np.array([10.0])).mean() == 100.0
    assert pckh(pred, gt, np.array([9.99])).mean() == 0.0


def test_rows_average_left_and_right_unweighted():
    # Shoulders: 1 left instance correct, 3 right instances all wrong.
    n = 3
    gt = np.zeros((n, 16, 2))
    pred = gt.copy()
    missing = np.zeros((n, 16), dtype=bool)
    missing[1:, 13] = True  # l_shoulder annotated only in sample 0
    pred[:, 12, 0] = 100.0  # r_shoulder wrong everywhere
    r = pckh(pred, gt, np.ones(n), missing)
    assert r.per_joint[0, 13] == 100.0 and r.per_joint[0, 12] == 0.0
    assert r.table()["shoulder"] == 50.0  # 0.5 * (100 + 0), not count-weighted 25
    # the Mean is count-weighted: 14 joints * 3 - 2 missing = 40 instances, 3 wrong
    assert r.mean() == pytest.approx(100.0 * 37 / 40)


def test_nan_prediction_is_wrong_and_shapes_are_checked():
    pred, gt, hs = _one_sample(np.zeros(16))
    pred[0, 0] = np.nan
    r = pckh(pred, gt, hs)
    assert r.per_joint[0, 0] == 0.0 and r.per_joint[0, 1] == 100.0
    with pytest.raises(ValueError, match="pred has shape"):
        pckh(pred[:, :15], gt, hs)
    with pytest.raises(ValueError, match="head_sizes"):
        pckh(pred, gt, np.ones(2))
    with pytest.raises(ValueError, match="missing"):
        pckh(pred, gt, hs, missing=np.zeros((1, 15), bool))
    with pytest.raises(ValueError, match="mask"):
        pckh(pred, gt, hs, mask=np.zeros((2, 16), bool))
    with pytest.raises(ValueError, match="head size"):
        pckh(pred, gt, np.zeros(1))
    # a zero head size is fine when the sample has nothing to evaluate
    assert np.isnan(pckh(pred, gt, np.zeros(1), missing=np.ones((1, 16), bool)).mean())


def test_threshold_lookup_and_to_dict_is_json():
    pred, gt, hs = _one_sample(np.full(16, 2.0))  # normalised error 0.2
    r = pckh(pred, gt, hs, thresholds=(0.5, 0.1))
    with pytest.raises(KeyError, match="0.3"):
        r.table(0.3)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["pckh@0.5"]["mean"] == 100.0 and d["pckh@0.1"]["mean"] == 0.0
    assert list(d["pckh@0.5"]) == ["head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "mean"]
    assert list(d["per_joint"]) == list(JOINT_NAMES)
    assert d["hard_mean@0.1"] == 0.0 and d["num_samples"] == 1
    # NaN (no evaluated joint) is serialised as null
    empty = pckh(pred, gt, hs, mask=np.zeros((1, 16), bool)).to_dict()
    assert json.loads(json.dumps(empty, allow_nan=False))["pckh@0.5"]["mean"] is None


def test_format_table_layout():
    pred, gt, hs = _one_sample(np.full(16, 2.0))
    pred[0, list(MPII.indices(MPII.subsets["hard"])), 0] += 100.0
    r = pckh(pred, gt, hs, thresholds=(0.5, 0.1))
    lines = format_table(r).splitlines()
    assert lines[0].split() == ["Head", "Sho", "Elb", "Wri", "Hip", "Knee", "Ank", "Mean", "Mean@0.1"]
    values = lines[2].split()
    assert values[0] == "PCKh@0.5"
    assert values[1:] == ["100.00", "100.00", "0.00", "0.00", "0.00", "0.00", "0.00", "28.57", "0.00"]
    assert "hard-joint mean 0.00" in lines[-1]
    assert "Mean@0.1" not in format_table(pckh(pred, gt, hs))


# ----------------------------------------------------------------------------- valid.h5 normaliser


@needs_h5
def test_normalize_variant_on_valid_h5():
    h5 = load_ground_truth(VALID_H5)
    assert h5.num_samples == 2958 and h5.headboxes is None and h5.visible.shape == (2958, 16)
    r = pckh_from_normalize(h5.joints, h5.joints, h5.head_sizes, thresholds=(0.5, 0.1))
    assert all(v == 100.0 for v in r.table(0.5).values())
    assert r.counts.tolist() == COUNTS  # (0, 0) = missing agrees with gt_valid.mat's jnt_missing
    # 0.3 head sizes off: right at 0.5, wrong at 0.1
    pred = h5.joints + np.array([0.3, 0.0]) * h5.head_sizes[:, None, None]
    r = pckh_from_normalize(pred, h5.joints, h5.head_sizes, thresholds=(0.5, 0.1))
    assert r.mean(0.5) == 100.0 and r.mean(0.1) == 0.0


@needs_h5
@needs_gt
def test_normalize_equals_0_6_head_box_diagonal(gt):
    h5 = load_ground_truth(VALID_H5)
    np.testing.assert_allclose(h5.head_sizes, gt.head_sizes, rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(h5.missing, gt.missing)


def test_json_ground_truth(tmp_path):
    """The json ground truth is read by the annotation reader (one reader per format)."""
    joints0 = np.arange(1.0, 33.0).reshape(16, 2)
    joints0[15] = -1.0  # HRNet-style "no coordinate"
    joints0[9] = [5.0, -14.0]  # a real head top above the image border
    joints1 = np.ones((16, 2))
    joints1[0] = 0.0  # MPII-style "no coordinate"
    base = {"image": "a.jpg", "center": [50, 50], "scale": 1.0}
    recs = [{**base, "joints": joints0.tolist(), "joints_vis": [1] * 14 + [0, 0], "headbox": [[0, 0], [30, 40]]},
            {**base, "joints": joints1.tolist(), "joints_vis": [1] * 16, "headbox": [[0, 0], [12, 16]]}]
    p = tmp_path / "gt.json"
    p.write_text(json.dumps(recs))
    g = load_ground_truth(p)
    assert g.head_sizes.tolist() == pytest.approx([30.0, 12.0])
    assert np.flatnonzero(g.missing[0]).tolist() == [15]
    assert np.flatnonzero(g.missing[1]).tolist() == [0]
    # joints_vis = 0 on an annotated joint means occluded: still evaluated, but not visible
    assert g.visible[0, 14] == False and g.missing[0, 14] == False  # noqa: E712
    assert g.headboxes.shape == (2, 2, 2)
    p.write_text(json.dumps([{**base, "joints": recs[1]["joints"]}]))
    with pytest.raises(ValueError, match=r"gt\.json: no head sizes"):
        load_ground_truth(p)


def test_pckh_table_of_another_keypoint_set():
    """COCO-17: its own rows (the head row pools the five face points), nothing excluded from the mean."""
    gt = np.zeros((2, 17, 2))
    pred = gt.copy()
    pred[:, COCO.index("nose"), 0] = 100.0          # one of the five head points wrong in both samples
    r = pckh(pred, gt, np.ones(2), keypoints=COCO)
    table = r.table()
    assert list(table) == ["head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "mean"]
    assert table["head"] == pytest.approx(80.0) and table["mean"] == pytest.approx(100 * 32 / 34)
    assert "Mean" in format_table(r) and "hard-joint" not in format_table(r)
    with pytest.raises(ValueError, match="17 keypoints, the arrays have 16"):
        pckh(np.zeros((1, 16, 2)), np.zeros((1, 16, 2)), np.ones(1), keypoints=COCO)


# ----------------------------------------------------------------------------- prediction files


@pytest.mark.parametrize("suffix", [".npy", ".mat", ".json"])
def test_prediction_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(2)
    preds = rng.uniform(0, 1000, size=(7, 16, 2))
    preds[3, 4] = np.nan
    path = save_predictions(tmp_path / "sub" / f"p{suffix}", preds)
    back = load_predictions(path)
    assert back.shape == (7, 16, 2) and back.dtype == np.float64
    np.testing.assert_array_equal(back, preds)


def test_prediction_on_disk_layouts(tmp_path):
    from scipy.io import loadmat

    preds = np.arange(3 * 16 * 2, dtype=float).reshape(3, 16, 2)
    save_predictions(tmp_path / "p.npy", preds)
    raw = np.load(tmp_path / "p.npy")
    assert raw.shape == (16, 2, 3)  # the command-line contract
    np.testing.assert_array_equal(raw[:, :, 1], preds[1])
    save_predictions(tmp_path / "p.mat", preds)
    assert loadmat(str(tmp_path / "p.mat"))["preds"].shape == (3, 16, 2)  # HRNet layout
    save_predictions(tmp_path / "p.json", preds)
    assert np.asarray(json.loads((tmp_path / "p.json").read_text())["preds"]).shape == (3, 16, 2)


@pytest.mark.parametrize("n", [1, 2, 16, 5])
def test_prediction_layouts_are_disambiguated(tmp_path, n):
    preds = np.random.default_rng(n).normal(size=(n, 16, 2))
    np.save(tmp_path / "a.npy", preds)  # (N, 16, 2)
    np.save(tmp_path / "b.npy", preds.transpose(1, 2, 0))  # (16, 2, N)
    savemat(tmp_path / "c.mat", {"preds": preds.transpose(1, 2, 0)})  # (16, 2, N) under preds
    savemat(tmp_path / "d.mat", {"pos_pred_src": preds.transpose(1, 2, 0)})  # single 3-D array
    (tmp_path / "e.json").write_text(json.dumps(preds.tolist()))  # bare list
    for name in ("a.npy", "b.npy", "c.mat", "d.mat", "e.json"):
        np.testing.assert_array_equal(load_predictions(tmp_path / name), preds, err_msg=name)


def test_prediction_confidence_column_dropped(tmp_path):
    preds = np.random.default_rng(3).normal(size=(4, 16, 3))
    savemat(tmp_path / "p.mat", {"preds": preds})
    np.testing.assert_array_equal(load_predictions(tmp_path / "p.mat"), preds[:, :, :2])


def test_prediction_bad_files_raise_naming_the_file(tmp_path):
    np.save(tmp_path / "bad_shape.npy", np.zeros((5, 15, 2)))
    with pytest.raises(ValueError, match=r"bad_shape\.npy.*\(5, 15, 2\)"):
        load_predictions(tmp_path / "bad_shape.npy")
    np.save(tmp_path / "flat.npy", np.zeros((16, 2)))
    with pytest.raises(ValueError, match=r"flat\.npy.*\(16, 2\)"):
        load_predictions(tmp_path / "flat.npy")
    savemat(tmp_path / "two.mat", {"a": np.zeros((2, 16, 2)), "b": np.zeros((3, 16, 2))})
    with pytest.raises(ValueError, match=r"two\.mat.*'preds'"):
        load_predictions(tmp_path / "two.mat")
    savemat(tmp_path / "none.mat", {"a": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"none\.mat.*keys: a"):
        load_predictions(tmp_path / "none.mat")
    (tmp_path / "obj.json").write_text(json.dumps({"joints": []}))
    with pytest.raises(ValueError, match=r"obj\.json.*'preds'"):
        load_predictions(tmp_path / "obj.json")
    (tmp_path / "ragged.json").write_text(json.dumps([[[1, 2]] * 16, [[1, 2]] * 15]))
    with pytest.raises(ValueError, match=r"ragged\.json"):
        load_predictions(tmp_path / "ragged.json")
    with pytest.raises(ValueError, match=r"p\.txt.*format"):
        load_predictions(tmp_path / "p.txt")
    with pytest.raises(FileNotFoundError, match=r"missing\.npy"):
        load_predictions(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match=r"\(N, K, 2\)"):
        save_predictions(tmp_path / "x.npy", np.zeros((16, 2, 4)))
