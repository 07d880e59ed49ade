"""Reproduce the seed papers' tables and figures: ``posekit reproduce TABLE [--dry-run] | --list``.

Each table is a list of ``posekit train`` / ``posekit transfer`` commands over the configs in
``configs/``. ``--list`` shows every table; ``--dry-run`` prints the commands and a rough time
estimate without training anything.

**The time is an estimate, not a measurement.** Per config: training images = epochs x (iters per
epoch x batch, or the training-set size: 22246 people for MPII's train.h5, ``synthetic_train``
for synthetic people); seconds per image = the README's measured training throughput of the
2-stack, 256-feature hourglass at 256 px on the project's 2-core CPU (1.6 img/s, channels-last),
scaled by stacks x (features / 256)^2 x (input / 256)^2. That scaling ignores per-layer overhead,
so small models run slower than it predicts (the quickstart takes about 2-3x its estimate), and
early stopping can end a run well before its epoch cap. A GPU is orders of magnitude faster: no
GPU timing is assumed here. MPII configs also need the full MPII images (see README).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
#: Measured training throughput (img/s) of the reference model on the project CPU (README).
REFERENCE_IMG_PER_S = 1.6
#: Measured training throughput (img/s) of configs/multitask/joint.yaml (VGG trunk width 32, 128 px)
#: on the project CPU: 9024 images in 1086 s including validation (docs/multitask.md); multi-task
#: estimates scale it by width^2 x input^2.
MULTITASK_IMG_PER_S = 8.3
#: People in the MPII training annotation file (Newell's train.h5).
MPII_TRAIN_PEOPLE = 22246


def _train(cfg: str) -> dict:
    return {"argv": ["train", cfg], "config": cfg, "trainings": 1}


def _transfer(split: str) -> dict:
    cfg = f"configs/kptransfer/split_{split}.yaml"
    # S1 network, then transfer / frozen / random on S2: four trainings
    return {"argv": ["transfer", "--split", split, "--config", cfg, "--out", f"runs/kptransfer_{split}"],
            "config": cfg, "trainings": 4}


#: table id -> (description, list of runs).
TABLES: dict[str, tuple[str, list[dict]]] = {
    "hourglass-optimizer": ("Stacked hourglass optimizer study (RMSprop / Adam / RAdam, batch 8 and 16)",
                            [_train(f"configs/hourglass/{n}.yaml") for n in
                             ("optim_rmsprop_bs8", "optim_rmsprop_bs16", "optim_adam_bs16", "optim_radam_bs16")]),
    "hourglass-stem": ("Stacked hourglass: Newell stem vs the reduced stem (proposed architecture)",
                       [_train("configs/hourglass/mpii_2stack.yaml"), _train("configs/hourglass/reduced_stem.yaml")]),
    "hourglass-8stack": ("Stacked hourglass: the paper's 8-stack benchmark model",
                         [_train("configs/hourglass/mpii_8stack.yaml")]),
    "pbn-table6": ("PBN Table 6: 8-stack PBN vs 8-stack deep baseline",
                   [_train("configs/pbn/mpii_8stack_pbn.yaml"), _train("configs/pbn/mpii_8stack_deep_baseline.yaml")]),
    "pbn-ablation": ("PBN ablations (Fig. 5): grouping, branch depth and width, baselines, next-stack input",
                     [_train(f"configs/pbn/{n}.yaml") for n in
                      ("group_mi5", "group_mi2", "group_mi8", "group_mi16", "group_body", "group_overlap",
                       "depth_d2", "depth_d4", "width_w32", "width_w128", "width_w256",
                       "baseline_plain", "baseline_deep", "next_stack_specific")]),
    **{f"kptransfer-table{n}": (f"KPTransfer Table {n}: joint split ({s}), transfer / frozen / random",
                                [_transfer(s)]) for n, s in zip((2, 3, 4, 5), "abcd")},
    "kptransfer-fig3": ("KPTransfer Fig. 3: val PCKh on S2 against epoch (written by each transfer run as a PNG)",
                        [_transfer(s) for s in "abcd"]),
    "multitask-table1": ("Multi-task pose + parts, Table 1: FCN32 alone, PAF stage 1 alone, joint pipeline",
                         [_train(f"configs/multitask/{n}.yaml") for n in ("fcn32", "paf_stage1", "joint")]),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = ("Time estimates are rough: training images x seconds per image, scaled from the measured "
                f"{REFERENCE_IMG_PER_S} img/s of the 2-stack 256-feature hourglass at 256 px on the project's "
                "2-core CPU by stacks x (features/256)^2 x (input/256)^2. Early stopping can end runs sooner.")
    p.add_argument("table", nargs="?", help="table id (see --list)")
    p.add_argument("--list", action="store_true", help="list every table and its configs")
    p.add_argument("--dry-run", action="store_true", help="print the commands and a rough time estimate; train nothing")


def estimate_seconds(config_path: str | Path, trainings: int = 1) -> tuple[float, str]:
    """Rough CPU training time of one config (see the module docstring); returns (seconds, how)."""
    from posekit.config import load_config

    cfg = load_config(REPO_ROOT / config_path)
    t, d, m = cfg.train, cfg.data, cfg.model
    if t.iters_per_epoch:
        per_epoch = t.iters_per_epoch * t.batch_size
    else:
        per_epoch = MPII_TRAIN_PEOPLE if d.dataset == "mpii" else d.synthetic_train
    images = t.epochs * per_epoch * trainings
    if m.name == "multitask":
        mt = cfg.multitask
        relative = (mt.trunk_width / 32) ** 2 * (d.input_size / 128) ** 2
        seconds = images * relative / MULTITASK_IMG_PER_S
        how = (f"{trainings} x {t.epochs} epochs x {per_epoch} img, VGG trunk width {mt.trunk_width} "
               f"at {d.input_size} px")
        return seconds, how
    relative = (m.num_stacks / 2) * (m.num_features / 256) ** 2 * (d.input_size / 256) ** 2
    seconds = images * relative / REFERENCE_IMG_PER_S
    how = (f"{trainings} x {t.epochs} epochs x {per_epoch} img, {m.num_stacks} stacks x {m.num_features} "
           f"features at {d.input_size} px")
    return seconds, how


def _duration(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else (f"{hours:.1f} h" if hours >= 1 else f"{math.ceil(seconds / 60)} min")


def list_tables() -> str:
    """One line per table and an indented line per config."""
    lines = []
    for name, (desc, runs) in TABLES.items():
        lines.append(f"{name}: {desc}")
        lines += [f"    posekit {' '.join(r['argv'])}" for r in runs]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.list or not args.table:
        print(list_tables())
        return 0
    if args.table not in TABLES:
        raise ValueError(f"unknown table {args.table!r}; `posekit reproduce --list` shows them")
    desc, runs = TABLES[args.table]
    print(f"{args.table}: {desc}")
    total = 0.0
    for r in runs:
        seconds, how = estimate_seconds(r["config"], r["trainings"])
        total += seconds
        print(f"  posekit {' '.join(r['argv'])}\n      ~{_duration(seconds)} on the 2-core CPU ({how})")
    print(f"estimated total: ~{_duration(total)} on the project's 2-core CPU (a rough estimate from the "
          f"measured {REFERENCE_IMG_PER_S} img/s of the 2-stack 256-feature model; see posekit reproduce --help)")
    if args.dry_run:
        return 0
    for r in runs:
        cmd = [sys.executable, "-m", "posekit", *r["argv"]]
        print("running:", " ".join(cmd), flush=True)
        code = subprocess.call(cmd, cwd=REPO_ROOT)
        if code:
            print(f"posekit reproduce: {' '.join(r['argv'])} failed with exit code {code}", file=sys.stderr)
            return code
    return 0
