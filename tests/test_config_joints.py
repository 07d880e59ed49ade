"""Configs (typed per model family, packaged, checked choices) and keypoint sets (MPII, LSP, COCO, custom)."""

from __future__ import annotations

import pytest

from posekit.config import (
    Config,
    ConfigError,
    HourglassConfig,
    MultiTaskConfig,
    PBNConfig,
    find_config,
    list_configs,
    load_config,
    save_config,
)
from posekit.keypoints import COCO, LSP, MPII, MPII_SHORT_NAMES, KeypointSet, get_keypoint_set


def test_mpii_order_matches_the_official_file(shared):
    import scipy.io as sio

    names = [str(n[0]) for n in sio.loadmat(shared / "mpii" / "gt_valid.mat")["dataset_joints"][0]]
    assert tuple(names) == MPII_SHORT_NAMES
    assert MPII.names[0] == "r_ankle" and MPII.names[9] == "head_top" and MPII.names[15] == "l_wrist"
    assert [MPII.index(s) for s in MPII_SHORT_NAMES] == list(range(16))   # short names are aliases


@pytest.mark.parametrize("kp", [MPII, LSP, COCO], ids=lambda k: k.name)
def test_flip_pairs_are_left_right_mirrors(kp):
    for a, b in kp.flip_pairs:
        assert kp.side(a) == "right" and kp.side(b) == "left"
        assert a.replace("r_", "").replace("right_", "") == b.replace("l_", "").replace("left_", "")
    perm = kp.flip_permutation()
    assert sorted(perm) == list(range(len(kp)))
    assert [perm[p] for p in perm] == list(range(len(kp)))  # an involution
    assert len({j for p in kp.flip_pairs for j in p}) == 2 * len(kp.flip_pairs)


def test_builtin_set_sizes_and_known_ids():
    assert (len(MPII), len(LSP), len(COCO)) == (16, 14, 17)
    assert MPII.flip_permutation()[MPII.index("r_wrist")] == MPII.index("l_wrist")
    assert MPII.flip_permutation()[MPII.index("pelvis")] == MPII.index("pelvis")
    assert LSP.names[12:] == ("upper_neck", "head_top") and LSP.index("neck") == 12
    assert COCO.index("l_shoulder") == COCO.index("left_shoulder") == 5
    assert get_keypoint_set("coco") is COCO


def test_subset_keeps_members_and_knows_missing_mirrors():
    arms = MPII.subset(MPII.resolve("arms"))
    assert arms.names == ("r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist")
    assert arms.flip_permutation() == [5, 4, 3, 2, 1, 0]
    assert arms.limbs() == ((0, 1), (1, 2), (3, 4), (4, 5))    # shoulder-thorax limbs are gone
    right = MPII.subset(MPII.resolve("r_arm"))
    assert right.missing_mirrors == ("r_wrist", "r_elbow", "r_shoulder")
    with pytest.raises(ValueError, match="mirror partner of r_wrist"):
        right.flip_permutation()


def test_skeleton_is_a_tree_over_all_mpii_joints():
    assert len(MPII.skeleton) == len(MPII) - 1
    assert {j for limb in MPII.limbs() for j in limb} == set(range(len(MPII)))


def test_resolve_joints():
    assert MPII.resolve("all") == tuple(range(16))
    assert MPII.resolve(["head", "l_wrist", 3, "rsho"]) == (3, 7, 8, 9, 12, 15)
    with pytest.raises(KeyError, match="unknown keypoint 'tail'"):
        MPII.resolve("tail")
    with pytest.raises(ValueError):
        MPII.resolve(16)


def test_map_from_matches_names_and_aliases():
    # COCO keypoints found in MPII by alias (left_shoulder <- l_shoulder); the face is not in MPII
    rows = COCO.map_from(MPII)
    assert rows[COCO.index("left_shoulder")] == MPII.index("l_shoulder")
    assert rows[COCO.index("right_ankle")] == MPII.index("r_ankle")
    assert [COCO.names[i] for i, r in enumerate(rows) if r is None] == ["nose", "left_eye", "right_eye", "left_ear",
                                                                        "right_ear"]
    assert LSP.map_from(MPII) == [MPII.index(n) for n in LSP.names]


def test_custom_set_from_yaml_round_trip(tmp_path):
    path = tmp_path / "five.yaml"
    path.write_text("name: five\nkeypoints: [head_top, l_wrist, r_wrist, l_ankle, r_ankle]\n"
                    "flip_pairs: [[r_wrist, l_wrist], [r_ankle, l_ankle]]\n"
                    "skeleton: [[head_top, l_wrist], [head_top, r_wrist]]\n")
    kp = get_keypoint_set(path)
    assert kp.name == "five" and len(kp) == 5 and kp.flip_permutation() == [0, 2, 1, 4, 3]
    assert KeypointSet.from_dict(kp.to_dict()) == kp
    assert kp.table_rows() == {n: (i,) for i, n in enumerate(kp.names)}     # one PCKh row per keypoint
    path.write_text("name: bad\nkeypoints: [a, b]\nflip_pairs: [[a, c]]\n")
    with pytest.raises(ValueError, match=r"five.yaml|bad.*flip_pairs names unknown keypoints \['c'\]"):
        get_keypoint_set(path)
    with pytest.raises(ValueError, match="unknown keypoint set 'h36m'"):
        get_keypoint_set("h36m")


def test_every_packaged_config_loads_by_name():
    names = list_configs()
    assert "quickstart" in names and "hourglass/mpii_8stack" in names and len(names) >= 30
    for name in names:
        assert isinstance(load_config(name), Config), name
    assert isinstance(load_config("multitask/joint").model, MultiTaskConfig)
    assert isinstance(load_config("pbn/group_mi5").model, PBNConfig)
    assert find_config("configs/quickstart.yaml")[1] == "packaged config quickstart"


def test_overrides_types_and_round_trip(tmp_path):
    cfg = load_config("quickstart", ["train.lr=0.01", "data.augment.flip=false", "model.stem=reduced"])
    assert cfg.train.lr == 0.01 and cfg.data.augment.flip is False and cfg.model.stem == "reduced"
    assert isinstance(cfg.model, HourglassConfig)
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


def test_model_section_is_typed_by_family():
    with pytest.raises(ConfigError, match=r"model: unknown key\(s\) \['groups'\]; valid keys of model 'hourglass'"):
        load_config(None, ["model.groups=body"])
    cfg = load_config(None, ["model.name=pbn", "model.groups=body"])
    assert isinstance(cfg.model, PBNConfig) and cfg.model.stem == "pbn"
    with pytest.raises(ConfigError, match="model.name: 'resnet' is not one of hourglass, pbn, pbn_baseline, multitask"):
        load_config(None, ["model.name=resnet"])


@pytest.mark.parametrize("override, message", [
    ("train.optimizer=adamax", "train.optimizer: 'adamax' is not one of rmsprop, adam, adamw, radam, sgd"),
    ("train.scheduler=step", "train.scheduler: 'step' is not one of none, multistep, plateau, cosine"),
    ("model.stem=resnet", r"model.stem: 'resnet' is not one of newell, reduced"),
    ("data.on_error=ignore", "data.on_error: 'ignore' is not one of raise, skip"),
    ("train.milestones=5", r"train.milestones: expected a list, got 5 \(write e.g. \[5\]\)"),
    ("train.milestones=[5, x]", r"train.milestones\[1\]: expected int"),
    ("train.amp_dtype=fp8", "train.amp_dtype: 'fp8' is not one of bfloat16, float16"),
])
def test_enumerated_values_are_checked_when_the_config_loads(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("quickstart", [override])


def test_config_errors_name_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lrr: 0.1\n")
    with pytest.raises(ValueError, match=r"bad.yaml.train: unknown key\(s\) \['lrr'\]"):
        load_config(bad)
    bad.write_text("train:\n  epochs: many\n")
    with pytest.raises(ValueError, match="train.epochs: expected int"):
        load_config(bad)
    with pytest.raises(FileNotFoundError, match="packaged configs: .*quickstart"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="section.key=value"):
        load_config(None, ["train.lr"])
    for dead in ("train.log_every=5", "eval.threshold=0.5"):
        with pytest.raises(ConfigError, match="unknown key"):
            load_config(None, [dead])


@pytest.mark.parametrize("override, message", [
    ("train.batch_size=0", "train.batch_size: 0 must be >= 1"),       # once a ZeroDivisionError traceback
    ("train.val_every=0", "train.val_every: 0 must be >= 1"),
    ("train.iters_per_epoch=-3", "train.iters_per_epoch: -3 must be >= 0"),
    ("train.lr=.nan", "train.lr: nan must be >= 0"),
    ("data.sigma=0", "data.sigma: 0.0 must be > 0"),
    ("data.augment.scale_min=0", "data.augment.scale_min: 0.0 must be > 0"),
])
def test_numbers_out_of_range_are_config_errors(override, message):
    with pytest.raises(ConfigError, match=f"^packaged config quickstart.{message}$"):
        load_config("quickstart", [override])
