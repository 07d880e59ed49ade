"""Markdown + HTML report of one or several training runs (``posekit report``).

A run folder holds ``config.yaml``, ``metrics.csv`` and ``best.pt`` (written by the trainer) and
optionally ``eval.json`` (``posekit evaluate`` / ``quickstart``). The report has, for each run, a
config summary and a per-joint PCKh@0.5 table, then one loss / PCKh-vs-epoch figure with all runs,
a few example predictions on val images with ground-truth colouring (when the run's val data is on
disk and its annotation file is a json list with head sizes, e.g. the synthetic people), and any
mutual-information figure found in the run folder (``*mi*.png``).

Where the PCKh table comes from is stated in the report: ``eval.json`` (the evaluation of
``best.pt``) when present, else the ``metrics.csv`` row with the highest validation PCKh.

A **multi-seed folder** (``posekit train --seeds``, :mod:`posekit.pipelines.seeds`) is one column:
every PCKh cell is the mean over seeds +/- the standard deviation across seeds with the 95%
Student-t confidence interval of the mean, and its curves are the mean with a +/- one standard
deviation band. With several runs, a comparison section sets each run against the first on the same
validation people (:mod:`posekit.pipelines.compare`: paired bootstrap CI and permutation test;
Welch's test across seeds for multi-seed folders) when their per-sample scores are on disk.
"""

from __future__ import annotations

import html
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posekit.keypoints import get_keypoint_set

#: Config fields shown in the summary table, as (section, key).
SUMMARY_FIELDS = (
    ("model", "name"), ("model", "num_stacks"), ("model", "num_features"), ("model", "depth"), ("model", "stem"),
    ("model", "tasks"), ("data", "dataset"), ("data", "keypoints"), ("data", "input_size"), ("data", "heatmap_size"),
    ("data", "sigma"),
    ("train", "optimizer"), ("train", "lr"), ("train", "batch_size"), ("train", "epochs"),
)


@dataclass
class RunSummary:
    """What the report needs from one run folder."""

    name: str
    path: Path
    config: dict
    metrics: list[dict]
    per_joint: dict[str, float | None]
    pckh_source: str
    mean: float | None
    extra_figures: list[Path] = field(default_factory=list)
    seed_runs: dict[int, Path] = field(default_factory=dict)
    spread: dict[str, dict] = field(default_factory=dict)

    @property
    def metrics_files(self) -> list[Path]:
        """The ``metrics.csv`` of the run, or of every seed of a multi-seed folder."""
        return [p / "metrics.csv" for p in self.seed_runs.values()] or [self.path / "metrics.csv"]

    @property
    def model_dir(self) -> Path:
        """The folder whose ``best.pt`` the examples use (the first seed's for a multi-seed folder)."""
        return next(iter(self.seed_runs.values()), self.path)

    @property
    def joint_names(self) -> tuple[str, ...]:
        """The keypoint names of the run's data (its config's ``data.keypoints``)."""
        spec = self.config.get("data", {}).get("keypoints", "mpii")
        try:
            return get_keypoint_set(spec).names
        except (ValueError, FileNotFoundError):
            return tuple(self.per_joint)


def _finite(v) -> float | None:
    return float(v) if v is not None and isinstance(v, (int, float)) and math.isfinite(v) else None


def load_run(run_dir: str | Path) -> RunSummary:
    """Read a run folder, or a multi-seed folder (``seed_<seed>/`` run folders) as one column.

    Raises:
        FileNotFoundError: the folder, its ``config.yaml`` or its ``metrics.csv`` is missing.
    """
    import yaml

    from posekit.pipelines.seeds import find_seed_runs
    from posekit.viz.plots import read_metrics

    run = Path(run_dir)
    if find_seed_runs(run):
        return _load_seed_folder(run)
    for name in ("config.yaml", "metrics.csv"):
        if not (run / name).is_file():
            raise FileNotFoundError(f"{run}: no {name} (is this a posekit run folder?)")
    config = yaml.safe_load((run / "config.yaml").read_text()) or {}
    metrics = read_metrics(run / "metrics.csv")
    per_joint: dict[str, float | None] = {}
    mean = None
    if (run / "eval.json").is_file():
        ev = json.loads((run / "eval.json").read_text())
        per_joint = {k: _finite(v) for k, v in (ev.get("per_joint@0.5") or ev.get("per_joint") or {}).items()}
        mean = _finite((ev.get("pckh@0.5") or {}).get("mean"))
        source = "eval.json (evaluation of best.pt, PCKh@0.5)"
    else:
        scored = [r for r in metrics if math.isfinite(r.get("pckh", math.nan))]
        if scored:
            best = max(scored, key=lambda r: r["pckh"])
            per_joint = {k[len("pckh_"):]: _finite(v) for k, v in best.items()
                         if k.startswith("pckh_") and k != "pckh_"}
            mean = _finite(best["pckh"])
            source = f"metrics.csv, epoch {int(best['epoch'])} (highest val PCKh@0.5)"
        else:
            source = "no PCKh recorded"
    figures = sorted(p for p in run.glob("*.png") if "mi" in p.stem.lower().replace("-", "_").split("_"))
    return RunSummary(run.name if run.name else str(run), run, config, metrics, per_joint, source, mean, figures)


def _load_seed_folder(folder: Path) -> RunSummary:
    """A multi-seed folder as one report column: PCKh means over seeds with their spread."""
    import yaml

    from posekit.pipelines.seeds import find_seed_runs, summarize_runs
    from posekit.viz.plots import read_metrics

    runs = find_seed_runs(folder)
    first = next(iter(runs.values()))
    if not (first / "config.yaml").is_file():
        raise FileNotFoundError(f"{first}: no config.yaml (is this a posekit run folder?)")
    config = yaml.safe_load((first / "config.yaml").read_text()) or {}
    agg = summarize_runs(runs)["metrics"]
    spread = {k[len("pckh_"):]: v for k, v in agg.items() if k.startswith("pckh_")}
    if "pckh" in agg:
        spread["mean"] = agg["pckh"]
    per_joint = {k: v["mean"] for k, v in spread.items() if k != "mean"}
    source = (f"mean over seeds {', '.join(map(str, runs))} of each seed's best validation epoch (metrics.csv); "
              "+/- sample standard deviation across seeds, [95% CI of the mean, Student t]")
    name = folder.name or str(folder)
    return RunSummary(name, folder, config, read_metrics(first / "metrics.csv"), per_joint, source,
                      spread.get("mean", {}).get("mean"), [], runs, spread)


def example_predictions(run: RunSummary, out_dir: Path, count: int = 3, threshold: float = 0.5) -> list[Path]:
    """Overlays of ``best.pt`` on the first ``count`` val images, with ground-truth colouring
    (:func:`posekit.pipelines.predict.prediction_overlay`) when the val annotations carry head sizes.

    Returns the written PNGs (empty when the checkpoint or the val annotations are not on disk).
    """
    import cv2

    from posekit.data.annotations import load_annotations
    from posekit.data.dataset import load_image
    from posekit.decoding.predictor import PosePredictor
    from posekit.pipelines.predict import prediction_overlay

    data = run.config.get("data", {})
    if data.get("dataset") == "synthetic" and data.get("root"):
        ann_path, image_dir = Path(data["root"]) / "val" / "annotations.json", Path(data["root"]) / "val" / "images"
    else:
        ann_path = Path(data.get("val_annotations") or "")
        image_dir = Path(data.get("val_image_dir") or data.get("image_dir") or "")
    ckpt = run.model_dir / "best.pt"
    if not (ckpt.is_file() and ann_path.suffix in (".json", ".h5") and ann_path.is_file()):
        return []
    predictor = PosePredictor.from_checkpoint(ckpt, device="cpu")
    ann = load_annotations(ann_path)
    data_set = get_keypoint_set(data.get("keypoints", "mpii"))
    if ann.num_joints != len(data_set):
        return []
    ids = [data_set.index(n) for n in predictor.keypoints.names]
    written = []
    for i in range(min(count, len(ann))):
        image = load_image(image_dir / ann.image_names[i])
        pred = predictor.predict(image, center=ann.centers[i], scale=ann.scales[i])
        gt, missing = ann.joints[i, ids], ~ann.annotated[i, ids]
        correct = None
        if ann.head_sizes is not None and np.isfinite(pred.keypoints).all():
            dist = np.linalg.norm(pred.keypoints - gt, axis=1) / float(ann.head_sizes[i])
            correct = np.where(np.isfinite(dist), dist <= threshold, False)
        overlay = prediction_overlay(image, pred, correct=correct, gt_points=gt, gt_missing=missing)
        if max(overlay.shape[:2]) < 192:  # tiny synthetic images: enlarge for viewing
            f = 192 / max(overlay.shape[:2])
            overlay = cv2.resize(overlay, None, fx=f, fy=f, interpolation=cv2.INTER_NEAREST)
        path = out_dir / f"{run.name}_example{i}.png"
        cv2.imwrite(str(path), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
        written.append(path)
    return written


def _fmt(v) -> str:
    return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))


def _cell(run: RunSummary, key: str, value) -> str:
    """A PCKh cell: the value, or for a multi-seed folder mean +/- sd [95% CI]."""
    s = run.spread.get(key)
    if not s or s.get("mean") is None:
        return _fmt(value)
    if s.get("std") is None:
        return f"{s['mean']:.1f} (1 seed)"
    return f"{s['mean']:.1f} +/- {s['std']:.1f} [{s['ci95'][0]:.1f}, {s['ci95'][1]:.1f}]"


def _comparisons(runs: list[RunSummary]) -> list[list[str]]:
    """Rows "run vs first run" of the comparison table (runs without per-sample scores are skipped)."""
    from posekit.pipelines.compare import compare_inputs, load_input

    try:
        base = load_input(str(runs[0].path))
    except (FileNotFoundError, ValueError):
        return []
    rows = []
    for r in runs[1:]:
        try:
            res = compare_inputs(load_input(str(r.path)), base)
        except (FileNotFoundError, ValueError):
            continue
        welch = res.get("seeds", {}).get("welch")
        rows.append([f"{r.name} - {runs[0].name}", f"{res['mean_diff']:.2f}",
                     f"[{res['ci95'][0]:.2f}, {res['ci95'][1]:.2f}]", f"{res['p_value']:.3g}",
                     "-" if not welch else f"{welch['diff']:.2f} [{welch['ci95'][0]:.2f}, {welch['ci95'][1]:.2f}], "
                                           f"p {welch['p_value']:.3g}"])
    return rows


def _fmt_config(v) -> str:
    return "-" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


def write_report(run_dirs: list[str | Path], out_dir: str | Path, examples: int = 3) -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` and their PNGs into ``out_dir``.

    Returns:
        ``{"markdown": ..., "html": ..., "curves": ...}`` paths.

    Raises:
        FileNotFoundError: a run folder is not a posekit run (see :func:`load_run`).
    """
    from posekit.viz.plots import plot_training_curves, read_metrics

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = [load_run(r) for r in run_dirs]
    names = [r.name for r in runs]
    if len(set(names)) < len(names):  # distinct labels for runs with equal folder names
        for i, r in enumerate(runs):
            r.name = f"{r.name}-{i}"
    curves = plot_training_curves({r.name: r.metrics_files for r in runs}, out / "curves.png")

    # (kind, payload) blocks rendered to both markdown and HTML
    blocks: list[tuple[str, object]] = [("h1", "posekit training report"),
                                        ("p", "Runs: " + ", ".join(f"{r.name} ({r.path})" for r in runs))]
    blocks.append(("h2", "Configuration"))
    header = ["field"] + [r.name for r in runs]
    rows = [[f"{s}.{k}"] + [_fmt_config(r.config.get(s, {}).get(k)) for r in runs] for s, k in SUMMARY_FIELDS]
    rows.append(["epochs run"] + [str(len(r.metrics)) if not r.seed_runs else
                                  ", ".join(str(len(read_metrics(f))) for f in r.metrics_files) for r in runs])
    if any(r.seed_runs for r in runs):
        rows.append(["seeds"] + [", ".join(map(str, r.seed_runs)) or "-" for r in runs])
    blocks.append(("table", (header, rows)))

    blocks.append(("h2", "PCKh@0.5 per joint (%)"))
    joints = list(dict.fromkeys(j for r in runs for j in r.joint_names if any(j in q.per_joint for q in runs)))
    rows = [[j] + [_cell(r, j, r.per_joint.get(j)) for r in runs] for j in joints]
    header = ["joint"] + header[1:]
    rows.append(["**mean** (official PCKh mean)"] + [_cell(r, "mean", r.mean) for r in runs])
    blocks.append(("table", (header, rows)))
    blocks.append(("p", "Source: " + "; ".join(f"{r.name}: {r.pckh_source}" for r in runs)))

    compared = _comparisons(runs) if len(runs) > 1 else []
    if compared:
        blocks.append(("h2", f"Differences to {runs[0].name} (PCKh@0.5 Mean, points)"))
        blocks.append(("table", (["runs", "difference", "95% CI (bootstrap over people)", "p (permutation)",
                                  "across seeds: difference [Welch 95% CI], p"], compared)))
        blocks.append(("p", "Paired over the same validation people (10000 bootstrap resamples and sign flips, "
                            "seed 0; posekit compare gives the per-joint numbers). A multi-seed folder is "
                            "compared through its per-person success rate over seeds; Welch's test across "
                            "seeds measures the difference against run-to-run variation."))

    blocks.append(("h2", "Training curves"))
    caption = "loss and val PCKh@0.5 against epoch" + (
        "; multi-seed folders: mean over seeds with a +/- one standard deviation band" if any(r.seed_runs for r in runs)
        else "")
    blocks.append(("img", (curves.name, caption)))

    for r in runs:
        shots = example_predictions(r, out, examples) if examples else []
        if shots:
            blocks.append(("h2", f"Example predictions: {r.name}"))
            blocks.append(("p", "best.pt on the first val images. Predicted skeleton: right orange, left blue, "
                                "centre purple; ground truth white; ring pink = correct, red = wrong at PCKh@0.5."))
            for s in shots:
                blocks.append(("img", (s.name, s.stem)))
        for fig in r.extra_figures:
            target = out / f"{r.name}_{fig.name}"
            shutil.copy(fig, target)
            blocks.append(("h2", f"Mutual information: {r.name}"))
            blocks.append(("img", (target.name, fig.stem)))

    md_path, html_path = out / "report.md", out / "report.html"
    md_path.write_text(_markdown(blocks))
    html_path.write_text(_html(blocks))
    return {"markdown": md_path, "html": html_path, "curves": curves}


def _markdown(blocks) -> str:
    lines = []
    for kind, payload in blocks:
        if kind == "h1":
            lines += [f"# {payload}", ""]
        elif kind == "h2":
            lines += [f"## {payload}", ""]
        elif kind == "p":
            lines += [payload, ""]
        elif kind == "img":
            lines += [f"![{payload[1]}]({payload[0]})", ""]
        elif kind == "table":
            header, rows = payload
            lines.append("| " + " | ".join(header) + " |")
            lines.append("| " + " | ".join("---" for _ in header) + " |")
            lines += ["| " + " | ".join(row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines)


def _html(blocks) -> str:
    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>posekit report</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child{text-align:left}"
             "img{max-width:100%}</style></head><body>"]
    for kind, payload in blocks:
        if kind in ("h1", "h2", "p"):
            parts.append(f"<{kind}>{e(payload).replace('**', '')}</{kind}>")
        elif kind == "img":
            parts.append(f"<p><img src='{e(payload[0])}' alt='{e(payload[1])}'></p>")
        elif kind == "table":
            header, rows = payload
            parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
            for row in rows:
                parts.append("<tr>" + "".join(f"<td>{e(c).replace('**', '')}</td>" for c in row) + "</tr>")
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
