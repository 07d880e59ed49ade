"""Markdown + HTML report of training runs: ``posekit report RUN_DIR... [--out DIR]``.

Config summary, per-joint PCKh@0.5, loss and PCKh curves of all runs on one figure, example
predictions with ground-truth colouring (when the val data is on disk) and MI figures
(:mod:`posekit.pipelines.report`).
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", help="run folders (config.yaml, metrics.csv, best.pt, optional eval.json)")
    p.add_argument("--out", default=None, help="output folder (default: RUN_DIR/report for one run, else report)")
    p.add_argument("--examples", type=int, default=3, help="example predictions per run (default 3; 0: none)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from posekit.pipelines.report import write_report

    out = args.out or (str(Path(args.runs[0]) / "report") if len(args.runs) == 1 else "report")
    paths = write_report(args.runs, out, examples=args.examples)
    print(f"posekit report: {paths['markdown']} and {paths['html']}")
    return 0
