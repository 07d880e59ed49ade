"""PBN evaluation additions: PCKh by visibility, multi-scale + flip testing, LSP reader and PCK@0.2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.io import savemat

from posekit.cli.main import main
from posekit.decoding import predict_heatmaps, predict_heatmaps_multiscale
from posekit.data.lsp import read_lsp_joints
from posekit.decoding.heatmaps import zoom
from posekit.evaluation.pck import bbox_sizes, pck_bbox, pck_torso
from posekit.evaluation.pckh import pckh, visibility_mask
from posekit.keypoints import LSP, MPII

joint_index = LSP.index

# ------------------------------------------------------------------------------ visibility


def test_visibility_mask_selects_flags():
    vis = np.array([[1, 0, 1]])
    assert visibility_mask(vis, "all") is None
    assert visibility_mask(vis, "visible").tolist() == [[True, False, True]]
    assert visibility_mask(vis, "invisible").tolist() == [[False, True, False]]
    with pytest.raises(ValueError, match="visibility flags"):
        visibility_mask(None, "invisible")
    with pytest.raises(ValueError, match="unknown"):
        visibility_mask(vis, "occluded")
    gt = np.zeros((1, 3, 2))
    pred = gt + np.array([[[0, 0], [5, 0], [0, 0]]])   # only the occluded joint is off by 5 head sizes
    res = pckh(pred, gt, np.ones(1), mask=visibility_mask(vis, "invisible"))
    assert res.counts.tolist() == [0, 1, 0] and res.per_joint[0, 1] == 0.0


def test_evaluate_cli_visibility_on_valid_h5(shared, tmp_path, capsys):
    import h5py

    h5 = shared / "mpii" / "valid.h5"
    with h5py.File(h5, "r") as f:
        part, visible = f["part"][()].astype(np.float64), f["visible"][()] > 0
    preds = part + np.where(visible, 0.0, 1000.0)[..., None]       # every occluded joint far off
    np.save(tmp_path / "p.npy", preds)
    results = {}
    for which in ("all", "visible", "invisible"):
        assert main(["evaluate", "--predictions", str(tmp_path / "p.npy"), "--ground-truth", str(h5),
                     "--visibility", which, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["visibility"] == which
        results[which] = out
    assert results["visible"]["pckh@0.5"]["mean"] == 100.0
    assert results["invisible"]["pckh@0.5"]["mean"] == 0.0
    counts = {k: sum(v["counts"].values()) for k, v in results.items()}
    assert counts["visible"] + counts["invisible"] == counts["all"] and counts["invisible"] > 1000
    assert 0 < results["all"]["pckh@0.5"]["mean"] < 100
    gt_mat = shared / "mpii" / "gt_valid.mat"
    assert main(["evaluate", "--predictions", str(tmp_path / "p.npy"), "--ground-truth", str(gt_mat),
                 "--visibility", "invisible"]) == 2
    assert "visibility flags" in capsys.readouterr().err


def test_evaluate_checkpoint_visibility_matches_prediction_file(tmp_path, tiny_run, synthetic_root, capsys):
    """--visibility takes the flags from --annotations (synthetic json joints_vis: 0 = occluded)."""
    ann, images = synthetic_root / "val" / "annotations.json", synthetic_root / "val" / "images"
    preds = tmp_path / "preds.npy"
    counts = {}
    for which in ("all", "visible", "invisible"):
        assert main(["evaluate", "--checkpoint", str(tiny_run / "best.pt"), "--annotations", str(ann), "--images",
                     str(images), "--no-flip", "--visibility", which, "--save-predictions", str(preds), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        counts[which] = sum(out["counts"].values())
        assert main(["evaluate", "--predictions", str(preds), "--ground-truth", str(ann), "--visibility", which,
                     "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again["counts"] == out["counts"] and again["pckh@0.5"] == pytest.approx(out["pckh@0.5"], nan_ok=True)
    assert counts["visible"] + counts["invisible"] == counts["all"] and counts["invisible"] > 0


def test_evaluate_checkpoint_multiscale(tmp_path, tiny_run, synthetic_root, capsys):
    """--scales 1.0 is the single-scale result exactly; six scales give a valid, different result."""
    base = ["evaluate", "--checkpoint", str(tiny_run / "best.pt"), "--annotations",
            str(synthetic_root / "val" / "annotations.json"), "--images", str(synthetic_root / "val" / "images"),
            "--no-flip", "--json"]
    outs = []
    for extra in ([], ["--scales", "1.0"], ["--scales", "0.7", "0.8", "0.9", "1.0", "1.1", "1.2"]):
        assert main(base + extra + ["--save-predictions", str(tmp_path / f"p{len(outs)}.npy")]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    p0, p1, p2 = (np.load(tmp_path / f"p{i}.npy") for i in range(3))
    assert np.array_equal(p0, p1) and outs[0] == outs[1]
    assert np.isfinite(p2).all() and not np.array_equal(p0, p2)
    assert main(["evaluate", "--predictions", str(tmp_path / "p0.npy"), "--ground-truth",
                 str(synthetic_root / "val" / "annotations.json"), "--scales", "1.0"]) == 2
    assert "--scales needs --checkpoint" in capsys.readouterr().err


# ------------------------------------------------------------------------------ multi-scale


class BlobModel(torch.nn.Module):
    """Heat map = 4x4 average of the first input channel: mirror- and (about) scale-equivariant."""

    def forward(self, x):
        return F.avg_pool2d(x[:, :1], 4)[:, None]                  # (B, 1 stack, 1 joint, S/4, S/4)


def _blob(cx: float, cy: float, size: int = 64, sigma: float = 4.0) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    img = torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
    return img.expand(1, 3, size, size).clone()


def _argmax_xy(h: torch.Tensor) -> tuple[int, int]:
    i = int(h[0, 0].argmax())
    return i % h.shape[-1], i // h.shape[-1]


def test_single_scale_without_flip_is_predict_heatmaps():
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 2, 4, stride=4)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(predict_heatmaps_multiscale(model, x, scales=(1.0,), flip=False), predict_heatmaps(model, x))


def test_zoom_round_trip_and_centre_alignment():
    x = _blob(40.0, 24.0)
    # zooming by 2 about the centre (31.5, 31.5) moves the peak from x=40 to 31.5 + 2 * 8.5 = 48.5
    zx, zy = _argmax_xy(zoom(x, 2.0)[:, :1])
    assert (zx, zy) in {(48, 16), (49, 16), (48, 15), (49, 15)}
    back = zoom(zoom(x, 2.0), 0.5)
    assert torch.allclose(back[..., 24:40, 24:40], x[..., 24:40, 24:40], atol=0.02)


def test_multiscale_flip_average_keeps_the_peak_in_the_crop_frame():
    model, x = BlobModel(), _blob(40.0, 24.0)
    single = predict_heatmaps(model, x)
    multi = predict_heatmaps_multiscale(model, x, flip=True, keypoints=MPII.subset([MPII.index("head_top")]))
    assert multi.shape == single.shape == (1, 1, 16, 16)
    assert _argmax_xy(single) == (10, 6)              # heat-map cell 10 covers crop x 40..43, cell 6 y 24..27
    assert _argmax_xy(multi) == (10, 6)
    with pytest.raises(ValueError):
        predict_heatmaps_multiscale(model, x, scales=())


# ------------------------------------------------------------------------------ LSP


def _lsp_pose(l_sho, r_hip) -> np.ndarray:
    """(14, 2) LSP-order pose with the given left shoulder and right hip, other joints spread out."""
    pose = np.stack([np.arange(14) * 7.0 + 3.0, np.arange(14) * 5.0 + 1.0], axis=1)
    pose[9], pose[2] = l_sho, r_hip                    # LSP ids: 9 = left shoulder, 2 = right hip
    return pose


@pytest.mark.parametrize("layout", ["lsp", "lspet"])
def test_read_lsp_joints_layouts(tmp_path, layout):
    poses = np.stack([_lsp_pose((10, 10), (40, 50)), _lsp_pose((100, 0), (100, 100))])      # (2, 14, 2)
    flag = np.zeros((2, 14))
    flag[0, 13] = 1
    if layout == "lsp":     # (3, 14, N), third row 1 = occluded
        raw = np.concatenate([poses, flag[..., None]], axis=2).transpose(2, 1, 0)
    else:                   # (14, 3, N), third column 1 = visible
        raw = np.concatenate([poses, 1 - flag[..., None]], axis=2).transpose(1, 2, 0)
    savemat(tmp_path / "joints.mat", {"joints": raw})
    joints, visible, missing = read_lsp_joints(tmp_path / "joints.mat")
    assert joints.shape == (2, 14, 2)
    assert np.array_equal(joints, poses)
    assert not missing.any()
    head_top = joint_index("head_top")
    assert not visible[0, head_top] and visible[1, head_top] and visible[0, joint_index("upper_neck")]


def test_read_lsp_joints_bad_shape(tmp_path):
    savemat(tmp_path / "bad.mat", {"joints": np.zeros((2, 14, 5))})
    with pytest.raises(ValueError, match="expected"):
        read_lsp_joints(tmp_path / "bad.mat")


def test_pck_torso_hand_computed():
    gt = np.zeros((2, 14, 2))
    gt[0] = _lsp_pose((10, 10), (40, 50))             # torso 50 px -> 10 px at PCK@0.2
    gt[1] = _lsp_pose((100, 0), (100, 100))           # torso 100 px -> 20 px
    missing = np.zeros((2, 14), bool)
    missing[:, [LSP.index("r_elbow"), LSP.index("l_elbow")]] = True
    pred = gt.copy()
    pred[0, joint_index("r_ankle"), 0] += 10.0        # exactly at the threshold: correct (<=)
    pred[0, joint_index("r_knee"), 1] += 10.5         # just beyond: wrong
    pred[1, joint_index("r_knee")] += (12.0, 16.0)    # 20 px: correct
    pred[1, joint_index("head_top")] = np.nan         # no prediction: wrong
    res = pck_torso(pred, gt, missing)
    assert res["r_ankle"] == 100.0 and res["r_knee"] == 50.0 and res["head_top"] == 50.0
    assert "r_elbow" not in res
    assert res["mean"] == pytest.approx(100.0 * 22 / 24)   # 12 joints x 2 samples, 2 wrong
    gt[1, joint_index("r_hip")] = gt[1, joint_index("l_shoulder")]
    with pytest.raises(ValueError, match="torso"):
        pck_torso(pred, gt, missing)


def test_pck_bbox_hand_computed():
    """Bounding-box PCK (Yang & Ramanan 2013): threshold alpha x the longer side of the box around the
    ground-truth joints; the box may be spanned by joints that are not scored."""
    gt = np.zeros((2, 14, 2))
    gt[0, :, 0] = np.arange(14) * 3.0                  # box 39 wide, 100 high -> 10 px at alpha 0.1
    gt[0, :, 1] = np.arange(14) * 7.0
    gt[0, 13, 1] = 100.0
    gt[1, :, 0] = 50.0 + np.arange(14) * 15.0          # box 200 wide, 13 high -> 20 px
    gt[1, 13, 0] = 250.0
    gt[1, :, 1] = np.arange(14)
    np.testing.assert_allclose(bbox_sizes(gt), [100.0, 200.0])
    missing = np.zeros((2, 14), bool)
    missing[:, 0] = True                               # joint 0 is not scored ...
    pred = gt.copy()
    pred[0, 1, 0] += 10.0                              # at the threshold: correct (<=)
    pred[0, 2, 1] += 10.5                              # beyond: wrong
    pred[1, 3] += (12.0, 16.0)                         # 20 px: correct
    pred[1, 4] = np.nan                                # no prediction: wrong
    res = pck_bbox(pred, gt, missing, alpha=0.1, box_joints=np.ones((2, 14), bool))
    assert LSP.names[0] not in res and res[LSP.names[2]] == 50.0 and res[LSP.names[4]] == 50.0
    assert res["mean"] == pytest.approx(100.0 * 24 / 26)
    # ... but still spans the box when box_joints says so: without it sample 0's box shrinks
    gt2 = gt.copy()
    gt2[0, 0] = (0.0, -100.0)                          # only joint 0 makes sample 0 200 px high
    assert pck_bbox(pred, gt2, missing, box_joints=np.ones((2, 14), bool))["mean"] > \
        pck_bbox(pred, gt2, missing, alpha=0.05)["mean"]
    gt[1] = gt[1, :1]                                  # every joint at one point: a box of size 0
    with pytest.raises(ValueError, match="bounding-box"):
        pck_bbox(pred, gt, missing)
