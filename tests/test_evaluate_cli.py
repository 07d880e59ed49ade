"""Tests for the ``posekit evaluate`` subcommand (posekit.cli.evaluate), called without main."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.io import loadmat

from conftest import SHARED
from posekit.cli import evaluate
from posekit.keypoints import MPII

JOINT_NAMES = MPII.names

DATA = SHARED / "mpii"
GT_MAT = DATA / "gt_valid.mat"
VALID_H5 = DATA / "valid.h5"

pytestmark = pytest.mark.skipif(not GT_MAT.is_file(), reason=f"real MPII ground truth not found at {GT_MAT}")

ROWS = ["head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "mean"]
# 100 * (38430 - 5837) / 38430: Mean with both wrists wrong (counts from gt_valid.mat, see test_pckh.py)
MEAN_WRISTS_WRONG = 84.81134530314858


def _run(argv: list[str]) -> int:
    parser = evaluate.add_arguments(argparse.ArgumentParser(prog="posekit evaluate"))
    return evaluate.run(parser.parse_args(argv))


@pytest.fixture(scope="module")
def raw_gt() -> dict:
    return loadmat(str(GT_MAT))


@pytest.fixture()
def gt_pred_file(tmp_path, raw_gt) -> Path:
    """The ground truth itself as a (16, 2, N) .npy prediction file (the contract layout)."""
    path = tmp_path / "pred.npy"
    np.save(path, raw_gt["pos_gt_src"])
    return path


def test_json_contract_gt_vs_gt(gt_pred_file, capsys):
    assert _run(["--predictions", str(gt_pred_file), "--ground-truth", str(GT_MAT), "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)  # exactly one JSON object on stdout
    assert list(data["pckh@0.5"]) == ROWS
    assert all(data["pckh@0.5"][k] == 100.0 for k in ROWS)
    assert list(data["per_joint"]) == list(JOINT_NAMES)
    assert all(v == 100.0 for v in data["per_joint"].values())
    assert data["pckh@0.1"]["mean"] == 100.0
    assert data["num_samples"] == 2958
    assert data["counts"]["r_ankle"] == 2115 and data["counts"]["l_wrist"] == 2909


def test_json_wrists_wrong_percentages(tmp_path, raw_gt, capsys):
    pos = raw_gt["pos_gt_src"].copy()  # (16, 2, N)
    boxes = raw_gt["headboxes_src"]
    head = 0.6 * np.linalg.norm(boxes[1] - boxes[0], axis=0)  # (N,)
    pos[[10, 15], 0, :] += 0.6 * head
    np.save(tmp_path / "wrists.npy", pos)
    assert _run(["--predictions", str(tmp_path / "wrists.npy"), "--ground-truth", str(GT_MAT), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pckh@0.5"]["wrist"] == 0.0
    assert data["per_joint"]["r_wrist"] == 0.0 and data["per_joint"]["l_wrist"] == 0.0
    assert data["pckh@0.5"]["elbow"] == 100.0
    assert data["pckh@0.5"]["mean"] == pytest.approx(MEAN_WRISTS_WRONG, abs=1e-9)


def test_threshold_option_sets_per_joint(tmp_path, raw_gt, capsys):
    pos = raw_gt["pos_gt_src"].copy()
    boxes = raw_gt["headboxes_src"]
    pos[:, 0, :] += 0.3 * 0.6 * np.linalg.norm(boxes[1] - boxes[0], axis=0)  # 0.3 head sizes off
    np.save(tmp_path / "p.npy", pos)
    assert _run(["--predictions", str(tmp_path / "p.npy"), "--ground-truth", str(GT_MAT), "--json",
                 "--threshold", "0.2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert all(v == 0.0 for v in data["per_joint"].values())  # per_joint at 0.2
    assert data["pckh@0.2"]["mean"] == 0.0
    assert data["pckh@0.5"]["mean"] == 100.0  # always reported
    assert data["thresholds"] == [0.2, 0.5, 0.1]


def test_table_output(gt_pred_file, capsys):
    assert _run(["--predictions", str(gt_pred_file), "--ground-truth", str(GT_MAT)]) == 0
    out = capsys.readouterr().out
    assert "Head" in out and "Mean@0.1" in out
    row = next(line for line in out.splitlines() if line.startswith("PCKh@0.5"))
    assert row.split()[1:] == ["100.00"] * 9


def test_sample_count_mismatch_is_a_user_error(tmp_path, raw_gt, capsys):
    np.save(tmp_path / "PRED.npy", raw_gt["pos_gt_src"][:, :, :100])
    assert _run(["--predictions", str(tmp_path / "PRED.npy"), "--ground-truth", str(GT_MAT), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "PRED.npy has 100 samples, " in captured.err and "gt_valid.mat has 2958" in captured.err
    assert "Traceback" not in captured.err


def test_bad_inputs_return_2_with_message(tmp_path, capsys):
    assert _run(["--predictions", str(tmp_path / "nope.npy"), "--ground-truth", str(GT_MAT)]) == 2
    assert "nope.npy" in capsys.readouterr().err
    np.save(tmp_path / "ok.npy", np.zeros((16, 2, 3)))
    assert _run(["--predictions", str(tmp_path / "ok.npy"), "--ground-truth", str(tmp_path / "gt.txt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("posekit evaluate: error:") and "gt.txt" in err


def test_bad_shape_message(tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((3, 15, 2)))
    assert _run(["--predictions", str(tmp_path / "bad.npy"), "--ground-truth", str(GT_MAT)]) == 2
    err = capsys.readouterr().err
    assert "bad.npy" in err and "(3, 15, 2)" in err


@pytest.mark.skipif(not VALID_H5.is_file(), reason=f"real MPII valid.h5 not found at {VALID_H5}")
def test_h5_ground_truth_and_normalize_option(tmp_path, gt_pred_file, capsys):
    import h5py

    with h5py.File(VALID_H5, "r") as f:
        part = f["part"][()]  # (N, 16, 2)
    np.save(tmp_path / "part.npy", part)  # (N, 16, 2) is accepted too
    assert _run(["--predictions", str(tmp_path / "part.npy"), "--ground-truth", str(VALID_H5), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert all(data["pckh@0.5"][k] == 100.0 for k in ROWS)
    # gt_valid.mat joints with valid.h5 head sizes
    assert _run(["--predictions", str(gt_pred_file), "--ground-truth", str(GT_MAT), "--normalize-h5", str(VALID_H5),
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert all(data["pckh@0.5"][k] == 100.0 for k in ROWS)
    assert data["head_sizes_from"] == str(VALID_H5)
