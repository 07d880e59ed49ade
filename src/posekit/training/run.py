"""Starting and resuming a training run: the trainer of each model family, and the checks that
keep a run folder intact.

:func:`train` is what ``posekit train`` calls. A new run refuses a folder that already holds one
(``last.pt``) unless asked to overwrite it; ``resume=True`` continues the run from its own saved
``config.yaml`` and ``last.pt``, after checking that the requested config changes nothing that
would make the checkpoint meaningless (model, data, optimiser): every check happens before
anything in the folder is written.
"""

from __future__ import annotations

from pathlib import Path

import copy

import yaml

from posekit.config import Config, MultiTaskConfig, apply_overrides, config_diff, config_from_dict, config_to_dict
from posekit.training.multitask import MultiTaskTrainer
from posekit.training.trainer import Trainer

__all__ = ["RunFolderError", "make_trainer", "resume_config", "train", "train_seeds", "seed_dir", "seed_config",
           "RESUMABLE_CHANGES", "SEED_PREFIX"]

#: Sub-folder name of one seed's run in a multi-seed folder: ``seed_<seed>``.
SEED_PREFIX = "seed_"

#: Config keys a resumed run may change (everything else must match the run's saved config).
RESUMABLE_CHANGES = ("name", "train.epochs", "train.early_stopping", "train.val_every", "train.checkpoint_every",
                     "train.num_threads", "train.device", "eval.batch_size", "eval.flip_test", "eval.scales",
                     "eval.val_flip_test", "data.num_workers")


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (it holds a run, or a resume would not fit)."""


def make_trainer(cfg: Config, progress: bool = True, on_step=None) -> Trainer:
    """The trainer of ``cfg.model``'s family: :class:`MultiTaskTrainer` for the multi-task network,
    the plain :class:`Trainer` for the heat-map families (hourglass, PBN, PBN baselines)."""
    cls = MultiTaskTrainer if isinstance(cfg.model, MultiTaskConfig) else Trainer
    return cls(cfg, progress=progress, on_step=on_step)


def resume_config(run_dir: str | Path, overrides: list[str] | None = None) -> Config:
    """The config a resumed run continues with: the run's saved ``config.yaml`` with ``overrides``
    (``key=value`` as on the command line) applied, which may only touch :data:`RESUMABLE_CHANGES`
    (and ``train.output_dir``). The config file a command names is not used: the run keeps the
    config it was started with, including PBN groups it resolved then.

    Raises:
        RunFolderError: no saved config, or an override changes another key (they are listed).
    """
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise RunFolderError(f"{run_dir}: no config.yaml to resume from (is this a posekit run folder?)")
    saved = yaml.safe_load(path.read_text()) or {}
    have = config_to_dict(config_from_dict(saved, where=str(path)))
    new = config_from_dict(apply_overrides(copy.deepcopy(have), overrides), where=f"{path} with --set")
    changed = [k for k in config_diff(have, config_to_dict(new)) if k not in RESUMABLE_CHANGES + ("train.output_dir",)]
    if changed:
        raise RunFolderError(f"{run_dir}: cannot resume with changed {', '.join(changed)} (the run was trained "
                             f"with the values in {path}); resume without those --set, or start a new run in "
                             "another folder (--output-dir)")
    new.train.output_dir = str(run_dir)
    return new


def train(cfg: Config, resume: bool = False, progress: bool = True, overwrite: bool = False,
          overrides: list[str] | None = None) -> dict:
    """Train ``cfg`` into ``cfg.train.output_dir``; returns the run's summary.

    Args:
        resume: continue the run in the folder (its saved config with ``overrides`` applied,
            :func:`resume_config`, and ``last.pt``); a folder without a run starts ``cfg`` from scratch.
        overwrite: start a new run in a folder that holds one (its checkpoints are replaced).
        overrides: the command line's ``--set`` values, checked against the run on resume.

    Raises:
        RunFolderError: the folder holds a run and neither ``resume`` nor ``overwrite`` is set, or
            the resume does not fit.
    """
    out = Path(cfg.train.output_dir)
    holds_run = (out / "last.pt").is_file()
    if resume and holds_run:
        cfg = resume_config(out, overrides)
    elif holds_run and not overwrite:
        raise RunFolderError(f"{out} already holds a run (last.pt); continue it with --resume, or replace it "
                             "with --overwrite, or choose another --output-dir")
    trainer = make_trainer(cfg, progress=progress)
    if resume and not trainer.resume():
        print(f"no checkpoint in {trainer.out}; starting from scratch")
    return trainer.fit()


def seed_dir(folder: str | Path, seed: int) -> Path:
    """The run folder of ``seed`` inside a multi-seed folder: ``folder/seed_<seed>``."""
    return Path(folder) / f"{SEED_PREFIX}{int(seed)}"


def seed_config(cfg: Config, seed: int, folder: str | Path | None = None) -> Config:
    """A copy of ``cfg`` for one seed: ``train.seed = seed`` and its output in
    :func:`seed_dir` of ``folder`` (default ``cfg.train.output_dir``)."""
    out = copy.deepcopy(cfg)
    out.train.seed = int(seed)
    out.train.output_dir = str(seed_dir(folder if folder is not None else cfg.train.output_dir, seed))
    return out


def check_seeds(seeds) -> list[int]:
    """``seeds`` as a list of distinct ints.

    Raises:
        ValueError: empty, or a seed repeated.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("give at least one seed")
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    return seeds


def train_seeds(cfg: Config, seeds, resume: bool = False, progress: bool = True, overwrite: bool = False,
                overrides: list[str] | None = None) -> dict[int, dict]:
    """One training of ``cfg`` per seed, into ``cfg.train.output_dir/seed_<seed>`` (:func:`seed_config`).

    ``train.seed`` sets the network's initialisation, the data order and the augmentation; the data
    itself (for synthetic people: ``data.synthetic_seed``) is the same for every seed, so the runs
    differ only by training randomness and are scored on the same validation people. Every seed
    folder is checked (as :func:`train` would) before anything is trained.

    Returns:
        seed -> the run's summary.

    Raises:
        ValueError: no seed or a repeated one. RunFolderError: a seed folder holds a run and neither
            ``resume`` nor ``overwrite`` is set (all such folders are named).
    """
    seeds = check_seeds(seeds)
    configs = {s: seed_config(cfg, s) for s in seeds}
    if not (resume or overwrite):
        taken = [c.train.output_dir for c in configs.values() if (Path(c.train.output_dir) / "last.pt").is_file()]
        if taken:
            raise RunFolderError(f"{', '.join(taken)} already hold a run (last.pt); continue with --resume, replace "
                                 "with --overwrite, or choose another --output-dir")
    return {s: train(c, resume=resume, progress=progress, overwrite=overwrite, overrides=overrides)
            for s, c in configs.items()}
