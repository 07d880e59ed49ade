"""Training curves from a run's ``metrics.csv``, with bands over seeds (matplotlib, headless)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_metrics(path: str | Path) -> list[dict]:
    """Rows of a ``metrics.csv`` as dicts of floats (empty cells -> NaN).

    Raises:
        FileNotFoundError: no such file.
    """
    with open(path, newline="") as f:
        return [{k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()}
                for row in csv.DictReader(f)]


def epoch_band(rows_per_run: list[list[dict]], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-epoch mean and spread of one ``metrics.csv`` column over several runs (seeds).

    Args:
        rows_per_run: each run's rows (:func:`read_metrics`).
        key: the column, e.g. ``"pckh"`` or ``"train_loss"``.

    Returns:
        ``(epochs, mean, std, n)``, each (E,): the epochs where at least one run has a finite value,
        the mean over those runs, their sample standard deviation (``ddof=1``; 0 for one run) and
        how many runs contributed (fewer at the end when early stopping ended some runs sooner).
    """
    values: dict[float, list[float]] = {}
    for rows in rows_per_run:
        for r in rows:
            v = r.get(key, math.nan)
            if math.isfinite(v):
                values.setdefault(r["epoch"], []).append(v)
    epochs = np.array(sorted(values), dtype=np.float64)
    stacks = [np.asarray(values[e]) for e in epochs]
    mean = np.array([x.mean() for x in stacks])
    std = np.array([x.std(ddof=1) if len(x) > 1 else 0.0 for x in stacks])
    return epochs, mean, std, np.array([len(x) for x in stacks])


def plot_band(ax, rows_per_run: list[list[dict]], key: str, label: str, **style):
    """Plot a column against epoch: the line for one run, or for several runs (seeds) their mean
    with a shaded band of +/- one standard deviation across runs. Returns the line (None if empty)."""
    epochs, mean, std, _ = epoch_band(rows_per_run, key)
    if not len(epochs):
        return None
    label = label if len(rows_per_run) == 1 else f"{label} (mean of {len(rows_per_run)}, band +/- 1 sd)"
    line, = ax.plot(epochs, mean, label=label, **style)
    if len(rows_per_run) > 1:
        ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def plot_training_curves(runs: dict[str, str | Path | list], out_path: str | Path) -> Path:
    """Plot train/val loss and val PCKh@0.5 (%) against epoch for one or several runs.

    Args:
        runs: label -> path of the run's ``metrics.csv``, or a list of such paths (the seeds of
            one configuration: drawn as the mean with a +/- one standard deviation band).
        out_path: PNG to write.

    Returns:
        The written path.
    """
    fig, (ax_loss, ax_pck) = plt.subplots(1, 2, figsize=(11, 4))
    for label, paths in runs.items():
        group = [read_metrics(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
        line = plot_band(ax_loss, group, "train_loss", f"{label} train")
        color = {} if line is None else {"color": line.get_color()}
        plot_band(ax_loss, group, "val_loss", f"{label} val", linestyle="--", **color)
        plot_band(ax_pck, group, "pckh", label, marker="o", **color)
    ax_loss.set(xlabel="epoch", ylabel="loss (MSE, summed over stacks)", yscale="log", title="Loss")
    ax_pck.set(xlabel="epoch", ylabel="PCKh@0.5 mean (%)", title="Validation PCKh@0.5", ylim=(0, 100))
    for ax in (ax_loss, ax_pck):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    return save_figure(fig, out_path, dpi=110)


def save_figure(fig, out_path: str | Path, dpi: int = 110) -> Path:
    """Lay out, write (creating the folder) and close a matplotlib figure; returns the path."""
    fig.tight_layout()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=dpi)
    plt.close(fig)
    return out_path


def plot_mutual_information(mi, out_path: str | Path, names: list[str] | None = None, title: str = "") -> Path:
    """Save a (J, J) matrix (e.g. the normalised joint-location mutual information of PBN's Fig.
    2(a)) as an annotated heat map, the value printed in every cell; ``names`` label the axes.

    Returns:
        The written path.
    """
    mi = np.asarray(mi, dtype=np.float64)
    j = len(mi)
    names = list(names) if names is not None else [str(i) for i in range(j)]
    fig, ax = plt.subplots(figsize=(9, 8))
    im = ax.imshow(mi, cmap="viridis")
    ax.set_xticks(range(j), names, rotation=90)
    ax.set_yticks(range(j), names)
    hi = mi.max() if mi.size else 1.0
    for r in range(j):
        for c in range(j):
            ax.text(c, r, f"{mi[r, c]:.2f}", ha="center", va="center", fontsize=6,
                    color="black" if mi[r, c] > 0.6 * hi else "white")
    fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        ax.set_title(title)
    return save_figure(fig, out_path, dpi=120)


def steps_per_epoch_end(run_dir: str | Path) -> dict[int, int]:
    """Global training step at the end of each epoch of a run, from its ``steps.csv`` (epoch is
    0-based there; the returned keys are 1-based like ``metrics.csv``); {} when there is none."""
    path = Path(run_dir) / "steps.csv"
    if not path.is_file():
        return {}
    out: dict[int, int] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            out[int(row["epoch"]) + 1] = int(row["global_step"]) + 1
    return out


def plot_metric_panels(panels: dict[str, dict[str, str | Path]], out_path: str | Path, key: str = "train_loss",
                       x: str = "epoch", ylabel: str | None = None) -> Path:
    """One panel per group of runs, one line per run: a ``metrics.csv`` column against epoch or
    training iteration (from ``steps.csv``). Runs without ``metrics.csv`` are left out.

    Args:
        panels: panel title -> (line label -> run folder).
        out_path: PNG to write.
        key: the ``metrics.csv`` column (``train_loss``, ``val_loss``, ``pckh``, ...).
        x: ``"epoch"`` or ``"iteration"``.

    Raises:
        ValueError: no panels, or an unknown ``x``.
    """
    if not panels or x not in ("epoch", "iteration"):
        raise ValueError(f"plot_metric_panels needs panels and x 'epoch' or 'iteration', got {len(panels)}, {x!r}")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False)
    for ax, (title, runs) in zip(axes[0], panels.items()):
        for label, run_dir in runs.items():
            path = Path(run_dir) / "metrics.csv"
            if not path.is_file():
                continue
            rows = [r for r in read_metrics(path) if r.get(key) == r.get(key)]   # drop NaN
            steps = steps_per_epoch_end(run_dir)
            xs = [r["epoch"] if x == "epoch" else steps.get(int(r["epoch"]), float("nan")) for r in rows]
            ax.plot(xs, [r[key] for r in rows], marker="o", label=label)
        ax.set(title=title, xlabel=x, ylabel=ylabel or key)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return save_figure(fig, out_path, dpi=110)
