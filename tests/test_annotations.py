"""Tests for posekit.data.annotations on the real MPII files and on malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import SHARED
from posekit.data.annotations import (
    AnnotationError,
    PoseAnnotations,
    check_num_joints,
    load_annotations,
    read_mpii_h5,
    read_mpii_json,
    write_json_annotations,
)

DATA = SHARED  # ../shared/data
MPII = DATA / "mpii"
VALID_H5 = MPII / "valid.h5"
GT_MAT = MPII / "gt_valid.mat"
JSON = MPII / "images" / "annotations.json"

needs_data = pytest.mark.skipif(
    not VALID_H5.is_file() or not JSON.is_file(),
    reason=f"shared MPII data not found under {MPII} (see ../shared/data/README.md)",
)


@pytest.fixture(scope="module")
def valid() -> PoseAnnotations:
    return read_mpii_h5(VALID_H5)


@needs_data
def test_valid_h5_known_values(valid):
    assert len(valid) == 2958
    assert valid.num_joints == 16
    assert valid.image_names[0] == "005808361.jpg"
    # the file stores the MPII protocol box (966, 410.7773184), scale 5.898109866728492; it is read
    # back to the raw box of the release (scale / 1.25, centre y - 15 x raw scale): the values of
    # the MPII release that the mmpose json holds for this person, (966, 340) and 4.718488
    np.testing.assert_allclose(valid.centers[0], [966.0, 340.0], rtol=0, atol=1e-6)
    assert valid.scales[0] == pytest.approx(5.898109866728492 / 1.25, rel=1e-12)
    assert valid.scales[0] == pytest.approx(4.718488, abs=1e-6)
    as_stored = read_mpii_h5(VALID_H5, box_convention="mpii_raw")
    np.testing.assert_allclose(as_stored.centers[0], [966.0, 410.7773184], rtol=1e-9)
    assert as_stored.scales[0] == pytest.approx(5.898109866728492, rel=1e-12)
    np.testing.assert_array_equal(valid.joints[0, 0], [804.0, 711.0])
    np.testing.assert_array_equal(valid.joints[0, 9], [962.0, 80.0])
    assert valid.head_sizes[0] == pytest.approx(117.96219733456985)
    assert valid.headboxes is None and valid.part_label_files is None
    assert valid.joints.dtype == np.float64 and valid.annotated.dtype == bool


@needs_data
def test_unannotated_joints_match_official_missing_mask(valid):
    scipy_io = pytest.importorskip("scipy.io")
    mat = scipy_io.loadmat(str(GT_MAT))
    missing = mat["jnt_missing"].T.astype(bool)  # (N, 16)
    assert int((~valid.annotated).sum()) == 3088 == int(missing.sum())
    np.testing.assert_array_equal(~valid.annotated, missing)
    # unannotated joints are zeroed and never visible
    assert np.all(valid.joints[~valid.annotated] == 0)
    assert np.all(valid.visible[~valid.annotated] == 0)
    # real joints slightly above the image border (negative y) stay annotated
    neg = (valid.joints < 0).any(-1)
    assert neg.sum() == 32 and valid.annotated[neg].all()
    # head sizes agree with 0.6 * head-box diagonal of the official ground truth
    hb = mat["headboxes_src"]
    np.testing.assert_allclose(valid.head_sizes, 0.6 * np.linalg.norm(hb[1] - hb[0], axis=0), atol=1e-3)


@needs_data
def test_both_layouts_give_the_same_crop_box_to_the_same_people(valid):
    """The five people of the mmpose json are the first five of valid.h5. The json holds the raw
    MPII boxes, the h5 the boxes after the MPII protocol; read in their declared conventions and
    cropped with the protocol applied once, they get the same square. The json stores scales with 6
    decimals (+-5e-7, i.e. +-1.25e-4 px of side); centres and box corners agree to 1e-4 px."""
    js = load_annotations(JSON)
    assert valid.image_names[:5] == js.image_names
    h5_centers, h5_sides = valid.subset(np.arange(5)).crop_boxes()
    js_centers, js_sides = js.crop_boxes()
    np.testing.assert_allclose(js_centers, h5_centers, rtol=0, atol=1e-4)
    np.testing.assert_allclose(js_sides, h5_sides, rtol=0, atol=1.3e-4)
    corners = lambda c, s: np.concatenate([c - s[:, None] / 2, c + s[:, None] / 2], axis=1)  # noqa: E731
    np.testing.assert_allclose(corners(js_centers, js_sides), corners(h5_centers, h5_sides), rtol=0, atol=1e-4)
    # and the protocol box is exactly what the h5 file stores
    with h5py.File(VALID_H5, "r") as f:
        np.testing.assert_allclose(h5_centers, f["center"][:5], rtol=0, atol=1e-9)
        np.testing.assert_allclose(h5_sides, 200 * f["scale"][:5], rtol=0, atol=1e-9)
    # without the convention (the json read as if it were adjusted) the boxes differ by 15 x scale
    wrong_centers, _ = read_mpii_json(JSON, box_convention="mpii_adjusted").crop_boxes()
    assert np.abs(wrong_centers - h5_centers).max() > 10


def test_box_convention_round_trip_and_errors(tmp_path):
    sample = {"image": "a.jpg", "center": [50.0, 60.0], "scale": 2.0, "joints": [[10, 20]] * 16}
    path = tmp_path / "a.json"
    path.write_text(json.dumps([sample]))
    raw = read_mpii_json(path)
    adjusted = read_mpii_json(path, box_convention="mpii_adjusted")
    np.testing.assert_allclose(adjusted.centers[0], [50.0, 60.0 - 15 * 2.0 / 1.25])
    assert adjusted.scales[0] == pytest.approx(2.0 / 1.25)
    c, side = adjusted.crop_boxes()
    np.testing.assert_allclose(c[0], [50.0, 60.0])
    np.testing.assert_allclose(side, [400.0])
    c, side = raw.crop_boxes()
    np.testing.assert_allclose(c[0], [50.0, 90.0])
    np.testing.assert_allclose(side, [500.0])
    with pytest.raises(ValueError, match="unknown box convention"):
        load_annotations(path, box_convention="hrnet")


@needs_data
def test_json_file_and_minus_one_convention():
    ann = load_annotations(JSON)
    assert len(ann) == 5
    assert ann.image_names[0] == "005808361.jpg"
    np.testing.assert_allclose(ann.centers[0], [966.0, 340.0])
    assert ann.scales[0] == pytest.approx(4.718488)
    np.testing.assert_allclose(ann.joints[0, 8], [982.7591, 235.9694])
    # samples 2 and 3 have both ankles stored as (-1, -1) with joints_vis 0
    assert ann.annotated.sum() == 76
    for i in (2, 3):
        assert not ann.annotated[i, 0] and not ann.annotated[i, 5]
        np.testing.assert_array_equal(ann.joints[i, [0, 5]], 0.0)
    assert ann.head_sizes is None and ann.headboxes is None


@needs_data
def test_json_round_trip_with_extras(valid, tmp_path):
    sub = valid.subset(np.arange(0, 2958, 97))
    sub.headboxes = np.stack([sub.centers - 10.5, sub.centers + 20.25], axis=1)
    sub.part_label_files = [f"parts_{i}.png" for i in range(len(sub))]
    out = tmp_path / "sub.json"
    write_json_annotations(sub, out)
    back = load_annotations(out)
    assert back.image_names == sub.image_names
    for field in ("centers", "scales", "joints", "visible", "annotated", "head_sizes", "headboxes"):
        np.testing.assert_array_equal(getattr(back, field), getattr(sub, field), err_msg=field)
    assert back.part_label_files == sub.part_label_files
    assert (~back.annotated).sum() > 0  # the round trip covered unannotated joints


def test_head_size_from_headbox(tmp_path):
    sample = {"image": "a.jpg", "center": [50, 60], "scale": 1.0, "joints": [[10, 20]] * 16,
              "joints_vis": [1] * 16, "headbox": [[0, 0], [30, 40]]}
    path = tmp_path / "a.json"
    path.write_text(json.dumps([sample]))
    ann = read_mpii_json(path)
    assert ann.head_sizes[0] == pytest.approx(0.6 * 50.0)
    np.testing.assert_array_equal(ann.headboxes[0], [[0, 0], [30, 40]])


def test_subset_selects_samples():
    ann = PoseAnnotations(
        source="mem", image_names=["a", "b", "c"], centers=np.arange(6.0).reshape(3, 2), scales=[1.0, 2.0, 3.0],
        joints=np.ones((3, 16, 2)), visible=np.ones((3, 16)), annotated=np.ones((3, 16), bool),
    )
    sub = ann.subset([2, 0])
    assert sub.image_names == ["c", "a"] and len(sub) == 2
    np.testing.assert_array_equal(sub.scales, [3.0, 1.0])
    assert ann.subset(np.array([False, True, False])).image_names == ["b"]
    with pytest.raises(AnnotationError, match="'scales'"):
        PoseAnnotations(source="mem", image_names=["a"], centers=np.zeros((1, 2)), scales=[1.0, 2.0],
                        joints=np.ones((1, 16, 2)), visible=np.ones((1, 16)), annotated=np.ones((1, 16), bool))


# ---- malformed files -------------------------------------------------------------------------------


def _good_sample(i: int = 0) -> dict:
    return {"image": f"{i:09d}.jpg", "center": [100.0, 120.0], "scale": 1.5,
            "joints": [[10.0 + k, 20.0 + k] for k in range(16)], "joints_vis": [1] * 16}


def _write_json(tmp_path: Path, samples) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(samples))
    return path


@pytest.mark.parametrize(
    "index, change, pattern",
    [
        (2, {"joints": [[1.0, 2.0]] * 14}, r"bad\.json: sample 2: field 'joints' has 14 joints, expected 16"),
        (1, {"scale": 0.0}, r"bad\.json: sample 1: field 'scale' is 0\.0, expected > 0"),
        (3, {"scale": -2}, r"bad\.json: sample 3: field 'scale'"),
        (1, {"center": [1.0, 2.0, 3.0]}, r"bad\.json: sample 1: field 'center' has shape \(3,\)"),
        (2, {"center": [1.0, None]}, r"bad\.json: sample 2: field 'center'"),
        (0, {"joints_vis": [1] * 15}, r"bad\.json: sample 0: field 'joints_vis' has shape"),
        (2, {"image": 7}, r"bad\.json: sample 2: field 'image'"),
    ],
)
def test_malformed_json_names_file_sample_field(tmp_path, index, change, pattern):
    samples = [_good_sample(i) for i in range(4)]
    samples[index].update(change)
    with pytest.raises(AnnotationError, match=pattern):
        read_mpii_json(_write_json(tmp_path, samples))


def test_malformed_json_missing_key_and_nonfinite(tmp_path):
    samples = [_good_sample(i) for i in range(3)]
    del samples[1]["scale"]
    with pytest.raises(AnnotationError, match=r"bad\.json: sample 1: missing field 'scale'"):
        read_mpii_json(_write_json(tmp_path, samples))
    samples = [_good_sample(i) for i in range(3)]
    # json.dumps writes NaN, which json.loads reads back as float('nan')
    samples[2]["joints"][5] = [float("nan"), 3.0]
    with pytest.raises(AnnotationError, match=r"bad\.json: sample 2: field 'joints' has a non-finite value"):
        read_mpii_json(_write_json(tmp_path, samples))
    samples = [_good_sample(i) for i in range(3)]
    samples[0]["head_size"] = 30.0
    with pytest.raises(AnnotationError, match=r"bad\.json: sample 1: missing field 'head_size'"):
        read_mpii_json(_write_json(tmp_path, samples))


def test_malformed_json_structure(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(AnnotationError, match=r"bad\.json: invalid json"):
        read_mpii_json(path)
    path.write_text(json.dumps({"image": "a.jpg"}))
    with pytest.raises(AnnotationError, match=r"bad\.json: expected a json list"):
        read_mpii_json(path)


def _write_h5(path: Path, n: int = 20, j: int = 16, drop: str | None = None, **override) -> Path:
    rng = np.random.default_rng(0)
    data = {
        "imgname": np.array([f"{i:09d}.jpg".encode() for i in range(n)]),
        "center": rng.uniform(100, 500, (n, 2)),
        "scale": rng.uniform(1, 5, n),
        "part": rng.uniform(0, 600, (n, j, 2)),
        "visible": np.ones((n, j)),
        "normalize": rng.uniform(20, 100, n),
    }
    data.update(override)
    if drop:
        del data[drop]
    with h5py.File(path, "w") as f:
        for key, value in data.items():
            f[key] = value
    return path


def test_malformed_h5_names_file_sample_field(tmp_path):
    path = tmp_path / "valid.h5"
    ann = read_mpii_h5(_write_h5(path))
    assert len(ann) == 20 and ann.annotated.all()

    with pytest.raises(AnnotationError, match=r"valid\.h5: all samples: field 'part' has 14 joints, expected 16"):
        read_mpii_h5(_write_h5(path, j=14), num_joints=16)
    with pytest.raises(AnnotationError, match=r"valid\.h5: missing key 'scale'"):
        read_mpii_h5(_write_h5(path, drop="scale"))

    scale = np.full(20, 2.0)
    scale[17] = -1.0
    with pytest.raises(AnnotationError, match=r"valid\.h5: sample 17: field 'scale' is -1\.0, expected > 0"):
        read_mpii_h5(_write_h5(path, scale=scale))

    part = np.full((20, 16, 2), 50.0)
    part[11, 4, 1] = np.inf
    with pytest.raises(AnnotationError, match=r"valid\.h5: sample 11: field 'part' has a non-finite value"):
        read_mpii_h5(_write_h5(path, part=part))

    with pytest.raises(AnnotationError, match=r"valid\.h5: field 'center' has shape \(19, 2\)"):
        read_mpii_h5(_write_h5(path, center=np.ones((19, 2))))


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.h5"):
        load_annotations(tmp_path / "nothere.h5")
    with pytest.raises(FileNotFoundError, match="nothere.json"):
        load_annotations(tmp_path / "nothere.json")
    other = tmp_path / "ann.csv"
    other.write_text("x")
    with pytest.raises(AnnotationError, match=r"ann\.csv: unknown annotation format"):
        load_annotations(other)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file")
    with pytest.raises(AnnotationError, match=r"garbage\.h5: not a readable HDF5 file"):
        read_mpii_h5(garbage)


def test_check_num_joints_names_file(tmp_path):
    samples = [_good_sample(0)]
    samples[0]["joints"] = [[1.0, 2.0]] * 17
    samples[0]["joints_vis"] = [1] * 17
    ann = read_mpii_json(_write_json(tmp_path, samples), num_joints=None)
    assert ann.num_joints == 17
    check_num_joints(ann, 17)
    with pytest.raises(AnnotationError, match=r"bad\.json: field 'joints' has 17 joints per sample, expected 16"):
        check_num_joints(ann, 16)
