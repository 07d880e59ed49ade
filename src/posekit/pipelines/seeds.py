"""Runs repeated over training seeds: their aggregation (``posekit train/transfer/reproduce --seeds``).

A **multi-seed folder** holds one run folder per seed, ``seed_<seed>/`` (written by
:func:`posekit.training.run.train_seeds`), and, once aggregated (:func:`aggregate_seeds`):

* ``seeds.json``: for every metric of the runs, the value of each seed, the mean, the sample
  standard deviation and the 95% Student-t confidence interval of the mean across seeds
  (:func:`posekit.evaluation.statistics.seed_summary`); the metrics are each run's best validation
  epoch (the epoch of its ``best.pt``: every ``metrics.csv`` column, e.g. ``pckh``, ``pckh@0.1``,
  ``pckh_<joint>``, ``val_loss``) plus ``best_epoch``, ``epochs_run`` and ``train_seconds``;
  and the per-epoch mean / std of ``train_loss``, ``val_loss`` and ``pckh``;
* ``seeds.md``: the same as a table;
* ``curves.png``: loss and validation PCKh against epoch, the mean over seeds with a band of
  +/- one standard deviation.

Every ``seed_*`` sub-folder holding a ``metrics.csv`` is aggregated, so seeds can be added later
(``--seeds 3 4`` into the same folder) and the aggregate rewritten.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from posekit.evaluation.statistics import seed_summary
from posekit.training.run import SEED_PREFIX
from posekit.viz.plots import epoch_band, plot_training_curves, read_metrics

__all__ = ["SEEDS_JSON", "best_row", "find_seed_runs", "is_seed_folder", "summarize_runs", "aggregate_seeds",
           "format_summary_table"]

#: The aggregate of a multi-seed folder.
SEEDS_JSON = "seeds.json"
#: Columns whose per-epoch mean and spread are kept (and drawn as curves).
CURVE_KEYS = ("train_loss", "val_loss", "pckh")
_SEED_RE = re.compile(rf"^{SEED_PREFIX}(-?\d+)$")


def find_seed_runs(folder: str | Path, inner: str = "") -> dict[int, Path]:
    """The seed runs of a multi-seed folder: seed -> run folder, in seed order.

    Args:
        folder: the multi-seed folder.
        inner: a sub-path inside every seed folder (``"transfer"`` for the KPTransfer configuration
            of each seed of ``posekit transfer --seeds``); empty for ``posekit train --seeds``.

    Returns:
        Only seed folders whose run has a ``metrics.csv``; empty when there is none.
    """
    runs = {}
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    for sub in folder.iterdir():
        m = _SEED_RE.match(sub.name)
        if m and sub.is_dir() and (sub / inner / "metrics.csv").is_file():
            runs[int(m.group(1))] = sub / inner if inner else sub
    return dict(sorted(runs.items()))


def is_seed_folder(folder: str | Path) -> bool:
    """Whether ``folder`` is a multi-seed folder (``seeds.json`` or at least one seed run in it)."""
    folder = Path(folder)
    return (folder / SEEDS_JSON).is_file() or bool(find_seed_runs(folder))


def best_row(rows: list[dict]) -> dict:
    """The ``metrics.csv`` row of the best validation epoch (first highest ``pckh``: the epoch of
    ``best.pt``), or the last row when no epoch has a PCKh; ``{}`` for no rows."""
    scored = [r for r in rows if math.isfinite(r.get("pckh", math.nan))]
    return max(scored, key=lambda r: r["pckh"]) if scored else (rows[-1] if rows else {})


def summarize_runs(runs: dict[int, Path]) -> dict:
    """Aggregate the runs of one configuration over seeds (no files written).

    Args:
        runs: seed -> run folder (``metrics.csv``, optional ``summary.json``).

    Returns:
        ``{"seeds": [...], "runs": {seed: path}, "metrics": {name: SeedSummary dict},
        "curves": {key: {"epoch", "mean", "std", "n"}}}``.

    Raises:
        ValueError: no run.
    """
    if not runs:
        raise ValueError("no seed run to aggregate")
    per_seed: dict[int, dict] = {}
    all_rows = []
    for seed, path in runs.items():
        rows = read_metrics(Path(path) / "metrics.csv")
        all_rows.append(rows)
        best = best_row(rows)
        values = {k: v for k, v in best.items() if k not in ("epoch", "lr", "time_s")}
        values["best_epoch"] = best.get("epoch", math.nan)
        values["epochs_run"] = float(len(rows))
        summary = Path(path) / "summary.json"
        if summary.is_file():
            values["train_seconds"] = float(json.loads(summary.read_text()).get("train_seconds", math.nan))
        per_seed[seed] = values
    names = list(dict.fromkeys(k for v in per_seed.values() for k in v))
    metrics = {}
    for name in names:
        vals = [per_seed[s].get(name, math.nan) for s in runs]
        if any(math.isfinite(v) for v in vals):
            metrics[name] = seed_summary(vals).to_dict()
    curves = {}
    for key in CURVE_KEYS:
        epochs, mean, std, n = epoch_band(all_rows, key)
        if len(epochs):
            curves[key] = {"epoch": epochs.tolist(), "mean": mean.tolist(), "std": std.tolist(), "n": n.tolist()}
    return {"seeds": list(runs), "runs": {str(s): str(p) for s, p in runs.items()}, "metrics": metrics,
            "curves": curves}


def _cell(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def format_summary_table(metrics: dict, names: list[str] | None = None) -> list[str]:
    """Markdown table lines: metric | mean | sd | 95% CI | per-seed values (from :func:`summarize_runs`)."""
    lines = ["| metric | mean | sd | 95% CI | per seed |", "|---|---|---|---|---|"]
    for name in names or list(metrics):
        if name not in metrics:
            continue
        m = metrics[name]
        ci = m["ci95"]
        lines.append(f"| {name} | {_cell(m['mean'])} | {_cell(m['std'])} | "
                     f"{'-' if ci[0] is None else f'[{ci[0]:.2f}, {ci[1]:.2f}]'} | "
                     f"{', '.join(_cell(v) for v in m['values'])} |")
    return lines


def aggregate_seeds(folder: str | Path, title: str = "") -> dict:
    """Aggregate a multi-seed folder (:func:`find_seed_runs`) and write ``seeds.json``, ``seeds.md``
    and ``curves.png`` into it (see the module docstring).

    Returns:
        The ``seeds.json`` content.

    Raises:
        FileNotFoundError: the folder holds no seed run.
    """
    folder = Path(folder)
    runs = find_seed_runs(folder)
    if not runs:
        raise FileNotFoundError(f"{folder}: no {SEED_PREFIX}<seed>/metrics.csv to aggregate")
    agg = summarize_runs(runs)
    agg["curves_png"] = str(plot_training_curves({title or folder.name: [p / "metrics.csv" for p in runs.values()]},
                                                 folder / "curves.png"))
    (folder / SEEDS_JSON).write_text(json.dumps(agg, indent=2))
    n = len(runs)
    head = [f"# {title or folder.name}: {n} seed{'s' if n > 1 else ''} ({', '.join(map(str, runs))})", "",
            "Each seed's best validation epoch (the epoch of its best.pt); sd: sample standard deviation "
            "across seeds; 95% CI: Student-t interval of the mean across seeds.", ""]
    (folder / "seeds.md").write_text("\n".join(head + format_summary_table(agg["metrics"])) + "\n")
    return agg
