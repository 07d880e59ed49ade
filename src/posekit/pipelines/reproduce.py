"""The runs behind each table and figure of the source documents, their time estimates and their
results beside the paper's numbers (``posekit reproduce``).

**Targets.** One per table or figure of the five source documents: every entry of the paper-table
files (:mod:`posekit.pipelines.paper_tables`, ``posekit/assets/paper_tables/*.yaml``), plus the PBN
targets below for any PBN item no such file describes yet. Each target's runs are ``posekit train``
(or, for ``kptransfer/`` configs, ``posekit transfer``) commands over packaged configs.

**Time estimates are estimates, not measurements.** CPU, per config: training images = epochs x
(iters per epoch x batch, or the training-set size: 22246 people for MPII's train.h5,
``synthetic_train`` for synthetic people); seconds per image = the README's measured training
throughput of the 2-stack, 256-feature hourglass at 256 px on the project's 2-core CPU (1.6 img/s,
channels-last), scaled by stacks x (features / 256)^2 x (input / 256)^2. That scaling ignores
per-layer overhead, so small models run slower than it predicts (the quickstart takes about 2-3x
its estimate), and early stopping can end a run well before its epoch cap.

GPU: **an assumption, no GPU was measured here.** Basis: Rockwell, Cortez & Huang (Sec. 1 and 5)
state that an 8-stack hourglass run took about three days, as Newell et al.'s did on one Titan X.
posekit takes that as 100 epochs of MPII's 22246 training people in 72 h for the 8-stack,
256-feature model at 256 px (8.6 img/s), i.e. :data:`GPU_REFERENCE_IMG_PER_S` for the 2-stack
reference model, and applies the same ratio to every CPU estimate. A current GPU is likely faster.
MPII configs also need the full MPII images (see README).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: Measured training throughput (img/s) of the reference model on the project CPU (README).
REFERENCE_IMG_PER_S = 1.6
#: Measured training throughput (img/s) of configs/multitask/joint.yaml (VGG trunk width 32, 128 px)
#: on the project CPU: 9024 images in 1086 s including validation (docs/multitask.md); multi-task
#: estimates scale it by width^2 x input^2.
MULTITASK_IMG_PER_S = 8.3
#: People in the MPII training annotation file (Newell's train.h5).
MPII_TRAIN_PEOPLE = 22246
#: ASSUMED GPU throughput (img/s) of the reference model (2-stack, 256 features, 256 px): 4 x the
#: 8-stack rate of 100 epochs x 22246 people in three days (see the module docstring).
GPU_REFERENCE_IMG_PER_S = 4 * 100 * MPII_TRAIN_PEOPLE / (3 * 24 * 3600)
#: The PBN paper's file name in the source documents.
PBN_DOCUMENT = "003_a73aed17e0b777a4.txt"


def _train(cfg: str) -> dict:
    return {"argv": ["train", cfg], "config": cfg, "trainings": 1}


def _transfer_split(cfg: str) -> str:
    from posekit.config import load_config

    return load_config(cfg).transfer.split


def _transfer(cfg: str) -> dict:
    split = _transfer_split(cfg)
    # S1 network, then transfer / frozen / random on S2: four trainings
    return {"argv": ["transfer", "--split", split, "--config", cfg, "--out", f"runs/kptransfer_{split}"],
            "config": cfg, "trainings": 4}


def command_for(config: str) -> dict:
    """The run of one packaged config: ``posekit transfer`` for ``kptransfer/`` configs, else ``posekit train``."""
    return _transfer(config) if config.startswith("kptransfer/") else _train(config)


#: PBN targets (Tang & Wu 2019) used until a paper-table file describes these items.
PBN_TARGETS: dict[str, dict] = {
    "pbn-table6": {"item": "Table 6", "title": "8-stack PBN vs 8-stack deep baseline",
                   "configs": ["pbn/mpii_8stack_pbn", "pbn/mpii_8stack_deep_baseline"]},
    "pbn-ablation": {"item": "Fig. 5", "title": "Ablations: grouping, branch depth and width, baselines, next-stack input",
                     "configs": [f"pbn/{n}" for n in
                                 ("group_mi5", "group_mi2", "group_mi8", "group_mi16", "group_body", "group_overlap",
                                  "depth_d2", "depth_d4", "width_w32", "width_w128", "width_w256",
                                  "baseline_plain", "baseline_deep", "next_stack_specific")]},
}


@dataclass
class Target:
    """One reproduce target: a table or figure of a source document and the configs behind it."""

    name: str
    document: str
    item: str
    title: str
    configs: list[str]
    table: object = None            # its posekit.pipelines.paper_tables.PaperTable, when a file describes it

    def runs(self) -> list[dict]:
        """The commands, one per config."""
        return [command_for(c) for c in self.configs]


def targets() -> dict[str, Target]:
    """Every target: the paper-table files' items, then the PBN targets no file covers (by name or
    by document and item).

    Raises:
        posekit.pipelines.paper_tables.PaperTableError: a malformed paper-table file.
    """
    from posekit.pipelines.paper_tables import load_paper_tables

    out = {t.name: Target(t.name, t.document, t.item, t.title, t.configs, t) for t in load_paper_tables()}
    covered = {(t.document, t.item) for t in out.values()}
    for name, t in PBN_TARGETS.items():
        if name not in out and (PBN_DOCUMENT, t["item"]) not in covered:
            out[name] = Target(name, PBN_DOCUMENT, t["item"], t["title"], list(t["configs"]))
    return out


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


def gpu_seconds(cpu_seconds: float) -> float:
    """The ASSUMED GPU time of a run whose CPU estimate is ``cpu_seconds`` (module docstring)."""
    return cpu_seconds * REFERENCE_IMG_PER_S / GPU_REFERENCE_IMG_PER_S


def list_targets() -> list[dict]:
    """``[{"name", "document", "item", "configs"}, ...]``, one per target (``--list --json``)."""
    return [{"name": t.name, "document": t.document, "item": t.item, "configs": list(t.configs)}
            for t in targets().values()]


def list_tables() -> str:
    """One line per target and an indented line per command."""
    lines = []
    for t in targets().values():
        lines.append(f"{t.name}: {t.item} of {t.document}: {t.title}")
        lines += [f"    posekit {' '.join(r['argv'])}" for r in t.runs()] or ["    (no runs: nothing to reproduce)"]
    return "\n".join(lines)


def _target(name: str) -> Target:
    all_targets = targets()
    if name not in all_targets:
        raise ValueError(f"unknown table {name!r}; `posekit reproduce --list` shows them")
    return all_targets[name]


def run_table(name: str, dry_run: bool = False, log=print, seeds: list[int] | None = None) -> int:
    """Print a target's commands with CPU and (assumed) GPU time estimates and, unless ``dry_run``,
    run them in turn in the working folder; returns the first failing exit code, or 0.

    Args:
        seeds: run every command once per seed (``--seeds S ...`` of ``posekit train`` /
            ``posekit transfer``: one sub-folder per seed and the aggregate over seeds, with mean,
            standard deviation and 95% CI of every metric); the estimate is multiplied accordingly.

    Raises:
        ValueError: unknown target name, or repeated seeds.
    """
    t = _target(name)
    if seeds is not None and len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    runs = t.runs()
    if seeds:
        runs = [{**r, "argv": r["argv"] + ["--seeds", *map(str, seeds)], "trainings": r["trainings"] * len(seeds)}
                for r in runs]
    log(f"{name}: {t.item} of {t.document}: {t.title}")
    if not runs:
        log("  no runs: the document prints nothing posekit trains for this item")
        return 0
    total = 0.0
    for r in runs:
        seconds, how = estimate_seconds(r["config"], r["trainings"])
        total += seconds
        log(f"  posekit {' '.join(r['argv'])}\n      ~{_duration(seconds)} on the 2-core CPU, "
            f"~{_duration(gpu_seconds(seconds))} on one GPU (assumed) ({how})")
    log(f"estimated total: ~{_duration(total)} on a 2-core CPU (a rough estimate from the measured "
        f"{REFERENCE_IMG_PER_S} img/s of the 2-stack 256-feature model), ~{_duration(gpu_seconds(total))} on one GPU "
        f"(an assumption, not a measurement: {GPU_REFERENCE_IMG_PER_S:.1f} img/s for that model, from the three "
        "days per 8-stack run the hourglass re-implementation reports); see posekit reproduce --help")
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


# ------------------------------------------------------------------------------------ results
#: Columns of the posekit rows of a figure whose document prints no numbers.
FIGURE_COLUMNS = ["epochs", "best val PCKh@0.5", "final train loss", "final val loss"]


def run_folder(config: str, runs_dir: str | Path) -> Path:
    """Where a config's run lives under ``runs_dir``: ``kptransfer_<split>`` for KPTransfer
    configs, else the last part of its ``train.output_dir``."""
    from posekit.config import load_config

    if config.startswith("kptransfer/"):
        return Path(runs_dir) / f"kptransfer_{_transfer_split(config)}"
    return Path(runs_dir) / Path(load_config(config).train.output_dir).name


def _best(rows: list[dict]) -> dict:
    scored = [r for r in rows if math.isfinite(r.get("pckh", math.nan))]
    return max(scored, key=lambda r: r["pckh"]) if scored else (rows[-1] if rows else {})


#: Hyperparameter columns a config answers (Table II of the reduced-stem report): column -> train field.
CONFIG_COLUMNS = {"optimizer": "optimizer", "batch size": "batch_size", "number of epochs": "epochs",
                  "learning rate": "lr"}


def column_kind(column: str) -> str | None:
    """What posekit measures for a paper column: ``"pckh"`` (a PCKh table row or the mean),
    ``"loss"`` ("Loss after N epochs"), ``"config"`` (a hyperparameter), or None."""
    from posekit.evaluation.pckh import TABLE_ROWS

    key = column.lower().strip()
    if key in TABLE_ROWS or key.rstrip("s") in TABLE_ROWS or key in ("total", "mean", "average"):
        return "pckh"
    if re.fullmatch(r"loss after \d+ epochs", key):
        return "loss"
    return "config" if key in CONFIG_COLUMNS else None


def _column_value(column: str, rows: list[dict]):
    """posekit's value of a ``pckh`` / ``loss`` column from a run's ``metrics.csv`` rows: the PCKh
    row (left/right averaged) or mean at the best epoch, or the training loss after N epochs."""
    from posekit.evaluation.pckh import TABLE_ROWS
    from posekit.keypoints import MPII

    key = column.lower().strip()
    best = _best(rows)
    row = key if key in TABLE_ROWS else key.rstrip("s")
    if row in TABLE_ROWS:
        vals = [best.get(f"pckh_{MPII.names[j]}", math.nan) for j in MPII.table_rows()[row]]
        vals = [v for v in vals if math.isfinite(v)]
        return sum(vals) / len(vals) if vals else None
    if key in ("total", "mean", "average"):
        return best.get("pckh")
    epoch = int(key.split()[2])
    return next((r.get("train_loss") for r in rows if int(r["epoch"]) == epoch), None)


def _figure_values(rows: list[dict]) -> list:
    best = _best(rows)
    last = rows[-1] if rows else {}
    return [len(rows), best.get("pckh"), last.get("train_loss"), last.get("val_loss")]


def measured_rows(t: Target, runs_dir: str | Path = "runs") -> tuple[list[tuple[str, list | None]], list[str] | None]:
    """posekit's rows for a target from the run folders under ``runs_dir`` (None values: not run).

    KPTransfer Tables 2-5: the transfer / frozen / random rows of ``kptransfer_<split>/pckh_s2.json``.
    Tables with PCKh or loss columns: one row per config from its ``metrics.csv``. Hyperparameter
    tables: each config's values. Figures without printed numbers: epochs, best PCKh and final
    losses per config (:data:`FIGURE_COLUMNS`). Items posekit measures nothing for: no rows.

    Returns:
        ``(rows, columns)``: ``columns`` is None when the rows follow the paper's columns.
    """
    from posekit.config import load_config
    from posekit.viz.plots import read_metrics

    columns = t.table.columns if t.table is not None else []
    if re.fullmatch(r"kptransfer-table[2-5]", t.name):
        from posekit.training.transfer import MODES

        path = run_folder(t.configs[0], runs_dir) / "pckh_s2.json"
        report = json.loads(path.read_text()) if path.is_file() else None
        return [(f"posekit {mode}", [report["configurations"][mode]["table"].get(c.lower()) for c in columns]
                 if report else None) for mode in MODES], None
    kinds = [column_kind(c) for c in columns]
    configs = [c for c in t.configs if not c.startswith("kptransfer/")]
    if columns and all(k == "config" for k in kinds):
        return [(f"posekit {c} (config)", [getattr(load_config(c).train, CONFIG_COLUMNS[col.lower()])
                                            for col in columns]) for c in configs], None
    if columns and not any(k in ("pckh", "loss") for k in kinds):
        return [], None
    rows = []
    for config in configs:
        path = run_folder(config, runs_dir) / "metrics.csv"
        data = read_metrics(path) if path.is_file() else None
        if not data:
            rows.append((f"posekit {config}", None))
        elif columns:
            rows.append((f"posekit {config}", [_column_value(c, data) if k in ("pckh", "loss") else None
                                               for c, k in zip(columns, kinds)]))
        else:
            rows.append((f"posekit {config}", _figure_values(data)))
    return rows, (None if columns else FIGURE_COLUMNS)


def report_table(name: str, runs_dir: str | Path = "runs") -> str:
    """The target's paper numbers with posekit's results beside them (``posekit reproduce NAME --report``).

    Raises:
        ValueError: unknown target name.
    """
    from posekit.pipelines.paper_tables import render_table

    t = _target(name)
    rows, columns = measured_rows(t, runs_dir)
    if t.table is None:
        header = f"{t.item} ({t.document}): {t.title}\n\nNo paper-table file describes this item yet.\n\n"
        lines = [f"| {label} | " + " | ".join("not run" if v is None else str(v) for v in (vals or [None])) + " |"
                 for label, vals in rows]
        return (header + "| run | " + " | ".join(FIGURE_COLUMNS) + " |\n" + "|---" * (len(FIGURE_COLUMNS) + 1) + "|\n"
                + "\n".join(lines) + "\n")
    text = render_table(t.table, rows, columns)
    return text + f"\nruns read from {Path(runs_dir)}/ (\"not run\": no results there yet)\n"


def _fig3(t: Target, runs_dir: Path, out: Path) -> Path:
    from posekit.pipelines.kptransfer import plot_fig3

    panels = {f"split ({_transfer_split(c)})": run_folder(c, runs_dir) for c in t.configs}
    return plot_fig3(panels, out)


def _loss_panels(groups: dict[str, list[int]], key: str, x: str):
    def plot(t: Target, runs_dir: Path, out: Path) -> Path:
        from posekit.viz.plots import plot_metric_panels

        panels = {title: {t.configs[i].split("/")[-1]: run_folder(t.configs[i], runs_dir) for i in idx}
                  for title, idx in groups.items()}
        return plot_metric_panels(panels, out, key=key, x=x)
    return plot


#: Figure targets with a plot: name -> function(target, runs_dir, out_png).
PLOTS = {
    "kptransfer-fig3": _fig3,
    # Figs. 2-4 of the reduced-stem report: models 1-4; models 1 and 5 (RMSprop); models 3 and 6 (Adam)
    "reduced-stem-figs2-4": _loss_panels({"Fig. 2: optimizers, original network": [0, 1, 2, 3],
                                          "Fig. 3: original vs reduced, RMSprop": [0, 4],
                                          "Fig. 4: original vs reduced, Adam": [2, 5]}, "train_loss", "epoch"),
    "hourglass-reimpl-fig8": _loss_panels({"Fig. 8: validation loss": [0, 1, 2, 3, 4]}, "val_loss", "iteration"),
}


def plot_target(name: str, out: str | Path, runs_dir: str | Path = "runs") -> Path:
    """Draw a figure target from the runs under ``runs_dir`` into ``out`` (PNG).

    Raises:
        ValueError: unknown target, or one without a plot (:data:`PLOTS` lists those with one).
    """
    t = _target(name)
    if name not in PLOTS:
        raise ValueError(f"{name} has no plot; targets with one: {', '.join(PLOTS)}")
    return PLOTS[name](t, Path(runs_dir), Path(out))
