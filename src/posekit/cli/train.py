"""Train a model from a YAML config: ``posekit train CONFIG.yaml [--set key=value ...] [--resume]``."""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="experiment YAML (see configs/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set train.lr=1e-3 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/last.pt exactly where it stopped")
    p.add_argument("--output-dir", help="shorthand for --set train.output_dir=DIR")
    p.add_argument("--backbone-weights", metavar="PATH",
                   help="multitask models: local torchvision VGG16 state dict for the trunk "
                        "(shorthand for --set multitask.backbone_weights=PATH; nothing is downloaded)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from posekit.config import load_config
    from posekit.training.trainer import train

    overrides = list(args.overrides)
    if args.output_dir:
        overrides.append(f"train.output_dir={args.output_dir}")
    if args.backbone_weights:
        overrides.append(f"multitask.backbone_weights={args.backbone_weights}")
    cfg = load_config(args.config, overrides)
    summary = train(cfg, resume=args.resume, progress=not args.no_progress)
    print(json.dumps({k: v for k, v in summary.items() if k != "last"}, indent=2))
    return 0
