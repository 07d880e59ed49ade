"""Tests for the synthetic-people generator and its MPII-derived pose bank."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import SHARED
from posekit.data import synthetic as syn
from posekit.data.annotations import load_annotations
from posekit.data.transforms import adjust_person_box, crop_box
from posekit.keypoints import MPII

NUM_JOINTS = len(MPII)
J = syn.J


VALID_H5 = SHARED / "mpii" / "valid.h5"

# widened by 20 degrees: sensor noise on dark pixels moves hues a little
LEFT_CHECK = (syn.LEFT_HUES[0] - 20, syn.LEFT_HUES[1] + 20)
RIGHT_CHECK = (syn.RIGHT_HUES[0] - 20, syn.RIGHT_HUES[1] + 20)


def _renders(n: int, size: int = 192, seed: int = 0, **kw):
    bank = syn.load_pose_bank()
    rows = bank.indices("train")
    rng = np.random.default_rng(seed)
    for _ in range(n):
        pose = bank.poses[rows[rng.integers(len(rows))]]
        yield pose, syn.render_person(pose, rng, size, **kw)


def _px(p: np.ndarray) -> tuple[int, int]:
    """(row, col) of the pixel holding image point p = (x, y)."""
    return int(round(float(p[1]))), int(round(float(p[0])))


# --------------------------------------------------------------------------------------------
# pose bank
# --------------------------------------------------------------------------------------------

def test_pose_bank_loads():
    bank = syn.load_pose_bank()
    k = len(bank.poses)
    assert bank.poses.shape == (k, NUM_JOINTS, 2) and k > 1500
    assert bank.visible.shape == (k, NUM_JOINTS)
    assert np.isfinite(bank.poses).all()
    # normalised: bounding-box centre at the origin, extent below ~1.3 person sizes
    centre = (bank.poses.min(1) + bank.poses.max(1)) / 2
    assert np.abs(centre).max() < 2e-3
    assert (bank.poses.max(1) - bank.poses.min(1)).max() < 1.4
    train, val = bank.indices("train"), bank.indices("val")
    assert len(train) + len(val) == k and 0.05 < len(val) / k < 0.15
    assert not set(train) & set(val)
    with pytest.raises(ValueError):
        bank.indices("test")


def test_pose_bank_is_small():
    path = Path(syn.__file__).resolve().parents[1] / "assets" / "pose_bank.npz"
    assert path.stat().st_size < 300 * 1024


@pytest.mark.skipif(not VALID_H5.is_file(), reason=f"shared MPII data not found at {VALID_H5}")
def test_pose_bank_derived_from_valid_h5():
    h5py = pytest.importorskip("h5py")
    with h5py.File(VALID_H5, "r") as f:
        part, scale, names = f["part"][:], f["scale"][:], f["imgname"][:]
    bank = syn.load_pose_bank()
    complete = np.flatnonzero((part != 0).any(2).all(1))
    np.testing.assert_array_equal(bank.source_index, complete)
    for row in (0, 777, len(bank.poses) - 1):
        src = bank.source_index[row]
        p = part[src]
        expected = (p - (p.min(0) + p.max(0)) / 2) / (scale[src] * 200)
        np.testing.assert_allclose(bank.poses[row], expected, atol=1e-3)
    # the split is by image: no image has persons in both splits
    train_imgs = {names[i] for i in bank.source_index[bank.indices("train")]}
    val_imgs = {names[i] for i in bank.source_index[bank.indices("val")]}
    assert not train_imgs & val_imgs


# --------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------

def test_render_shapes_and_ranges():
    for _, (img, joints, vis, parts, meta) in _renders(20, size=160):
        assert img.shape == (160, 160, 3) and img.dtype == np.uint8
        assert parts.shape == (160, 160) and parts.dtype == np.uint8 and parts.max() <= 6
        assert joints.shape == (16, 2) and vis.shape == (16,)
        assert (joints >= 0).all() and (joints <= 159).all()
        x1, y1, x2, y2 = meta["headbox"]
        assert x1 < x2 and y1 < y2
        assert meta["head_size"] == pytest.approx(0.6 * np.hypot(x2 - x1, y2 - y1))
        # the raw MPII box: after the crop protocol (x 1.25, y + 15 x scale) it is the box of side
        # `unit` centred MPII_BOX_OFFSET x unit below the joints' bounding-box centre
        box_center, box_scale = adjust_person_box(meta["center"], meta["scale"])
        expected = (joints.min(0) + joints.max(0)) / 2 + [0.0, syn.MPII_BOX_OFFSET * meta["unit"]]
        np.testing.assert_allclose(box_center, expected, atol=1e-9)
        assert box_scale * 200 == pytest.approx(meta["unit"], rel=1e-12)


def test_protocol_crop_frames_synthetic_people_as_mpii_people(shared):
    """The joints' extent relative to the crop box: on valid.h5 the median is 0.70 of the side; the
    synthetic people (rotated, proportions jittered) come close and nearly all lie inside the box."""
    h5 = load_annotations(shared / "mpii" / "valid.h5")
    full = h5.annotated.all(axis=1)
    centers, sides = h5.subset(full).crop_boxes()
    joints = h5.joints[full]
    mpii_extent = np.median((joints.max(1) - joints.min(1)).max(1) / sides)
    extent, inside = [], []
    for _, (img, joints, vis, parts, meta) in _renders(60, size=128):
        center, side = crop_box(meta["center"], meta["scale"])
        extent.append((joints.max(0) - joints.min(0)).max() / side)
        inside.append(bool((np.abs(joints - center) <= side / 2).all()))
    assert mpii_extent == pytest.approx(0.70, abs=0.01)
    assert abs(np.median(extent) - mpii_extent) < 0.06
    assert np.mean(inside) >= 0.95


def test_render_is_deterministic():
    pose = syn.load_pose_bank().poses[5]
    a = syn.render_person(pose, np.random.default_rng(3), 128)
    b = syn.render_person(pose, np.random.default_rng(3), 128)
    for x, y in zip(a[:4], b[:4]):
        np.testing.assert_array_equal(x, y)


def test_visible_iff_joint_pixel_is_labelled():
    """Occluded joints sit on background labels, visible joints on a body part."""
    n_occluded = 0
    for _, (img, joints, vis, parts, meta) in _renders(60, occluder_prob=0.7, seed=1):
        labels = np.array([parts[_px(j)] for j in joints])
        np.testing.assert_array_equal(labels != 0, vis.astype(bool))
        n_occluded += int((vis == 0).sum())
    assert n_occluded > 20   # occluders really hide joints


# part classes drawn by each step of meta["draw_order"] (the head step also draws the neck: torso)
_STEP_CLASSES = {"torso": {syn.TORSO}, "head": {syn.HEAD, syn.TORSO},
                 "leg_l": {syn.UPPER_LEG, syn.LOWER_LEG}, "leg_r": {syn.UPPER_LEG, syn.LOWER_LEG},
                 "arm_l": {syn.UPPER_ARM, syn.LOWER_ARM}, "arm_r": {syn.UPPER_ARM, syn.LOWER_ARM}}


def test_limb_midpoints_carry_their_part_class():
    hits = total = torso_hits = head_hits = 0
    for _, (img, joints, vis, parts, meta) in _renders(60, seed=2, occluder_prob=0.0):
        order = meta["draw_order"]
        for a, b, cls, side in syn.LIMBS:
            label = parts[_px((joints[a] + joints[b]) / 2)]
            total += 1
            hits += label == cls
            # a limb midpoint shows its own class, or the class of a part drawn later (in front):
            # a later step, or the same arm/leg's lower segment (drawn after its upper segment)
            step = order.index(("arm_" if cls in (syn.UPPER_ARM, syn.LOWER_ARM) else "leg_") + side)
            allowed = {cls, cls + 1 if cls in (syn.UPPER_ARM, syn.UPPER_LEG) else cls}
            allowed = allowed.union(*(_STEP_CLASSES[s] for s in order[step + 1:]))
            assert label in allowed, (meta, a, b, label)
        # the head ellipse is labelled head (unless an arm is in front of it), and the head box
        # contains head_top and upper_neck
        head_label = parts[_px((joints[J["upper_neck"]] + joints[J["head_top"]]) / 2)]
        assert head_label in {syn.HEAD}.union(*(_STEP_CLASSES[s] for s in order[order.index("head") + 1:]))
        head_hits += head_label == syn.HEAD
        x1, y1, x2, y2 = meta["headbox"]
        for j in (8, 9):
            assert x1 <= joints[j, 0] <= x2 and y1 <= joints[j, 1] <= y2
        torso_label = parts[_px(joints[[J["r_hip"], J["l_hip"], J["r_shoulder"], J["l_shoulder"]]].mean(0))]
        assert torso_label in {syn.TORSO}.union(*(_STEP_CLASSES[s] for s in order[order.index("torso") + 1:]))
        torso_hits += torso_label == syn.TORSO
    # self-occlusion hides some limbs (back arm behind the torso in profile views), not most
    assert hits / total > 0.85 and torso_hits / 60 > 0.5 and head_hits / 60 > 0.9


@pytest.mark.parametrize("flip", [False, True])
def test_left_right_colour_convention_survives_flip(flip):
    """Anatomical left limbs wear warm hues, right limbs cool hues, flipped or not.

    Checked on the side drawn in front (``meta["front_side"]``): the limbs of the side behind may be
    hidden by the same limb of the front side (profile views), which carries the same part class.
    """
    ok = total = 0
    for _, (img, joints, vis, parts, meta) in _renders(40, size=256, seed=3, flip=flip, occluder_prob=0.0):
        assert meta["flipped"] is flip
        for a, b, cls, side in syn.LIMBS:
            if cls == syn.LOWER_ARM or side != meta["front_side"]:     # forearms may be bare (skin)
                continue
            p = _px((joints[a] + joints[b]) / 2)
            if parts[p] != cls:
                continue
            total += 1
            hue = syn.rgb_hue(img[p].astype(float))
            ok += bool(syn.hue_in_range(hue, LEFT_CHECK if side == "l" else RIGHT_CHECK))
    assert total > 80 and ok / total > 0.97


def test_flip_mirrors_coordinates_and_swaps_sides():
    pose = syn.load_pose_bank().poses[syn.load_pose_bank().indices("train")[0]]
    kw = dict(rotation=0.0, occluder_prob=0.0, clutter=False)
    _, j0, *_ = syn.render_person(pose, np.random.default_rng(0), 256, flip=False, **kw)
    _, j1, *_ = syn.render_person(pose, np.random.default_rng(0), 256, flip=True, **kw)
    # relative to the pelvis, every flipped joint is where the mirrored partner joint was
    # (e.g. the flipped left wrist is the mirrored right wrist): a mirrored figure, anatomical labels
    mirror = [5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10]
    rel0 = j0 - j0[6]
    rel1 = j1 - j1[6]
    np.testing.assert_allclose(rel1[:, 0], -rel0[mirror, 0], atol=1e-6)
    np.testing.assert_allclose(rel1[:, 1], rel0[mirror, 1], atol=1e-6)
    assert not np.allclose(rel1, rel0, atol=1.0)     # the pose is not symmetric: flipping changed it


def test_hue_helpers():
    assert syn.hue_in_range(syn.rgb_hue(np.array([255.0, 0, 0])), syn.LEFT_HUES)
    assert syn.hue_in_range(syn.rgb_hue(np.array([0.0, 0, 255])), syn.RIGHT_HUES)
    assert not syn.hue_in_range(syn.rgb_hue(np.array([0.0, 255, 0])), syn.LEFT_HUES)


# --------------------------------------------------------------------------------------------
# dataset writer
# --------------------------------------------------------------------------------------------

def test_generate_tiny_dataset(tmp_path):
    paths = syn.generate_synthetic(tmp_path / "syn", num_train=8, num_val=4, image_size=128, seed=0)
    meta = json.loads(paths["meta"].read_text())
    assert meta["num_train"] == 8 and meta["num_val"] == 4 and meta["image_size"] == 128
    assert meta["generator_version"] == syn.GENERATOR_VERSION
    bank = syn.load_pose_bank()
    for split, n in (("train", 8), ("val", 4)):
        records = json.loads(paths[f"{split}_annotations"].read_text())
        assert len(records) == n
        for r in records:
            img = cv2.imread(str(paths[f"{split}_images"] / r["image"]))
            parts = cv2.imread(str(paths[f"{split}_parts"] / r["parts"]), cv2.IMREAD_UNCHANGED)
            assert img.shape == (128, 128, 3) and parts.shape == (128, 128) and parts.max() <= 6
            joints = np.array(r["joints"])
            vis = np.array(r["joints_vis"])
            assert joints.shape == (16, 2) and vis.shape == (16,) and set(vis) <= {0, 1}
            assert (joints >= 0).all() and (joints <= 127).all()
            assert len(r["center"]) == 2 and r["scale"] > 0
            (x1, y1), (x2, y2) = r["headbox"]
            assert r["head_size"] == pytest.approx(0.6 * np.hypot(x2 - x1, y2 - y1), abs=0.01)
            for j in (8, 9):
                assert x1 <= joints[j, 0] <= x2 and y1 <= joints[j, 1] <= y2
            labels = np.array([parts[_px(j)] for j in joints])
            np.testing.assert_array_equal(labels != 0, vis.astype(bool))
            assert bank.split[r["bank_index"]] == (1 if split == "val" else 0)


def test_generate_is_deterministic_and_cached(tmp_path):
    kw = dict(num_train=6, num_val=3, image_size=96, seed=7)
    a = syn.generate_synthetic(tmp_path / "a", **kw)
    b = syn.generate_synthetic(tmp_path / "b", **kw)
    for key in ("train_annotations", "val_annotations"):
        assert a[key].read_bytes() == b[key].read_bytes()
    assert (a["train_images"] / "000003.jpg").read_bytes() == (b["train_images"] / "000003.jpg").read_bytes()
    # another seed gives other samples; train and val streams differ
    c = syn.generate_synthetic(tmp_path / "c", **{**kw, "seed": 8})
    assert c["train_annotations"].read_bytes() != a["train_annotations"].read_bytes()
    assert json.loads(a["train_annotations"].read_text())[0]["joints"] != \
        json.loads(a["val_annotations"].read_text())[0]["joints"]

    # cache: same parameters -> nothing rewritten
    img = a["train_images"] / "000000.jpg"
    os.utime(img, (1, 1))
    os.utime(a["meta"], (1, 1))
    syn.generate_synthetic(tmp_path / "a", **kw)
    assert img.stat().st_mtime == 1 and a["meta"].stat().st_mtime == 1
    # overwrite or changed parameters -> regenerated (and stale extra samples removed)
    syn.generate_synthetic(tmp_path / "a", **kw, overwrite=True)
    assert img.stat().st_mtime > 1
    syn.generate_synthetic(tmp_path / "a", **{**kw, "num_train": 4})
    assert sorted(p.name for p in a["train_images"].iterdir()) == [f"{i:06d}.jpg" for i in range(4)]
    assert json.loads(a["meta"].read_text())["num_train"] == 4


def test_generate_workers_match_serial(tmp_path):
    kw = dict(num_train=16, num_val=0, image_size=64, seed=1)
    a = syn.generate_synthetic(tmp_path / "serial", **kw, workers=1)
    b = syn.generate_synthetic(tmp_path / "parallel", **kw, workers=2)
    assert a["train_annotations"].read_bytes() == b["train_annotations"].read_bytes()


def test_render_options_are_validated_and_part_of_the_cache_key(tmp_path):
    with pytest.raises(ValueError, match="unknown render option"):
        syn.generate_synthetic(tmp_path / "x", 2, 1, image_size=64, render_options={"blur": 1})
    kw = dict(num_train=3, num_val=1, image_size=64, seed=0)
    a = syn.generate_synthetic(tmp_path / "o", **kw)
    image = a["train_images"].joinpath("000000.jpg").read_bytes()
    syn.generate_synthetic(tmp_path / "o", **kw, render_options={"clutter": False, "occluder_prob": 0.0})
    meta = json.loads(a["meta"].read_text())
    assert meta["render_options"] == {"clutter": False, "occluder_prob": 0.0}
    assert a["train_images"].joinpath("000000.jpg").read_bytes() != image   # regenerated without clutter
    assert all(all(r["joints_vis"]) for r in json.loads(a["train_annotations"].read_text()))
