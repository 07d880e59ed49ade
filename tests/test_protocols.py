"""PCKh protocols: posekit's ``--protocol hrnet|bearpaw|princeton`` reproduce the numbers those
repositories' evaluation code prints on the same prediction file (fixtures made by running their
code, tests/fixtures/reference/README.md), and the rules that set them apart, on hand examples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from reference_data import reference_predictions
from scipy.io import loadmat

from posekit.cli.main import main as cli_main
from posekit.data.predictions import save_predictions
from posekit.evaluation import PROTOCOLS, get_protocol, pckh
from posekit.keypoints import MPII

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reference"
#: princeton's printed group names -> posekit table rows / joints
PRINCETON_GROUPS = {"ankle": "ankle", "knee": "knee", "hip": "hip", "head": "head", "wrist": "wrist",
                    "elbow": "elbow", "shoulder": "shoulder"}
PRINCETON_JOINTS = {"pelvis": "pelvis", "thorax": "thorax", "neck": "upper_neck"}


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((FIXTURES / "pckh_protocols.json").read_text())


@pytest.fixture(scope="module")
def pred_file(shared, tmp_path_factory) -> Path:
    """The fixtures' prediction file: integer predictions around gt_valid.mat's joints, some NaN."""
    g = loadmat(str(shared / "mpii" / "gt_valid.mat"))
    gt = g["pos_gt_src"].transpose(2, 0, 1)
    head = 0.6 * np.linalg.norm(g["headboxes_src"][1] - g["headboxes_src"][0], axis=0)
    return save_predictions(tmp_path_factory.mktemp("preds") / "preds.npy", reference_predictions(gt, head))


def _evaluate(capsys, *args) -> dict:
    assert cli_main(["evaluate", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_bearpaw_reproduces_eval_pckh_py(shared, pred_file, reference, capsys):
    out = _evaluate(capsys, "--predictions", str(pred_file), "--ground-truth", str(shared / "mpii" / "gt_valid.mat"),
                    "--protocol", "bearpaw")
    ref = reference["bearpaw"]
    assert out["protocol"] == "bearpaw" and "total" not in out
    np.testing.assert_allclose([out["per_joint"][n] for n in MPII.names], ref["per_joint"], rtol=0, atol=1e-9)
    assert out["pckh@0.5"]["mean"] == pytest.approx(ref["mean"], abs=1e-9)
    rows = ["head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "mean"]
    assert [f"{out['pckh@0.5'][r]:.2f}" for r in rows] == ref["printed_row"].split()


def test_hrnet_reproduces_its_evaluate(shared, pred_file, reference, capsys):
    gt = str(shared / "mpii" / "gt_valid.mat")
    out = _evaluate(capsys, "--predictions", str(pred_file), "--ground-truth", gt)   # the default protocol
    ref = reference["hrnet"]
    assert out["protocol"] == "hrnet"
    for row in ("head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "mean"):
        assert out["pckh@0.5"][row] == pytest.approx(ref[row.capitalize()], abs=1e-9), row
    # HRNet's "Mean@0.1" is read at threshold 0.11 (docs/conventions.md)
    at_011 = _evaluate(capsys, "--predictions", str(pred_file), "--ground-truth", gt, "--threshold", "0.11")
    assert at_011["pckh@0.11"]["mean"] == pytest.approx(ref["Mean@0.1"], abs=1e-9)
    # the same file: bearpaw's unweighted mean is 1.6 points above the count-weighted one here
    assert ref["Mean"] == pytest.approx(28.644, abs=1e-3)
    assert reference["bearpaw"]["mean"] == pytest.approx(30.288, abs=1e-3)


def test_princeton_reproduces_mpii_eval(shared, pred_file, reference, capsys):
    h5 = str(shared / "mpii" / "valid.h5")
    ref = reference["princeton"]
    for which, key in (("all", "all"), ("visible", "visible"), ("invisible", "not visible")):
        out = _evaluate(capsys, "--predictions", str(pred_file), "--ground-truth", h5, "--protocol", "princeton",
                        "--visibility", which)
        correct, count = ref["correct"][key], ref["count"][key]
        assert out["protocol"] == "princeton"
        assert out["total"] == pytest.approx(100.0 * correct["total"] / count["total"], abs=1e-9)
        for group, row in PRINCETON_GROUPS.items():
            expected = 100.0 * correct[group] / count[group] if count[group] else None
            assert out["pckh@0.5"][row] == (pytest.approx(expected, abs=1e-9) if expected is not None else None), group
        for group, joint in PRINCETON_JOINTS.items():
            expected = 100.0 * correct[group] / count[group] if count[group] else None
            got = out["per_joint"][joint]
            assert got == (pytest.approx(expected, abs=1e-9) if expected is not None else None), group
        if which == "all":
            counts = out["counts"]
            assert counts["r_ankle"] + counts["l_ankle"] == count["ankle"] and sum(counts.values()) == count["total"]
    # the printed lines of its script, rounded to 3 decimals as it prints them
    out = _evaluate(capsys, "--predictions", str(pred_file), "--ground-truth", h5, "--protocol", "princeton")
    # "Val PCK @, 0.5 , total : 0.28 , count: 44239"
    printed = dict((name.strip(), float(value)) for name, value in
                   (line.split(",")[2].split(":") for line in ref["printed_val_lines"][:11]))
    assert printed["total"] == round(out["total"] / 100, 3) == 0.28
    assert printed["head"] == round(out["pckh@0.5"]["head"] / 100, 3)


def test_princeton_needs_valid_h5(shared, pred_file, capsys):
    assert cli_main(["evaluate", "--predictions", str(pred_file), "--ground-truth",
                     str(shared / "mpii" / "gt_valid.mat"), "--protocol", "princeton"]) == 2
    assert "posekit evaluate: error: --protocol princeton scores against the Newell/princeton valid.h5" in \
        capsys.readouterr().err


# ------------------------------------------------------------------------------------- hand examples
def _one_person(offsets: np.ndarray, head: float = 10.0):
    gt = np.tile(np.array([[100.0, 200.0]]), (1, 16, 1))
    return gt + offsets[None], gt, np.array([head])


def test_a_tie_at_the_threshold_counts_only_under_hrnet():
    """Distance 5 = 0.5 x head size 10 exactly (3-4-5 triangle): correct under <=, wrong under <."""
    pred, gt, head = _one_person(np.tile([[3.0, 4.0]], (16, 1)))
    assert pckh(pred, gt, head, protocol="hrnet").mean() == 100.0
    assert pckh(pred, gt, head, protocol="bearpaw").mean() == 0.0
    assert pckh(pred, gt, head, protocol="princeton").total() == 0.0


def test_means_weighted_unweighted_and_pooled_rows():
    """Two people; person 2 has no r_ankle and no l_shoulder. Joint rates: r_ankle 1/1, l_ankle 1/2,
    r_shoulder 0/2, l_shoulder 0/1, every other joint 2/2."""
    gt = np.tile(np.array([[[100.0, 200.0]]]), (2, 16, 1))
    pred = gt.copy()
    missing = np.zeros((2, 16), bool)
    ra, la, rs, ls = (MPII.index(n) for n in ("r_ankle", "l_ankle", "r_shoulder", "l_shoulder"))
    missing[1, [ra, ls]] = True
    pred[1, la] += 20.0
    pred[:, [rs, ls]] += 20.0
    heads = np.array([10.0, 10.0])
    hr = pckh(pred, gt, heads, missing, protocol="hrnet")
    bp = pckh(pred, gt, heads, missing, protocol="bearpaw")
    pr = pckh(pred, gt, heads, missing, protocol="princeton")
    # 14 mean joints, 26 instances, 22 correct; unweighted: (1 + 0.5 + 0 + 0 + 10 x 1) / 14
    assert hr.mean() == pytest.approx(100 * 22 / 26) and pr.mean() == pytest.approx(100 * 22 / 26)
    assert bp.mean() == pytest.approx(100 * 11.5 / 14)
    assert hr.table()["ankle"] == pytest.approx(75.0) and pr.table()["ankle"] == pytest.approx(100 * 2 / 3)
    assert hr.table()["shoulder"] == 0.0 == pr.table()["shoulder"]
    assert pr.total() == pytest.approx(100 * (22 + 4) / 30)
    assert pr.to_dict()["total"] == pytest.approx(pr.total()) and "total" not in hr.to_dict()
    assert [r.to_dict()["protocol"] for r in (hr, bp, pr)] == ["hrnet", "bearpaw", "princeton"]


def test_princeton_skips_ground_truth_at_x_0():
    """valid.h5 holds one joint at x = 0 with y != 0: princeton's script skips it, the others score it."""
    pred, gt, head = _one_person(np.zeros((16, 2)))
    gt[0, 3] = [0.0, 50.0]
    assert pckh(pred, gt, head, protocol="princeton").counts[3] == 0
    assert pckh(pred, gt, head, protocol="hrnet").counts[3] == 1


def test_protocol_registry():
    assert list(PROTOCOLS) == ["hrnet", "bearpaw", "princeton"]
    assert get_protocol("bearpaw").strict and not get_protocol("hrnet").strict
    with pytest.raises(ValueError, match="unknown PCKh protocol 'mmpose'"):
        get_protocol("mmpose")
