"""Shared test fixtures: paths to the real data in ../shared/data and tiny configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def shared() -> Path:
    """The real reference data folder; tests that need it skip with a reason when it is absent."""
    if not (SHARED / "mpii" / "valid.h5").is_file():
        pytest.skip(f"real data not found at {SHARED} (see ../shared/data/README.md)")
    return SHARED


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A tiny synthetic people dataset (24 train / 8 val images at 64 px), generated once per session."""
    from posekit.data.synthetic import generate_synthetic

    root = tmp_path_factory.mktemp("synthetic")
    generate_synthetic(root, 24, 8, image_size=64, seed=0)
    return root


def tiny_config(output_dir: Path, synthetic_root: Path, model: dict | None = None, data: dict | None = None, **train):
    """A config for a 2-stack, 16-feature hourglass on 64 px crops of the tiny synthetic dataset;
    ``model`` / ``data`` entries override (or extend) those sections, ``train`` the train section."""
    from posekit.config import load_config

    model = {"num_stacks": 2, "num_features": 16, "depth": 2, "stem_width": 8, **(model or {})}
    overrides = [
        "data.dataset=synthetic", f"data.root={synthetic_root}", "data.synthetic_train=24",
        "data.synthetic_val=8", "data.synthetic_image_size=64", "data.input_size=64", "data.heatmap_size=16",
        "train.batch_size=4", "train.epochs=2", "train.optimizer=adam", "train.lr=1e-3",
        f"train.output_dir={output_dir}", "eval.batch_size=8",
    ] + [f"model.{k}={v}" for k, v in model.items()] + [f"data.{k}={v}" for k, v in (data or {}).items()] \
      + [f"train.{k}={v}" for k, v in train.items()]
    if "name" in model:   # the family first: its other keys are checked against it
        overrides.insert(0, f"model.name={model['name']}")
    return load_config(None, overrides)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, synthetic_root) -> Path:
    """A run folder with ``best.pt`` from one epoch of the tiny config."""
    from posekit.training.run import train

    out = tmp_path_factory.mktemp("tiny_run")
    train(tiny_config(out, synthetic_root, epochs=1), progress=False)
    return out


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep caches (e.g. the ONNX exports of `posekit predict`) out of the user's home."""
    import os

    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old
