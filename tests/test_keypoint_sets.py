"""Training on keypoint sets other than MPII: a user's own 5-keypoint set and COCO-17, both from the
synthetic people (joints mapped by name; the keypoints the renderer cannot draw are unannotated)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

import posekit
from conftest import tiny_config
from posekit.cli.main import main
from posekit.data.annotations import load_annotations
from posekit.data.dataset import PoseDataset
from posekit.data.sources import prepare_data
from posekit.data.synthetic import generate_synthetic
from posekit.keypoints import COCO, MPII
from posekit.training.run import train

FIVE = """name: five
keypoints: [head_top, l_wrist, r_wrist, l_ankle, r_ankle]
flip_pairs: [[r_wrist, l_wrist], [r_ankle, l_ankle]]
skeleton: [[head_top, l_wrist], [head_top, r_wrist]]
"""


def test_synthetic_people_are_written_in_any_keypoint_set(tmp_path):
    mpii = generate_synthetic(tmp_path / "mpii", 4, 2, image_size=64, seed=0)
    coco = generate_synthetic(tmp_path / "coco", 4, 2, image_size=64, seed=0, keypoints="coco")
    a = load_annotations(mpii["train_annotations"])
    b = load_annotations(coco["train_annotations"])
    assert a.num_joints == 16 and b.num_joints == 17
    for name in ("l_shoulder", "r_ankle", "l_wrist"):        # the same figure: joints equal by name
        np.testing.assert_array_equal(b.joints[:, COCO.index(name)], a.joints[:, MPII.index(name)])
    face = list(COCO.indices(COCO.subsets["face"]))
    assert not b.annotated[:, face].any() and (b.visible[:, face] == 0).all()
    assert b.annotated[:, [i for i in range(17) if i not in face]].all()
    raw = json.loads(coco["train_annotations"].read_text())
    assert raw[0]["joints"][0] == [-1, -1] and raw[0]["joints_vis"][0] == 0     # the nose: no coordinate


def test_custom_five_keypoint_set_trains_and_predicts(tmp_path, shared):
    path = tmp_path / "five.yaml"
    path.write_text(FIVE)
    cfg = tiny_config(tmp_path / "run", tmp_path / "syn", epochs=2, data={"keypoints": str(path)})
    cfg.data.augment.flip = True          # the set's own flip pairs swap the wrists and ankles
    data = prepare_data(cfg.data)
    ds = PoseDataset.from_config(data, "train", seed=0)
    assert ds.keypoints.names == ("head_top", "l_wrist", "r_wrist", "l_ankle", "r_ankle")
    assert ds[0]["heatmaps"].shape == (5, 16, 16) and ds[0]["target_weight"].sum() == 5
    summary = train(cfg, progress=False)
    assert summary["epochs_run"] == 2
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert {"pckh_head_top", "pckh_l_wrist", "pckh_r_ankle"} <= set(rows[-1]) and "pckh_pelvis" not in rows[-1]
    model = posekit.load_model(tmp_path / "run" / "best.pt")
    assert model.artifact.keypoints.name == "five" and len(model.artifact.keypoints) == 5
    assert main(["predict", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--backend", "torch", "--flip",
                 "--detector", "none", str(shared / "coco" / "000000000785.jpg"), "--out", str(tmp_path / "pred")]) == 0
    (person,) = json.loads((tmp_path / "pred" / "000000000785.json").read_text())["people"]
    assert list(person["keypoints"]) == list(model.artifact.keypoints.names) and person["flip_test"] is True


def test_coco17_on_synthetic_people_masks_the_face(tmp_path, capsys):
    cfg = tiny_config(tmp_path / "run", tmp_path / "syn", epochs=1, data={"keypoints": "coco"})
    train(cfg, progress=False)
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert math.isnan(float(rows[-1]["pckh_nose"]))            # never annotated: never scored
    assert math.isfinite(float(rows[-1]["pckh_left_wrist"]))
    art = posekit.load_model(tmp_path / "run" / "best.pt").artifact
    assert art.keypoints == COCO and art.trained_on["keypoint_set"] == "coco"
    data = prepare_data(cfg.data)
    assert main(["evaluate", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--annotations",
                 data.val_annotations, "--images", data.val_image_dir, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"]["nose"] == 0 and out["counts"]["left_ankle"] == 8
    assert set(out["pckh@0.5"]) == {"head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "mean"}
    assert out["pckh@0.5"]["head"] is None                    # the head row pools the (unannotated) face


def test_keypoint_set_mismatch_is_a_clear_error(tmp_path, synthetic_root):
    from posekit.data.annotations import AnnotationError

    cfg = tiny_config(tmp_path / "run", synthetic_root, data={"keypoints": "coco"})
    cfg.data.dataset = "files"
    cfg.data.annotations = str(synthetic_root / "train" / "annotations.json")     # MPII: 16 joints per sample
    cfg.data.image_dir = str(synthetic_root / "train" / "images")
    with pytest.raises(AnnotationError, match="field 'joints' has 16 joints, expected 17"):
        train(cfg, progress=False)
