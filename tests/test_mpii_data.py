"""MPII data tools: ``posekit data boxes`` (the crop box of every person) and ``posekit data mpii``
(annotation files and official-style ground truth from the official release), and scoring a
checkpoint against an official ``gt_valid.mat``."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
from scipy.io import loadmat, savemat

from posekit.cli.main import main as cli_main
from posekit.data.annotations import load_annotations
from posekit.data.ground_truth import load_mpii_ground_truth
from posekit.data.mpii_release import mpii_valid_people, read_mpii_release
from posekit.evaluation import pckh
from posekit.pipelines.evaluate import evaluate_checkpoint


def _boxes(capsys, *args) -> list[dict]:
    assert cli_main(["data", "boxes", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


# ------------------------------------------------------------------------------------- data boxes
def test_data_boxes_is_the_same_box_from_both_layouts(shared, capsys):
    from_json = _boxes(capsys, str(shared / "mpii" / "images" / "annotations.json"))
    from_h5 = _boxes(capsys, str(shared / "mpii" / "valid.h5"))
    assert len(from_json) == 5 and len(from_h5) == 2958
    assert set(from_json[0]) == {"image", "person", "center", "side"} and from_json[3]["person"] == 3
    for a, b in zip(from_json, from_h5[:5]):
        assert a["image"] == b["image"]
        np.testing.assert_allclose(a["center"], b["center"], atol=1e-4)
        assert a["side"] == pytest.approx(b["side"], abs=1.3e-4)
    # the h5 stores the protocol box: its side is scale * 200, its centre the stored centre
    with h5py.File(shared / "mpii" / "valid.h5", "r") as f:
        np.testing.assert_allclose([b["side"] for b in from_h5], 200 * f["scale"][()], rtol=1e-12)
        np.testing.assert_allclose([b["center"] for b in from_h5], f["center"][()], rtol=1e-12)
    assert from_json[0]["center"] == [966.0, 340.0 + 15 * 4.718488]


def test_data_boxes_options_and_table(shared, tiny_run, capsys):
    ann = str(shared / "mpii" / "images" / "annotations.json")
    plain = _boxes(capsys, ann, "--center-shift", "0", "--scale-factor", "1.5")
    assert plain[0]["center"] == [966.0, 340.0] and plain[0]["side"] == pytest.approx(1.5 * 200 * 4.718488)
    # a checkpoint's own crop settings (this one: the MPII protocol) are used with --checkpoint
    assert _boxes(capsys, ann, "--checkpoint", str(tiny_run / "best.pt")) == _boxes(capsys, ann)
    assert cli_main(["data", "boxes", ann]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["person", "image", "center_x", "center_y", "side"] and len(lines) == 6
    assert cli_main(["data", "boxes", str(shared / "mpii" / "gt_valid.mat")]) == 2
    assert "posekit data: error:" in capsys.readouterr().err


# ------------------------------------------------------------------------------------- data mpii
def _struct_array(records: list[dict]) -> np.ndarray:
    """A 1 x N MATLAB struct array for scipy's savemat (missing fields are empty)."""
    fields = list(dict.fromkeys(k for r in records for k in r))
    arr = np.zeros((1, len(records)), dtype=[(f, object) for f in fields])
    for i, r in enumerate(records):
        for f in fields:
            arr[0, i][f] = r.get(f, np.zeros((0, 0)))
    return arr


def _points(joints: np.ndarray, missing: np.ndarray, visible: list) -> np.ndarray:
    return _struct_array([{"id": j, "x": float(joints[j, 0]), "y": float(joints[j, 1]), "is_visible": visible[j]}
                          for j in range(16) if not missing[j]])


@pytest.fixture(scope="module")
def release(shared, tmp_path_factory) -> dict:
    """A small release in the official struct layout: image 0 is valid.h5's first person (its real
    objpos / scale / joints / head box) plus a second person; image 1 a training image with one
    annotated person and one without joints; image 2 a test image."""
    g = loadmat(str(shared / "mpii" / "gt_valid.mat"))
    pos, miss, boxes = g["pos_gt_src"][:, :, 0], g["jnt_missing"][:, 0].astype(bool), g["headboxes_src"][:, :, 0]
    vis = [1, "1", "0", np.zeros((0, 0)), 0] + [1] * 11        # as the release mixes them
    val_person = {"x1": boxes[0, 0], "y1": boxes[0, 1], "x2": boxes[1, 0], "y2": boxes[1, 1], "scale": 4.718488,
                  "objpos": {"x": 966.0, "y": 340.0}, "annopoints": {"point": _points(pos, miss, vis)}}
    other = dict(val_person, objpos={"x": 600.0, "y": 300.0}, scale=3.0)
    train_joints = np.arange(32, dtype=float).reshape(16, 2) * 10 + 100
    train_missing = np.zeros(16, bool)
    train_missing[[0, 5]] = True
    train_person = {"x1": 90.0, "y1": 80.0, "x2": 130.0, "y2": 140.0, "scale": 2.5, "objpos": {"x": 200.0, "y": 250.0},
                    "annopoints": {"point": _points(train_joints, train_missing, [1] * 16)}}
    no_joints = {"x1": 1.0, "y1": 1.0, "x2": 2.0, "y2": 2.0, "scale": 1.0, "objpos": {"x": 5.0, "y": 5.0}}
    annolist = _struct_array([
        {"image": {"name": "005808361.jpg"}, "annorect": _struct_array([val_person, other])},
        {"image": {"name": "train_a.jpg"}, "annorect": _struct_array([train_person, no_joints])},
        {"image": {"name": "test_b.jpg"}, "annorect": _struct_array([{"scale": 2.0, "objpos": {"x": 1.0, "y": 2.0}}])},
    ])
    single = np.empty((3, 1), dtype=object)
    single[0, 0], single[1, 0], single[2, 0] = np.array([[1]]), np.array([[1], [2]]), np.zeros((0, 0))
    act = _struct_array([{"cat_name": "sports", "act_name": "curling", "act_id": 1}] * 3)
    root = tmp_path_factory.mktemp("release")
    savemat(str(root / "mpii_human_pose_v1_u12_1.mat"),
            {"RELEASE": {"annolist": annolist, "img_train": np.array([[1, 1, 0]]), "single_person": single,
                         "act": act}})
    with h5py.File(root / "valid.h5", "w") as f:
        f["imgname"] = np.array([b"005808361.jpg"])
        f["person"] = np.array([0.0])
    images = root / "images"
    images.mkdir()
    shutil.copy(shared / "mpii" / "images" / "005808361.jpg", images)
    return {"root": root, "mat": root / "mpii_human_pose_v1_u12_1.mat", "images": images, "valid": root / "valid.h5",
            "official": g, "train_joints": train_joints, "train_missing": train_missing}


def test_read_release_struct(release):
    people = read_mpii_release(release["mat"])
    assert [(p.image, p.person, p.train_image) for p in people] == [
        ("005808361.jpg", 0, True), ("005808361.jpg", 1, True), ("train_a.jpg", 0, True), ("train_a.jpg", 1, True),
        ("test_b.jpg", 0, False)]
    val = people[0]
    assert val.index == 0 and val.single_person and not people[1].single_person and people[3].single_person
    assert val.activity == "sports / curling" and val.scale == 4.718488
    # is_visible: 1, "1" -> 1; "0", 0 -> 0; absent -> 1
    assert val.visible[:5].tolist() == [1, 1, 0, 1, 0]
    assert not people[3].annotated.any() and people[4].headbox is None


def test_data_mpii_writes_the_split_and_official_ground_truth(release, shared, tmp_path, capsys):
    out = tmp_path / "mpii"
    assert cli_main(["data", "mpii", "--release", str(release["mat"]), "--images", str(release["images"]),
                     "--out", str(out), "--valid-split", str(release["valid"])]) == 0
    printed = capsys.readouterr().out
    assert "train: 1 people in 1 images (1 training-image people without joints or person box left out)" in printed
    assert "warning: 1 referenced images are not in" in printed and "posekit train hourglass/mpii_2stack" in printed
    # the validation person: raw box of the release, the same crop box as valid.h5's first person
    valid = load_annotations(out / "valid.json")
    assert valid.image_names == ["005808361.jpg"]
    np.testing.assert_allclose(valid.centers[0], [966.0, 340.0])
    np.testing.assert_allclose(valid.scales, [4.718488])
    h5 = load_annotations(shared / "mpii" / "valid.h5").subset([0])
    np.testing.assert_allclose(valid.crop_boxes()[0], h5.crop_boxes()[0], atol=1e-4)
    # gt_valid.mat equivalent: the official ground truth of that person, read by the official reader
    gt = load_mpii_ground_truth(out / "gt_valid.mat")
    official = release["official"]
    np.testing.assert_array_equal(gt.joints[0], official["pos_gt_src"][:, :, 0])
    np.testing.assert_array_equal(gt.missing[0], official["jnt_missing"][:, 0].astype(bool))
    np.testing.assert_array_equal(gt.headboxes[0], official["headboxes_src"][:, :, 0].astype(np.float64))
    assert valid.head_sizes[0] == pytest.approx(gt.head_sizes[0])
    # training: only train_a.jpg's annotated person (image 0 holds a validation person, image 2 is a test image)
    train = load_annotations(out / "train.json")
    assert train.image_names == ["train_a.jpg"]
    np.testing.assert_array_equal(train.annotated[0], ~release["train_missing"])
    annotated = ~release["train_missing"]
    np.testing.assert_array_equal(train.joints[0][annotated], release["train_joints"][annotated])


def test_data_mpii_with_the_packaged_split_needs_the_full_release(release, tmp_path, capsys):
    people = mpii_valid_people()
    assert len(people) == 2958 and people[0] == ("005808361.jpg", 0) and people[8][1] == 1
    assert cli_main(["data", "mpii", "--release", str(release["mat"]), "--images", str(release["images"]),
                     "--out", str(tmp_path / "o")]) == 2
    assert "2957 validation people are not in the release (first: image 052475643.jpg, person 0)" in \
        capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_packaged_split_is_valid_h5(shared):
    with h5py.File(shared / "mpii" / "valid.h5", "r") as f:
        names = [n.decode() for n in f["imgname"][()]]
        assert mpii_valid_people() == list(zip(names, f["person"][()].astype(int).tolist()))
    assert mpii_valid_people(shared / "mpii" / "valid.h5") == mpii_valid_people()


# ------------------------------------------------------------------------------------- official ground truth
@pytest.fixture(scope="module")
def five_people(shared, tmp_path_factory) -> dict:
    """valid.h5's first five people (their images are in the shared folder) and their gt_valid.mat rows."""
    root = tmp_path_factory.mktemp("five")
    with h5py.File(shared / "mpii" / "valid.h5", "r") as src, h5py.File(root / "five.h5", "w") as dst:
        for key in src:
            dst[key] = src[key][:5]
    g = loadmat(str(shared / "mpii" / "gt_valid.mat"))
    return {"h5": root / "five.h5", "images": shared / "mpii" / "images", "root": root,
            "gt": {k: g[k][..., :5] for k in ("pos_gt_src", "jnt_missing", "headboxes_src")} | {
                "dataset_joints": g["dataset_joints"]}}


def test_checkpoint_is_scored_against_pos_gt_src(five_people, tiny_run):
    ckpt, root = tiny_run / "best.pt", five_people["root"]
    _, preds, _ = evaluate_checkpoint(ckpt, five_people["h5"], five_people["images"], device="cpu")
    gt = {k: v.copy() for k, v in five_people["gt"].items()}
    # the official coordinates of r_ankle, r_knee, r_hip are moved onto the predictions, one joint is
    # made missing: scored against pos_gt_src those are right / left out, against valid.h5 they are not
    gt["pos_gt_src"][:3] = preds[:, :3].transpose(1, 2, 0)
    gt["jnt_missing"][15, 0] = 1
    savemat(str(root / "gt.mat"), gt)
    result, _, _ = evaluate_checkpoint(ckpt, five_people["h5"], five_people["images"], device="cpu",
                                       ground_truth=root / "gt.mat")
    official = load_mpii_ground_truth(root / "gt.mat")
    expected = pckh(preds, official.joints, official.head_sizes, official.missing, thresholds=(0.5, 0.1))
    np.testing.assert_array_equal(result.correct, expected.correct)
    np.testing.assert_array_equal(result.counts, expected.counts)
    assert (result.correct[0, :3] == result.counts[:3]).all() and result.counts[15] == 4
    own, _, _ = evaluate_checkpoint(ckpt, five_people["h5"], five_people["images"], device="cpu")
    assert own.counts[15] == 5 and not np.array_equal(own.correct, result.correct)


def test_ground_truth_must_hold_the_same_people(five_people, tiny_run, capsys):
    root = five_people["root"]
    gt = five_people["gt"]
    savemat(str(root / "reversed.mat"), {k: (v[..., ::-1] if k != "dataset_joints" else v) for k, v in gt.items()})
    savemat(str(root / "four.mat"), {k: (v[..., :4] if k != "dataset_joints" else v) for k, v in gt.items()})
    base = ["evaluate", "--checkpoint", str(tiny_run / "best.pt"), "--annotations", str(five_people["h5"]),
            "--images", str(five_people["images"])]
    assert cli_main([*base, "--ground-truth", str(root / "reversed.mat")]) == 2
    assert "does not hold the people of" in capsys.readouterr().err
    assert cli_main([*base, "--ground-truth", str(root / "four.mat")]) == 2
    assert "has 4 samples" in capsys.readouterr().err
    assert cli_main([*base, "--ground-truth", str(root / "four.mat"), "--protocol", "princeton"]) == 2
    assert "--protocol princeton scores against the Newell/princeton valid.h5" in capsys.readouterr().err
    # princeton on a checkpoint: valid.h5 (the annotations) is the ground truth
    assert cli_main([*base, "--protocol", "princeton", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["protocol"] == "princeton" and out["total"] is not None and out["num_samples"] == 5
