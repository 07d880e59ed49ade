"""The KPTransfer experiment of one joint split and its report (Vats et al. 2019, Sec. 3-4).

:func:`run_kptransfer` trains, into one folder, the S1 network (``s1/``) and the three
configurations on S2 (``transfer/``, ``frozen/``, ``random/``; see :mod:`posekit.training.transfer`),
then writes the report (:func:`write_report`): ``pckh_s2.md`` / ``pckh_s2.json`` (PCKh@0.5 on S2 in
the layout of Tables 2-5: the columns the paper shows for the split and their plain Average) and
``convergence.png`` (Fig. 3: validation PCK against epoch, transfer vs random).
:func:`run_kptransfer_seeds` repeats it per training seed and reports over seeds
(:func:`write_seeds_report`).

**Fig. 3's metric.** Sec. 4 says the validation curves of Fig. 3 use "the PCK metric [25]", Yang &
Ramanan (TPAMI 2013): a joint is correct within ``alpha * max(h, w)`` of the person's bounding box.
The paper states neither ``alpha`` nor the box; posekit logs ``pck_bbox`` every epoch
(:func:`posekit.evaluation.pck.pck_bbox`, ``alpha = 0.1``, box around all annotated joints, scored
on S2) and plots that.

**Convergence** (posekit's definition, used for the "epochs to convergence" report): the first
epoch whose validation PCKh@0.5 mean on S2 reaches ``CONVERGENCE_FRACTION`` (95%) of the best
validation PCKh@0.5 mean that run reached.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

from posekit.config import Config
from posekit.evaluation.pckh import TABLE_ROWS
from posekit.evaluation.statistics import finite_or_none, seed_summary, welch_comparison
from posekit.keypoints import MPII
from posekit.models.registry import create_model
from posekit.pipelines.seeds import best_row, find_seed_runs
from posekit.training.run import SEED_PREFIX, RunFolderError, check_seeds, make_trainer, seed_config, seed_dir
from posekit.training.trainer import Trainer
from posekit.training.transfer import MODES, TransferTrainer, resolve_split, split_stacks
from posekit.viz.plots import plot_band, plt, read_metrics, save_figure

#: Fraction of a run's best validation PCKh that defines convergence (see the module docstring).
CONVERGENCE_FRACTION = 0.95

#: The S2 columns Tables 2-5 of Vats et al. (2019) show per split (rows of ``TABLE_ROWS``); the
#: Average column is their plain mean.
PAPER_COLUMNS: dict[str, tuple[str, ...]] = {
    "a": ("elbow", "wrist", "knee", "ankle"),
    "b": ("wrist", "knee", "ankle"),
    "c": ("wrist", "hip", "ankle"),
    "d": ("head", "elbow", "knee"),
}
#: The table of each split.
PAPER_TABLES: dict[str, str] = {"a": "Table 2", "b": "Table 3", "c": "Table 4", "d": "Table 5"}
#: The configurations Fig. 3 compares.
FIG3_MODES: tuple[str, ...] = ("transfer", "random")


def table_columns(split: str | None, s2_ids) -> tuple[str, ...]:
    """The ``TABLE_ROWS`` entries a Tables 2-5 row shows: the paper's columns for a split of Table 1
    (when S2 is that split's), otherwise every row that has a joint in S2."""
    s2_ids = tuple(s2_ids)
    if split in PAPER_COLUMNS and set(s2_ids) == set(resolve_split(split)[1]):
        return PAPER_COLUMNS[split]
    return tuple(name for name in TABLE_ROWS if any(j in s2_ids for j in MPII.table_rows()[name]))


def plain_average(values) -> float:
    """The paper's Average column: the plain mean of the shown columns (NaN if any is missing), e.g.
    Table 5, random initialisation: ``(97.1 + 87.9 + 83.3) / 3 = 89.43``, printed 89.4."""
    values = [float(v) if v is not None else math.nan for v in values]
    return sum(values) / len(values) if values and all(math.isfinite(v) for v in values) else math.nan


def _stage_config(cfg: Config, output_dir: Path, joints: tuple[int, ...], num_stacks: int) -> Config:
    """A copy of ``cfg`` for one stage: its output folder, target joints and stack count."""
    stage = copy.deepcopy(cfg)
    stage.train.output_dir = str(output_dir)
    stage.data.joints = [int(j) for j in joints]
    stage.model.num_stacks = int(num_stacks)
    return stage


def parameter_counts(cfg: Config, s1_ids, s2_ids) -> dict[str, dict[str, int]]:
    """Parameters of the three configurations' networks (weights, biases and BatchNorm affine).

    Returns:
        ``{mode: {"total": n, "trainable": n}}`` for ``transfer``, ``frozen`` and ``random``.
    """
    m = cfg.model
    k = split_stacks(m.num_stacks)
    trunk = dict(num_features=m.num_features, depth=m.depth, stem=m.stem, stem_width=m.stem_width)
    out = {}
    for mode in MODES:
        if mode == "random":
            net = create_model("hourglass", num_joints=len(s2_ids), num_stacks=m.num_stacks, **trunk)
        else:
            net = create_model("kptransfer", num_s1=len(s1_ids), num_s2=len(s2_ids), stacks_per_subset=k, **trunk)
            if mode == "frozen":
                net.freeze_s1()
        out[mode] = {"total": sum(p.numel() for p in net.parameters()),
                     "trainable": sum(p.numel() for p in net.parameters() if p.requires_grad)}
    return out


def epochs_to_convergence(pckh_per_epoch: list[tuple[int, float]], fraction: float = CONVERGENCE_FRACTION) -> int | None:
    """First epoch whose validation PCKh reaches ``fraction`` of the run's best validation PCKh.

    Args:
        pckh_per_epoch: ``(epoch, PCKh %)`` pairs (1-based epochs; NaN entries are skipped).

    Returns:
        The epoch, or None when no epoch has a finite PCKh.
    """
    valid = [(e, p) for e, p in pckh_per_epoch if math.isfinite(p)]
    if not valid:
        return None
    target = fraction * max(p for _, p in valid)
    return next(e for e, p in valid if p >= target)


def pckh_table_row(row: dict, s2_ids) -> dict[str, float]:
    """Table 2-5 row of one run from a ``metrics.csv`` row: head, shoulder, ..., ankle, mean (%).

    Left/right rows are ``0.5 * (left + right)`` over the S2 joints of that row (NaN when S2 has
    none of them); ``mean`` is the validation Mean (count-weighted over S2, pelvis and thorax
    excluded, as :func:`posekit.training.trainer.validate` computes it).
    """
    out = {}
    for name in TABLE_ROWS:
        vals = [row.get(f"pckh_{MPII.names[j]}", math.nan) for j in MPII.table_rows()[name] if j in s2_ids]
        vals = [v for v in vals if math.isfinite(v)]
        out[name] = sum(vals) / len(vals) if vals else math.nan
    out["mean"] = row.get("pckh", math.nan)
    return out


def plot_convergence(runs: dict[str, Path | list[Path]], out_path: Path,
                     convergence: dict[str, int | None] | None = None) -> Path:
    """Validation PCKh@0.5 mean on S2 against epoch for each configuration, with bands over seeds
    (the report over seeds; the single-run report draws the paper's Fig. 3 with :func:`plot_fig3`).

    Args:
        runs: label -> metrics.csv, or a list of them (the seeds of one configuration: drawn as the
            mean with a +/- one standard deviation band).
        convergence: label -> epoch of convergence, drawn as a dotted vertical line.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for label, paths in runs.items():
        group = [read_metrics(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
        line = plot_band(ax, group, "pckh", label, marker="o")
        if line is not None and (convergence or {}).get(label) is not None:
            ax.axvline(convergence[label], color=line.get_color(), linestyle=":", alpha=0.8)
    title = f"Convergence (dotted: first epoch >= {CONVERGENCE_FRACTION:.0%} of best)" if convergence else \
        "Validation PCKh on S2"
    ax.set(xlabel="epoch", ylabel="validation PCKh@0.5 mean on S2 (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, out_path, dpi=110)


def plot_fig3(splits: dict[str, Path], out_path: Path, metric: str = "pck_bbox") -> Path:
    """The paper's Fig. 3: validation PCK on S2 against epoch, transfer vs random initialisation,
    one panel per split.

    Args:
        splits: panel title (e.g. ``"split (d)"``) -> experiment folder holding ``transfer/`` and
            ``random/`` run folders with ``metrics.csv``; a missing run is left out of its panel.
        out_path: PNG path.
        metric: the ``metrics.csv`` column plotted (default ``pck_bbox``, PCK@0.1 of the person's
            bounding box; see the module docstring).

    Raises:
        ValueError: ``splits`` is empty.
    """
    if not splits:
        raise ValueError("plot_fig3 needs at least one split")
    fig, axes = plt.subplots(1, len(splits), figsize=(4.2 * len(splits), 3.6), squeeze=False)
    for ax, (title, folder) in zip(axes[0], splits.items()):
        for mode in FIG3_MODES:
            path = Path(folder) / mode / "metrics.csv"
            if not path.is_file():
                continue
            rows = [r for r in read_metrics(path) if math.isfinite(r.get(metric, math.nan))]
            ax.plot([r["epoch"] for r in rows], [r[metric] for r in rows], marker="o", label=mode)
        ax.set(title=title, xlabel="epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("validation PCK@0.1 (bounding box) on S2, %" if metric == "pck_bbox" else metric)
    return save_figure(fig, out_path, dpi=110)


def write_report(out: Path, s1_ids, s2_ids, params: dict | None = None, split: str | None = None) -> dict:
    """Write ``pckh_s2.md``, ``pckh_s2.json`` and ``convergence.png`` from the runs in ``out``.

    Reads ``out/{transfer,frozen,random}/metrics.csv``; each configuration's table row is its best
    validation epoch (the epoch of its ``best.pt``), in the layout of the split's table (Tables 2-5:
    :data:`PAPER_COLUMNS` and their plain Average; other S1 / S2: every table row S2 covers).

    Returns:
        The JSON report: split, S1/S2 joint names, table columns, per configuration the table row
        (``table``: shown columns and ``average``), ``all_rows`` (every table row of S2 and the
        count-weighted ``mean`` without pelvis and thorax), per-joint PCKh, best epoch, epochs to
        convergence, PCKh and bounding-box PCK per epoch; ``params`` when given.

    Raises:
        FileNotFoundError: a configuration's ``metrics.csv`` is missing.
    """
    s2_ids = tuple(s2_ids)
    shown = table_columns(split, s2_ids)
    report: dict = {"split": split, "s1": [MPII.names[j] for j in s1_ids], "s2": [MPII.names[j] for j in s2_ids],
                    "columns": list(shown), "convergence_definition": f"first epoch with val PCKh >= {CONVERGENCE_FRACTION} x best val PCKh",
                    "configurations": {}}
    convergence = {}
    for mode in MODES:
        rows = read_metrics(out / mode / "metrics.csv")
        curve = [(int(r["epoch"]), r.get("pckh", math.nan)) for r in rows]
        best = best_row(rows)
        convergence[mode] = epochs_to_convergence(curve)
        all_rows = pckh_table_row(best, s2_ids)
        table = {n: all_rows[n] for n in shown}
        table["average"] = plain_average(table.values())
        report["configurations"][mode] = {
            "table": table,
            "all_rows": all_rows,
            "per_joint": {MPII.names[j]: best.get(f"pckh_{MPII.names[j]}", math.nan) for j in s2_ids},
            "best_epoch": int(best["epoch"]) if best else None,
            "epochs_run": len(rows),
            "epochs_to_convergence": convergence[mode],
            "pckh_per_epoch": [p for _, p in curve],
            "pck_bbox_per_epoch": [r.get("pck_bbox", math.nan) for r in rows],
        }
    if params is not None:
        report["params"] = params
    header = ["configuration"] + [n.capitalize() for n in shown] + ["Average", "best epoch", "epochs to convergence"]
    where = f"{PAPER_TABLES[split]}'s columns" if shown == PAPER_COLUMNS.get(split) else "the table rows S2 covers"
    lines = [f"PCKh@0.5 on S2 = {', '.join(report['s2'])} (S1 = {', '.join(report['s1'])}); columns: {where}; "
             f"Average = plain mean of the columns shown; convergence: first epoch with "
             f"val PCKh >= {CONVERGENCE_FRACTION:.0%} of the run's best.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for mode in MODES:
        c = report["configurations"][mode]
        cells = [mode] + [f"{c['table'][n]:.2f}" for n in shown] + [f"{c['table']['average']:.2f}", str(c["best_epoch"]),
                                                                    str(c["epochs_to_convergence"])]
        lines.append("| " + " | ".join(cells) + " |")
    if params is not None:
        lines += ["", "| configuration | parameters | trainable |", "|---|---|---|"]
        lines += [f"| {mode} | {params[mode]['total']:,} | {params[mode]['trainable']:,} |" for mode in MODES]
    (out / "pckh_s2.md").write_text("\n".join(lines) + "\n")
    (out / "pckh_s2.json").write_text(json.dumps(finite_or_none(report), indent=2))
    plot_fig3({f"split ({split})" if split else "S1 -> S2": out}, out / "convergence.png")
    return report


def _fit(trainer: Trainer, resume: bool) -> dict:
    """Run one stage; with ``resume``, a finished stage (``summary.json``) is kept and an interrupted
    one continues from its ``last.pt``."""
    summary = trainer.out / "summary.json"
    if resume and summary.is_file():
        return json.loads(summary.read_text())
    if resume:
        trainer.resume()
    return trainer.fit()


def run_kptransfer(cfg: Config, out: str | Path, progress: bool = True, resume: bool = False) -> dict:
    """The whole experiment of ``cfg.transfer`` into ``out``: ``s1/``, ``transfer/``, ``frozen/``,
    ``random/`` run folders, then the report (:func:`write_report`).

    ``cfg.model.num_stacks`` is the composite's total (4 in the paper); the S1 network has half.

    Returns:
        The JSON report.

    Raises:
        KeyError, ValueError: unknown split or joints, odd stack count.
    """
    out = Path(out)
    s1_ids, s2_ids = resolve_split(cfg.transfer.split, cfg.transfer.s1, cfg.transfer.s2)
    k = split_stacks(cfg.model.num_stacks)
    out.mkdir(parents=True, exist_ok=True)
    _fit(make_trainer(_stage_config(cfg, out / "s1", s1_ids, k), progress=progress), resume)
    s1_best = out / "s1" / "best.pt"
    if not s1_best.is_file():  # no validation split: no best.pt, use the last epoch
        s1_best = out / "s1" / "last.pt"
    for mode in ("transfer", "frozen"):
        stage = _stage_config(cfg, out / mode, s2_ids, 2 * k)
        _fit(TransferTrainer(stage, s1_ids, s2_ids, mode, s1_best, progress=progress), resume)
    _fit(make_trainer(_stage_config(cfg, out / "random", s2_ids, 2 * k), progress=progress), resume)
    split = cfg.transfer.split if cfg.transfer.s1 is None and cfg.transfer.s2 is None else None
    return write_report(out, s1_ids, s2_ids, parameter_counts(cfg, s1_ids, s2_ids), split=split)


def run_kptransfer_seeds(cfg: Config, out: str | Path, seeds, progress: bool = True, resume: bool = False) -> dict:
    """The experiment once per training seed, into ``out/seed_<seed>/`` (each a full
    :func:`run_kptransfer` folder with its own report), then the report over seeds
    (:func:`write_seeds_report`). ``train.seed`` changes initialisation, data order and
    augmentation of every stage; the data are the same for every seed.

    Returns:
        The JSON report over seeds.

    Raises:
        KeyError, ValueError: unknown split or joints, odd stack count, no or repeated seeds.
        RunFolderError: a seed's stage folder holds a run and ``resume`` is not set.
    """
    out = Path(out)
    seeds = check_seeds(seeds)
    s1_ids, s2_ids = resolve_split(cfg.transfer.split, cfg.transfer.s1, cfg.transfer.s2)
    if not resume:
        taken = [str(seed_dir(out, s) / m) for s in seeds for m in ("s1",) + MODES
                 if (seed_dir(out, s) / m / "last.pt").is_file()]
        if taken:
            raise RunFolderError(f"{', '.join(taken)} already hold runs; continue with --resume or choose another --out")
    for seed in seeds:
        run_kptransfer(seed_config(cfg, seed, out), seed_dir(out, seed), progress=progress, resume=resume)
    return write_seeds_report(out, s1_ids, s2_ids)


#: Pairs of configurations compared in the report over seeds (A, B): is A better than B?
SEED_COMPARISONS = (("transfer", "random"), ("transfer", "frozen"), ("frozen", "random"))


def write_seeds_report(out: str | Path, s1_ids, s2_ids) -> dict:
    """Aggregate the seeds of a KPTransfer folder (``out/seed_*/{transfer,frozen,random}``) into
    ``pckh_s2_seeds.md`` / ``pckh_s2_seeds.json`` and ``convergence.png`` (mean with a +/- one
    standard deviation band per configuration).

    Per configuration: mean, standard deviation and 95% Student-t CI across seeds of each table row
    at the best epoch, of the best epoch and of the epochs to convergence. Per pair of
    :data:`SEED_COMPARISONS`: the difference of seed means with Welch's test (run-to-run noise), and
    the paired comparison over the validation people of the seed-averaged outcomes
    (:func:`posekit.pipelines.compare.compare_inputs`), when every run has its ``val_samples.npz``.

    Returns:
        The JSON report.

    Raises:
        FileNotFoundError: a configuration has no seed run.
    """
    from posekit.evaluation.samples import load_sample_scores
    from posekit.pipelines.compare import ScoredInput, compare_inputs, run_samples_file

    out = Path(out)
    s2_ids = tuple(s2_ids)
    report: dict = {"s1": [MPII.names[j] for j in s1_ids], "s2": [MPII.names[j] for j in s2_ids],
                    "configurations": {}, "comparisons": []}
    shown = [name for name in TABLE_ROWS if any(j in s2_ids for j in MPII.table_rows()[name])]
    means: dict[str, list[float]] = {}
    groups: dict[str, list[Path]] = {}
    for mode in MODES:
        runs = find_seed_runs(out, inner=mode)
        if not runs:
            raise FileNotFoundError(f"{out}: no {SEED_PREFIX}<seed>/{mode}/metrics.csv")
        groups[mode] = [p / "metrics.csv" for p in runs.values()]
        rows = {s: read_metrics(p / "metrics.csv") for s, p in runs.items()}
        tables = {s: pckh_table_row(best_row(r), s2_ids) for s, r in rows.items()}
        conv = [epochs_to_convergence([(int(x["epoch"]), x.get("pckh", math.nan)) for x in r]) for r in rows.values()]
        for t in tables.values():
            t["average"] = plain_average([t[n] for n in shown])   # the paper's Average column
        entry = {"seeds": list(runs), "table": {n: seed_summary([t[n] for t in tables.values()]).to_dict()
                                                 for n in shown + ["average", "mean"]},
                 "best_epoch": seed_summary([best_row(r).get("epoch", math.nan) for r in rows.values()]).to_dict(),
                 "epochs_to_convergence": seed_summary([math.nan if c is None else c for c in conv]).to_dict()}
        report["configurations"][mode] = entry
        means[mode] = [t["mean"] for t in tables.values()]
    for a, b in SEED_COMPARISONS:
        item = {"a": a, "b": b, "across_seeds": welch_comparison(means[a], means[b])
                if len(means[a]) > 1 and len(means[b]) > 1 else None}
        try:
            inputs = [ScoredInput(m, [load_sample_scores(run_samples_file(p.parent)) for p in groups[m]],
                                  [str(p.parent) for p in groups[m]]) for m in (a, b)]
            paired = compare_inputs(*inputs)
            item["paired_over_people"] = {k: paired[k] for k in ("mean_diff", "ci95", "p_value", "num_people",
                                                                 "resamples", "seed")}
        except FileNotFoundError:
            item["paired_over_people"] = None
        report["comparisons"].append(item)
    n = max(len(v) for v in means.values())
    header = ["configuration"] + [x.capitalize() for x in shown] + ["Average", "Mean", "best epoch",
                                                                     "epochs to convergence"]
    lines = [f"PCKh@0.5 on S2 = {', '.join(report['s2'])} (S1 = {', '.join(report['s1'])}), {n} seeds: mean +/- "
             "sample standard deviation across seeds, at each run's best epoch; [95% CI of the mean across "
             "seeds, Student t] for the Mean. Average: the plain mean of the shown columns (the paper's "
             "Average); Mean: the validation mean over all S2 joints but pelvis and thorax.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for mode in MODES:
        c = report["configurations"][mode]
        cells = [f"{mode} (n={len(c['seeds'])})"] + [_mean_sd(c["table"][x]) for x in shown + ["average"]] + \
            [f"{_mean_sd(c['table']['mean'])} {_ci(c['table']['mean']['ci95'])}", _mean_sd(c["best_epoch"]),
             _mean_sd(c["epochs_to_convergence"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| A vs B | Mean A - B over seeds | Welch 95% CI | Welch p | paired over people: A - B | "
                  "bootstrap 95% CI | permutation p |", "|---|---|---|---|---|---|---|"]
    for item in report["comparisons"]:
        w, pp = item["across_seeds"] or {}, item["paired_over_people"] or {}
        lines.append(f"| {item['a']} vs {item['b']} | {_f(w.get('diff'))} | {_ci(w.get('ci95'))} | "
                     f"{_f(w.get('p_value'), '.3g')} | {_f(pp.get('mean_diff'))} | {_ci(pp.get('ci95'))} | "
                     f"{_f(pp.get('p_value'), '.3g')} |")
    (out / "pckh_s2_seeds.md").write_text("\n".join(lines) + "\n")
    report = finite_or_none(report)
    (out / "pckh_s2_seeds.json").write_text(json.dumps(report, indent=2))
    plot_convergence(groups, out / "convergence.png")
    return report


def _f(x, fmt: str = ".2f") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def _ci(ci) -> str:
    return "-" if not ci or ci[0] is None else f"[{_f(ci[0])}, {_f(ci[1])}]"


def _mean_sd(summary: dict) -> str:
    return f"{_f(summary['mean'])} +/- {_f(summary['std'])}"
