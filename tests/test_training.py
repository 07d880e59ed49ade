"""Training loop: the loss goes down, checkpoints are atomic and loadable, resume is exact."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from conftest import tiny_config
from posekit.checkpoint import CheckpointError, load_checkpoint, remove_stale_temporaries, save_checkpoint
from posekit.config import ConfigError
from posekit.training.run import RunFolderError, train
from posekit.training.trainer import EpochSampler, Trainer


def step_losses(run_dir) -> list[float]:
    with open(run_dir / "steps.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def test_few_steps_lower_the_loss(tmp_path, synthetic_root):
    cfg = tiny_config(tmp_path / "run", synthetic_root, epochs=3, lr=3e-3)
    cfg.data.augment.enabled = False
    summary = train(cfg, progress=False)
    losses = step_losses(tmp_path / "run")
    assert len(losses) == 3 * 6 and summary["epochs_run"] == 3
    assert sum(losses[-3:]) / 3 < 0.5 * sum(losses[:3]) / 3
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert {"train_loss", "val_loss", "pckh", "pckh@0.1", "pckh_r_ankle", "pckh_l_wrist", "lr"} <= set(rows[0])
    for name in ("last.pt", "best.pt", "config.yaml", "summary.json"):
        assert (tmp_path / "run" / name).is_file()


class Interrupt(Exception):
    pass


def test_resume_after_interruption_reproduces_the_uninterrupted_run(tmp_path, synthetic_root):
    torch.set_num_threads(1)  # same reduction order in both runs
    try:
        ref = tiny_config(tmp_path / "ref", synthetic_root, epochs=2, checkpoint_every=4)
        train(ref, progress=False)
        expected = step_losses(tmp_path / "ref")

        cfg = tiny_config(tmp_path / "cut", synthetic_root, epochs=2, checkpoint_every=4)

        def stop_at_step_11(trainer, loss):  # 6 steps per epoch; last checkpoint after step 8 (mid-epoch 2)
            if trainer.state.global_step == 11:
                raise Interrupt

        with pytest.raises(Interrupt):
            Trainer(cfg, progress=False, on_step=stop_at_step_11).fit()
        assert len(step_losses(tmp_path / "cut")) == 11
        resumed = Trainer(cfg, progress=False)
        assert resumed.resume()
        assert (resumed.state.global_step, resumed.state.epoch, resumed.state.step_in_epoch) == (8, 1, 2)
        resumed.fit()
    finally:
        torch.set_num_threads(2)
    got = step_losses(tmp_path / "cut")
    assert len(got) == len(expected) == 12
    assert got == pytest.approx(expected, rel=1e-6, abs=0)
    a = load_checkpoint(tmp_path / "ref" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "cut" / "last.pt")["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-7)


def test_early_stopping_when_validation_stalls(tmp_path, synthetic_root):
    cfg = tiny_config(tmp_path / "run", synthetic_root, epochs=6, lr=0.0, early_stopping=2)
    summary = train(cfg, progress=False)
    # lr 0: epoch 1 sets the best, epochs 2 and 3 do not improve -> stop after 3 of 6
    assert summary["stopped_early"] and summary["epochs_run"] == 3 and summary["best_epoch"] == 1


def test_checkpoint_is_atomic_and_weights_only(tmp_path):
    path = tmp_path / "ck.pt"
    save_checkpoint({"model": {"w": torch.ones(2)}, "config": {}}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temporary file left behind

    class NotSerializable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        save_checkpoint({"model": NotSerializable(), "config": {}}, path)
    assert load_checkpoint(path)["model"]["w"].sum() == 2  # the old file survived the failed write
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="ck.pt: not a readable posekit checkpoint"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_stale_temporaries_of_interrupted_writes_are_removed(tmp_path, synthetic_root):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("last.pt.abc123.tmp", "best.pt.x.tmp"):
        (run / name).write_bytes(b"partial")
    (run / "notes.tmp").write_text("kept: not a checkpoint temporary")
    assert sorted(p.name for p in remove_stale_temporaries(run)) == ["best.pt.x.tmp", "last.pt.abc123.tmp"]
    (run / "last.pt.def.tmp").write_bytes(b"partial")
    train(tiny_config(run, synthetic_root, epochs=1), progress=False)
    assert not list(run.glob("*.pt.*.tmp")) and (run / "notes.tmp").is_file()


def test_epoch_sampler_is_reproducible_and_resumable():
    s = EpochSampler(10, 25, seed=3)
    s.set_epoch(2)
    full = list(s)
    assert len(full) == 25 and sorted(full[:10]) == list(range(10))
    s.set_epoch(2, start=7)
    assert list(s) == full[7:] and len(s) == 18
    s.set_epoch(3)
    assert list(s) != full


def test_float16_autocast_trains_through_the_grad_scaler_and_resumes_its_state(tmp_path, synthetic_root):
    # AMP runs on CUDA only; on the CPU the same code path is exercised by switching it on by hand
    cfg = tiny_config(tmp_path / "run", synthetic_root, epochs=1)
    trainer = Trainer(cfg, progress=False)
    assert trainer.amp_dtype is None and not trainer.scaler.is_enabled()
    trainer.amp_dtype = torch.float16
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    summary = trainer.fit()
    assert summary["global_step"] == 6 and all(math.isfinite(x) for x in step_losses(tmp_path / "run"))
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))
    saved = load_checkpoint(tmp_path / "run" / "last.pt")["scaler"]
    assert saved["scale"] == trainer.scaler.get_scale() and saved["_growth_tracker"] == 6  # no inf step
    resumed = Trainer(cfg, progress=False)
    resumed.scaler = torch.amp.GradScaler("cpu")
    assert resumed.resume() and resumed.scaler.get_scale() == saved["scale"]


def test_unknown_amp_dtype_is_an_error(tmp_path, synthetic_root):
    with pytest.raises(ConfigError, match="train.amp_dtype: 'float8' is not one of bfloat16, float16"):
        tiny_config(tmp_path / "run", synthetic_root, amp_dtype="float8")


def test_a_folder_holding_a_run_is_refused_without_resume_or_overwrite(tmp_path, synthetic_root):
    cfg = tiny_config(tmp_path / "run", synthetic_root, epochs=1)
    train(cfg, progress=False)
    before = (tmp_path / "run" / "last.pt").read_bytes()
    with pytest.raises(RunFolderError, match="already holds a run.*--resume.*--overwrite"):
        train(cfg, progress=False)
    assert (tmp_path / "run" / "last.pt").read_bytes() == before
    assert train(cfg, progress=False, overwrite=True)["epochs_run"] == 1
