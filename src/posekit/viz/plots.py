"""Training curves from a run's ``metrics.csv`` (matplotlib, headless)."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

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


def plot_training_curves(runs: dict[str, str | Path], out_path: str | Path) -> Path:
    """Plot train/val loss and val PCKh@0.5 (%) against epoch for one or several runs.

    Args:
        runs: label -> path of the run's ``metrics.csv``.
        out_path: PNG to write.

    Returns:
        The written path.
    """
    fig, (ax_loss, ax_pck) = plt.subplots(1, 2, figsize=(11, 4))
    for label, path in runs.items():
        rows = read_metrics(path)
        epochs = [r["epoch"] for r in rows]
        ax_loss.plot(epochs, [r["train_loss"] for r in rows], label=f"{label} train")
        if rows and "val_loss" in rows[0]:
            ax_loss.plot(epochs, [r.get("val_loss", float("nan")) for r in rows], "--", label=f"{label} val")
        if rows and "pckh" in rows[0]:
            ax_pck.plot(epochs, [r.get("pckh", float("nan")) for r in rows], marker="o", label=label)
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
    import numpy as np

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
