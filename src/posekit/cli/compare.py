"""Is A better than B? ``posekit compare A B [C ...] [--ground-truth GT] [--json]``.

Each input is a run folder, a multi-seed folder (``posekit train --seeds``), a quoted glob of run
folders (``'runs/kpt/seed_*/transfer'``), a per-sample scores file (``.npz``) or a prediction file
scored against ``--ground-truth`` as ``posekit evaluate`` does (:mod:`posekit.pipelines.compare`).
With more than two inputs, the first is compared with each of the others.

Printed per joint and for the official Mean: PCKh of A and B, the difference A - B (points), its
paired bootstrap 95% confidence interval over the validation people (people are resampled, each
with all its joints; the number of resamples and the random seed are printed) and the p-value of
a paired permutation test over people (:mod:`posekit.evaluation.statistics`). Inputs with several
runs also get the spread of their per-run Mean and Welch's test across runs.

``--json`` prints exactly one JSON object for two inputs (a list of them for more)::

    {"a": A, "b": B, "mean_diff": d, "ci95": [lo, hi], "p_value": p,
     "per_joint": {"r_ankle": {"a", "b", "diff", "ci95", "p_value", "count"}, ...},
     "a_mean", "b_mean", "threshold", "num_people", "resamples", "permutations", "seed", ...}
"""

from __future__ import annotations

import argparse
import json

PROG = "posekit compare"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from posekit.evaluation.protocols import PROTOCOLS
    from posekit.evaluation.statistics import DEFAULT_RESAMPLES

    p.add_argument("inputs", nargs="+", metavar="RUN_OR_PRED",
                   help="run folder, multi-seed folder, quoted glob of run folders, per-sample scores .npz, "
                        "or prediction file (.npy/.mat/.json, with --ground-truth); at least two")
    p.add_argument("--ground-truth", metavar="GT",
                   help="ground truth for prediction files: gt_valid.mat, valid.h5 or a json with head sizes")
    p.add_argument("--keypoints", default=None, help="keypoint set of prediction files and GT (default mpii)")
    p.add_argument("--protocol", choices=list(PROTOCOLS), default="hrnet",
                   help="PCKh protocol the prediction files are scored under (default hrnet, see posekit evaluate); "
                        "a scores file carries its own, and all inputs must share one")
    p.add_argument("--threshold", type=float, default=0.5, metavar="T", help="PCKh threshold (default 0.5)")
    p.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES,
                   help=f"bootstrap resamples and permutations (default {DEFAULT_RESAMPLES})")
    p.add_argument("--seed", type=int, default=0, help="random seed of the resampling (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")


def run(args: argparse.Namespace) -> int:
    from posekit.pipelines.compare import compare_inputs, format_comparison, load_input

    if len(args.inputs) < 2:
        raise ValueError("give at least two inputs to compare")
    if not (args.threshold >= 0 and args.threshold < float("inf")):
        raise ValueError(f"--threshold must be a finite number >= 0, got {args.threshold}")
    inputs = [load_input(spec, args.ground_truth, args.keypoints, args.protocol) for spec in args.inputs]
    results = [compare_inputs(inputs[0], other, threshold=args.threshold, resamples=args.resamples, seed=args.seed)
               for other in inputs[1:]]
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results, indent=2))
    else:
        print("\n\n".join(format_comparison(r) for r in results))
    return 0
