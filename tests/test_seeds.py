"""Repeated runs over training seeds: ``--seeds`` of train / transfer / reproduce, the aggregation
over seeds, the per-sample scores every evaluation writes, and the report's bands and CIs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_config
from posekit.cli.main import main
from posekit.config import save_config
from posekit.evaluation.pckh import pckh
from posekit.evaluation.samples import load_sample_scores, sample_scores_from_result
from posekit.keypoints import MPII
from posekit.viz.plots import read_metrics

T_975 = {2: 12.706205, 3: 4.302653}   # Student t(0.975, n - 1) for n seeds


def _write_metrics(run: Path, rows: list[dict]) -> None:
    run.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(run / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


@pytest.fixture(scope="module")
def seeded_runs(tmp_path_factory, synthetic_root):
    """``posekit train CONFIG --seeds 0 1`` on the tiny config (2 epochs each)."""
    folder = tmp_path_factory.mktemp("seeds")
    cfg = tiny_config(folder / "unused", synthetic_root)
    save_config(cfg, folder / "tiny.yaml")
    out = folder / "multi"
    assert main(["train", str(folder / "tiny.yaml"), "--seeds", "0", "1", "--output-dir", str(out),
                 "--no-progress"]) == 0
    return out


def test_seeds_train_different_runs_into_sub_folders(seeded_runs):
    runs = [seeded_runs / "seed_0", seeded_runs / "seed_1"]
    for seed, run in enumerate(runs):
        assert (run / "best.pt").is_file() and (run / "val_samples.npz").is_file()
        assert f"seed: {seed}" in (run / "config.yaml").read_text()
    w0, w1 = (torch.load(r / "last.pt", weights_only=True)["model"] for r in runs)
    assert any(not torch.equal(w0[k], w1[k]) for k in w0 if w0[k].is_floating_point())
    losses = [[r["loss"] for r in csv.DictReader(open(run / "steps.csv"))] for run in runs]
    assert losses[0] != losses[1]


def test_seed_aggregate_matches_a_hand_computation(seeded_runs):
    agg = json.loads((seeded_runs / "seeds.json").read_text())
    assert agg["seeds"] == [0, 1]
    best = []
    for seed in (0, 1):
        rows = read_metrics(seeded_runs / f"seed_{seed}" / "metrics.csv")
        scored = [r for r in rows if np.isfinite(r["pckh"])]
        best.append(max(scored, key=lambda r: r["pckh"]))
    for key in ("pckh", "val_loss", "pckh@0.1", "pckh_head_top"):
        x = np.array([b[key] for b in best])
        m = agg["metrics"][key]
        assert m["values"] == pytest.approx(list(x)) and m["mean"] == pytest.approx(x.mean())
        assert m["std"] == pytest.approx(np.std(x, ddof=1))
        half = T_975[2] * np.std(x, ddof=1) / np.sqrt(2)
        assert m["ci95"] == pytest.approx([x.mean() - half, x.mean() + half])
    assert agg["metrics"]["best_epoch"]["values"] == [b["epoch"] for b in best]
    assert agg["curves"]["train_loss"]["epoch"] == [1.0, 2.0]
    assert (seeded_runs / "curves.png").stat().st_size > 5000
    assert "| pckh |" in (seeded_runs / "seeds.md").read_text()


def test_training_saves_the_per_sample_scores_of_best_pt(seeded_runs, synthetic_root, tmp_path, capsys):
    run = seeded_runs / "seed_0"
    rows = read_metrics(run / "metrics.csv")
    best = max((r for r in rows if np.isfinite(r["pckh"])), key=lambda r: r["pckh"])
    scores = load_sample_scores(run / "val_samples.npz")
    assert scores.num_samples == 8 and scores.source == "validation"
    assert scores.mean(0.5) == pytest.approx(best["pckh"]) and scores.mean(0.1) == pytest.approx(best["pckh@0.1"])
    assert scores.sample_names[0].endswith(".png") or scores.sample_names[0]
    # posekit evaluate --save-predictions writes the scores next to the predictions
    preds = tmp_path / "p.npy"
    assert main(["evaluate", "--checkpoint", str(run / "best.pt"), "--annotations",
                 str(synthetic_root / "val" / "annotations.json"), "--images", str(synthetic_root / "val" / "images"),
                 "--no-flip", "--save-predictions", str(preds), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    saved = load_sample_scores(tmp_path / "p_samples.npz")
    assert saved.mean(0.5) == pytest.approx(out["pckh@0.5"]["mean"])
    assert saved.same_people(scores) is None
    # the same model evaluated as in training (no flip test): compare sees no difference
    assert main(["compare", str(run), str(tmp_path / "p_samples.npz"), "--json", "--resamples", "200"]) == 0
    cmp = json.loads(capsys.readouterr().out)
    assert cmp["mean_diff"] == pytest.approx(0.0) and cmp["p_value"] == 1.0


def test_seed_folders_are_checked_before_training(seeded_runs, capsys):
    config = seeded_runs.parent / "tiny.yaml"
    before = (seeded_runs / "seed_1" / "last.pt").stat().st_mtime_ns
    assert main(["train", str(config), "--seeds", "1", "2", "--output-dir", str(seeded_runs), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "seed_1 already hold a run" in err
    assert not (seeded_runs / "seed_2").exists()
    assert (seeded_runs / "seed_1" / "last.pt").stat().st_mtime_ns == before
    assert main(["train", str(config), "--seeds", "3", "3", "--output-dir", str(seeded_runs)]) == 2
    assert "distinct" in capsys.readouterr().err


def test_aggregation_of_three_seeds_by_hand(tmp_path):
    """Known numbers: best PCKh 70, 72, 77 (seed 2 stops early after 2 epochs)."""
    from posekit.pipelines.seeds import aggregate_seeds

    epochs = {0: [(60.0, 0.5), (70.0, 0.4), (65.0, 0.3)], 1: [(72.0, 0.6), (71.0, 0.5), (70.0, 0.4)],
              2: [(50.0, 0.7), (77.0, 0.2)]}
    for seed, rows in epochs.items():
        _write_metrics(tmp_path / f"seed_{seed}", [{"epoch": e + 1, "train_loss": loss, "pckh": p, "pckh_head_top": p + 1}
                                                   for e, (p, loss) in enumerate(rows)])
    (tmp_path / "seed_x").mkdir()          # not a seed folder: ignored
    agg = aggregate_seeds(tmp_path)
    m = agg["metrics"]["pckh"]
    sd = np.sqrt((3 ** 2 + 1 ** 2 + 4 ** 2) / 2)
    assert m["values"] == [70.0, 72.0, 77.0] and m["mean"] == pytest.approx(73.0) and m["std"] == pytest.approx(sd)
    assert m["ci95"] == pytest.approx([73 - T_975[3] * sd / np.sqrt(3), 73 + T_975[3] * sd / np.sqrt(3)])
    assert agg["metrics"]["pckh_head_top"]["mean"] == pytest.approx(74.0)
    assert agg["metrics"]["best_epoch"]["values"] == [2.0, 1.0, 2.0]
    assert agg["metrics"]["epochs_run"]["values"] == [3.0, 3.0, 2.0]
    curve = agg["curves"]["pckh"]
    assert curve["epoch"] == [1.0, 2.0, 3.0] and curve["n"] == [3, 3, 2]
    assert curve["mean"] == pytest.approx([(60 + 72 + 50) / 3, (70 + 71 + 77) / 3, 67.5])
    assert curve["std"][2] == pytest.approx(np.std([65.0, 70.0], ddof=1))
    assert json.loads((tmp_path / "seeds.json").read_text())["seeds"] == [0, 1, 2]


def test_report_of_a_multi_seed_folder_shows_spread_and_differences(seeded_runs, tmp_path):
    from posekit.pipelines.report import write_report

    agg = json.loads((seeded_runs / "seeds.json").read_text())["metrics"]["pckh"]
    paths = write_report([seeded_runs, seeded_runs / "seed_1"], tmp_path / "rep", examples=1)
    md = paths["markdown"].read_text()
    cell = f"{agg['mean']:.1f} +/- {agg['std']:.1f} [{agg['ci95'][0]:.1f}, {agg['ci95'][1]:.1f}]"
    assert cell in md and "| seeds | 0, 1 | - |" in md
    assert "## Differences to multi" in md and "| seed_1 - multi |" in md
    assert "band" in md and (tmp_path / "rep" / "multi_example0.png").is_file()


def test_reproduce_with_seeds_runs_every_command_per_seed(capsys, monkeypatch):
    import subprocess

    calls = []
    monkeypatch.setattr(subprocess, "call", lambda cmd: calls.append(cmd) or 0)
    assert main(["reproduce", "hourglass-reimpl-fig7", "--seeds", "0", "1", "2"]) == 0
    out = capsys.readouterr().out
    # two 8-stack runs of ~64.4 CPU days / ~3.0 assumed GPU days each, three times over
    assert out.count("~193.1 days on the 2-core CPU, ~9.0 days on one GPU") == 2
    assert "estimated total: ~386.2 days on a 2-core CPU" in out
    assert [c[3:] for c in calls] == [["train", "hourglass_reimpl/rmsprop_bs8", "--seeds", "0", "1", "2"],
                                      ["train", "hourglass_reimpl/adam_bs16", "--seeds", "0", "1", "2"]]


# ------------------------------------------------------------------------------ KPTransfer over seeds
S2 = ("head_top", "upper_neck", "r_elbow", "l_elbow", "r_knee", "l_knee", "pelvis", "thorax")


def _fake_stage(run: Path, pckh_value: float, correct_rate: float, seed: int) -> None:
    """A finished stage: 2 epochs of metrics.csv and the val_samples.npz of its best epoch."""
    s2 = MPII.indices(S2)
    _write_metrics(run, [{"epoch": 1, "train_loss": 1.0, "pckh": pckh_value - 10,
                          **{f"pckh_{n}": pckh_value - 10 for n in S2}},
                         {"epoch": 2, "train_loss": 0.5, "pckh": pckh_value,
                          **{f"pckh_{n}": pckh_value + 3 * (n == "head_top") for n in S2}}])
    rng = np.random.default_rng(seed)
    n = 200
    gt = np.tile(np.arange(32, dtype=float).reshape(1, 16, 2), (n, 1, 1))
    offset = np.where(rng.random((n, 16, 1)) < correct_rate, 0.0, 5.0)
    missing = np.ones((n, 16), bool)
    missing[:, list(s2)] = False
    res = pckh(gt + offset, gt, np.ones(n), missing)
    sample_scores_from_result(res, gt, np.ones(n), source=str(run)).save(run / "val_samples.npz")


def test_transfer_seeds_run_each_seed_and_report_over_seeds(tmp_path, monkeypatch, capsys):
    import posekit.pipelines.kptransfer as kpt

    seen = []

    def fake_run(cfg, out, progress=True, resume=False):
        seed = cfg.train.seed
        seen.append((seed, Path(out).name, Path(cfg.train.output_dir).name))
        for mode, base in (("transfer", 60.0), ("frozen", 52.0), ("random", 50.0)):
            _fake_stage(Path(out) / mode, base + seed, {"transfer": 0.9, "frozen": 0.6, "random": 0.5}[mode],
                        seed * 10 + len(mode))
        return {}

    monkeypatch.setattr(kpt, "run_kptransfer", fake_run)
    out = tmp_path / "kpt"
    assert main(["transfer", "--split", "d", "--seeds", "0", "1", "2", "--out", str(out), "--no-progress"]) == 0
    assert seen == [(0, "seed_0", "seed_0"), (1, "seed_1", "seed_1"), (2, "seed_2", "seed_2")]
    report = json.loads((out / "pckh_s2_seeds.json").read_text())
    assert report["s2"] == [n for n in MPII.names if n in S2]
    mean = report["configurations"]["transfer"]["table"]["mean"]
    assert mean["values"] == [60.0, 61.0, 62.0] and mean["std"] == pytest.approx(1.0)
    assert mean["ci95"] == pytest.approx([61 - T_975[3] / np.sqrt(3), 61 + T_975[3] / np.sqrt(3)])
    # the paper's Average: plain mean of Head, Elbow, Knee = ((v + 3) + v + v) / 3 = v + 1
    assert report["configurations"]["transfer"]["table"]["average"]["values"] == pytest.approx([61.0, 62.0, 63.0])
    assert report["configurations"]["transfer"]["table"]["head"]["values"] == [63.0, 64.0, 65.0]
    assert report["configurations"]["random"]["epochs_to_convergence"]["values"] == [2.0, 2.0, 2.0]
    first = report["comparisons"][0]
    assert (first["a"], first["b"]) == ("transfer", "random")
    assert first["across_seeds"]["diff"] == pytest.approx(10.0) and first["across_seeds"]["p_value"] < 0.001
    paired = first["paired_over_people"]
    assert 30 < paired["mean_diff"] < 50 and paired["ci95"][0] > 0 and paired["num_people"] == 200
    md = (out / "pckh_s2_seeds.md").read_text()
    assert "| transfer (n=3) | 64.00 +/- 1.00 | 61.00 +/- 1.00 | 61.00 +/- 1.00 | 62.00 +/- 1.00 | 61.00 +/- 1.00 [" in md
    assert "| Head | Elbow | Knee | Average | Mean |" in md and "| transfer vs random |" in md
    assert (out / "convergence.png").stat().st_size > 1000
    # the seed groups are inputs of posekit compare as quoted patterns
    capsys.readouterr()
    assert main(["compare", str(out / "seed_*" / "transfer"), str(out / "seed_*" / "random"), "--json",
                 "--resamples", "300"]) == 0
    cmp = json.loads(capsys.readouterr().out)
    assert cmp["runs"] == {"a": 3, "b": 3} and cmp["mean_diff"] == pytest.approx(paired["mean_diff"])
    assert cmp["seeds"]["welch"]["diff"] == pytest.approx(cmp["seeds"]["a"]["mean"] - cmp["seeds"]["b"]["mean"])
