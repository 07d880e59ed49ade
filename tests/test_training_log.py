"""Training that talks: one line per epoch on the console and in train.log, no progress bars in a
non-terminal log, the run folder at start and end, TensorBoard, fine-tuning (init_from), AdamW and
the cosine schedule with warm-up."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import pytest
import torch

from conftest import tiny_config
from posekit.config import load_config, save_config
from posekit.training.optim import build_optimizer, build_scheduler, current_lr
from posekit.training.run import train

EPOCH_LINE = re.compile(r"^epoch (\d+)/2 \| train loss [0-9.e+-]+ \| val loss [0-9.e+-]+ \| val PCKh [0-9.]+ \| "
                        r"lr [0-9.e+-]+ \| time \d+:\d\d \| ETA \d+:\d\d \| (.+)$")


def test_epoch_lines_on_the_console_and_in_train_log(tmp_path, synthetic_root):
    cfg = tiny_config(tmp_path / "run", synthetic_root, epochs=2)
    save_config(cfg, tmp_path / "tiny.yaml")
    proc = subprocess.run([sys.executable, "-m", "posekit", "train", str(tmp_path / "tiny.yaml")],
                          capture_output=True, text=True)            # not a terminal: no progress bars
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    epochs = [m for m in map(EPOCH_LINE.match, lines) if m]
    assert [int(m.group(1)) for m in epochs] == [1, 2] and epochs[0].group(2) == str(tmp_path / "run")
    assert "\r" not in proc.stderr and "it/s" not in proc.stderr                 # no tqdm output
    assert lines[0] == f"training {cfg.name} (hourglass) in {tmp_path / 'run'}"
    assert lines[-1].startswith("finished after 2 epochs") and str(tmp_path / "run") in lines[-1]
    log = (tmp_path / "run" / "train.log").read_text().splitlines()
    assert sum(bool(EPOCH_LINE.match(line.split(" INFO ", 1)[-1])) for line in log) == 2


def test_tensorboard_writes_the_epoch_scalars(tmp_path, synthetic_root):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(tiny_config(tmp_path / "run", synthetic_root, epochs=2, tensorboard=True), progress=False)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert {"train_loss", "val_loss", "pckh", "lr"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("train_loss")] == [1, 2]


def test_init_from_loads_matching_weights_and_names_the_rest(tmp_path, synthetic_root, tiny_run, caplog):
    """A 16-joint checkpoint initialises a 5-joint network: every trunk tensor is copied, the heads
    (another output size) keep their initialisation and are named in the log."""
    import logging

    from posekit.checkpoint import load_checkpoint

    cfg = tiny_config(tmp_path / "ft", synthetic_root, epochs=1, lr=0.0, init_from=str(tiny_run / "best.pt"),
                      data={"joints": "[0, 1, 4, 5, 9]"})
    cfg.data.augment.flip = False
    with caplog.at_level(logging.INFO, logger="posekit"):
        train(cfg, progress=False)
    source = load_checkpoint(tiny_run / "best.pt")["model"]
    tuned = load_checkpoint(tmp_path / "ft" / "last.pt")["model"]
    other = [k for k in tuned if tuned[k].shape != source[k].shape]   # the 5-joint heads and heat-map remap
    assert sorted(other) == ["stacks.heads.0.conv.bias", "stacks.heads.0.conv.weight", "stacks.heads.1.conv.bias",
                             "stacks.heads.1.conv.weight", "stacks.remap_heatmaps.0.weight"]
    same = [k for k in tuned if k not in other and "num_batches_tracked" not in k and "running" not in k]
    assert all(torch.equal(tuned[k], source[k]) for k in same)      # lr 0: the copied weights stay as loaded
    message = next(r.getMessage() for r in caplog.records if "initialised from" in r.getMessage())
    assert f"{len(tuned) - len(other)} of {len(tuned)} tensors loaded" in message
    assert "stacks.heads.0.conv.weight (shape (16, 16, 1, 1), model (5, 16, 1, 1))" in message
    with pytest.raises(FileNotFoundError):
        train(tiny_config(tmp_path / "bad", synthetic_root, init_from=str(tmp_path / "none.pt")), progress=False)


def test_adamw_and_cosine_with_warmup():
    cfg = load_config(None, ["train.optimizer=adamw", "train.weight_decay=0.05", "train.lr=0.1",
                             "train.scheduler=cosine", "train.warmup_epochs=2", "train.min_lr=0.01",
                             "train.epochs=6"]).train
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(1))], cfg)
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["weight_decay"] == 0.05
    sched = build_scheduler(opt, cfg)
    lrs = []
    for _ in range(6):
        lrs.append(current_lr(opt))
        opt.step()
        sched.step()
    # warm-up 0.05, 0.1; then cosine from 0.1 down to 0.01 over epochs 2..5
    expected = [0.05, 0.1] + [0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * k / 3)) for k in range(4)]
    assert lrs == pytest.approx(expected)
