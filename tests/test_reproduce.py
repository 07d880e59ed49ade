"""``posekit reproduce``: the table -> configs map, --list and --dry-run (nothing is trained)."""

from __future__ import annotations

import pytest

from posekit.cli.main import main
from posekit.config import list_configs
from posekit.pipelines.reproduce import TABLES, estimate_seconds


def test_every_listed_config_exists():
    packaged = set(list_configs())
    for name, (_, runs) in TABLES.items():
        for r in runs:
            assert r["config"] in packaged, (name, r["config"])


def test_list_shows_every_table(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for name in TABLES:
        assert f"{name}:" in out
    assert "posekit train multitask/joint" in out
    assert "posekit transfer --split c --config kptransfer/split_c" in out


def test_dry_run_prints_commands_and_estimate(capsys, monkeypatch):
    import subprocess

    monkeypatch.setattr(subprocess, "call", lambda *a, **k: pytest.fail("dry run must not train"))
    assert main(["reproduce", "hourglass-stem", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "posekit train hourglass/reduced_stem" in out
    assert "estimated total" in out and "rough estimate" in out
    # 100 epochs x 22246 people at the measured 1.6 img/s for this model size: 16.1 days each
    assert out.count("~16.1 days") == 2 and "~32.2 days" in out


def test_estimate_scales_with_model_size():
    big, _ = estimate_seconds("hourglass/mpii_8stack")
    small, how = estimate_seconds("hourglass/mpii_2stack")
    assert big / small == pytest.approx(4.0)  # 8 vs 2 stacks, same epochs and data
    assert "100 epochs x 22246 img" in how
    quick, _ = estimate_seconds("quickstart")
    assert quick < 3600  # the quickstart: minutes, not days


def test_multitask_estimate_and_unknown_table(capsys):
    from posekit.pipelines.reproduce import MULTITASK_IMG_PER_S

    seconds, how = estimate_seconds("multitask/joint")
    assert seconds == pytest.approx(3 * 3000 / MULTITASK_IMG_PER_S)  # 3 epochs x 3000 people, measured rate
    assert "VGG trunk width 32 at 128 px" in how
    assert main(["reproduce", "multitask-table1", "--dry-run"]) == 0
    assert "multitask/fcn32" in capsys.readouterr().out
    assert main(["reproduce", "no-such-table"]) == 2
    assert "unknown table" in capsys.readouterr().err
