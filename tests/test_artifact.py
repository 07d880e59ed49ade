"""The self-describing model artifact: what a checkpoint records, loading without the training config,
migration of format-1 files, evaluation as trained, resume from the run's own config, and the
package layering."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import posekit
from conftest import REPO, tiny_config
from posekit.checkpoint import FORMAT_VERSION, CheckpointError, ModelArtifact, load_checkpoint
from posekit.keypoints import MPII
from posekit.training.run import RunFolderError, train

FORMAT1 = Path(__file__).resolve().parent / "fixtures" / "format1"


# ---------------------------------------------------------------------------------------- format 1
@pytest.fixture(scope="module")
def format1_outputs():
    return np.load(FORMAT1 / "v1_outputs.npz")


@pytest.mark.parametrize("name, arch, keypoints", [
    ("hg", "hourglass", MPII.names),
    ("pbn", "pbn", MPII.names),
    ("tr", "kptransfer", MPII.names[10:]),
])
def test_format1_checkpoints_load_and_give_the_same_heatmaps(format1_outputs, name, arch, keypoints):
    """The migrated network takes RGB in [0, 1] and normalises inside; its heat maps equal those the
    old version computed from its own ImageNet-normalised input (fixture README)."""
    model = posekit.load_model(FORMAT1 / f"v1_{name}.pt")
    assert not model.training and model.artifact.arch == arch and model.artifact.keypoints.names == keypoints
    x = torch.from_numpy(format1_outputs["image_uint8"].astype(np.float32) / 255.0).permute(0, 3, 1, 2)
    with torch.no_grad():
        got = model(x).numpy()
    np.testing.assert_allclose(got, format1_outputs[name], rtol=0, atol=1e-5)
    assert model.artifact.trained_on["migrated_from_format"] == 1
    assert model.artifact.input["mean"] == [0.485, 0.456, 0.406]


def test_format1_pbn_groups_are_explicit_names_without_clustering():
    artifact = posekit.load_model(FORMAT1 / "v1_pbn.pt").artifact
    # the groups "mi:3" gave at the time (legacy table), now explicit in the artifact
    assert artifact.arch_kwargs["groups"] == [
        ["r_ankle", "r_knee", "l_knee", "l_ankle", "r_wrist", "r_elbow", "l_elbow", "l_wrist"],
        ["r_hip", "l_hip", "pelvis"], ["thorax", "upper_neck", "head_top", "r_shoulder", "l_shoulder"]]
    tr = posekit.load_model(FORMAT1 / "v1_tr.pt").artifact
    assert tr.extra["s1_joints"] == list(MPII.names[:6]) and tr.arch_kwargs["stacks_per_subset"] == 1


# ---------------------------------------------------------------------------------------- format 2
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, synthetic_root) -> Path:
    """Two epochs of the tiny config, flip testing off everywhere (as the quickstart)."""
    out = tmp_path_factory.mktemp("quick") / "run"
    cfg = tiny_config(out, synthetic_root, epochs=2)
    cfg.eval.flip_test = False
    train(cfg, progress=False)
    return out


def test_checkpoint_describes_its_model(quick_run):
    ckpt = load_checkpoint(quick_run / "best.pt")
    assert ckpt["format_version"] == FORMAT_VERSION
    art = ModelArtifact.from_dict(ckpt["artifact"])
    assert art.arch == "hourglass" and art.arch_kwargs["num_stacks"] == 2 and art.arch_kwargs["num_joints"] == 16
    assert art.keypoints == MPII
    assert art.input == {"color": "RGB", "range": [0.0, 1.0], "layout": "NCHW", "size": 64,
                         "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    assert art.crop == {"mode": "center_scale", "scale_factor": 1.25, "center_shift": 15.0, "input_size": 64}
    assert art.codec == {"input_size": 64, "heatmap_size": 16, "sigma": 1.0, "decoding": "posekit"}
    assert art.eval == {"flip_test": False, "scales": None}
    assert art.trained_on["dataset"] == "synthetic" and art.trained_on["epochs"] >= 1
    model = posekit.load_model(quick_run / "best.pt")
    assert not model.training
    assert model(torch.rand(3, 3, 64, 64)).shape == (3, 2, 16, 16, 16)


def test_evaluate_reproduces_the_pckh_training_validated(quick_run, synthetic_root):
    """`posekit evaluate --checkpoint` runs the model as its artifact says (here: no flip test), so it
    scores what the training validation logged for the best epoch."""
    import csv

    rows = list(csv.DictReader(open(quick_run / "metrics.csv")))
    logged = max(float(r["pckh"]) for r in rows)
    proc = subprocess.run([sys.executable, "-m", "posekit", "evaluate", "--checkpoint", str(quick_run / "best.pt"),
                           "--annotations", str(synthetic_root / "val" / "annotations.json"), "--images",
                           str(synthetic_root / "val" / "images"), "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pckh@0.5"]["mean"] == pytest.approx(logged, abs=1e-9)


def test_weights_that_do_not_fit_are_a_clear_error(quick_run, tmp_path):
    ckpt = load_checkpoint(quick_run / "best.pt")
    ckpt["artifact"]["arch_kwargs"]["num_joints"] = 14
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"bad.pt: the weights do not fit the network \(.*of another shape"):
        posekit.load_model(tmp_path / "bad.pt")
    ckpt["artifact"]["arch"] = "resnet"
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="cannot rebuild its network 'resnet'"):
        posekit.load_model(tmp_path / "bad.pt")


# ---------------------------------------------------------------------------------------- resume
def _posekit(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "posekit", *args], capture_output=True, text=True, cwd=cwd)


def test_readme_resume_uses_the_runs_own_config(tmp_path, synthetic_root):
    """`posekit train quickstart --set ...` then `posekit train quickstart --resume`: the resumed run is
    the one in the folder (its config), not the YAML; a --set that changes the model or the optimiser
    is refused before anything in the folder changes."""
    out = tmp_path / "run"
    tiny = [f"data.root={synthetic_root}", "data.synthetic_train=24", "data.synthetic_val=8",
            "data.synthetic_image_size=64", "data.input_size=64", "data.heatmap_size=16", "model.num_features=16",
            "model.depth=2", "model.stem_width=8", "train.batch_size=4", "train.epochs=1", "train.num_threads=1"]
    sets = [a for kv in tiny for a in ("--set", kv)]
    first = _posekit("train", "quickstart", *sets, "--output-dir", str(out), "--no-progress")
    assert first.returncode == 0, first.stderr
    config_before = (out / "config.yaml").read_text()
    refused = _posekit("train", "quickstart", "--output-dir", str(out), "--resume", "--set", "model.num_stacks=3",
                       "--set", "train.optimizer=sgd")
    assert refused.returncode == 2
    assert "cannot resume with changed model.num_stacks, train.optimizer" in refused.stderr
    assert "Traceback" not in refused.stderr and (out / "config.yaml").read_text() == config_before
    again = _posekit("train", "quickstart", "--output-dir", str(out), "--resume", "--set", "train.epochs=2",
                     "--no-progress")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["epochs_run"] == 2
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["train"]["epochs"] == 2 and saved["model"]["num_features"] == 16
    fresh = _posekit("train", "quickstart", *sets, "--output-dir", str(out))
    assert fresh.returncode == 2 and "already holds a run" in fresh.stderr


def test_print_config_shows_the_resolved_config():
    proc = _posekit("train", "pbn/quickstart_pbn", "--print-config", "--set", "train.lr=0.01")
    assert proc.returncode == 0
    cfg = yaml.safe_load(proc.stdout)
    assert cfg["model"]["name"] == "pbn" and cfg["train"]["lr"] == 0.01 and "augment" in cfg["data"]


def test_resume_with_another_network_in_the_folder_is_refused(tmp_path, synthetic_root):
    cfg = tiny_config(tmp_path / "run", synthetic_root, epochs=1)
    train(cfg, progress=False)
    from posekit.training.run import make_trainer

    other = tiny_config(tmp_path / "run", synthetic_root, epochs=2, model={"num_stacks": 1})
    with pytest.raises(CheckpointError, match="written for the network hourglass"):
        make_trainer(other, progress=False).resume()
    with pytest.raises(RunFolderError, match="model.num_stacks"):
        train(cfg, resume=True, overrides=["model.num_stacks=1"], progress=False)


# ---------------------------------------------------------------------------------------- layers
#: Import layers (a module may import its own package and lower layers only). Ground: keypoints and
#: config, then checkpoint I/O (it reads keypoint sets); the command line may start the GUI.
LAYERS = {"keypoints": 0, "config": 0, "checkpoint": 0.5,
          "data": 1, "models": 1, "losses": 1, "evaluation": 1, "viz": 1,
          "decoding": 2, "training": 3, "pipelines": 4, "gui": 5, "cli": 6}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("posekit"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)   # `from pkg import submodule`
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("posekit"))
    return out


def test_imports_only_look_down():
    """Every import of a posekit module (top-level or inside a function) goes to the same package or a
    lower layer; within a package there is no cycle."""
    src = REPO / "src" / "posekit"
    upward, graph = [], {}
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).with_suffix("")
        parts = rel.parts
        if parts[0] in ("__init__", "__main__"):
            continue       # the package's lazy API and `python -m posekit` sit on top of everything
        pkg = parts[0]
        module = "posekit." + ".".join(p for p in parts if p != "__init__")
        graph[module] = set()
        for imported in _imports(path):
            target = imported.split(".")[1] if "." in imported else None
            if target not in LAYERS:      # `posekit` itself or one of its attributes (__version__)
                continue
            graph[module].add(imported)
            if target != pkg and LAYERS[target] >= LAYERS[pkg]:
                upward.append(f"{module} imports {imported}")
    assert not upward, "\n".join(upward)
    # no cycles: depth-first search over module-level edges inside src
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for n in graph.get(m, ()):
            if n == m or n == m.rsplit(".", 1)[0]:   # itself, or its own package's __init__
                continue
            if state.get(n) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack + [m, n]))
            if state.get(n) is None and n in graph:
                visit(n, stack + [m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])
