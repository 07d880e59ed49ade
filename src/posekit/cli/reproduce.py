"""Reproduce the tables and figures of the source documents: ``posekit reproduce TABLE [--dry-run] [--seeds S ...] | --list``.

Each table is a list of ``posekit train`` / ``posekit transfer`` commands over the packaged configs
(:mod:`posekit.pipelines.reproduce`). ``--list`` shows every table; ``--dry-run`` prints the commands
and a rough time estimate without training anything; ``--seeds 0 1 2`` runs every command once per
seed and aggregates over the seeds.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from posekit.pipelines.reproduce import REFERENCE_IMG_PER_S

    p.epilog = ("Time estimates are rough: training images x seconds per image, scaled from the measured "
                f"{REFERENCE_IMG_PER_S} img/s of the 2-stack 256-feature hourglass at 256 px on a "
                "2-core CPU by stacks x (features/256)^2 x (input/256)^2. Early stopping can end runs sooner.")
    p.add_argument("table", nargs="?", help="table id (see --list)")
    p.add_argument("--list", action="store_true", help="list every table and its configs")
    p.add_argument("--dry-run", action="store_true", help="print the commands and a rough time estimate; train nothing")
    p.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                   help="run every config once per seed (--seeds of posekit train / transfer) and aggregate over seeds")


def run(args: argparse.Namespace) -> int:
    from posekit.pipelines.reproduce import list_tables, run_table

    if args.list or not args.table:
        print(list_tables())
        return 0
    return run_table(args.table, dry_run=args.dry_run, seeds=args.seeds)
