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


@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None,
                    reason="torchrun not installed next to this Python")
def test_two_gloo_processes_match_one_process_and_resume(tmp_path, synthetic_root):
    # BatchNorm statistics are per process on CPU (SyncBatchNorm is CUDA-only), so the comparison
    # uses running statistics (train.freeze_bn); augmentation off so every joint is in the crop and
    # the per-process loss normalisers are equal. The two-process run stops after epoch 1 and is
    # resumed under torchrun for epoch 2; the single process runs both epochs at once.
    common = dict(epochs=1, freeze_bn="true", batch_size=4, iters_per_epoch=3, num_threads=1)
    single = tiny_config(tmp_path / "single", synthetic_root, **{**common, "epochs": 2})
    single.data.augment.enabled = False
    train(single, progress=False)

    multi = tiny_config(tmp_path / "multi", synthetic_root, **common)
    multi.data.augment.enabled = False
    save_config(multi, tmp_path / "multi.yaml")
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "posekit", "train",
               str(tmp_path / "multi.yaml"), "--no-progress"]
    subprocess.run(command, check=True, env=env, capture_output=True, timeout=300)
    subprocess.run(command + ["--resume", "--set", "train.epochs=2"], check=True, env=env, capture_output=True,
                   timeout=300)

    def losses(run):
        with open(tmp_path / run / "steps.csv") as f:
            return [float(r["loss"]) for r in csv.DictReader(f)]

    assert len(losses("multi")) == len(losses("single")) == 6
    assert losses("multi") == pytest.approx(losses("single"), rel=1e-4)
    a = load_checkpoint(tmp_path / "single" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "multi" / "last.pt")["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)  # 6 Adam steps of float drift


@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None,
                    reason="torchrun not installed next to this Python")
def test_one_torchrun_process_takes_the_data_parallel_path(tmp_path, synthetic_root):
    # torchrun --nproc_per_node 1 joins a process group and wraps the network in DistributedDataParallel
    # (the path a one-GPU NCCL run proves); with one process its steps equal a plain run's.
    common = dict(epochs=1, batch_size=4, iters_per_epoch=2, num_threads=1)
    plain = tiny_config(tmp_path / "plain", synthetic_root, **common)
    plain.data.augment.enabled = False
    train(plain, progress=False)
    ddp = tiny_config(tmp_path / "ddp", synthetic_root, **common)
    ddp.data.augment.enabled = False
    save_config(ddp, tmp_path / "ddp.yaml")
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    subprocess.run([torchrun, "--standalone", "--nproc_per_node", "1", "-m", "posekit", "train",
                    str(tmp_path / "ddp.yaml"), "--no-progress"], check=True, capture_output=True, timeout=300,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert "data-parallel: 1 process(es), backend gloo, 4 images per process and step" in \
        (tmp_path / "ddp" / "train.log").read_text()
    assert "data-parallel" not in (tmp_path / "plain" / "train.log").read_text()

    def losses(run):
        with open(tmp_path / run / "steps.csv") as f:
            return [float(r["loss"]) for r in csv.DictReader(f)]

    assert len(losses("ddp")) == 2 and losses("ddp") == pytest.approx(losses("plain"), rel=1e-5)
