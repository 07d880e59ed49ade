"""The command line end to end: predict on real photos, evaluate a checkpoint, quickstart, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from posekit.cli.main import main


def test_predict_on_real_mpii_and_coco_images(tmp_path, tiny_run, shared, capsys):
    mpii = json.loads((shared / "mpii" / "images" / "annotations.json").read_text())[0]
    img = shared / "mpii" / "images" / mpii["image"]
    rc = main(["predict", "--checkpoint", str(tiny_run / "best.pt"), str(img), "--center", *map(str, mpii["center"]),
               "--scale", str(mpii["scale"]), "--out", str(tmp_path)])
    assert rc == 0
    rec = json.loads((tmp_path / f"{img.stem}.json").read_text())
    (person,) = rec["people"]
    assert len(person["keypoints"]) == 16 and rec["width"] == 1280 and person["box_source"] == "given"
    # the reported box is the crop square of the MPII crop protocol (the json holds the raw box):
    # side scale * 200 * 1.25 around the centre moved down by 15 * scale; every prediction lies in it
    half = mpii["scale"] * 200 * 1.25 / 2
    cx, cy = mpii["center"][0], mpii["center"][1] + 15 * mpii["scale"]
    assert person["box"] == pytest.approx([cx - half, cy - half, cx + half, cy + half], abs=0.01)
    for j in person["keypoints"].values():
        assert abs(j["x"] - cx) <= half + 1 and abs(j["y"] - cy) <= half + 1
        assert np.isfinite(j["confidence"])  # raw heat-map peak (may be < 0 for an untrained model)
    overlay = cv2.imread(str(tmp_path / f"{img.stem}_pose.png"))
    assert overlay.shape[:2] == cv2.imread(str(img)).shape[:2]

    coco = shared / "coco" / "000000000785.jpg"
    assert main(["predict", "--checkpoint", str(tiny_run / "best.pt"), str(coco), "--bbox", "280", "44", "499", "391",
                 "--out", str(tmp_path), "--no-flip"]) == 0
    rec = json.loads((tmp_path / "000000000785.json").read_text())
    assert rec["width"] == 640 and rec["height"] == 425


def test_predict_errors_are_one_clear_line(tmp_path, tiny_run, capsys):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 definitely not a jpeg")
    assert main(["predict", "--checkpoint", str(tiny_run / "best.pt"), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "Traceback" not in err
    assert main(["predict", "--checkpoint", str(tmp_path / "none.pt"), str(bad)]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert main(["predict", "--checkpoint", str(tiny_run / "best.pt"), str(bad), "--center", "1", "2"]) == 2
    assert "--scale" in capsys.readouterr().err


def test_evaluate_a_checkpoint_on_synthetic_val(tmp_path, tiny_run, synthetic_root, capsys):
    preds = tmp_path / "preds.npy"
    rc = main(["evaluate", "--checkpoint", str(tiny_run / "best.pt"), "--annotations",
               str(synthetic_root / "val" / "annotations.json"), "--images", str(synthetic_root / "val" / "images"),
               "--save-predictions", str(preds), "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["pckh@0.5"]) == {"head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "mean"}
    assert np.load(preds).shape == (16, 2, 8)
    # the saved predictions score the same through the prediction-file path
    rc = main(["evaluate", "--predictions", str(preds), "--ground-truth",
               str(synthetic_root / "val" / "annotations.json"), "--json"])
    assert rc == 0
    again = json.loads(capsys.readouterr().out)
    assert again["pckh@0.5"] == pytest.approx(out["pckh@0.5"])


def test_evaluate_checkpoint_without_head_sizes_says_so(tiny_run, shared, capsys):
    rc = main(["evaluate", "--checkpoint", str(tiny_run / "best.pt"), "--annotations",
               str(shared / "mpii" / "images" / "annotations.json"), "--images", str(shared / "mpii" / "images")])
    assert rc == 2 and "no head sizes" in capsys.readouterr().err


def test_quickstart_end_to_end_tiny(tmp_path, synthetic_root, shared):
    args = ["quickstart", "--out", str(tmp_path / "run"), "--no-progress", "--samples", str(shared),
            "--set", f"data.root={synthetic_root}", "--set", "data.synthetic_train=24", "--set", "data.synthetic_val=8",
            "--set", "data.synthetic_image_size=64", "--set", "data.input_size=64", "--set", "data.heatmap_size=16",
            "--set", "model.num_features=16", "--set", "model.depth=2", "--set", "model.stem_width=8",
            "--set", "train.epochs=1", "--set", "train.batch_size=8"]
    assert main(args) == 0
    run = tmp_path / "run"
    report = json.loads((run / "quickstart.json").read_text())
    assert 0.0 <= report["pckh@0.5_mean"] <= 100.0
    assert (run / "curves.png").stat().st_size > 10_000
    assert len(list((run / "predict").glob("*_pose.png"))) == 9  # 5 MPII + 4 COCO photos
    assert "Head" in (run / "eval.txt").read_text()
    from posekit.evaluation.samples import load_sample_scores

    scores = load_sample_scores(run / "eval_samples.npz")   # the evaluation's per-sample scores
    assert scores.num_samples == 8 and scores.mean(0.5) == pytest.approx(report["pckh@0.5_mean"])


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "posekit", "--help"], capture_output=True, text=True, check=True)
    for command in ("quickstart", "train", "evaluate", "compare", "predict", "synth"):
        assert command in out.stdout


def test_evaluate_contract_through_the_console_script(tmp_path, shared):
    """`posekit evaluate --predictions PRED --ground-truth GT.mat --json` prints one JSON object
    (the documented contract); the ground truth scored against itself is 100 everywhere."""
    import scipy.io as sio

    gt = sio.loadmat(shared / "mpii" / "gt_valid.mat")["pos_gt_src"]  # (16, 2, N)
    pred = tmp_path / "pred.npy"
    np.save(pred, gt)
    out = subprocess.run([sys.executable, "-m", "posekit", "evaluate", "--predictions", str(pred), "--ground-truth",
                          str(shared / "mpii" / "gt_valid.mat"), "--json"], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["pckh@0.5"] == {k: 100.0 for k in ("head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle",
                                                     "mean")}
    from posekit.keypoints import MPII

    assert list(result["per_joint"]) == list(MPII.names)
