"""``posekit evaluate``: official MPII PCKh, or LSP's PCK@0.2, of a prediction file or of a checkpoint.

Usage::

    posekit evaluate --predictions PRED --ground-truth GT [--protocol hrnet|bearpaw|princeton] [--json]
                     [--threshold 0.5] [--normalize-h5 valid.h5] [--visibility all|visible|invisible]
    posekit evaluate --checkpoint CKPT --annotations ANN --images DIR [--ground-truth GT] [--protocol P]
                     [--flip | --no-flip] [--scales S ...] [--save-predictions PRED.npy] [--json]
    posekit evaluate ... [--save-samples SAMPLES.npz]   # per-sample, per-joint distances for `posekit compare`

``--protocol`` picks the rules of one public implementation (:mod:`posekit.evaluation.protocols`):
``hrnet`` (default: HRNet / MMPose, ``<=``, count-weighted Mean), ``bearpaw`` (its
``eval_PCKh.py``: ``<``, unweighted Mean) or ``princeton`` (its ``test.py``: GT is ``valid.h5`` with
its ``normalize`` head sizes, joints at x = 0 skipped, ``<``, pooled rows and a ``total`` over all
16 joints).

LSP (PCK@0.2)::

    posekit evaluate ... --metric pck@0.2 [--normalize torso] [--format lsp] [--samples 1000:2000]

``--metric pckh`` (default, threshold 0.5) divides distances by the head size; ``--metric pck``
(threshold 0.2; ``pck@0.2`` names the threshold too) by the torso size ``||l_shoulder - r_hip||``
of the ground truth, the LSP metric (:mod:`posekit.evaluation.pck`); ``--normalize head|torso``
states the normaliser explicitly and must agree with the metric. ``--format`` and ``--samples``
say how to read ANN / GT and which of its samples to score: an LSP ``joints.mat`` holds all 2000
people, ``--samples 1000:2000`` is its test half; its 14 joints are read into the checkpoint's
keypoint set by name (MPII: pelvis and thorax are unannotated, so not scored).

With ``--checkpoint`` the model predicts every sample of ANN, flip-tested (and multi-scale tested)
as its model artifact says unless ``--flip`` / ``--no-flip`` / ``--scales`` override it, and is
scored against GT (an official ``gt_valid.mat``: its ``pos_gt_src``, ``jnt_missing`` and head boxes,
same samples in the same order) when given, else against ANN's joints and head sizes
(``normalize`` / ``head_size`` / ``headbox``).

PRED is a prediction file read by :func:`posekit.evaluation.load_predictions`: the contract is a
``.npy`` array of shape (16, 2, N) in MPII joint order, original image pixels; (N, 16, 2) ``.npy``,
HRNet/pytorch-pose ``.mat`` (``preds``) and ``.json`` are accepted too.

GT is ``gt_valid.mat`` (head boxes, the official evaluation), a ``valid.h5`` (``part`` with
(0, 0) = missing, ``normalize`` as head size) or an annotation json with ``head_size``/``headbox``
(:func:`posekit.data.ground_truth.load_ground_truth`).
``--visibility visible|invisible`` scores only the joints whose visibility flag is 1 / 0 (PBN's
PCKh on invisible joints); the ground truth must carry flags (``valid.h5``, json ``joints_vis``;
``gt_valid.mat`` has none). ``--normalize-h5`` replaces the ground truth's head sizes by the ``normalize`` field of an h5 file
with the same samples.

Output: a fixed-width table, or with ``--json`` exactly one JSON object on stdout (keys ``pck@T``
instead of ``pckh@T`` for PCK)::

    {"pckh@0.5": {"head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "mean"},
     "per_joint": {"r_ankle": ..., ..., "l_wrist": ...},      # at --threshold
     "protocol": "hrnet" | "bearpaw" | "princeton",
     "total": ...,                                             # princeton only (and "total@T")
     "pckh@0.1": {...}, "per_joint@0.5": {...}, "hard_mean@0.5": ..., "counts": {...},
     "num_samples": N, "thresholds": [...], "metric": "PCKh", "normalize": "head",
     "predictions": PRED, "ground_truth": GT}

All PCKh values are percentages (0-100); a value that cannot be computed (no evaluated joint) is
``null``. A NaN or infinite prediction of an evaluated joint is scored as wrong (the MPII rule); a
warning on stderr gives their number and the first one, and ``--json`` reports it as
``"nonfinite_predictions"``. Ground truth with a NaN coordinate on a joint that is not marked
missing, or a zero / NaN head size, is an error naming the file, sample and field. Exit status 0
on success, 2 on a user error (message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from posekit.config import ANNOTATION_FORMATS
from posekit.evaluation.pckh import VISIBILITY_CHOICES, format_table
from posekit.evaluation.protocols import PROTOCOLS
from posekit.evaluation.samples import sample_scores_from_result

PROG = "posekit evaluate"
#: Always reported besides --threshold: the table threshold and the Mean@0.1 column.
_ALWAYS = (0.5, 0.1)
#: metric -> (its normaliser, its default threshold).
_METRICS = {"pckh": ("head", 0.5), "pck": ("torso", 0.2)}


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``evaluate`` options to ``parser`` (a subcommand parser or a standalone one)."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--predictions", metavar="PRED",
                        help="prediction file: .npy (16, 2, N) [contract] or (N, 16, 2), .mat ('preds'), .json")
    source.add_argument("--checkpoint", metavar="CKPT", help="posekit checkpoint to run on --annotations")
    parser.add_argument("--ground-truth", metavar="GT",
                        help="ground truth: gt_valid.mat (head boxes), valid.h5 (normalize), or json with head_size "
                             "(required with --predictions; optional head sizes with --checkpoint)")
    parser.add_argument("--annotations", metavar="ANN", help="with --checkpoint: annotation file (.h5 / .json)")
    parser.add_argument("--images", metavar="DIR", help="with --checkpoint: image folder of ANN")
    flip = parser.add_mutually_exclusive_group()
    flip.add_argument("--flip", dest="flip", action="store_true", default=None,
                      help="with --checkpoint: flip testing on (default: the checkpoint's setting)")
    flip.add_argument("--no-flip", dest="flip", action="store_false", help="with --checkpoint: flip testing off")
    parser.add_argument("--keypoints", default=None,
                        help="keypoint set of ANN / GT / PRED (default: the checkpoint's, or mpii for prediction files)")
    parser.add_argument("--save-predictions", metavar="PRED",
                        help="with --checkpoint: write the predictions (.npy (16, 2, N), .mat or .json) and, next "
                             "to them, their per-sample scores PRED_STEM_samples.npz (unless --save-samples)")
    parser.add_argument("--save-samples", metavar="NPZ",
                        help="write the per-sample, per-joint PCKh distances (.npz), the input of `posekit compare`")
    parser.add_argument("--json", action="store_true", help="print one JSON object (percentages 0-100) instead of a table")
    parser.add_argument("--threshold", type=float, default=None, metavar="T",
                        help="threshold for 'per_joint' and the table (default: 0.5 for PCKh, 0.2 for PCK); 0.5 and "
                             "0.1 are always reported")
    parser.add_argument("--metric", default="pckh", metavar="M",
                        help="pckh (distance / head size, default) or pck (distance / torso size, LSP); a threshold "
                             "may follow: pck@0.2")
    parser.add_argument("--normalize", choices=("head", "torso"), default=None,
                        help="the distance normaliser: head (PCKh) or torso (PCK, ||l_shoulder - r_hip||); must agree "
                             "with --metric (default: the metric's)")
    parser.add_argument("--format", choices=ANNOTATION_FORMATS, default="auto", dest="annotation_format",
                        help="format of ANN / GT (default: by suffix; .mat: gt_valid.mat, or LSP / LSP-extended "
                             "joints.mat by content)")
    parser.add_argument("--samples", default="", metavar="START:STOP",
                        help="score only these samples of ANN / GT, by position (0-based, STOP excluded), e.g. "
                             "1000:2000 for the LSP test half")
    parser.add_argument("--scales", type=float, nargs="+", metavar="S",
                        help="with --checkpoint: multi-scale testing, heat maps averaged over these crop zooms "
                             "(e.g. 0.7 0.8 0.9 1.0 1.1 1.2; flip-averaged too unless --no-flip)")
    parser.add_argument("--visibility", choices=VISIBILITY_CHOICES, default="all",
                        help="score all annotated joints (default), only visible or only occluded ones; needs "
                             "visibility flags in the ground truth (valid.h5 'visible', json 'joints_vis')")
    parser.add_argument("--normalize-h5", default=None, metavar="H5",
                        help="use the 'normalize' field of this h5 (e.g. valid.h5) as head sizes instead of GT's")
    parser.add_argument("--protocol", choices=list(PROTOCOLS), default="hrnet",
                        help="PCKh rules: hrnet (default; MMPose/HRNet: <=, count-weighted Mean), bearpaw (its "
                             "eval_PCKh.py: <, unweighted Mean), princeton (its test.py: GT = valid.h5 with its "
                             "normalize head sizes, x = 0 skipped, <, pooled rows, total over 16 joints)")
    return parser


def build_parser() -> argparse.ArgumentParser:
    """A standalone parser for ``python -m posekit.cli.evaluate``."""
    parser = argparse.ArgumentParser(prog=PROG, description="Official MPII PCKh of a prediction file.")
    return add_arguments(parser)


def _thresholds(primary: float) -> tuple[float, ...]:
    out = [primary]
    for t in _ALWAYS:
        if not any(abs(t - u) < 1e-9 for u in out):
            out.append(t)
    return tuple(out)


def resolve_metric(metric: str, normalize: str | None, threshold: float | None) -> tuple[str, float]:
    """``(metric, threshold)`` from the ``--metric`` / ``--normalize`` / ``--threshold`` options.

    Raises:
        ValueError: an unknown metric, a threshold that is not a finite number >= 0 or that
            disagrees with the one in ``metric``, or a normaliser that is not the metric's.
    """
    name, at, value = str(metric).strip().lower().partition("@")
    if name not in _METRICS:
        raise ValueError(f"--metric {metric!r}: expected pckh or pck, optionally with @THRESHOLD (e.g. pck@0.2)")
    norm, default = _METRICS[name]
    if at:
        try:
            t = float(value)
        except ValueError:
            raise ValueError(f"--metric {metric!r}: {value!r} is not a threshold") from None
        if threshold is not None and threshold != t:
            raise ValueError(f"--metric {metric} and --threshold {threshold:g} give two thresholds")
        threshold = t
    threshold = default if threshold is None else threshold
    if not (threshold >= 0 and np.isfinite(threshold)):
        raise ValueError(f"--threshold must be a finite number >= 0, got {threshold}")
    if normalize is not None and normalize != norm:
        other = next(m for m, (n, _) in _METRICS.items() if n == normalize)
        raise ValueError(f"--metric {name} divides distances by the {norm} size; for the {normalize} size use "
                         f"--metric {other}")
    return name, float(threshold)


def run(args: argparse.Namespace) -> int:
    """Evaluate ``args.predictions`` against ``args.ground_truth``; print the result.

    Returns:
        0 on success, 2 on a user error (bad path, format, shape, sample-count mismatch), with
        the message on stderr.
    """
    try:
        args.metric, args.threshold = resolve_metric(args.metric, args.normalize, args.threshold)
        nonfinite = None
        if args.checkpoint:
            result = _evaluate_checkpoint(args)
        else:
            result, nonfinite = _evaluate_file(args)
    except (FileNotFoundError, KeyError, ValueError, OSError, RuntimeError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    source = args.checkpoint or args.predictions
    ground_truth = args.ground_truth or args.annotations

    if args.json:
        out = result.to_dict()
        out["predictions"] = str(source)
        out["ground_truth"] = str(ground_truth)
        if args.normalize_h5:
            out["head_sizes_from"] = str(args.normalize_h5)
        out["visibility"] = args.visibility
        out["normalize"] = _METRICS[args.metric][0]
        if args.samples:
            out["samples"] = args.samples
        if nonfinite is not None:
            out["nonfinite_predictions"] = nonfinite
        print(json.dumps(out, indent=2))
    else:
        print(f"predictions:  {source}\nground truth: {ground_truth}"
              + (f" (head sizes from {args.normalize_h5})" if args.normalize_h5 else ""))
        if args.metric == "pckh":
            print(f"protocol:     {args.protocol}")
        if args.visibility != "all":
            print(f"joints:       {args.visibility} only")
        print(format_table(result, args.threshold))
    return 0


def _evaluate_checkpoint(args: argparse.Namespace):
    """Run the checkpoint on ``--annotations`` and score it (optionally saving the predictions)."""
    from posekit.data.predictions import save_predictions
    from posekit.pipelines.evaluate import evaluate_checkpoint

    if args.scales and min(args.scales) <= 0:
        raise ValueError(f"--scales must be positive, got {args.scales}")
    if not (args.annotations and args.images):
        raise ValueError("--checkpoint needs --annotations and --images")
    samples = args.save_samples
    if args.save_predictions and not samples and args.metric == "pckh":
        pred_path = Path(args.save_predictions)
        samples = pred_path.with_name(pred_path.stem + "_samples.npz")
    result, preds, _ = evaluate_checkpoint(args.checkpoint, args.annotations, args.images, flip=args.flip,
                                           ground_truth=args.ground_truth, thresholds=_thresholds(args.threshold),
                                           visibility=args.visibility, scales=args.scales, keypoints=args.keypoints,
                                           protocol=args.protocol, save_samples=samples, metric=args.metric,
                                           annotation_format=args.annotation_format, samples=args.samples)
    if args.save_predictions:
        save_predictions(args.save_predictions, preds)
    return result


def _evaluate_file(args: argparse.Namespace):
    """Score a prediction file against the ground truth (and save its per-sample scores if asked);
    returns ``(result, number of NaN / inf predictions among the evaluated joints)`` and warns on
    stderr when there are any (they are scored as wrong)."""
    if not args.ground_truth:
        raise ValueError("--predictions needs --ground-truth")
    if args.scales:
        raise ValueError("--scales needs --checkpoint (a prediction file is already decoded)")
    from posekit.pipelines.evaluate import check_metric, score_prediction_file

    check_metric(args.metric, args.protocol, args.save_samples)
    result, gt = score_prediction_file(args.predictions, args.ground_truth, keypoints=args.keypoints,
                                       thresholds=_thresholds(args.threshold), visibility=args.visibility,
                                       normalize_h5=args.normalize_h5, protocol=args.protocol, metric=args.metric,
                                       annotation_format=args.annotation_format, samples=args.samples)
    # pckh() stores an infinite distance exactly where an evaluated prediction is NaN / inf
    nonfinite = result.evaluated & ~np.isfinite(result.distances)
    if nonfinite.any():
        i, j = (int(v) for v in np.argwhere(nonfinite)[0])
        print(f"{PROG}: warning: {args.predictions}: {int(nonfinite.sum())} of {int(result.evaluated.sum())} evaluated "
              f"joints have a NaN or infinite prediction (first: sample {i}, {gt.keypoints.names[j]}); they are "
              "scored as wrong", file=sys.stderr)
    if args.save_samples:
        sample_scores_from_result(result, gt.joints, gt.head_sizes, source=str(args.predictions)).save(args.save_samples)
    return result, int(nonfinite.sum())


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: parse ``argv`` and :func:`run`."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
