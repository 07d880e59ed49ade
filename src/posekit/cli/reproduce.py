"""Reproduce the tables and figures of the source documents.

``posekit reproduce NAME [--dry-run] [--seeds S ...] | NAME --report [--runs-dir DIR] | NAME --plot PNG | --list [--json]``.

Each target is one table or figure of a source document with the packaged configs whose runs
reproduce it (:mod:`posekit.pipelines.reproduce`). ``--list`` shows every target (``--json``: a
list of ``{"name", "document", "item", "configs"}``); ``--dry-run`` prints the commands with CPU
and GPU time estimates and trains nothing; ``--report`` prints the paper's numbers in its layout
with posekit's results from the run folders under ``--runs-dir`` ("not run" where missing);
``--plot`` draws a figure target from those runs; ``--seeds 0 1 2`` runs every command once per
seed and aggregates over the seeds.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from posekit.pipelines.reproduce import GPU_REFERENCE_IMG_PER_S, REFERENCE_IMG_PER_S

    p.epilog = ("Time estimates are rough: training images x seconds per image, scaled from the measured "
                f"{REFERENCE_IMG_PER_S} img/s of the 2-stack 256-feature hourglass at 256 px on a "
                "2-core CPU by stacks x (features/256)^2 x (input/256)^2. GPU figures are an assumption, not a "
                f"measurement: {GPU_REFERENCE_IMG_PER_S:.1f} img/s for that model, from the three days per 8-stack "
                "run (100 MPII epochs) the hourglass re-implementation reports. Early stopping can end runs sooner.")
    p.add_argument("table", nargs="?", help="target name (see --list)")
    p.add_argument("--list", action="store_true", help="list every target and its commands")
    p.add_argument("--json", action="store_true", help="with --list: print the targets as JSON")
    p.add_argument("--dry-run", action="store_true", help="print the commands and rough time estimates; train nothing")
    p.add_argument("--report", action="store_true", help="print the paper's numbers beside posekit's results")
    p.add_argument("--runs-dir", default="runs", help="folder holding the run folders (default: runs)")
    p.add_argument("--plot", metavar="PNG", help="draw a figure target from the runs under --runs-dir")
    p.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                   help="run every config once per seed (--seeds of posekit train / transfer) and aggregate over seeds")


def run(args: argparse.Namespace) -> int:
    import json

    from posekit.pipelines.reproduce import list_tables, list_targets, plot_target, report_table, run_table

    if args.list or not args.table:
        print(json.dumps(list_targets(), indent=1) if args.json else list_tables())
        return 0
    if args.json:
        raise ValueError("--json only goes with --list")
    if args.report or args.plot:
        if args.report:
            print(report_table(args.table, args.runs_dir))
        if args.plot:
            print(f"wrote {plot_target(args.table, args.plot, args.runs_dir)}")
        return 0
    return run_table(args.table, dry_run=args.dry_run, seeds=args.seeds)
