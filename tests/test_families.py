"""Every command on every model family: a tiny model of each family (hourglass, PBN, the KPTransfer
composite trained by `posekit transfer`, multi-task pose + parts, segmentation only) goes through
predict, evaluate, export (ONNX checked against torch), report and the GUI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import posekit
from conftest import tiny_config
from posekit.cli.main import main
from posekit.config import load_config, save_config
from posekit.training.run import train

FAMILIES = ("hourglass", "pbn", "kptransfer", "multitask", "multitask_seg")


def _multitask(out: Path, root: Path, tasks: str):
    return load_config("multitask/joint", [
        f"data.root={root}", "data.synthetic_train=24", "data.synthetic_val=8", "data.synthetic_image_size=64",
        "data.input_size=64", "data.heatmap_size=8", "model.trunk_width=8", "model.feature_channels=8",
        "model.stage_width=8", f"model.tasks={tasks}", "train.batch_size=4", "train.epochs=1",
        "train.iters_per_epoch=2", f"train.output_dir={out}", "eval.batch_size=8"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory, synthetic_root, tiny_run) -> dict[str, Path]:
    """family -> run folder holding best.pt (one epoch of two steps each)."""
    base = tmp_path_factory.mktemp("families")
    out = {"hourglass": tiny_run}
    train(tiny_config(base / "pbn", synthetic_root, epochs=1, iters_per_epoch=2,
                      model={"name": "pbn", "stem": "pbn", "groups": "pbn_paper", "branch_width": 8}), progress=False)
    out["pbn"] = base / "pbn"
    cfg = tiny_config(base / "unused", synthetic_root, epochs=1, iters_per_epoch=2, model={"num_stacks": 2})
    save_config(cfg, base / "kpt.yaml")
    assert main(["transfer", "--split", "d", "--config", str(base / "kpt.yaml"), "--out", str(base / "kpt"),
                 "--no-progress"]) == 0
    out["kptransfer"] = base / "kpt" / "transfer"
    train(_multitask(base / "mt", synthetic_root, "[pose, seg]"), progress=False)
    out["multitask"] = base / "mt"
    train(_multitask(base / "seg", synthetic_root, "[seg]"), progress=False)
    out["multitask_seg"] = base / "seg"
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_load_model_contract(runs, family):
    """load_model: eval mode, RGB [0, 1] NCHW in, heat maps (B, stacks, K, S/s, S/s) out (multi-task: a
    dict holding them), K = the artifact's keypoints."""
    model = posekit.load_model(runs[family] / "best.pt")
    art = model.artifact
    assert not model.training and art.input["layout"] == "NCHW" and art.input["range"] == [0.0, 1.0]
    with torch.no_grad():
        out = model(torch.rand(2, 3, 64, 64))
    if family.startswith("multitask"):
        assert isinstance(out, dict) and ("heatmaps" in out) == (family == "multitask")
        assert "segmentation" in out and out["segmentation"].shape == (2, 7, 64, 64)
        out = out.get("heatmaps")
    if out is not None:
        h = art.codec["heatmap_size"]
        assert out.shape == (2, out.shape[1], len(art.keypoints), h, h)
    expected = {"hourglass": "hourglass", "pbn": "pbn", "kptransfer": "kptransfer", "multitask": "multitask",
                "multitask_seg": "multitask"}[family]
    assert art.arch == expected


@pytest.mark.parametrize("family", FAMILIES)
def test_predict_evaluate_export_report(runs, family, synthetic_root, shared, tmp_path, capsys):
    ckpt = str(runs[family] / "best.pt")
    photo = shared / "mpii" / "images" / "005808361.jpg"
    synth = synthetic_root / "val" / "images" / "000000.jpg"
    assert main(["predict", "--checkpoint", ckpt, str(photo), "--out", str(tmp_path / "pred"),
                 "--backend", "torch", "--bbox", "700", "100", "1250", "720"]) == 0
    assert main(["predict", "--checkpoint", ckpt, str(synth), "--out", str(tmp_path / "pred"), "--backend", "torch",
                 "--detector", "none"]) == 0
    record = json.loads((tmp_path / "pred" / "005808361.json").read_text())
    names = posekit.load_model(ckpt).artifact.keypoints.names
    assert list(record["people"][0]["keypoints"]) == list(names)
    assert (tmp_path / "pred" / "000000_pose.png").is_file()
    capsys.readouterr()

    ev = ["evaluate", "--checkpoint", ckpt, "--annotations", str(synthetic_root / "val" / "annotations.json"),
          "--images", str(synthetic_root / "val" / "images"), "--json"]
    if family == "multitask_seg":
        assert main(ev) == 2 and "segmentation-only model predicts no keypoints" in capsys.readouterr().err
    else:
        assert main(ev) == 0
        result = json.loads(capsys.readouterr().out)
        scored = [k for k, v in result["counts"].items() if v > 0]
        assert sorted(scored) == sorted(n for n in names if n not in ("pelvis", "thorax")) or \
            set(scored) == set(names)
        assert 0 <= result["pckh@0.5"]["mean"] <= 100

    assert main(["export", "--checkpoint", ckpt, "--out", str(tmp_path / "m.onnx")]) == 0
    assert "max abs difference" in capsys.readouterr().out

    assert main(["report", str(runs[family]), "--out", str(tmp_path / "rep"), "--examples", "1"]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## Training curves" in md and len(list((tmp_path / "rep").glob("*_example0.png"))) == 1


def test_gui_loads_every_family(runs, shared):
    pytest.importorskip("flask")
    from posekit.gui.app import create_app

    ckpts = [runs[f] / "best.pt" for f in FAMILIES]
    client = create_app(ckpts, samples=shared, device="cpu").test_client()
    data = (shared / "mpii" / "images" / "005808361.jpg").read_bytes()
    for i, family in enumerate(FAMILIES):
        reply = client.post("/api/predict", data={"image": (io.BytesIO(data), "p.jpg"), "checkpoint": str(i),
                                                  "bbox": "700 100 1250 720"}, content_type="multipart/form-data")
        assert reply.status_code == 200, (family, reply.get_json())
        (res,) = reply.get_json()["results"]
        finite = [k for k in res["keypoints"] if np.isfinite(k["x"])]
        assert len(finite) == (0 if family == "multitask_seg" else len(res["keypoints"])) and res["model"]
