"""Inference on folders, globs, videos and boxes files; the combined COCO results and pred.mat;
the person detector; the Python PoseInferencer."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from scipy.io import loadmat

import posekit
from posekit.cli.main import main
from posekit.decoding.detection import Detection, box_iou
from posekit.keypoints import COCO, MPII
from posekit.pipelines.predict import PoseInferencer, expand_inputs, load_boxes_file


def test_folder_and_glob_inputs_with_same_file_names(tmp_path, tiny_run, synthetic_root):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        shutil.copy(synthetic_root / "val" / "images" / "000000.jpg", d / "img.jpg")
    shutil.copy(synthetic_root / "val" / "images" / "000001.jpg", a / "other.jpg")
    (a / "notes.txt").write_text("not an image")
    assert [p.name for p in expand_inputs([a])] == ["img.jpg", "other.jpg"]
    assert len(expand_inputs([str(tmp_path / "*" / "img.jpg")])) == 2
    with pytest.raises(FileNotFoundError, match="no file matches"):
        expand_inputs([str(tmp_path / "*.png")])
    out = tmp_path / "out"
    assert main(["predict", "--checkpoint", str(tiny_run / "best.pt"), str(a), str(b / "img.jpg"),
                 "--out", str(out), "--detector", "none", "--backend", "torch", "--no-progress"]) == 0
    assert sorted(p.name for p in out.glob("*.json")) == ["img-2.json", "img.json", "other.json", "results_coco.json"]
    assert json.loads((out / "img-2.json").read_text())["image"] == str(b / "img.jpg")   # nothing overwritten
    preds = loadmat(out / "pred.mat")["preds"]
    assert preds.shape == (3, 16, 2)
    coco = json.loads((out / "results_coco.json").read_text())
    assert len(coco) == 3 and all(len(r["keypoints"]) == 3 * 17 and r["category_id"] == 1 for r in coco)
    # MPII model -> COCO order by name: the face is absent (0, 0, 0), left_shoulder is MPII's l_shoulder
    first = json.loads((out / "img.json").read_text())["people"][0]["keypoints"]
    kp = np.array(coco[0]["keypoints"]).reshape(17, 3)
    assert kp[COCO.index("nose")].tolist() == [0, 0, 0]
    assert kp[COCO.index("left_shoulder")].tolist() == pytest.approx(
        [first["l_shoulder"]["x"], first["l_shoulder"]["y"], 2], abs=0.01)


def test_video_input_gives_per_frame_json_and_overlay_video(tmp_path, tiny_run, synthetic_root):
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (64, 64))
    for i in range(4):
        writer.write(cv2.imread(str(synthetic_root / "val" / "images" / f"{i:06d}.jpg")))
    writer.release()
    out = tmp_path / "out"
    assert main(["predict", "--checkpoint", str(tiny_run / "best.pt"), str(video), "--out", str(out),
                 "--detector", "none", "--backend", "torch", "--max-frames", "3"]) == 0
    rec = json.loads((out / "clip.json").read_text())
    assert rec["video"] == str(video) and rec["fps"] == pytest.approx(5.0)
    assert [f["frame"] for f in rec["frames"]] == [0, 1, 2] and all(len(f["people"]) == 1 for f in rec["frames"])
    cap = cv2.VideoCapture(str(out / "clip_pose.mp4"))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames == 3
    # the camera path is the same code: a camera that cannot be opened is a clear error
    assert main(["predict", "--checkpoint", str(tiny_run / "best.pt"), "--camera", "97", "--out", str(out)]) == 2


def test_boxes_file_coco_detections_and_mapping(tmp_path, tiny_run, shared):
    dets = [{"image_id": 785, "category_id": 1, "bbox": [280, 44, 219, 347], "score": 0.9},
            {"image_id": 785, "category_id": 1, "bbox": [10, 10, 50, 100], "score": 0.4},
            {"image_id": 785, "category_id": 18, "bbox": [0, 0, 5, 5], "score": 0.99},      # a dog: ignored
            {"image_id": 40083, "category_id": 1, "bbox": [100, 50, 200, 300], "score": 0.8}]
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    boxes = load_boxes_file(tmp_path / "dets.json")
    assert boxes == {"785": [(280.0, 44.0, 499.0, 391.0), (10.0, 10.0, 60.0, 110.0)],
                     "40083": [(100.0, 50.0, 300.0, 350.0)]}
    assert load_boxes_file(tmp_path / "dets.json", min_score=0.5)["785"] == [(280.0, 44.0, 499.0, 391.0)]
    out = tmp_path / "out"
    assert main(["predict", "--checkpoint", str(tiny_run / "best.pt"), str(shared / "coco" / "000000000785.jpg"),
                 "--boxes", str(tmp_path / "dets.json"), "--out", str(out), "--backend", "torch"]) == 0
    people = json.loads((out / "000000000785.json").read_text())["people"]
    assert [p["box"] for p in people] == [[280, 44, 499, 391], [10, 10, 60, 110]]
    assert {p["box_source"] for p in people} == {"boxes_file"}
    coco = json.loads((out / "results_coco.json").read_text())
    assert [r["image_id"] for r in coco] == [785, 785]
    (tmp_path / "bad.json").write_text(json.dumps([{"bbox": [1, 2, 3, 4]}]))
    with pytest.raises(ValueError, match="detection 0: needs 'bbox' and 'image_id'"):
        load_boxes_file(tmp_path / "bad.json")


def test_detector_finds_the_person_on_a_real_photo(tmp_path, tiny_run, shared):
    """OpenCV's HOG detector on the shared MPII photo of a standing person: its best box lies on the
    person (centre inside the annotated joints' extent; the HOG box is the upper body, docs/inference.md
    gives the hit rates), boxes are inside the image, best first, and the inferencer predicts one
    person per detection."""
    from posekit.decoding.detection import HOGPersonDetector

    try:
        detector = HOGPersonDetector()
    except RuntimeError as e:
        pytest.skip(str(e))
    ann = json.loads((shared / "mpii" / "images" / "annotations.json").read_text())
    rec = next(r for r in ann if r["image"] == "052475643.jpg")
    image = cv2.cvtColor(cv2.imread(str(shared / "mpii" / "images" / rec["image"])), cv2.COLOR_BGR2RGB)
    joints = np.array(rec["joints"], dtype=float)
    joints = joints[(joints > 0).all(1)]
    person = (*joints.min(0), *joints.max(0))                                 # the annotated joints' extent
    found = detector(image)
    assert found and all(isinstance(d, Detection) for d in found)
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    h, w = image.shape[:2]
    assert all(0 <= d.box[0] < d.box[2] <= w - 1 and 0 <= d.box[1] < d.box[3] <= h - 1 for d in found)
    cx, cy = (found[0].box[0] + found[0].box[2]) / 2, (found[0].box[1] + found[0].box[3]) / 2
    assert person[0] <= cx <= person[2] and person[1] <= cy <= person[3] and box_iou(found[0].box, person) > 0
    result = next(PoseInferencer(tiny_run / "best.pt", detector=detector)(shared / "mpii" / "images" / rec["image"]))
    assert len(result.people) == len(found) and {p.box_source for p in result.people} == {"detector"}


def test_python_inferencer_on_arrays_and_paths(tiny_run, synthetic_root):
    image = cv2.cvtColor(cv2.imread(str(synthetic_root / "val" / "images" / "000002.jpg")), cv2.COLOR_BGR2RGB)
    inferencer = posekit.PoseInferencer(str(tiny_run / "best.pt"), device="cpu", detector="none")
    (result,) = list(inferencer(image))
    (person,) = result.people
    assert person.keypoints.shape == (16, 2) and person.scores.shape == (16,) and person.box_source == "image"
    assert inferencer.keypoints == MPII
    again = list(inferencer([synthetic_root / "val" / "images" / "000002.jpg"], bbox=(0, 0, 63, 63)))
    np.testing.assert_allclose(again[0].people[0].keypoints, person.keypoints)   # the whole 64 px image = that box
