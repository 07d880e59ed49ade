"""Compare models on the same people: ``posekit compare A B`` (:mod:`posekit.evaluation.statistics`).

An input is any of:

* a **run folder**: its ``eval_samples.npz`` (the evaluation of ``best.pt`` by ``posekit
  quickstart`` or ``posekit evaluate --save-samples RUN/eval_samples.npz``) when present, else its
  ``val_samples.npz`` (the training validation that made ``best.pt``);
* a **multi-seed folder** (``posekit train --seeds``): every seed's run, as above;
* a **glob pattern** matching several of the above (quoted so that the shell does not expand it),
  e.g. ``'runs/kpt/seed_*/transfer'``: one model trained with several seeds;
* a **per-sample scores file** (``.npz``, :mod:`posekit.evaluation.samples`);
* a **prediction file** (``.npy`` / ``.mat`` / ``.json``), scored against ``--ground-truth`` as
  ``posekit evaluate --predictions`` does.

A and B must have been scored on the same people (same sample count, image names and ground
truth) under the same PCKh protocol (:mod:`posekit.evaluation.protocols`: a scores file records
its own, a prediction file is scored under ``protocol``); only the joint instances evaluated in
every input are compared. A joint counts as correct by the protocol's comparison (``<=`` or
``<``); the compared Mean always pools the correct joints over people (the count-weighted Mean of
the default ``hrnet`` protocol), since the bootstrap resamples people. An input with several
runs (seeds) is compared through its per-instance success rate over the runs (the outcome averaged
over seeds), and the spread of its per-run Mean PCKh is reported too, with Welch's test of the
difference of seed means when both inputs have at least two runs: the paired test over people
says whether the difference is larger than the choice of validation people explains, Welch's
whether it is larger than the run-to-run (training) variation explains.
"""

from __future__ import annotations

import glob
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posekit.evaluation.samples import SampleScores, load_sample_scores, sample_scores_from_result
from posekit.evaluation.statistics import (
    DEFAULT_RESAMPLES,
    finite_or_none,
    paired_comparison,
    seed_summary,
    welch_comparison,
)
from posekit.training.trainer import VAL_SAMPLES

__all__ = ["EVAL_SAMPLES", "ScoredInput", "compare_inputs", "format_comparison", "load_input", "run_samples_file"]

#: Per-sample scores of the evaluation of a run's ``best.pt`` (preferred over the validation's).
EVAL_SAMPLES = "eval_samples.npz"
_PREDICTION_SUFFIXES = (".npy", ".mat", ".json")


@dataclass
class ScoredInput:
    """One side of a comparison: the per-sample scores of one model, one per run (seed).

    Attributes:
        label: how the input is named in the output (the argument as given).
        scores: one :class:`SampleScores` per run.
        files: where each came from.
    """

    label: str
    scores: list[SampleScores]
    files: list[str] = field(default_factory=list)


def run_samples_file(run: str | Path) -> Path:
    """The per-sample scores file of a run folder: ``eval_samples.npz``, else ``val_samples.npz``.

    Raises:
        FileNotFoundError: neither exists (the message says how to make one).
    """
    run = Path(run)
    for name in (EVAL_SAMPLES, VAL_SAMPLES):
        if (run / name).is_file():
            return run / name
    raise FileNotFoundError(f"{run}: no {EVAL_SAMPLES} or {VAL_SAMPLES} (runs trained by an older posekit have "
                            f"none: run `posekit evaluate --checkpoint {run / 'best.pt'} --annotations ANN --images DIR "
                            f"--save-samples {run / EVAL_SAMPLES}`)")


def _files_of(path: Path) -> list[Path]:
    from posekit.pipelines.seeds import find_seed_runs

    if path.is_dir():
        seeds = find_seed_runs(path)
        return [run_samples_file(r) for r in seeds.values()] if seeds else [run_samples_file(path)]
    return [path]


def load_input(spec: str, ground_truth: str | None = None, keypoints: str | None = None,
               protocol: str = "hrnet") -> ScoredInput:
    """Read one input of ``posekit compare`` (kinds in the module docstring); prediction files are
    scored under ``protocol``.

    Raises:
        FileNotFoundError: nothing at ``spec`` (or a pattern that matches nothing), or a run
            without per-sample scores.
        ValueError: a prediction file without ``ground_truth``, or an unreadable file.
    """
    path = Path(spec)
    if not path.exists() and glob.has_magic(spec):
        matches = sorted(Path(m) for m in glob.glob(spec))
        if not matches:
            raise FileNotFoundError(f"{spec}: the pattern matches nothing")
        files = [f for m in matches for f in _files_of(m)]
    elif not path.exists():
        raise FileNotFoundError(f"{spec}: no such run folder or file")
    else:
        files = _files_of(path)
    scores = []
    for f in files:
        if f.suffix.lower() in _PREDICTION_SUFFIXES:
            if not ground_truth:
                raise ValueError(f"{f}: a prediction file needs --ground-truth to be scored")
            from posekit.pipelines.evaluate import score_prediction_file

            result, gt = score_prediction_file(f, ground_truth, keypoints=keypoints, protocol=protocol)
            scores.append(sample_scores_from_result(result, gt.joints, gt.head_sizes, source=str(f)))
        else:
            scores.append(load_sample_scores(f))
    return ScoredInput(label=str(spec), scores=scores, files=[str(f) for f in files])


def _check_same_people(inputs: list[ScoredInput]) -> None:
    ref, ref_file = inputs[0].scores[0], inputs[0].files[0]
    for inp in inputs:
        for s, f in zip(inp.scores, inp.files):
            reason = ref.same_people(s)
            if reason:
                raise ValueError(f"{ref_file} and {f} were not scored on the same people under the same protocol: "
                                 f"{reason}")


def compare_inputs(a: ScoredInput, b: ScoredInput, threshold: float = 0.5, resamples: int = DEFAULT_RESAMPLES,
                   seed: int = 0) -> dict:
    """A vs B at PCKh@``threshold``: paired bootstrap CI and permutation test over people, and,
    for inputs with several runs, the spread over seeds and Welch's test.

    Returns:
        ``{"a", "b", "threshold", "mean_diff", "ci95": [lo, hi], "p_value", "a_mean", "b_mean",
        "per_joint": {joint: {"a", "b", "diff", "ci95", "p_value", "count"}}, "num_people",
        "compared_instances", "resamples", "permutations", "seed", "ci_method", "test",
        "runs": {"a": n, "b": n}, "protocol"}``, plus ``"seeds"`` (``{"a": summary, "b": summary, "welch": ...}``)
        when an input has several runs; PCKh in %, differences A - B in percentage points.

    Raises:
        ValueError: the inputs were scored on different people, or share no evaluated instance.
    """
    _check_same_people([a, b])
    evaluated = np.logical_and.reduce([s.evaluated for inp in (a, b) for s in inp.scores])
    ref = a.scores[0]

    def outcome(inp: ScoredInput) -> tuple[np.ndarray, list[float]]:
        correct = [s.correct(threshold) & evaluated for s in inp.scores]
        kept = evaluated[:, ref.mean_joints].sum()
        run_means = [100.0 * c[:, ref.mean_joints].sum() / kept if kept else math.nan for c in correct]
        return np.mean(correct, axis=0), run_means

    out_a, means_a = outcome(a)
    out_b, means_b = outcome(b)
    pc = paired_comparison(out_a, out_b, evaluated, ref.joint_names, ref.mean_joints, resamples=resamples, seed=seed)
    result = {"a": a.label, "b": b.label, "threshold": float(threshold), **pc.to_dict(),
              "compared_instances": int(evaluated[:, ref.mean_joints].sum()),
              "ci_method": "paired percentile bootstrap over people (all joints of a drawn person together)",
              "test": "paired permutation test over people (sign flip of each person's A - B)",
              "runs": {"a": len(a.scores), "b": len(b.scores)}, "protocol": a.scores[0].protocol}
    if len(a.scores) > 1 or len(b.scores) > 1:
        seeds = {"a": seed_summary(means_a).to_dict(), "b": seed_summary(means_b).to_dict()}
        if len(means_a) > 1 and len(means_b) > 1:
            seeds["welch"] = welch_comparison(means_a, means_b)
        result["seeds"] = finite_or_none(seeds)
    return result


def _num(x, fmt: str = ".2f") -> str:
    return "-" if x is None else format(x, fmt)


def _p(p) -> str:
    return "-" if p is None else (f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}")


def format_comparison(result: dict) -> str:
    """The text table of one :func:`compare_inputs` result."""
    t = f"{result['threshold']:g}"
    runs = result["runs"]
    lines = [f"A: {result['a']}" + (f" ({runs['a']} runs)" if runs["a"] > 1 else ""),
             f"B: {result['b']}" + (f" ({runs['b']} runs)" if runs["b"] > 1 else ""),
             f"PCKh@{t} ({result['protocol']} protocol), A - B in points, on {result['num_people']} people "
             f"({result['compared_instances']} joint "
             f"instances in the Mean); 95% CI: paired bootstrap over people, {result['resamples']} resamples; "
             f"p: paired permutation test, {result['permutations']} sign flips; seed {result['seed']}", "",
             f"{'joint':<12}{'A':>8}{'B':>8}{'A-B':>8}  {'95% CI':<18}{'p':>8}"]
    for name, j in result["per_joint"].items():
        ci = f"[{_num(j['ci95'][0])}, {_num(j['ci95'][1])}]"
        lines.append(f"{name:<12}{_num(j['a']):>8}{_num(j['b']):>8}{_num(j['diff']):>8}  {ci:<18}{_p(j['p_value']):>8}")
    ci = f"[{_num(result['ci95'][0])}, {_num(result['ci95'][1])}]"
    lines.append(f"{'Mean':<12}{_num(result['a_mean']):>8}{_num(result['b_mean']):>8}{_num(result['mean_diff']):>8}  "
                 f"{ci:<18}{_p(result['p_value']):>8}")
    if "seeds" in result:
        s = result["seeds"]
        lines.append("")
        lines.append("Across runs (training seeds): Mean PCKh per run")
        for side in ("a", "b"):
            m = s[side]
            lines.append(f"  {side.upper()}: mean {_num(m['mean'])}, sd {_num(m['std'])}, n {m['n']}, runs "
                         + ", ".join(_num(v) for v in m["values"]))
        if "welch" in s:
            w = s["welch"]
            lines.append(f"  difference of seed means {_num(w['diff'])}, Welch 95% CI [{_num(w['ci95'][0])}, "
                         f"{_num(w['ci95'][1])}], p {_p(w['p_value'])}")
    return "\n".join(lines)
