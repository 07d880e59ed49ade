"""The main job on the built-in default: synthetic people -> train -> PCKh -> plots -> predict.

``posekit quickstart [--config quickstart] [--out runs/quickstart] [--set key=value ...] [--samples DIR]``
(:mod:`posekit.pipelines.quickstart`).
"""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="quickstart", help="config file or packaged name (default: quickstart)")
    p.add_argument("--out", default="runs/quickstart", help="run folder (default: runs/quickstart)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable)")
    p.add_argument("--samples", default=None, metavar="DIR",
                   help="folder with sample photos (mpii/images/annotations.json, coco/test_coco.json); default: "
                        "$POSEKIT_SAMPLE_DATA, ./shared/data or ../shared/data")
    p.add_argument("--resume", action="store_true", help="continue an interrupted quickstart run")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier quickstart run in --out")
    p.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from posekit.pipelines.quickstart import run_quickstart

    report = run_quickstart(args.config, args.out, args.overrides, samples=args.samples, resume=args.resume,
                            overwrite=args.overwrite, progress=not args.no_progress)
    print(json.dumps(report, indent=2))
    return 0
