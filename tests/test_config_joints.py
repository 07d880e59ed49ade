"""Config loading/overrides and the MPII joint definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from posekit.config import Config, load_config, save_config
from posekit.joints import (FLIP_PAIRS, JOINT_NAMES, MPII_SHORT_NAMES, NUM_JOINTS, SKELETON, flip_permutation,
                            joint_index, resolve_joints)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_joint_order_matches_the_official_file(shared):
    import scipy.io as sio

    names = [str(n[0]) for n in sio.loadmat(shared / "mpii" / "gt_valid.mat")["dataset_joints"][0]]
    assert tuple(names) == MPII_SHORT_NAMES
    assert JOINT_NAMES[0] == "r_ankle" and JOINT_NAMES[9] == "head_top" and JOINT_NAMES[15] == "l_wrist"


def test_flip_pairs_are_left_right_mirrors():
    for a, b in FLIP_PAIRS:
        assert JOINT_NAMES[a].startswith("r_") and JOINT_NAMES[b] == "l_" + JOINT_NAMES[a][2:]
    perm = flip_permutation()
    assert sorted(perm) == list(range(NUM_JOINTS))
    assert [perm[p] for p in perm] == list(range(NUM_JOINTS))  # an involution
    assert perm[joint_index("r_wrist")] == joint_index("l_wrist") and perm[joint_index("pelvis")] == 6


def test_flip_permutation_of_a_subset_and_missing_mirror():
    ids = resolve_joints("arms")
    perm = flip_permutation(ids)
    assert [ids[p] for p in perm] == [15, 14, 13, 12, 11, 10]
    with pytest.raises(ValueError, match="mirror"):
        flip_permutation(resolve_joints("r_arm"))


def test_skeleton_is_a_tree_over_all_joints():
    assert len(SKELETON) == NUM_JOINTS - 1
    assert {j for limb in SKELETON for j in limb} == set(range(NUM_JOINTS))


def test_resolve_joints():
    assert resolve_joints("all") == tuple(range(16))
    assert resolve_joints(["head", "l_wrist", 3, "rsho"]) == (3, 7, 8, 9, 12, 15)
    with pytest.raises(KeyError, match="unknown joint"):
        resolve_joints("tail")
    with pytest.raises(ValueError):
        resolve_joints(16)


def test_every_shipped_config_loads():
    paths = sorted(CONFIGS.rglob("*.yaml"))
    assert len(paths) >= 7
    for path in paths:
        assert isinstance(load_config(path), Config), path


def test_overrides_types_and_round_trip(tmp_path):
    cfg = load_config(CONFIGS / "quickstart.yaml", ["train.lr=0.01", "data.augment.flip=false", "model.stem=reduced"])
    assert cfg.train.lr == 0.01 and cfg.data.augment.flip is False and cfg.model.stem == "reduced"
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


def test_config_errors_name_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lrr: 0.1\n")
    with pytest.raises(ValueError, match=r"bad.yaml.train: unknown key\(s\) \['lrr'\]"):
        load_config(bad)
    bad.write_text("train:\n  epochs: many\n")
    with pytest.raises(ValueError, match="train.epochs: expected int"):
        load_config(bad)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="section.key=value"):
        load_config(None, ["train.lr"])
