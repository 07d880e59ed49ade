"""The main job on the built-in default: synthetic people -> train -> PCKh -> plots -> predict.

:func:`run_quickstart` (``posekit quickstart``):

1. generates the synthetic people dataset (cached) and trains a small stacked hourglass on it
   (the packaged ``quickstart`` config);
2. evaluates the best checkpoint on the synthetic val split (PCKh@0.5 table) as its model artifact
   says (no flip testing on synthetic people, see docs/conventions.md);
3. plots loss and PCKh against epoch (``curves.png``);
4. predicts on sample photos (:mod:`posekit.data.samples`: real MPII and COCO photos when a sample
   folder is found), else on a few synthetic val images.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from posekit.config import load_config
from posekit.data.annotations import load_annotations
from posekit.data.samples import SAMPLE_DATA_ENV, find_sample_data, sample_photos
from posekit.data.sources import prepare_data
from posekit.decoding.predictor import PosePredictor
from posekit.evaluation.pckh import format_table
from posekit.pipelines.evaluate import evaluate_checkpoint
from posekit.pipelines.predict import PoseInferencer, predict_to_folder
from posekit.training.run import train
from posekit.viz.plots import plot_training_curves

__all__ = ["run_quickstart"]


def run_quickstart(config: str = "quickstart", out: str | Path = "runs/quickstart", overrides: list[str] | None = None,
                   samples: str | Path | None = None, resume: bool = False, overwrite: bool = False,
                   progress: bool = True, log=print) -> dict:
    """Run the quickstart into ``out``; returns the summary written to ``out/quickstart.json``.

    Files: ``metrics.csv``, ``curves.png``, ``eval.txt`` / ``eval.json`` / ``eval_samples.npz`` (PCKh of
    ``best.pt``, per-sample scores for ``posekit compare``),
    ``best.pt`` / ``last.pt`` and ``predict/`` (keypoint JSON and overlays).

    Raises:
        posekit.training.run.RunFolderError: ``out`` holds a run and neither ``resume`` nor ``overwrite``.
    """
    start = time.time()
    out = Path(out)
    overrides = [*(overrides or []), f"train.output_dir={out}"]
    cfg = load_config(config, overrides)
    log(f"[1/4] training a {cfg.model.num_stacks}-stack {cfg.model.name} on {cfg.data.dataset} people -> {out}")
    summary = train(cfg, resume=resume, progress=progress, overwrite=overwrite, overrides=overrides)
    train_s = time.time() - start
    cfg = load_config(out / "config.yaml")    # the run's own config (a resumed run keeps its settings)

    log("[2/4] evaluating best.pt on the validation split")
    data = prepare_data(cfg.data)
    predictor = PosePredictor.from_checkpoint(out / "best.pt", device="cpu")
    result, _, _ = evaluate_checkpoint(out / "best.pt", data.val_annotations, data.val_image_dir, predictor=predictor,
                                       save_samples=out / "eval_samples.npz")
    table = format_table(result)
    log(f"flip testing: {'on' if predictor.flip else 'off'} (the model artifact's setting)\n{table}")
    (out / "eval.txt").write_text(table + "\n")
    (out / "eval.json").write_text(json.dumps(result.to_dict(), indent=2))

    log("[3/4] plotting curves")
    curves = plot_training_curves({cfg.name: out / "metrics.csv"}, out / "curves.png")

    folder = find_sample_data(samples)
    photos = sample_photos(folder)
    inferencer = PoseInferencer(predictor, detector="none")
    if photos:
        log(f"[4/4] predicting on {len(photos)} sample photos from {folder}")
        paths = [s.path for s in photos]
        boxes = {Path(s.path).name: [_box(s.box, predictor.scale_factor)] for s in photos}
    else:
        ann = load_annotations(data.val_annotations)
        picks = range(min(4, len(ann)))
        log(f"[4/4] no sample photo folder found (--samples or ${SAMPLE_DATA_ENV}); predicting on "
            f"{len(picks)} synthetic val images")
        paths = [str(Path(data.val_image_dir) / ann.image_names[i]) for i in picks]
        boxes = {ann.image_names[i]: [_box({"center": ann.centers[i], "scale": ann.scales[i]}, predictor.scale_factor)]
                 for i in picks}
    predict_to_folder(inferencer, paths, out / "predict", boxes=boxes, progress=False)

    report = {"pckh@0.5_mean": result.mean(0.5), "pckh@0.1_mean": result.mean(0.1),
              "best_epoch": summary["best_epoch"], "epochs_run": summary["epochs_run"],
              "train_seconds": round(train_s, 1), "total_seconds": round(time.time() - start, 1),
              "curves": str(curves), "predictions": str(out / "predict"),
              "sample_photos": str(folder) if photos else None}
    (out / "quickstart.json").write_text(json.dumps(report, indent=2))
    return report


def _box(box: dict, scale_factor: float) -> tuple[float, float, float, float]:
    """``bbox`` as given, or the square crop box of ``center`` + ``scale`` (side ``scale * 200 *
    scale_factor`` px), in original image pixels."""
    if "bbox" in box:
        return tuple(float(v) for v in box["bbox"])
    cx, cy = (float(v) for v in box["center"])
    half = float(box["scale"]) * 200.0 * scale_factor / 2
    return cx - half, cy - half, cx + half, cy + half
