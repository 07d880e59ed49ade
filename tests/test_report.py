"""``posekit report``: markdown + HTML report of run folders."""

from __future__ import annotations

import json
import shutil

import pytest

from posekit.cli.main import main
from posekit.keypoints import MPII

JOINT_NAMES = MPII.names


def test_report_of_tiny_run(tiny_run, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(tiny_run), "--out", str(out), "--examples", "2"]) == 0
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert "## PCKh@0.5 per joint (%)" in md and "metrics.csv, epoch 1" in md
    for joint in JOINT_NAMES:
        assert f"| {joint} |" in md
    assert "model.num_stacks | 2" in md and "data.input_size | 64" in md
    assert (out / "curves.png").stat().st_size > 5000 and "![" in md and "<img src='curves.png'" in html
    shots = sorted(out.glob("*_example*.png"))
    assert len(shots) == 2 and all(s.name in md for s in shots)  # synthetic val data is on disk
    assert "<table>" in html and "**" not in html


def test_report_prefers_eval_json_and_compares_runs(tiny_run, tmp_path):
    from posekit.pipelines.report import write_report

    other = tmp_path / "other"
    shutil.copytree(tiny_run, other, ignore=shutil.ignore_patterns("*.pt", "report"))
    per_joint = {j: 50.0 + i for i, j in enumerate(JOINT_NAMES)}
    (other / "eval.json").write_text(json.dumps({"per_joint@0.5": per_joint, "pckh@0.5": {"mean": 61.25}}))
    (other / "pbn_mi.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # any MI figure is copied as is
    paths = write_report([tiny_run, other], tmp_path / "both", examples=0)
    md = paths["markdown"].read_text()
    assert "other: eval.json" in md
    assert "| head_top | " in md and "| 59.0 |" in md  # head_top is joint 9 -> 59.0
    assert "| 61.2 |" in md or "| 61.3 |" in md
    assert "Mutual information: other" in md and (tmp_path / "both" / "other_pbn_mi.png").is_file()
    assert not list((tmp_path / "both").glob("*_example*.png"))


def test_report_rejects_non_run_folder(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no config.yaml" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["metrics.csv"])
def test_report_needs_metrics(tiny_run, tmp_path, missing):
    from posekit.pipelines.report import load_run

    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(tiny_run / "config.yaml", broken)
    with pytest.raises(FileNotFoundError, match=missing):
        load_run(broken)
