"""The runs behind each table and figure of the source documents, and their time estimates
(``posekit reproduce``).

Each table is a list of ``posekit train`` / ``posekit transfer`` commands over the packaged configs.

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

import math
import subprocess
import sys
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
    cfg = f"kptransfer/split_{split}"
    # S1 network, then transfer / frozen / random on S2: four trainings
    return {"argv": ["transfer", "--split", split, "--config", cfg, "--out", f"runs/kptransfer_{split}"],
            "config": cfg, "trainings": 4}


#: table id -> (description, list of runs).
TABLES: dict[str, tuple[str, list[dict]]] = {
    "hourglass-optimizer": ("Stacked hourglass optimizer study (RMSprop / Adam / RAdam, batch 8 and 16)",
                            [_train(f"hourglass/{n}") for n in
                             ("optim_rmsprop_bs8", "optim_rmsprop_bs16", "optim_adam_bs16", "optim_radam_bs16")]),
    "hourglass-stem": ("Stacked hourglass: Newell stem vs the reduced stem (proposed architecture)",
                       [_train("hourglass/mpii_2stack"), _train("hourglass/reduced_stem")]),
    "hourglass-8stack": ("Stacked hourglass: the paper's 8-stack benchmark model",
                         [_train("hourglass/mpii_8stack")]),
    "pbn-table6": ("PBN Table 6: 8-stack PBN vs 8-stack deep baseline",
                   [_train("pbn/mpii_8stack_pbn"), _train("pbn/mpii_8stack_deep_baseline")]),
    "pbn-ablation": ("PBN ablations (Fig. 5): grouping, branch depth and width, baselines, next-stack input",
                     [_train(f"pbn/{n}") for n in
                      ("group_mi5", "group_mi2", "group_mi8", "group_mi16", "group_body", "group_overlap",
                       "depth_d2", "depth_d4", "width_w32", "width_w128", "width_w256",
                       "baseline_plain", "baseline_deep", "next_stack_specific")]),
    **{f"kptransfer-table{n}": (f"KPTransfer Table {n}: joint split ({s}), transfer / frozen / random",
                                [_transfer(s)]) for n, s in zip((2, 3, 4, 5), "abcd")},
    "kptransfer-fig3": ("KPTransfer Fig. 3: val PCKh on S2 against epoch (written by each transfer run as a PNG)",
                        [_transfer(s) for s in "abcd"]),
    "multitask-table1": ("Multi-task pose + parts, Table 1: FCN32 alone, PAF stage 1 alone, joint pipeline",
                         [_train(f"multitask/{n}") for n in ("fcn32", "paf_stage1", "joint")]),
}


def estimate_seconds(config_path: str, trainings: int = 1) -> tuple[float, str]:
    """Rough CPU training time of one config (see the module docstring); returns (seconds, how)."""
    from posekit.config import load_config

    cfg = load_config(config_path)
    t, d, m = cfg.train, cfg.data, cfg.model
    if t.iters_per_epoch:
        per_epoch = t.iters_per_epoch * t.batch_size
    else:
        per_epoch = MPII_TRAIN_PEOPLE if d.dataset == "files" else d.synthetic_train
    images = t.epochs * per_epoch * trainings
    if m.name == "multitask":
        mt = m
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


def run_table(name: str, dry_run: bool = False, log=print, seeds: list[int] | None = None) -> int:
    """Print a table's commands with time estimates and (unless ``dry_run``) run them in turn in
    the working folder; returns the first failing exit code, or 0.

    Args:
        seeds: run every command once per seed (``--seeds S ...`` of ``posekit train`` /
            ``posekit transfer``: one sub-folder per seed and the aggregate over seeds, with mean,
            standard deviation and 95% CI of every metric); the estimate is multiplied accordingly.

    Raises:
        ValueError: unknown table name, or repeated seeds.
    """
    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}; `posekit reproduce --list` shows them")
    if seeds is not None and len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    desc, runs = TABLES[name]
    if seeds:
        runs = [{**r, "argv": r["argv"] + ["--seeds", *map(str, seeds)], "trainings": r["trainings"] * len(seeds)}
                for r in runs]
    log(f"{name}: {desc}")
    total = 0.0
    for r in runs:
        seconds, how = estimate_seconds(r["config"], r["trainings"])
        total += seconds
        log(f"  posekit {' '.join(r['argv'])}\n      ~{_duration(seconds)} on the 2-core CPU ({how})")
    log(f"estimated total: ~{_duration(total)} on a 2-core CPU (a rough estimate from the measured "
        f"{REFERENCE_IMG_PER_S} img/s of the 2-stack 256-feature model; see posekit reproduce --help)")
    if dry_run:
        return 0
    for r in runs:
        cmd = [sys.executable, "-m", "posekit", *r["argv"]]
        log("running: " + " ".join(cmd))
        code = subprocess.call(cmd)
        if code:
            print(f"posekit reproduce: {' '.join(r['argv'])} failed with exit code {code}", file=sys.stderr)
            return code
    return 0
