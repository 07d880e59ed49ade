"""Two-process data-parallel training (torchrun, gloo on CPU) against one process with the same global batch."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import tiny_config
from posekit.config import save_config
from posekit.checkpoint import load_checkpoint
from posekit.training.distributed import DistInfo, rank_slice
from posekit.training.run import train


def test_rank_slices_partition_every_global_batch():
    order = list(range(20))
    a, b = (rank_slice(order, 8, DistInfo(r, 2)) for r in (0, 1))
    assert a == [0, 1, 2, 3, 8, 9, 10, 11, 16, 17] and b == [4, 5, 6, 7, 12, 13, 14, 15, 18, 19]
    with pytest.raises(ValueError, match="not divisible"):
        rank_slice(order, 7, DistInfo(0, 2))


needs_torchrun = pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None,
                                    reason="torchrun not installed next to this Python")


def _config(tmp_path, name, synthetic_root, **train_kw):
    """A tiny run config without augmentation (every joint stays in the crop), saved as NAME.yaml."""
    cfg = tiny_config(tmp_path / name, synthetic_root, **train_kw)
    cfg.data.augment.enabled = False
    save_config(cfg, tmp_path / f"{name}.yaml")
    return cfg


def _torchrun_train(tmp_path, name, nproc, *args):
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    subprocess.run([torchrun, "--standalone", "--nproc_per_node", str(nproc), "-m", "posekit", "train",
                    str(tmp_path / f"{name}.yaml"), "--no-progress", *args], check=True, capture_output=True,
                   timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


def _losses(run_dir):
    with open(run_dir / "steps.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


@needs_torchrun
def test_two_gloo_processes_match_one_process_and_resume(tmp_path, synthetic_root):
    # BatchNorm statistics are per process on CPU (SyncBatchNorm is CUDA-only), so the comparison
    # uses running statistics (train.freeze_bn); augmentation off so every joint is in the crop and
    # the per-process loss normalisers are equal. The two-process run stops after epoch 1 and is
    # resumed under torchrun for epoch 2; the single process runs both epochs at once.
    common = dict(epochs=1, freeze_bn="true", batch_size=4, iters_per_epoch=3, num_threads=1)
    train(_config(tmp_path, "single", synthetic_root, **{**common, "epochs": 2}), progress=False)
    _config(tmp_path, "multi", synthetic_root, **common)
    _torchrun_train(tmp_path, "multi", 2)
    _torchrun_train(tmp_path, "multi", 2, "--resume", "--set", "train.epochs=2")

    assert len(_losses(tmp_path / "multi")) == len(_losses(tmp_path / "single")) == 6
    assert _losses(tmp_path / "multi") == pytest.approx(_losses(tmp_path / "single"), rel=1e-4)
    a = load_checkpoint(tmp_path / "single" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "multi" / "last.pt")["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)  # 6 Adam steps of float drift


@needs_torchrun
def test_one_torchrun_process_takes_the_data_parallel_path(tmp_path, synthetic_root):
    # torchrun --nproc_per_node 1 joins a process group and wraps the network in DistributedDataParallel
    # (the path a one-GPU NCCL run proves); with one process its steps equal a plain run's.
    common = dict(epochs=1, batch_size=4, iters_per_epoch=2, num_threads=1)
    train(_config(tmp_path, "plain", synthetic_root, **common), progress=False)
    _config(tmp_path, "ddp", synthetic_root, **common)
    _torchrun_train(tmp_path, "ddp", 1)
    assert "data-parallel: 1 process(es), backend gloo, 4 images per process and step" in \
        (tmp_path / "ddp" / "train.log").read_text()
    assert "data-parallel" not in (tmp_path / "plain" / "train.log").read_text()
    assert len(_losses(tmp_path / "ddp")) == 2
    assert _losses(tmp_path / "ddp") == pytest.approx(_losses(tmp_path / "plain"), rel=1e-5)
