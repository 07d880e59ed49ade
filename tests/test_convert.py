"""``posekit convert``: checkpoints of princeton-vl/pytorch_stacked_hourglass and bearpaw/pytorch-pose
become posekit checkpoints whose network gives the reference network's heat maps on the same image.

The reference heat maps were computed by running each repository's model code on a random-weight
network of its own layout (tests/fixtures/reference/README.md); here the same weights are rebuilt
from the stored key list, saved in the repository's checkpoint layout, converted and run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from reference_data import tensor_values, uniform

import posekit
from posekit.checkpoint import CheckpointError
from posekit.cli.main import main as cli_main
from posekit.decoding.predictor import PosePredictor
from posekit.models.convert import BEARPAW_MPII_MEAN, convert_checkpoint, convert_state

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reference"


def _reference(name: str) -> tuple[dict[str, torch.Tensor], np.ndarray]:
    f = np.load(FIXTURES / f"{name}.npz")
    keys, shapes = [str(k) for k in f["keys"]], json.loads(str(f["shapes"]))
    state = {k: torch.from_numpy(tensor_values(k, tuple(s))) for k, s in zip(keys, shapes)}
    return state, f["heatmaps"]


@pytest.fixture(scope="module")
def princeton_ckpt(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A checkpoint as its train.py saves it: {"state_dict" (model.module.*), "optimizer", "epoch"}."""
    state, heatmaps = _reference("princeton_posenet")
    assert all(k.startswith("model.module.") for k in state)
    path = tmp_path_factory.mktemp("princeton") / "checkpoint.pt"
    torch.save({"state_dict": state, "optimizer": {"state": {}, "param_groups": []}, "epoch": 12}, path)
    return path, heatmaps


@pytest.fixture(scope="module")
def bearpaw_ckpt(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A checkpoint as its example/main.py saves it: {"epoch", "arch", "state_dict" (module.*),
    "best_acc", "optimizer"}."""
    state, heatmaps = _reference("bearpaw_hg")
    assert all(k.startswith("module.") for k in state)
    path = tmp_path_factory.mktemp("bearpaw") / "model_best.pth.tar"
    torch.save({"epoch": 7, "arch": "hg", "state_dict": state, "best_acc": torch.tensor(0.8695),
                "optimizer": {"state": {}, "param_groups": []}}, path)
    return path, heatmaps


def _convert(tmp_path, src: Path, source: str, capsys) -> Path:
    out = tmp_path / f"{source}.pt"
    assert cli_main(["convert", "--from", source, str(src), "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    return out


def test_princeton_checkpoint_round_trip(princeton_ckpt, tmp_path, capsys):
    src, expected = princeton_ckpt
    model = posekit.load_model(_convert(tmp_path, src, "princeton", capsys))
    # the reference input: RGB / 255, NHWC; posekit takes NCHW in [0, 1]
    x = torch.from_numpy(uniform(64 * 64 * 3, "princeton-input").reshape(1, 64, 64, 3).astype(np.float32))
    with torch.no_grad():
        got = model(x.permute(0, 3, 1, 2)).numpy()
    assert got.shape == expected.shape == (1, 2, 16, 16, 16)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    art = model.artifact
    assert art.arch_kwargs["stem"] == "newell" and art.arch_kwargs["num_features"] == 32
    assert art.input["mean"] == [0.0, 0.0, 0.0] and art.input["std"] == [1.0, 1.0, 1.0]
    assert art.codec["decoding"] == "princeton" and art.eval["flip_test"] is True
    assert art.crop == {"mode": "center_scale", "scale_factor": 1.25, "center_shift": 15.0, "input_size": 256}
    assert art.extra["converted_from"]["epoch"] == 12
    # PoseNet's unused skip convs are dropped (weight + bias of every equal-width residual: 1 in the
    # stem, per stack 3 x 4 levels + 1 at the bottom of the hourglass + 1 after it), nothing is filled
    assert art.extra["converted_from"]["dropped_tensors"] == 2 * (1 + 2 * (3 * 4 + 1 + 1)) == 58
    assert art.extra["converted_from"]["filled_tensors"] == 0


def test_bearpaw_checkpoint_round_trip(bearpaw_ckpt, tmp_path, capsys):
    src, expected = bearpaw_ckpt
    model = posekit.load_model(_convert(tmp_path, src, "bearpaw", capsys))
    x = torch.from_numpy(uniform(3 * 64 * 64, "bearpaw-input").reshape(1, 3, 64, 64).astype(np.float32))
    with torch.no_grad():
        got = model(x).numpy()      # the reference subtracted the MPII mean outside its network
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    art = model.artifact
    assert art.arch_kwargs["stem"] == "bearpaw" and art.arch_kwargs["num_stacks"] == 2
    assert art.input["mean"] == list(BEARPAW_MPII_MEAN) and art.input["std"] == [1.0, 1.0, 1.0]
    assert art.codec["decoding"] == "bearpaw" and art.eval["flip_test"] is False
    assert art.extra["converted_from"]["best_acc"] == pytest.approx(0.8695)


def test_bearpaw_clean_model_without_prefix_or_counters(bearpaw_ckpt, tmp_path):
    """Its convert_checkpoint.py writes a bare state dict without ``module.``; PyTorch < 0.4.1 wrote
    no BatchNorm counters: both convert, the counters are set to 0."""
    state, expected = _reference("bearpaw_hg")
    clean = {k[len("module."):]: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    torch.save(clean, tmp_path / "clean_model.pth.tar")
    _, report = convert_checkpoint(tmp_path / "clean_model.pth.tar", "bearpaw", tmp_path / "out.pt")
    assert len(report["filled"]) == sum(k.endswith("num_batches_tracked") for k in state)
    model = posekit.load_model(tmp_path / "out.pt")
    x = torch.from_numpy(uniform(3 * 64 * 64, "bearpaw-input").reshape(1, 3, 64, 64).astype(np.float32))
    with torch.no_grad():
        np.testing.assert_allclose(model(x).numpy(), expected, rtol=0, atol=1e-4)


def test_unknown_keys_and_shapes_are_listed():
    state, _ = _reference("princeton_posenet")
    extra = dict(state, **{"model.module.extra_head.weight": torch.zeros(3)})
    with pytest.raises(CheckpointError, match=r"1 unknown tensor\(s\): extra_head.weight"):
        convert_state(extra, "princeton", "x.pt")
    bad = dict(state)
    bad["model.module.outs.1.conv.bias"] = torch.zeros(17)
    with pytest.raises(CheckpointError, match=r"of another shape: outs.1.conv.bias \(17,\)"):
        convert_state(bad, "princeton", "x.pt")
    gone = {k: v for k, v in state.items() if "merge_preds" not in k}
    with pytest.raises(CheckpointError, match="missing .*stacks.remap_heatmaps.0.weight"):
        convert_state(gone, "princeton", "x.pt")
    # a bearpaw file read as princeton: nothing fits
    bp, _ = _reference("bearpaw_hg")
    with pytest.raises(CheckpointError, match="missing tensor 'pre.4.conv3.conv.weight'"):
        convert_state(bp, "princeton", "x.pt")
    two_blocks = dict(bp, **{"module.hg.0.hg.0.0.1.conv1.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="more than one residual block"):
        convert_state(two_blocks, "bearpaw", "x.pt")


def test_convert_cli_errors(tmp_path, princeton_ckpt, capsys):
    assert cli_main(["convert", "--from", "bearpaw", str(tmp_path / "none.pt"), "-o", str(tmp_path / "o.pt")]) == 2
    assert "posekit convert: error: checkpoint not found" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    assert cli_main(["convert", "--from", "bearpaw", str(tmp_path / "junk.pt"), "-o", str(tmp_path / "o.pt")]) == 2
    assert "not readable as a weights-only torch checkpoint" in capsys.readouterr().err
    src, _ = princeton_ckpt
    (tmp_path / "exists.pt").write_bytes(b"")
    assert cli_main(["convert", "--from", "princeton", str(src), "-o", str(tmp_path / "exists.pt")]) == 2
    assert "use --force" in capsys.readouterr().err


def test_converted_model_predicts_in_its_conventions(princeton_ckpt, shared, tmp_path):
    """PosePredictor takes the crop protocol and decoding from the converted artifact: princeton's
    decoding truncates to whole original pixels, and the crop is the MPII protocol box."""
    src, _ = princeton_ckpt
    convert_checkpoint(src, "princeton", tmp_path / "p.pt")
    predictor = PosePredictor.from_checkpoint(tmp_path / "p.pt", device="cpu")
    assert predictor.codec.decoding == "princeton" and predictor.flip
    from posekit.data.annotations import load_annotations
    from posekit.data.dataset import load_image

    ann = load_annotations(shared / "mpii" / "images" / "annotations.json")
    image = load_image(shared / "mpii" / "images" / ann.image_names[0])
    pred = predictor.predict(image, center=ann.centers[0], scale=ann.scales[0])
    np.testing.assert_array_equal(pred.keypoints, np.trunc(pred.keypoints))
    box_center, side = ann.crop_boxes()
    np.testing.assert_allclose(pred.affine @ [*box_center[0], 1.0], [128.0, 128.0], atol=1e-6)
    assert pred.affine[0, 0] == pytest.approx(256 / side[0])
