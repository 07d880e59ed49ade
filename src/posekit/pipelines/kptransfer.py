"""The KPTransfer experiment of one joint split and its report (Vats et al. 2019, Sec. 3-4).

:func:`run_kptransfer` trains, into one folder, the S1 network (``s1/``) and the three
configurations on S2 (``transfer/``, ``frozen/``, ``random/``; see :mod:`posekit.training.transfer`),
then writes the report (:func:`write_report`): ``pckh_s2.md`` / ``pckh_s2.json`` (per-joint PCKh@0.5
on S2, the layout of Tables 2-5) and ``convergence.png`` (Fig. 3).

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
from posekit.keypoints import MPII
from posekit.models.registry import create_model
from posekit.training.transfer import MODES, TransferTrainer, resolve_split, split_stacks
from posekit.training.run import make_trainer
from posekit.training.trainer import Trainer
from posekit.viz.plots import plt, read_metrics, save_figure

#: Fraction of a run's best validation PCKh that defines convergence (see the module docstring).
CONVERGENCE_FRACTION = 0.95


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


def _best_row(rows: list[dict]) -> dict:
    scored = [r for r in rows if math.isfinite(r.get("pckh", math.nan))]
    return max(scored, key=lambda r: r["pckh"]) if scored else (rows[-1] if rows else {})


def plot_convergence(runs: dict[str, Path], out_path: Path, convergence: dict[str, int | None]) -> Path:
    """Validation PCKh@0.5 mean on S2 against epoch for each configuration (the paper's Fig. 3),
    with a dotted vertical line at each run's epoch of convergence. ``runs``: label -> metrics.csv."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for label, path in runs.items():
        rows = [r for r in read_metrics(path) if math.isfinite(r.get("pckh", math.nan))]
        line, = ax.plot([r["epoch"] for r in rows], [r["pckh"] for r in rows], marker="o", label=label)
        if convergence.get(label) is not None:
            ax.axvline(convergence[label], color=line.get_color(), linestyle=":", alpha=0.8)
    ax.set(xlabel="epoch", ylabel="validation PCKh@0.5 mean on S2 (%)",
           title=f"Convergence (dotted: first epoch >= {CONVERGENCE_FRACTION:.0%} of best)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, out_path, dpi=110)


def write_report(out: Path, s1_ids, s2_ids, params: dict | None = None) -> dict:
    """Write ``pckh_s2.md``, ``pckh_s2.json`` and ``convergence.png`` from the runs in ``out``.

    Reads ``out/{transfer,frozen,random}/metrics.csv``; each configuration's table row is its best
    validation epoch (the epoch of its ``best.pt``).

    Returns:
        The JSON report: S1/S2 joint names, per-configuration table row, per-joint PCKh, best epoch,
        epochs to convergence and PCKh per epoch, and ``params`` when given.

    Raises:
        FileNotFoundError: a configuration's ``metrics.csv`` is missing.
    """
    s2_ids = tuple(s2_ids)
    report: dict = {"s1": [MPII.names[j] for j in s1_ids], "s2": [MPII.names[j] for j in s2_ids],
                    "convergence_definition": f"first epoch with val PCKh >= {CONVERGENCE_FRACTION} x best val PCKh",
                    "configurations": {}}
    convergence = {}
    for mode in MODES:
        rows = read_metrics(out / mode / "metrics.csv")
        curve = [(int(r["epoch"]), r.get("pckh", math.nan)) for r in rows]
        best = _best_row(rows)
        convergence[mode] = epochs_to_convergence(curve)
        report["configurations"][mode] = {
            "table": pckh_table_row(best, s2_ids),
            "per_joint": {MPII.names[j]: best.get(f"pckh_{MPII.names[j]}", math.nan) for j in s2_ids},
            "best_epoch": int(best["epoch"]) if best else None,
            "epochs_run": len(rows),
            "epochs_to_convergence": convergence[mode],
            "pckh_per_epoch": [p for _, p in curve],
        }
    if params is not None:
        report["params"] = params
    shown = [name for name in TABLE_ROWS if any(j in s2_ids for j in MPII.table_rows()[name])]
    header = ["configuration"] + [n.capitalize() for n in shown] + ["Mean", "best epoch", "epochs to convergence"]
    lines = [f"PCKh@0.5 on S2 = {', '.join(report['s2'])} (S1 = {', '.join(report['s1'])}); Mean excludes "
             f"{' and '.join(MPII.mean_excluded)}; convergence: first epoch with "
             f"val PCKh >= {CONVERGENCE_FRACTION:.0%} of the run's best.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for mode in MODES:
        c = report["configurations"][mode]
        cells = [mode] + [f"{c['table'][n]:.2f}" for n in shown] + [f"{c['table']['mean']:.2f}", str(c["best_epoch"]),
                                                                    str(c["epochs_to_convergence"])]
        lines.append("| " + " | ".join(cells) + " |")
    if params is not None:
        lines += ["", "| configuration | parameters | trainable |", "|---|---|---|"]
        lines += [f"| {mode} | {params[mode]['total']:,} | {params[mode]['trainable']:,} |" for mode in MODES]
    (out / "pckh_s2.md").write_text("\n".join(lines) + "\n")
    (out / "pckh_s2.json").write_text(json.dumps(_finite_or_none(report), indent=2))
    plot_convergence({mode: out / mode / "metrics.csv" for mode in MODES}, out / "convergence.png", convergence)
    return report


def _finite_or_none(x):
    """``x`` with every non-finite float replaced by None (strict JSON has no NaN)."""
    if isinstance(x, dict):
        return {k: _finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite_or_none(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


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
    return write_report(out, s1_ids, s2_ids, parameter_counts(cfg, s1_ids, s2_ids))
