"""Is a PCKh difference real? Paired comparisons over people and summaries over training seeds.

Two kinds of noise hide in a PCKh difference between models A and B:

* **which people were evaluated** (finite validation set): handled by comparing A and B on the
  same people, :func:`paired_comparison`;
* **which training run** (initialisation, data order, augmentation): handled by training each
  model with several seeds, :func:`seed_summary` and :func:`welch_comparison`.

:func:`paired_comparison` takes per-person, per-joint outcomes of A and B on the same people and
the instances that count, and returns:

* the **difference of PCKh** (A - B, percentage points) for the official Mean and for every joint;
* a **paired bootstrap 95% confidence interval**: people are resampled with replacement (the same
  draw for A and B, and every joint of a drawn person comes with it, since joints of one person are
  not independent), the pooled difference recomputed, and the 2.5 / 97.5 percentiles taken (the
  percentile interval of Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13;
  resampling whole clusters as in their ch. 8 for dependent data);
* a **paired permutation test**: under "A and B are equally good", swapping A's and B's outcomes for
  any person leaves the joint distribution unchanged, so the observed difference is compared with
  differences after swapping a random half of the people (a sign flip of each person's summed
  difference; Fisher's randomisation test, see Good, "Permutation, Parametric, and Bootstrap Tests
  of Hypotheses", 2005, ch. 3). It is exact in its assumptions, needs no normal approximation, and
  respects the clustering of joints within a person, which McNemar's test on all (person, joint)
  pairs would not. For a single joint and 0/1 outcomes it is McNemar's exact test (the two-sided
  binomial test on the discordant people) up to Monte Carlo error; the Mean pools the joints of a
  person before flipping. Two-sided p-value ``(1 + #{|T*| >= |T|}) / (1 + R)``.

Outcomes may be fractions (the rate at which several seeds of a model got a joint right), so the
same functions compare seed-averaged models.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["DEFAULT_RESAMPLES", "PairedComparison", "SeedSummary", "finite_or_none", "paired_comparison",
           "seed_summary", "welch_comparison"]

#: Bootstrap resamples and permutations used unless told otherwise.
DEFAULT_RESAMPLES = 10_000
#: People per block of resamples (bounds memory: block x N weights).
_BLOCK = 500


@dataclass(frozen=True)
class PairedComparison:
    """A vs B on the same people (see the module docstring). Differences are A - B in percentage
    points of PCKh.

    Attributes:
        joint_names: the K joints.
        a_mean, b_mean: official Mean PCKh (%) of A and B over the compared instances.
        mean_diff: ``a_mean - b_mean``.
        ci95: (lo, hi) paired bootstrap interval of ``mean_diff`` at ``confidence``.
        p_value: two-sided paired permutation test of ``mean_diff``.
        per_joint: joint name -> ``{"a", "b", "diff", "ci95": [lo, hi], "p_value", "count"}`` for
            every joint with a compared instance.
        num_people: people with at least one compared instance.
        resamples, permutations, seed, confidence: how the numbers were computed.
    """

    joint_names: tuple[str, ...]
    a_mean: float
    b_mean: float
    mean_diff: float
    ci95: tuple[float, float]
    p_value: float
    per_joint: dict[str, dict] = field(default_factory=dict)
    num_people: int = 0
    resamples: int = DEFAULT_RESAMPLES
    permutations: int = DEFAULT_RESAMPLES
    seed: int = 0
    confidence: float = 0.95

    def to_dict(self) -> dict:
        """JSON-ready (NaN -> None)."""
        return finite_or_none({"a_mean": self.a_mean, "b_mean": self.b_mean, "mean_diff": self.mean_diff,
                      "ci95": list(self.ci95), "p_value": self.p_value, "per_joint": self.per_joint,
                      "num_people": self.num_people, "resamples": self.resamples,
                      "permutations": self.permutations, "seed": self.seed, "confidence": self.confidence})


def finite_or_none(x):
    """``x`` (nested dicts / lists) with every non-finite float replaced by None (strict JSON has
    no NaN) and numpy floats made plain floats."""
    if isinstance(x, dict):
        return {k: finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_or_none(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def _check_outcomes(a: np.ndarray, b: np.ndarray, evaluated: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    evaluated = np.asarray(evaluated, bool)
    if a.ndim != 2 or a.shape != b.shape or evaluated.shape != a.shape:
        raise ValueError(f"outcomes of A {a.shape}, B {b.shape} and the evaluated mask {evaluated.shape} "
                         "must share one (N, K) shape")
    for name, x in (("A", a), ("B", b)):
        bad = evaluated & ~((x >= 0) & (x <= 1))
        if bad.any():
            i, j = (int(v[0]) for v in np.nonzero(bad))
            raise ValueError(f"outcomes of {name} must lie in [0, 1] where evaluated (sample {i}, joint {j}: {x[i, j]})")
    return np.where(evaluated, a, 0.0), np.where(evaluated, b, 0.0), evaluated


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 100.0 * num / np.where(den > 0, den, 1), np.nan)


def paired_comparison(a: np.ndarray, b: np.ndarray, evaluated: np.ndarray, joint_names: Sequence[str],
                      mean_joints: np.ndarray | None = None, resamples: int = DEFAULT_RESAMPLES,
                      permutations: int | None = None, seed: int = 0, confidence: float = 0.95) -> PairedComparison:
    """Compare A and B on the same people: PCKh differences, bootstrap CIs and permutation p-values.

    Args:
        a, b: (N, K) outcome of A and B for person ``i``, joint ``j``: 1 correct, 0 wrong, or a
            fraction (the rate over several seeds). Ignored where not ``evaluated``.
        evaluated: (N, K) bool, the instances compared (scored for both A and B).
        joint_names: the K joint names.
        mean_joints: (K,) bool, joints pooled into the Mean (default: all).
        resamples: bootstrap resamples of the people (>= 100).
        permutations: random sign flips for the p-values (default: ``resamples``).
        seed: seed of the random generator (numpy PCG64): the same seed gives the same intervals.
        confidence: coverage of the interval (0.95 for the usual 95% CI).

    Returns:
        :class:`PairedComparison` (percentage points).

    Raises:
        ValueError: shapes disagree, outcomes outside [0, 1], nothing to compare, fewer than 100
            resamples or a confidence outside (0, 1).
    """
    a, b, evaluated = _check_outcomes(a, b, evaluated)
    n, k = a.shape
    if len(joint_names) != k:
        raise ValueError(f"{len(joint_names)} joint names for {k} joints")
    mean_joints = np.ones(k, bool) if mean_joints is None else np.asarray(mean_joints, bool)
    permutations = resamples if permutations is None else int(permutations)
    if resamples < 100 or permutations < 100:
        raise ValueError(f"use at least 100 resamples and permutations, got {resamples} and {permutations}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    people = evaluated.any(axis=1)
    if not evaluated[:, mean_joints].any():
        raise ValueError("no instance to compare: A and B share no evaluated joint of the Mean")
    # keep only people with a compared instance: the others carry no information
    a, b, evaluated = a[people], b[people], evaluated[people]
    m = len(a)
    diff = a - b                                       # (M, K) per-person, per-joint difference
    counts = evaluated.astype(np.float64)
    # per-joint columns plus one pooled "mean" column
    d_cols = np.concatenate([diff, diff[:, mean_joints].sum(1, keepdims=True)], axis=1)      # (M, K+1)
    n_cols = np.concatenate([counts, counts[:, mean_joints].sum(1, keepdims=True)], axis=1)  # (M, K+1)
    a_cols = np.concatenate([a, a[:, mean_joints].sum(1, keepdims=True)], axis=1)
    b_cols = np.concatenate([b, b[:, mean_joints].sum(1, keepdims=True)], axis=1)
    total = n_cols.sum(0)
    observed = _ratio(d_cols.sum(0), total)

    rng = np.random.default_rng(seed)
    boot = np.empty((resamples, k + 1))
    uniform = np.full(m, 1.0 / m)
    for start in range(0, resamples, _BLOCK):
        size = min(_BLOCK, resamples - start)
        w = rng.multinomial(m, uniform, size=size).astype(np.float64)    # (size, M) draw counts of each person
        boot[start:start + size] = _ratio(w @ d_cols, w @ n_cols)
    alpha = (1.0 - confidence) / 2
    with warnings.catch_warnings():     # a joint never evaluated has an all-NaN column: its interval is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(boot, [100 * alpha, 100 * (1 - alpha)], axis=0)

    extreme = np.zeros(k + 1)
    tol = 1e-9 * np.maximum(1.0, np.abs(d_cols).sum(0))
    obs_sum = np.abs(d_cols.sum(0))
    for start in range(0, permutations, _BLOCK):
        size = min(_BLOCK, permutations - start)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(size, m))
        extreme += (np.abs(signs @ d_cols) >= obs_sum - tol).sum(0)
    p = (1.0 + extreme) / (1.0 + permutations)

    a_pckh, b_pckh = _ratio(a_cols.sum(0), total), _ratio(b_cols.sum(0), total)
    per_joint = {}
    for j, name in enumerate(joint_names):
        if total[j] > 0:
            per_joint[str(name)] = {"a": float(a_pckh[j]), "b": float(b_pckh[j]), "diff": float(observed[j]),
                                    "ci95": [float(lo[j]), float(hi[j])], "p_value": float(p[j]),
                                    "count": int(total[j])}
    return PairedComparison(joint_names=tuple(str(x) for x in joint_names), a_mean=float(a_pckh[k]),
                            b_mean=float(b_pckh[k]), mean_diff=float(observed[k]), ci95=(float(lo[k]), float(hi[k])),
                            p_value=float(p[k]), per_joint=per_joint, num_people=int(m), resamples=int(resamples),
                            permutations=int(permutations), seed=int(seed), confidence=float(confidence))


@dataclass(frozen=True)
class SeedSummary:
    """One metric over training seeds.

    Attributes:
        values: the metric of each seed, in seed order.
        mean: their mean.
        std: sample standard deviation (``ddof=1``); NaN for one seed.
        ci95: (lo, hi) Student-t interval of the mean, ``mean -/+ t(0.975, n-1) * std / sqrt(n)``;
            NaN for one seed.
    """

    values: tuple[float, ...]
    mean: float
    std: float
    ci95: tuple[float, float]

    def to_dict(self) -> dict:
        """JSON-ready (NaN -> None)."""
        return finite_or_none({"values": list(self.values), "mean": self.mean, "std": self.std,
                               "ci95": list(self.ci95), "n": len(self.values)})


def seed_summary(values: Sequence[float], confidence: float = 0.95) -> SeedSummary:
    """Mean, standard deviation and the Student-t confidence interval of the mean over seeds.

    The interval assumes the seeds' values are independent draws from a normal distribution; with
    3 seeds ``t(0.975, 2) = 4.30``, so it is wide: that is the honest width for 3 runs.

    Args:
        values: one value per seed (None and NaN entries are dropped).

    Returns:
        The summary; everything NaN (and no value) when no value is finite.
    """
    from scipy import stats

    kept = tuple(float(v) for v in values if v is not None and math.isfinite(float(v)))
    if not kept:
        return SeedSummary((), math.nan, math.nan, (math.nan, math.nan))
    x = np.asarray(kept)
    mean = float(x.mean())
    if len(x) < 2:
        return SeedSummary(kept, mean, math.nan, (math.nan, math.nan))
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1)) * std / math.sqrt(len(x))
    return SeedSummary(kept, mean, std, (mean - half, mean + half))


def welch_comparison(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict:
    """Difference of the seed means of A and B with Welch's unequal-variance t interval and test
    (``scipy.stats.ttest_ind(equal_var=False)``; Welch, Biometrika 34, 1947).

    Args:
        a, b: one value per training seed of A and of B (at least two each).

    Returns:
        ``{"diff", "ci95": [lo, hi], "p_value", "df", "n_a", "n_b"}``; ``diff`` = mean(a) - mean(b).
        When both groups have zero spread the interval is the point and the p-value is 0 for a
        non-zero difference, 1 otherwise.

    Raises:
        ValueError: fewer than two values in a group.
    """
    from scipy import stats

    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(x) < 2 or len(y) < 2:
        raise ValueError(f"Welch's test needs at least two seeds per model, got {len(x)} and {len(y)}")
    diff = float(x.mean() - y.mean())
    if x.var() == 0 and y.var() == 0:
        return {"diff": diff, "ci95": [diff, diff], "p_value": 0.0 if diff else 1.0, "df": math.nan,
                "n_a": len(x), "n_b": len(y)}
    test = stats.ttest_ind(x, y, equal_var=False)
    ci = test.confidence_interval(confidence)
    return {"diff": diff, "ci95": [float(ci.low), float(ci.high)], "p_value": float(test.pvalue),
            "df": float(test.df), "n_a": len(x), "n_b": len(y)}
