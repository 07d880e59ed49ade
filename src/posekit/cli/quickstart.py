"""The main job on the built-in default: synthetic people -> train -> PCKh -> plots -> predict on real photos.

``posekit quickstart [--config configs/quickstart.yaml] [--out runs/quickstart] [--set key=value ...]``

1. generates the synthetic people dataset (cached) and trains a small stacked hourglass on it;
2. evaluates the best checkpoint on the synthetic val split (PCKh@0.5 table; no flip testing on
   synthetic people, see docs/conventions.md);
3. plots loss and PCKh against epoch (``curves.png``);
4. predicts on the real MPII and COCO photos of ``../shared/data`` (``predict/``), when present.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG = REPO_ROOT / "configs" / "quickstart.yaml"
DEFAULT_SHARED = REPO_ROOT.parent / "shared" / "data"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help=f"experiment YAML (default: {DEFAULT_CONFIG})")
    p.add_argument("--out", default="runs/quickstart", help="run folder (default: runs/quickstart)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable)")
    p.add_argument("--shared", default=str(DEFAULT_SHARED), help="folder with the real sample images")
    p.add_argument("--resume", action="store_true", help="continue an interrupted quickstart run")
    p.add_argument("--no-progress", action="store_true")


def real_images(shared: Path) -> list[tuple[str, dict]]:
    """The real photos to predict on, each with its person box: MPII images with the annotated
    center/scale, COCO images with the largest annotated person's bbox."""
    items: list[tuple[str, dict]] = []
    mpii = shared / "mpii" / "images" / "annotations.json"
    if mpii.is_file():
        for rec in json.loads(mpii.read_text()):
            items.append((str(mpii.parent / rec["image"]), {"center": rec["center"], "scale": rec["scale"]}))
    coco = shared / "coco" / "test_coco.json"
    if coco.is_file():
        data = json.loads(coco.read_text())
        for img in data["images"]:
            anns = [a for a in data["annotations"] if a["image_id"] == img["id"] and a.get("num_keypoints", 1) > 0]
            if not anns:
                continue
            x, y, w, h = max(anns, key=lambda a: a["bbox"][2] * a["bbox"][3])["bbox"]
            items.append((str(coco.parent / img["file_name"]), {"bbox": (x, y, x + w, y + h)}))
    return items


def run(args: argparse.Namespace) -> int:
    from posekit.analysis.plots import plot_training_curves
    from posekit.cli.predict import predict_files
    from posekit.config import load_config
    from posekit.data.sources import prepare_data
    from posekit.decoding.predictor import PosePredictor
    from posekit.evaluation.pckh import format_table
    from posekit.evaluation.runner import evaluate_checkpoint
    from posekit.training.trainer import train

    start = time.time()
    out = Path(args.out)
    cfg = load_config(args.config, [*args.overrides, f"train.output_dir={out}"])
    print(f"[1/4] training {cfg.model.num_stacks}-stack hourglass on synthetic people -> {out}")
    summary = train(cfg, resume=args.resume, progress=not args.no_progress)
    train_s = time.time() - start

    print(f"[2/4] evaluating best.pt on the synthetic val split{' (flip test)' if cfg.eval.flip_test else ''}")
    data = prepare_data(cfg.data)
    result, _, _ = evaluate_checkpoint(out / "best.pt", data.val_annotations, data.val_image_dir,
                                       flip=cfg.eval.flip_test)
    table = format_table(result)
    print(table)
    (out / "eval.txt").write_text(table + "\n")
    (out / "eval.json").write_text(json.dumps(result.to_dict(), indent=2))

    print("[3/4] plotting curves")
    curves = plot_training_curves({cfg.name: out / "metrics.csv"}, out / "curves.png")

    shared = Path(args.shared)
    items = real_images(shared)
    print(f"[4/4] predicting on {len(items)} real photos from {shared}")
    predictor = PosePredictor.from_checkpoint(out / "best.pt", flip=cfg.eval.flip_test)
    for path, box in items:
        predict_files(predictor, [path], out / "predict", **box)

    total = time.time() - start
    report = {"pckh@0.5_mean": result.mean(0.5), "pckh@0.1_mean": result.mean(0.1),
              "best_epoch": summary["best_epoch"], "epochs_run": summary["epochs_run"],
              "train_seconds": round(train_s, 1), "total_seconds": round(total, 1),
              "curves": str(curves), "predictions": str(out / "predict") if items else None}
    (out / "quickstart.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0
