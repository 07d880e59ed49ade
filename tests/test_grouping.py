"""Joint grouping for PBN: lattice, mutual information (eq. 1), spectral clustering, group specs, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from posekit.data.grouping import (
    lattice_cells,
    mpii_affinity,
    mutual_information,
    normalised_affinity,
    resolve_groups,
    spectral_groups,
)
from posekit.cli.main import main
from posekit.keypoints import COCO, MPII

JOINT_NAMES = MPII.names


def test_lattice_cells_hand_computed():
    # box: scale 1 -> 200 px square around (100, 100), i.e. x, y in [0, 200); cell side 12.5 px
    joints = np.array([[[150.0, 25.0], [500.0, -50.0], [0.0, 0.0], [199.9, 199.9]]])
    annotated = np.array([[True, True, False, True]])
    cells = lattice_cells(joints, np.array([[100.0, 100.0]]), np.array([1.0]), annotated, bins=16)
    # (150, 25): col 12, row 2; (500, -50) clipped to col 15, row 0; unannotated -1; corner cell 255
    assert cells.tolist() == [[2 * 16 + 12, 15, -1, 255]]


def test_mutual_information_known_values():
    rng = np.random.default_rng(0)
    a = np.repeat(np.arange(4), 24)                     # uniform over 4 cells
    cells = np.stack([a, a, np.tile(np.arange(4), 24), rng.integers(0, 4, 96)], axis=1)
    cells[:10, 3] = -1                                  # joint 3 unannotated in 10 samples
    mi = mutual_information(cells, num_cells=4)
    assert mi[0, 1] == pytest.approx(math.log(4))       # identical locations: I = H = log 4
    assert mi[0, 0] == pytest.approx(math.log(4))       # diagonal = entropy
    assert mi[0, 2] == pytest.approx(0.0, abs=1e-12)    # every (a, b) pair equally often: independent
    assert np.allclose(mi, mi.T) and (mi >= 0).all()


def test_normalised_affinity_range_and_diagonal():
    mi = np.array([[9.0, 1.0, 3.0], [1.0, 9.0, 2.0], [3.0, 2.0, 9.0]])
    aff = normalised_affinity(mi)
    assert np.allclose(aff, [[0, 0, 1], [0, 0, 0.5], [1, 0.5, 0]])


def test_spectral_groups_recovers_blocks_deterministically():
    aff = np.full((6, 6), 0.05)
    aff[:3, :3] = aff[3:, 3:] = 1.0
    np.fill_diagonal(aff, 0.0)
    perm = [4, 0, 5, 2, 1, 3]
    shuffled = aff[np.ix_(perm, perm)]
    groups = spectral_groups(shuffled, 2, random_state=0)
    assert {frozenset(perm[i] for i in g) for g in groups} == {frozenset({0, 1, 2}), frozenset({3, 4, 5})}
    assert groups == spectral_groups(shuffled, 2, random_state=0)
    with pytest.raises(ValueError):
        spectral_groups(aff, 7)


def test_resolve_groups_specs():
    assert resolve_groups("body") == MPII.groups["body"]
    assert resolve_groups("pbn_paper") == MPII.groups["pbn_paper"]
    overlapping = resolve_groups([["r_ankle", "r_knee", "r_hip"], ["r_hip", "l_hip", 6, "thorax"],
                                  ["l_knee", "l_ankle", "l_hip"], ["upper_neck", "head_top"],
                                  JOINT_NAMES[10:]])
    assert overlapping[1] == ("r_hip", "l_hip", "pelvis", "thorax")
    mi5 = resolve_groups("mi:5")
    assert len(mi5) == 5 and sorted(j for g in mi5 for j in g) == sorted(JOINT_NAMES)
    with pytest.raises(ValueError, match="needs annotations"):
        resolve_groups("mi:5", COCO)
    with pytest.raises(ValueError, match="no group"):
        resolve_groups([JOINT_NAMES[:15]])
    with pytest.raises(KeyError):
        resolve_groups([["nose"]])
    with pytest.raises(ValueError, match="unknown group spec"):
        resolve_groups("legs")


def test_groups_cli_on_valid_h5(shared, tmp_path, capsys):
    png = tmp_path / "mi.png"
    assert main(["groups", "--annotations", str(shared / "mpii" / "valid.h5"), "--k", "6", "--json",
                 "--plot", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    groups, mi = out["groups"], np.array(out["mutual_information"])
    assert len(groups) == 6 and sorted(n for g in groups for n in g) == sorted(JOINT_NAMES)
    assert mi.shape == (16, 16) and np.allclose(mi, mi.T) and np.all(np.diag(mi) == 0)
    assert mi.min() == 0.0 and mi.max() == 1.0
    # every joint shares the most information with a skeleton neighbour (e.g. wrist-elbow, pelvis-hip)
    limbs = {frozenset(e) for e in MPII.limbs()}
    assert all(frozenset((j, int(mi[j].argmax()))) in limbs for j in range(16))
    assert png.stat().st_size > 10_000
    # the packaged valid.h5 affinity behind groups: "mi:K" is this very matrix and gives these groups
    assert np.allclose(mpii_affinity(), mi, rtol=0, atol=1e-12)
    assert [list(g) for g in resolve_groups("mi:6")] == groups
    assert main(["groups", "--annotations", str(shared / "mpii" / "valid.h5"), "--k", "2"]) == 0
    text = capsys.readouterr().out
    assert "group 1:" in text and "group 2:" in text and "group 3:" not in text


def test_groups_cli_user_errors(shared, tmp_path, capsys):
    assert main(["groups", "--annotations", str(tmp_path / "none.h5")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["groups", "--annotations", str(shared / "mpii" / "valid.h5"), "--k", "17"]) == 2
    assert "1..16" in capsys.readouterr().err
