"""Comparisons that hold up: per-sample scores files, the paired bootstrap / permutation test, and
``posekit compare`` on real MPII ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binomtest

from posekit.cli.main import main
from posekit.evaluation.pckh import pckh
from posekit.evaluation.samples import load_sample_scores, sample_scores_from_result
from posekit.evaluation.statistics import paired_comparison, seed_summary, welch_comparison
from posekit.keypoints import MPII

NAMES = MPII.names


def _bernoulli(rng, shape, p):
    return (rng.random(shape) < p).astype(np.float64)


# ------------------------------------------------------------------------------ paired statistics
def test_bootstrap_ci_covers_a_known_difference_and_excludes_zero():
    """A succeeds with probability 0.80, B with 0.70 on every instance: the true Mean difference is
    10 points; the interval must cover it, exclude 0, and the test must reject equality."""
    rng = np.random.default_rng(3)
    n, k = 600, 16
    a, b = _bernoulli(rng, (n, k), 0.80), _bernoulli(rng, (n, k), 0.70)
    res = paired_comparison(a, b, np.ones((n, k), bool), NAMES, resamples=2000, seed=0)
    assert res.mean_diff == pytest.approx(100 * (a.mean() - b.mean()))
    lo, hi = res.ci95
    assert lo < 10.0 < hi and lo > 0
    assert hi - lo < 4.0          # ~2 x 1.96 x sd of the difference (about 0.75 points)
    assert res.p_value < 0.001 and res.p_value == pytest.approx(1 / 2001)
    assert res.a_mean == pytest.approx(100 * a.mean()) and res.b_mean == pytest.approx(100 * b.mean())


def test_bootstrap_ci_has_about_nominal_coverage():
    """Over 200 independent data sets with a true difference of 5 points, the 95% interval covers
    it in about 95% of them (binomial 99.9% range for 200 trials: 0.88-0.995)."""
    rng = np.random.default_rng(11)
    covered = 0
    for rep in range(200):
        a, b = _bernoulli(rng, (150, 4), 0.75), _bernoulli(rng, (150, 4), 0.70)
        lo, hi = paired_comparison(a, b, np.ones((150, 4), bool), NAMES[:4], resamples=400, seed=rep).ci95
        covered += lo <= 5.0 <= hi
    assert 0.88 <= covered / 200 <= 0.995


def test_identical_outcomes_give_zero_difference_and_p_one():
    rng = np.random.default_rng(0)
    a = _bernoulli(rng, (200, 16), 0.6)
    res = paired_comparison(a, a.copy(), rng.random((200, 16)) > 0.1, NAMES, resamples=500)
    assert res.mean_diff == 0 and res.ci95 == (0.0, 0.0) and res.p_value == 1.0
    assert all(j["diff"] == 0 and j["p_value"] == 1.0 for j in res.per_joint.values())


def test_people_are_resampled_not_joints():
    """The same 320 wrong instances of B make a wider interval when they sit on 20 people (all 16
    joints each) than when they are spread over 320 people: joints of a person move together."""
    n, k = 400, 16
    a = np.ones((n, k))
    clustered, spread = np.ones((n, k)), np.ones((n, k))
    clustered[:20] = 0
    spread[np.arange(320), np.arange(320) % k] = 0
    ev = np.ones((n, k), bool)
    wide = paired_comparison(a, clustered, ev, NAMES, resamples=2000, seed=1)
    narrow = paired_comparison(a, spread, ev, NAMES, resamples=2000, seed=1)
    assert wide.mean_diff == pytest.approx(narrow.mean_diff) == pytest.approx(5.0)
    assert (wide.ci95[1] - wide.ci95[0]) > 3 * (narrow.ci95[1] - narrow.ci95[0])


def test_per_joint_permutation_test_is_mcnemars_exact_test():
    """For one joint with 0/1 outcomes the sign-flip test is McNemar's exact test (two-sided binomial
    test on the discordant people), up to Monte Carlo error."""
    rng = np.random.default_rng(5)
    a, b = _bernoulli(rng, (300, 2), 0.72), _bernoulli(rng, (300, 2), 0.64)
    res = paired_comparison(a, b, np.ones((300, 2), bool), NAMES[:2], resamples=20000, seed=2)
    for j, name in enumerate(NAMES[:2]):
        d = a[:, j] - b[:, j]
        exact = binomtest(int((d > 0).sum()), int((d != 0).sum())).pvalue
        assert res.per_joint[name]["p_value"] == pytest.approx(exact, abs=0.01 + 0.1 * exact)


def test_mean_pools_only_the_mean_joints_and_skips_unevaluated():
    a = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    b = np.array([[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    ev = np.array([[True, True, True], [True, False, True]])
    res = paired_comparison(a, b, ev, ("x", "y", "z"), mean_joints=np.array([True, True, False]), resamples=200)
    # Mean over x, y: A = 3/3 correct, B = 2/3
    assert res.a_mean == pytest.approx(100.0) and res.b_mean == pytest.approx(200 / 3)
    assert res.per_joint["y"]["count"] == 1 and res.per_joint["z"]["diff"] == pytest.approx(-100.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        paired_comparison(a * 2, b, ev, ("x", "y", "z"))
    with pytest.raises(ValueError, match="at least 100"):
        paired_comparison(a, b, ev, ("x", "y", "z"), resamples=10)


def test_seed_summary_and_welch_by_hand():
    s = seed_summary([70.0, 72.0, 77.0])
    sd = np.sqrt(((70 - 73) ** 2 + (72 - 73) ** 2 + (77 - 73) ** 2) / 2)
    assert s.mean == pytest.approx(73.0) and s.std == pytest.approx(sd)
    assert s.ci95[1] - s.mean == pytest.approx(4.302653 * sd / np.sqrt(3), rel=1e-6)   # t(0.975, 2)
    one = seed_summary([5.0, float("nan")])
    assert one.mean == 5.0 and np.isnan(one.std) and one.to_dict()["ci95"] == [None, None]
    w = welch_comparison([70.0, 72.0, 77.0], [60.0, 61.0, 62.0])
    se = np.sqrt(sd ** 2 / 3 + 1.0 / 3)
    df = se ** 4 / ((sd ** 2 / 3) ** 2 / 2 + (1 / 3) ** 2 / 2)
    assert w["diff"] == pytest.approx(12.0) and w["df"] == pytest.approx(df)
    from scipy import stats

    assert w["ci95"][1] - 12.0 == pytest.approx(stats.t.ppf(0.975, df) * se)
    with pytest.raises(ValueError, match="two seeds"):
        welch_comparison([1.0], [2.0, 3.0])


# ------------------------------------------------------------------------------ scores file
def _noisy_predictions(gt, missing, sigma, seed):
    rng = np.random.default_rng(seed)
    preds = gt.joints + rng.normal(0.0, sigma, gt.joints.shape) * gt.head_sizes[:, None, None]
    return np.where(missing[..., None], 0.0, preds)


def test_scores_file_round_trip_and_errors(tmp_path, shared):
    from posekit.data.ground_truth import load_mpii_ground_truth

    gt = load_mpii_ground_truth(shared / "mpii" / "gt_valid.mat")
    preds = _noisy_predictions(gt, gt.missing, 0.3, 0)
    res = pckh(preds, gt.joints, gt.head_sizes, gt.missing, thresholds=(0.5, 0.1))
    path = sample_scores_from_result(res, gt.joints, gt.head_sizes, source="noisy").save(tmp_path / "s.npz")
    back = load_sample_scores(path)
    assert back.num_samples == 2958 and back.joint_names == NAMES and back.source == "noisy"
    assert back.mean(0.5) == pytest.approx(res.mean(0.5)) and back.mean(0.1) == pytest.approx(res.mean(0.1))
    again = back.pckh_result((0.5, 0.1))
    np.testing.assert_allclose(again.per_joint, res.per_joint)
    assert again.keypoints is MPII and again.table(0.5) == pytest.approx(res.table(0.5))
    assert np.array_equal(back.correct(0.5), res.sample_correct(0.5))
    assert back.same_people(back) is None
    shifted = sample_scores_from_result(res, gt.joints + 3.0, gt.head_sizes)
    assert "different ground truth" in back.same_people(shifted)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz: not a posekit per-sample scores file"):
        load_sample_scores(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="junk.npz: not a readable"):
        load_sample_scores(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError):
        load_sample_scores(tmp_path / "none.npz")


# ------------------------------------------------------------------------------ posekit compare
@pytest.fixture(scope="module")
def prediction_files(tmp_path_factory, shared):
    """Two prediction files for the 2958 MPII validation people: ground truth plus Gaussian noise of
    0.25 and of 0.35 head sizes per coordinate (A is clearly better), and an exact copy of A."""
    from posekit.data.ground_truth import load_mpii_ground_truth
    from posekit.data.predictions import save_predictions

    folder = tmp_path_factory.mktemp("preds")
    gt = load_mpii_ground_truth(shared / "mpii" / "gt_valid.mat")
    a = save_predictions(folder / "a.npy", _noisy_predictions(gt, gt.missing, 0.25, 1))
    b = save_predictions(folder / "b.npy", _noisy_predictions(gt, gt.missing, 0.35, 2))
    copy = folder / "a_copy.npy"
    copy.write_bytes(a.read_bytes())
    return gt, a, b, copy


def test_compare_identical_prediction_files_includes_zero(prediction_files, shared, capsys):
    _, a, _, copy = prediction_files
    gt_file = str(shared / "mpii" / "gt_valid.mat")
    assert main(["compare", str(a), str(copy), "--ground-truth", gt_file, "--json", "--resamples", "1000"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["a"] == str(a) and out["b"] == str(copy)
    assert out["mean_diff"] == 0 and out["ci95"][0] <= 0 <= out["ci95"][1] and out["p_value"] == 1.0
    assert set(out["per_joint"]) == set(NAMES) and out["num_people"] == 2958
    assert out["resamples"] == 1000 and out["seed"] == 0


def test_compare_clearly_different_prediction_files(prediction_files, shared, tmp_path, capsys):
    gt, a, b, _ = prediction_files
    gt_file = str(shared / "mpii" / "gt_valid.mat")
    assert main(["compare", str(a), str(b), "--ground-truth", gt_file, "--json", "--resamples", "1000"]) == 0
    out = json.loads(capsys.readouterr().out)
    # the difference equals the two official PCKh means (posekit evaluate's numbers)
    assert main(["evaluate", "--predictions", str(a), "--ground-truth", gt_file, "--json",
                 "--save-samples", str(tmp_path / "a.npz")]) == 0
    mean_a = json.loads(capsys.readouterr().out)["pckh@0.5"]["mean"]
    assert main(["evaluate", "--predictions", str(b), "--ground-truth", gt_file, "--json"]) == 0
    mean_b = json.loads(capsys.readouterr().out)["pckh@0.5"]["mean"]
    assert out["a_mean"] == pytest.approx(mean_a) and out["b_mean"] == pytest.approx(mean_b)
    assert out["mean_diff"] == pytest.approx(mean_a - mean_b) and out["mean_diff"] > 5
    assert 0 < out["ci95"][0] < out["mean_diff"] < out["ci95"][1] and out["p_value"] < 0.01
    assert all(j["ci95"][0] > 0 for j in out["per_joint"].values() if j["count"] > 1000)
    # a saved scores file is an input too, and the table output names the method and its settings
    assert main(["compare", str(tmp_path / "a.npz"), str(b), "--ground-truth", gt_file, "--resamples", "500",
                 "--seed", "7"]) == 0
    text = capsys.readouterr().out
    assert "500 resamples" in text and "seed 7" in text and "Mean" in text and "r_ankle" in text
    assert "PCKh@0.5 (hrnet protocol)" in text
    assert f"{out['mean_diff']:.2f}" in text


def test_compare_user_errors(prediction_files, shared, tmp_path, capsys):
    _, a, b, _ = prediction_files
    assert main(["compare", str(a), str(b)]) == 2
    assert "needs --ground-truth" in capsys.readouterr().err
    assert main(["compare", str(a)]) == 2
    assert "at least two" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "nothing"), str(a)]) == 2
    assert "no such run folder" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "nothing_*"), str(a)]) == 2
    assert "matches nothing" in capsys.readouterr().err
    # scored on other people: 8 synthetic people against 2958 MPII people
    other = tmp_path / "few.npz"
    gt_small = np.zeros((8, 16, 2)) + 10.0
    res = pckh(gt_small, gt_small, np.ones(8))
    sample_scores_from_result(res, gt_small, np.ones(8)).save(other)
    assert main(["compare", str(a), str(other), "--ground-truth", str(shared / "mpii" / "gt_valid.mat")]) == 2
    assert "not scored on the same people" in capsys.readouterr().err


def test_scores_files_record_the_pckh_protocol(tmp_path):
    # one person, 16 joints, head size 10 px: joint 0 is exactly 0.5 head sizes off, which is
    # correct under hrnet (<=) and wrong under bearpaw (<); joints 1-3 are wrong, the rest exact
    gt = np.zeros((1, 16, 2)) + 50.0
    pred = gt.copy()
    pred[0, 0, 0] += 5.0
    pred[0, 1:4, 0] += 20.0
    head = np.array([10.0])
    scores = {}
    for protocol in ("hrnet", "bearpaw"):
        res = pckh(pred, gt, head, protocol=protocol)
        path = sample_scores_from_result(res, gt, head).save(tmp_path / f"{protocol}.npz")
        scores[protocol] = back = load_sample_scores(path)
        assert back.protocol == protocol
        assert np.array_equal(back.correct(0.5), res.sample_correct(0.5))
        assert back.mean(0.5) == pytest.approx(res.mean(0.5))
        assert back.pckh_result(0.5).table(0.5) == pytest.approx(res.table(0.5))
    assert scores["hrnet"].correct(0.5)[0, 0] and not scores["bearpaw"].correct(0.5)[0, 0]
    assert "different PCKh protocols (hrnet vs bearpaw)" in scores["hrnet"].same_people(scores["bearpaw"])

    # files written before the field was added were scored under hrnet; an unknown name is refused
    with np.load(tmp_path / "bearpaw.npz") as z:
        fields = {k: z[k] for k in z.files if k != "protocol"}
    np.savez(tmp_path / "old.npz", **fields)
    assert load_sample_scores(tmp_path / "old.npz").protocol == "hrnet"
    np.savez(tmp_path / "bad.npz", **fields, protocol=np.array("mmpose"))
    with pytest.raises(ValueError, match="bad.npz: 'protocol' is 'mmpose'"):
        load_sample_scores(tmp_path / "bad.npz")


def test_compare_scores_prediction_files_under_the_chosen_protocol(prediction_files, shared, tmp_path, capsys):
    _, a, b, _ = prediction_files
    gt_file = str(shared / "mpii" / "gt_valid.mat")
    assert main(["evaluate", "--predictions", str(a), "--ground-truth", gt_file, "--protocol", "bearpaw", "--json",
                 "--save-samples", str(tmp_path / "a_bearpaw.npz")]) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a_bearpaw.npz"), str(b), "--ground-truth", gt_file]) == 2
    assert "different PCKh protocols (bearpaw vs hrnet)" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "a_bearpaw.npz"), str(b), "--ground-truth", gt_file,
                 "--protocol", "bearpaw", "--json", "--resamples", "200"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mean_diff"] > 5 and out["protocol"] == "bearpaw"
