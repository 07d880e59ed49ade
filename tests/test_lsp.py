"""LSP and LSP-extended: the joints.mat readers (synthetic files in the real layouts), the mapping
onto the MPII joints, mixed MPII + LSP training and PCK@0.2 by torso size through the CLI."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
from scipy.io import savemat

from posekit.cli.main import main
from posekit.data.annotations import AnnotationError, read_annotations, read_lsp_annotations, read_mpii_json
from posekit.data.lsp import JOINT_EXTENT_RATIO
from posekit.keypoints import LSP, MPII


def _poses(n: int) -> np.ndarray:
    """(n, 14, 2) LSP-order poses, all coordinates > 0; sample i spans x 10..10+13*(3+i), y 20..20+13*5."""
    k = np.arange(14.0)
    return np.stack([np.stack([10 + k * (3 + i), 20 + k * 5], axis=1) for i in range(n)])


def _write_lsp(path, poses: np.ndarray, occluded: np.ndarray) -> None:
    """LSP release layout: (3, 14, N), third row 1 = occluded."""
    savemat(path, {"joints": np.concatenate([poses, occluded[..., None]], axis=2).transpose(2, 1, 0)})


def _write_lspet(path, poses: np.ndarray, visible: np.ndarray) -> None:
    """LSP-extended layout: (14, 3, N), third column 1 = visible."""
    savemat(path, {"joints": np.concatenate([poses, visible[..., None]], axis=2).transpose(1, 2, 0)})


def test_lsp_layout_names_flags_boxes_and_sample_range(tmp_path):
    poses = _poses(6)
    occluded = np.zeros((6, 14))
    occluded[4, LSP.index("l_wrist")] = 1
    _write_lsp(tmp_path / "joints.mat", poses, occluded)
    ann = read_lsp_annotations(tmp_path / "joints.mat", samples="3:6")
    assert ann.image_names == ["im0004.jpg", "im0005.jpg", "im0006.jpg"]
    np.testing.assert_array_equal(ann.joints, poses[3:])
    assert ann.annotated.all() and ann.head_sizes is None
    assert ann.visible[1, LSP.index("l_wrist")] == 0 and ann.visible.sum() == 3 * 14 - 1   # flag 1 = occluded
    # box: centre of the joints' box, side = longer extent / 0.70 (sample 3: x extent 13*6 = 78 > y extent 65)
    np.testing.assert_allclose(ann.centers[0], [10 + 39, 20 + 32.5])
    assert ann.scales[0] == pytest.approx(78 / (200 * JOINT_EXTENT_RATIO))
    with pytest.raises(AnnotationError, match="samples '5:9'"):
        read_lsp_annotations(tmp_path / "joints.mat", samples="5:9")
    with pytest.raises(ValueError, match=r"field 'joints' has shape \(3, 14, 6\), expected \(14, 3, N\)"):
        read_lsp_annotations(tmp_path / "joints.mat", layout="lspet")


def test_lspet_layout_missing_joints_and_samples_without_a_box(tmp_path, caplog):
    poses = _poses(4)
    visible = np.ones((4, 14))
    visible[0, LSP.index("head_top")] = 0
    poses[1, LSP.index("r_ankle")] = 0                    # no annotation
    poses[2, 1:] = 0                                      # one joint left: no box, left out
    _write_lspet(tmp_path / "joints.mat", poses, visible)
    with caplog.at_level(logging.WARNING):
        ann = read_lsp_annotations(tmp_path / "joints.mat")
    assert "1 samples have fewer than two annotated joints" in caplog.text and "sample 2" in caplog.text
    assert ann.image_names == ["im00001.jpg", "im00002.jpg", "im00004.jpg"]     # five digits, numbering kept
    assert not ann.visible[0, LSP.index("head_top")] and ann.annotated[0, LSP.index("head_top")]
    assert not ann.annotated[1, LSP.index("r_ankle")] and ann.joints[1, LSP.index("r_ankle")].tolist() == [0, 0]


def test_read_into_mpii_masks_the_joints_lsp_lacks(tmp_path):
    poses = _poses(2)
    _write_lsp(tmp_path / "joints.mat", poses, np.zeros((2, 14)))
    ann = read_annotations(tmp_path / "joints.mat", MPII)
    assert ann.num_joints == 16
    for name in LSP.names:
        np.testing.assert_array_equal(ann.joints[:, MPII.index(name)], poses[:, LSP.index(name)])
    for name in ("pelvis", "thorax"):
        assert not ann.annotated[:, MPII.index(name)].any() and not ann.visible[:, MPII.index(name)].any()
    with pytest.raises(AnnotationError, match="unknown annotation format"):
        read_annotations(tmp_path / "joints.txt", MPII)


def _pck_files(tmp_path):
    """4 LSP people; predictions (MPII order) for people 2 and 3 with known errors."""
    poses = _poses(4)
    poses[2, LSP.index("l_shoulder")], poses[2, LSP.index("r_hip")] = (100, 100), (130, 140)   # torso 50 -> 10 px
    poses[3, LSP.index("l_shoulder")], poses[3, LSP.index("r_hip")] = (50, 50), (50, 150)      # torso 100 -> 20 px
    _write_lsp(tmp_path / "joints.mat", poses, np.zeros((4, 14)))
    pred = np.zeros((2, 16, 2))
    rows = MPII.map_from(LSP)                       # MPII joint -> LSP row
    for j, r in enumerate(rows):
        if r is not None:
            pred[:, j] = poses[2:, r]
    pred[0, MPII.index("r_ankle"), 0] += 10.0       # exactly 0.2 x torso: correct (<=)
    pred[0, MPII.index("r_knee"), 1] += 10.5        # beyond: wrong
    pred[1, MPII.index("r_knee")] += (12.0, 16.0)   # 20 px = 0.2 x 100: correct
    pred[1, MPII.index("l_wrist")] += (0.0, 21.0)   # wrong
    np.save(tmp_path / "pred.npy", pred)
    return tmp_path / "pred.npy", tmp_path / "joints.mat"


def test_pck_at_0_2_by_torso_through_the_cli(tmp_path, capsys):
    pred, gt = _pck_files(tmp_path)
    args = ["evaluate", "--predictions", str(pred), "--ground-truth", str(gt), "--samples", "2:4", "--json"]
    assert main(args + ["--metric", "pck@0.2", "--normalize", "torso"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metric"] == "PCK" and out["normalize"] == "torso" and out["thresholds"][0] == 0.2
    table = out["pck@0.2"]
    assert out["per_joint"]["r_ankle"] == 100.0 and out["per_joint"]["r_knee"] == 50.0
    assert table["wrist"] == 75.0 and table["knee"] == 75.0            # left/right averaged: (50 + 100) / 2
    assert table["mean"] == pytest.approx(100 * 26 / 28)             # 14 LSP joints x 2 people, 2 wrong
    assert out["counts"]["pelvis"] == 0 and out["counts"]["thorax"] == 0 and out["num_samples"] == 2
    assert main(args + ["--metric", "pck"]) == 0                      # 0.2 is PCK's default threshold
    assert json.loads(capsys.readouterr().out)["pck@0.2"] == table
    assert main(args[:-1] + ["--metric", "pck@0.2"]) == 0
    assert "PCK@0.2" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--metric", "pckh"], "no head sizes"),
    (["--metric", "pck", "--normalize", "head"], "for the head size use --metric pckh"),
    (["--metric", "pck@0.2", "--threshold", "0.1"], "two thresholds"),
    (["--metric", "oks"], "expected pckh or pck"),
    (["--metric", "pck", "--samples", "3:9"], "not a non-empty range"),
])
def test_pck_cli_user_errors(tmp_path, capsys, extra, message):
    pred, gt = _pck_files(tmp_path)
    code = main(["evaluate", "--predictions", str(pred), "--ground-truth", str(gt), "--samples", "2:4"] + extra)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("posekit evaluate: error:") and message in err, err


@pytest.fixture(scope="module")
def lsp_release(synthetic_root, tmp_path_factory):
    """An LSP release folder (images/im0001.jpg ..., joints.mat (3, 14, 8)) made of 8 synthetic people."""
    import cv2

    root = tmp_path_factory.mktemp("lsp")
    (root / "images").mkdir()
    ann = read_mpii_json(synthetic_root / "train" / "annotations.json")
    rows = LSP.map_from(MPII)
    poses = np.stack([ann.joints[:8, r] for r in rows], axis=1)
    occluded = np.stack([1 - ann.visible[:8, r] for r in rows], axis=1)
    for i in range(8):
        image = cv2.imread(str(synthetic_root / "train" / "images" / ann.image_names[i]))
        cv2.imwrite(str(root / "images" / f"im{i + 1:04d}.jpg"), cv2.copyMakeBorder(image, 8, 8, 8, 8, cv2.BORDER_CONSTANT))
    _write_lsp(root / "joints.mat", poses + 8.0, occluded)
    return root


def test_mpii_plus_lsp_training_and_pck_evaluation_of_the_checkpoint(tmp_path, synthetic_root, lsp_release, capsys):
    from conftest import tiny_config
    from posekit.data.dataset import MixedDataset
    from posekit.training.run import make_trainer

    extra = (f"[{{annotations: {lsp_release / 'joints.mat'}, image_dir: {lsp_release / 'images'}, format: lsp, "
             "samples: '0:6'}]")
    cfg = tiny_config(tmp_path / "run", synthetic_root, epochs=1, iters_per_epoch=2, data={"extra_train": extra})
    trainer = make_trainer(cfg, progress=False)
    assert isinstance(trainer.train_set, MixedDataset) and len(trainer.train_set) == 24 + 6
    lsp_part = trainer.train_set.datasets[1]
    assert lsp_part.annotations.image_names[-1] == "im0006.jpg" and lsp_part.stream == 1
    item = trainer.train_set[24]                     # the first LSP person, as MPII targets
    weights = item["target_weight"].numpy()
    assert weights[MPII.index("pelvis")] == 0 and weights[MPII.index("thorax")] == 0 and weights.sum() >= 10
    summary = trainer.fit()
    assert summary["global_step"] == 2
    args = ["evaluate", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--annotations",
            str(lsp_release / "joints.mat"), "--images", str(lsp_release / "images"), "--samples", "6:8",
            "--metric", "pck@0.2", "--format", "lsp", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["num_samples"] == 2 and out["counts"]["thorax"] == 0 and sum(out["counts"].values()) == 28
    assert 0.0 <= out["pck@0.2"]["mean"] <= 100.0
    shutil.rmtree(tmp_path / "run")
