"""Train a model from a config: ``posekit train CONFIG [--set key=value ...] [--resume | --overwrite] [--seeds S ...]``.

CONFIG is a YAML file or the name of a packaged config (``posekit configs`` lists them, e.g.
``quickstart`` or ``hourglass/mpii_8stack``). ``--seeds 0 1 2`` trains once per seed into
``OUTPUT_DIR/seed_<seed>/`` and writes the aggregate over seeds into OUTPUT_DIR (``seeds.json``,
``seeds.md``, ``curves.png`` with bands; :mod:`posekit.pipelines.seeds`).
"""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="experiment YAML file or packaged config name (see `posekit configs`)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set train.lr=1e-3 (repeatable)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in the output folder exactly where it stopped (uses the run's saved "
                        "config; only train.epochs and a few other keys may change)")
    p.add_argument("--overwrite", action="store_true", help="start a new run in an output folder that holds one")
    p.add_argument("--output-dir", help="shorthand for --set train.output_dir=DIR")
    p.add_argument("--backbone-weights", metavar="PATH",
                   help="multitask models: local torchvision VGG16 state dict for the trunk "
                        "(shorthand for --set model.backbone_weights=PATH; nothing is downloaded)")
    p.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                   help="train once per seed (train.seed) into OUTPUT_DIR/seed_SEED/ and aggregate: mean, standard "
                        "deviation and 95%% CI across seeds of every metric, curves with bands")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import yaml

    from posekit.config import config_to_dict, load_config
    from posekit.training.run import train

    overrides = list(args.overrides)
    if args.output_dir:
        overrides.append(f"train.output_dir={args.output_dir}")
    if args.backbone_weights:
        overrides.append(f"model.backbone_weights={args.backbone_weights}")
    cfg = load_config(args.config, overrides)
    if args.print_config:
        print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), end="")
        return 0
    if args.resume and args.overwrite:
        raise ValueError("give --resume or --overwrite, not both")
    if args.seeds:
        from posekit.pipelines.seeds import aggregate_seeds, format_summary_table
        from posekit.training.run import train_seeds

        train_seeds(cfg, args.seeds, resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite,
                    overrides=overrides)
        agg = aggregate_seeds(cfg.train.output_dir, title=cfg.name)
        print("\n".join(format_summary_table(agg["metrics"], ["pckh", "pckh@0.1", "val_loss", "best_epoch"])))
        print(f"aggregate over seeds {agg['seeds']}: {cfg.train.output_dir}/seeds.json, seeds.md, curves.png")
        return 0
    summary = train(cfg, resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite,
                    overrides=overrides)
    print(json.dumps({k: v for k, v in summary.items() if k != "last"}, indent=2))
    return 0
