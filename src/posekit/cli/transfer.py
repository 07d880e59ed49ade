"""KPTransfer experiment of one joint split: ``posekit transfer --split a [--config ...] [--out DIR]``.

Trains the S1 network, then the ``transfer``, ``frozen`` and ``random`` configurations on S2
(Vats et al. 2019, Sec. 3-4; see :mod:`posekit.training.transfer`), and writes into ``--out``:

* ``pckh_s2.md`` / ``pckh_s2.json``: PCKh@0.5 on S2 of each configuration in the layout of the
  paper's Tables 2-5 (the split's columns and their plain Average), parameter counts, epochs to
  convergence;
* ``convergence.png``: validation PCK (bounding box, Yang & Ramanan) on S2 against epoch,
  transfer vs random (Fig. 3);
* the run folders ``s1/``, ``transfer/``, ``frozen/``, ``random/`` (metrics.csv, best.pt, ...).

``--seeds 0 1 2`` runs the whole experiment once per training seed into ``--out/seed_<seed>/`` and
writes the report over seeds into ``--out``: ``pckh_s2_seeds.md`` / ``pckh_s2_seeds.json`` (mean,
standard deviation and 95% CI across seeds; transfer vs random, transfer vs frozen, frozen vs
random: Welch's test across seeds and the paired test over the validation people) and
``convergence.png`` with bands.
``posekit transfer --list-splits [--json]`` prints the splits of the paper's Table 1 (MPII joint
names) and trains nothing; ``--json`` prints ``{"a": {"s1": [...], "s2": [...]}, ...}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_CONFIG = "kptransfer/quickstart_d"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--split", choices=("a", "b", "c", "d"), help="joint split (a)-(d) (default: the config's)")
    p.add_argument("--s1", nargs="+", metavar="JOINT", help="S1 joints or subset names (replaces the split's S1)")
    p.add_argument("--s2", nargs="+", metavar="JOINT", help="S2 joints or subset names (replaces the split's S2)")
    p.add_argument("--config", default=DEFAULT_CONFIG, help=f"config file or packaged name (default: {DEFAULT_CONFIG})")
    p.add_argument("--out", help="output folder (default: runs/kptransfer_SPLIT)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set train.epochs=3 (repeatable)")
    p.add_argument("--resume", action="store_true", help="keep finished stages, continue an interrupted one")
    p.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                   help="run the experiment once per seed (train.seed) into OUT/seed_SEED/ and report over seeds")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--list-splits", action="store_true", help="print the joint splits (a)-(d) and exit")
    p.add_argument("--json", action="store_true", help="with --list-splits: print them as JSON")


def print_splits(as_json: bool) -> None:
    """Print the splits of Vats et al. (2019), Table 1, as JSON or as a readable table."""
    from posekit.training.transfer import KPTRANSFER_SPLITS

    if as_json:
        print(json.dumps({k: {"s1": list(v["s1"]), "s2": list(v["s2"])} for k, v in KPTRANSFER_SPLITS.items()}))
        return
    for k, v in KPTRANSFER_SPLITS.items():
        shared = sorted(set(v["s1"]) & set(v["s2"]))
        print(f"split ({k})")
        print(f"  S1: {', '.join(v['s1'])}")
        print(f"  S2: {', '.join(v['s2'])}")
        if shared:
            print(f"  in both: {', '.join(shared)}")


def run(args: argparse.Namespace) -> int:
    from posekit.config import load_config
    from posekit.pipelines.kptransfer import run_kptransfer
    from posekit.training.transfer import resolve_split

    if args.list_splits:
        print_splits(args.json)
        return 0
    if args.json:
        raise ValueError("--json only goes with --list-splits")
    cfg = load_config(args.config, args.overrides)
    if args.split:
        cfg.transfer.split = args.split
    if args.s1:
        cfg.transfer.s1 = list(args.s1)
    if args.s2:
        cfg.transfer.s2 = list(args.s2)
    resolve_split(cfg.transfer.split, cfg.transfer.s1, cfg.transfer.s2)  # fail before any training
    out = Path(args.out or f"runs/kptransfer_{cfg.transfer.split}")
    if args.seeds:
        from posekit.pipelines.kptransfer import run_kptransfer_seeds

        run_kptransfer_seeds(cfg, out, args.seeds, progress=not args.no_progress, resume=args.resume)
        print((out / "pckh_s2_seeds.md").read_text())
        print(f"report: {out / 'pckh_s2_seeds.md'}, {out / 'pckh_s2_seeds.json'}, {out / 'convergence.png'}")
        return 0
    report = run_kptransfer(cfg, out, progress=not args.no_progress, resume=args.resume)
    print((out / "pckh_s2.md").read_text())
    print(json.dumps({m: c["epochs_to_convergence"] for m, c in report["configurations"].items()}))
    print(f"report: {out / 'pckh_s2.md'}, {out / 'pckh_s2.json'}, {out / 'convergence.png'}")
    return 0
