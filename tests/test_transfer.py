"""KPTransfer (Vats et al. 2019): joint-subset targets, the split presets, the composite network
(exact S1 transfer, frozen stacks), exact resume of the composite, and the report pipeline."""

from __future__ import annotations

import csv
import math
import json

import pytest
import torch

from conftest import tiny_config
from posekit.config import save_config
from posekit.data.dataset import PoseDataset
from posekit.data.sources import prepare_data
from posekit.checkpoint import CheckpointError, make_artifact, save_model
from posekit.keypoints import MPII
from posekit.models import create_model
from posekit.models.composite import SubsetTransferHourglass
from posekit.pipelines.kptransfer import epochs_to_convergence, parameter_counts
from posekit.training.transfer import KPTRANSFER_SPLITS, TransferTrainer, resolve_split

JOINT_NAMES = MPII.names
S1 = MPII.resolve(["r_hip", "l_hip", "r_knee", "l_knee", "r_ankle", "l_ankle"])
S2 = MPII.resolve(["thorax", "upper_neck", "head_top", "r_shoulder", "l_shoulder", "r_wrist", "l_wrist"])


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run as fast on one thread, and one thread does not stall in OpenMP barriers when
    the CPU is shared with other processes (measured: 0.02 s vs 3-6 s per step on a busy 2-core box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def composite_config(out, synthetic_root, **train):
    return tiny_config(out, synthetic_root, model={"num_stacks": 4}, **train)


def s1_network(cfg, s1_ids=S1):
    m = cfg.model
    return create_model("hourglass", num_joints=len(s1_ids), num_stacks=2, num_features=m.num_features, depth=m.depth,
                        stem=m.stem, stem_width=m.stem_width)


def s1_checkpoint(path, cfg, s1_ids=S1) -> dict:
    """A 2-stack S1 network with random weights and non-default BatchNorm statistics, saved as a checkpoint."""
    torch.manual_seed(123)
    net = s1_network(cfg, s1_ids)
    for mod in net.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-1, 1)
            mod.running_var.uniform_(0.5, 2)
            mod.num_batches_tracked.fill_(7)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    save_model(net, make_artifact(net.posekit_spec, MPII.subset(s1_ids), 64, 16, 1.0), path)
    return state


# ------------------------------------------------------------------------------------ splits
def test_splits_are_table_1_of_the_paper(capsys):
    """Vats et al. (2019), Table 1, written literally: 8 joints in each subset, left and right of every
    paired part, S2 of split (d) sharing the elbows and knees with its S1 (Sec. 3.2 allows it)."""
    pairs = lambda *parts: {f"{s}_{p}" for p in parts for s in "rl"}    # noqa: E731
    expected = {
        "a": ({"head_top", "upper_neck", "pelvis", "thorax"} | pairs("shoulder", "hip"), pairs("knee", "ankle", "wrist", "elbow")),
        "b": ({"head_top", "upper_neck"} | pairs("shoulder", "elbow", "hip"), pairs("knee", "ankle", "wrist") | {"pelvis", "thorax"}),
        "c": ({"head_top", "upper_neck"} | pairs("shoulder", "elbow", "knee"), pairs("wrist", "ankle", "hip") | {"pelvis", "thorax"}),
        "d": (pairs("knee", "ankle", "wrist", "elbow"), {"head_top", "upper_neck", "pelvis", "thorax"} | pairs("elbow", "knee")),
    }
    for name, split in KPTRANSFER_SPLITS.items():
        s1, s2 = resolve_split(name)
        assert (set(split["s1"]), set(split["s2"])) == expected[name]
        assert len(s1) == len(s2) == 8
        assert [JOINT_NAMES[j] for j in s1] == sorted(split["s1"], key=JOINT_NAMES.index)
        for ids in (s1, s2):  # every named part has its left and right joint
            assert not MPII.subset(ids).missing_mirrors
    d1, d2 = resolve_split("d")
    assert {JOINT_NAMES[j] for j in set(d1) & set(d2)} == pairs("elbow", "knee")
    # any S1 / S2 by joint names or subset names, overriding the split
    assert resolve_split("a", s1=["l_wrist", "r_wrist"], s2="legs") == ((10, 15), (0, 1, 2, 3, 4, 5))
    with pytest.raises(KeyError):
        resolve_split("e")
    with pytest.raises(KeyError):
        resolve_split("a", s1=["l_wirst"])


# ------------------------------------------------------------------------------------ subset targets
def test_subset_targets_and_heads_agree_with_full_joint_ones(tmp_path, synthetic_root):
    cfg = tiny_config(tmp_path, synthetic_root)
    data = prepare_data(cfg.data)
    assert data.augment.enabled and data.augment.flip
    full = PoseDataset.from_config(data, "train", seed=3)
    union = S2 + S1  # the transfer trainer's channel order: S2, then S1
    subsets = [PoseDataset.from_config(data, "train", joint_ids=ids, seed=3) for ids in (S1, S2, union)]
    flipped = 0
    for index in range(12):
        ref = full[index]
        flipped += ref["flipped"]
        for ds in subsets:
            item = ds[index]
            ids = list(ds.joint_ids)
            assert torch.equal(item["heatmaps"], ref["heatmaps"][ids])
            assert torch.equal(item["target_weight"], ref["target_weight"][ids])
            assert torch.equal(item["affine"], ref["affine"])
    assert flipped > 0  # the left/right swap of flipped samples was exercised
    model = create_model(cfg.model.name, **cfg.model.create_kwargs(MPII.subset(S1)))
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 2, len(S1), 16, 16)


# ------------------------------------------------------------------------------------ composite network
def test_transfer_initialisation_copies_the_s1_network_exactly(tmp_path, synthetic_root):
    cfg = composite_config(tmp_path / "run", synthetic_root)
    state = s1_checkpoint(tmp_path / "s1.pt", cfg)
    trainer = TransferTrainer(cfg, S1, S2, "transfer", tmp_path / "s1.pt", progress=False)
    net = trainer.model
    assert isinstance(net, SubsetTransferHourglass)
    copied = net.s1_net.state_dict()
    assert copied.keys() == state.keys()
    for k, v in state.items():
        assert torch.equal(copied[k], v), k
    # stacks 1-2 of the composite compute exactly what the S1 network computes
    s1_net = s1_network(cfg)
    s1_net.load_state_dict(state)
    s1_net.to(memory_format=trainer.memory_format)   # the same convolution kernels as the trainer's model
    x = torch.rand(2, 3, 64, 64)
    net.eval()
    s1_net.eval()
    s1_out, s2_out = net.forward_subsets(x)
    assert torch.equal(s1_out, s1_net(x))
    assert s2_out.shape == (2, 2, len(S2), 16, 16) and torch.equal(net(x), s2_out)
    # all parameters are trained in the transfer configuration
    assert sum(p.numel() for g in trainer.optimizer.param_groups for p in g["params"]) == \
        sum(p.numel() for p in net.parameters())
    # a checkpoint of another joint subset is refused
    s1_checkpoint(tmp_path / "other.pt", cfg, s1_ids=S2)
    with pytest.raises(CheckpointError, match="expected S1"):
        TransferTrainer(cfg, S1, S2, "transfer", tmp_path / "other.pt", progress=False)


@pytest.mark.parametrize("mode", ["frozen", "transfer"])
def test_frozen_stacks_do_not_change_during_training(tmp_path, synthetic_root, mode):
    cfg = composite_config(tmp_path / "run", synthetic_root, epochs=1, lr=3e-3)
    cfg.data.synthetic_val = 8
    s1_checkpoint(tmp_path / "s1.pt", cfg)
    trainer = TransferTrainer(cfg, S1, S2, mode, tmp_path / "s1.pt", progress=False)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    s1_keys = [k for k in before if k.startswith("s1_net.")]
    s2_keys = [k for k in before if not k.startswith("s1_net.")]
    s1_same = all(torch.equal(before[k], after[k]) for k in s1_keys)  # weights and BN running stats
    assert all(torch.equal(before[k], after[k]) for k in s1_keys if "num_batches_tracked" in k) == (mode == "frozen")
    assert s1_same == (mode == "frozen")
    assert not all(torch.equal(before[k], after[k]) for k in s2_keys)
    if mode == "frozen":
        assert not any(p.requires_grad for p in trainer.model.s1_net.parameters())
        trainer.model.train()
        assert not any(mod.training for mod in trainer.model.s1_net.modules())
        trainer.model.eval()
        n_opt = sum(p.numel() for g in trainer.optimizer.param_groups for p in g["params"])
        assert n_opt == sum(p.numel() for p in trainer.model.parameters() if p.requires_grad) > 0


class Interrupt(Exception):
    pass


def test_composite_resume_reproduces_the_uninterrupted_run(tmp_path, synthetic_root):
    def losses(run):
        with open(run / "steps.csv") as f:
            return [float(r["loss"]) for r in csv.DictReader(f)]

    # one thread (autouse fixture): the same reduction order in both runs
    ref_cfg = composite_config(tmp_path / "ref", synthetic_root, epochs=2, checkpoint_every=4)
    s1_checkpoint(tmp_path / "s1.pt", ref_cfg)
    TransferTrainer(ref_cfg, S1, S2, "transfer", tmp_path / "s1.pt", progress=False).fit()
    cfg = composite_config(tmp_path / "cut", synthetic_root, epochs=2, checkpoint_every=4)

    def stop(trainer, loss):
        if trainer.state.global_step == 10:
            raise Interrupt

    with pytest.raises(Interrupt):
        TransferTrainer(cfg, S1, S2, "transfer", tmp_path / "s1.pt", progress=False, on_step=stop).fit()
    resumed = TransferTrainer(cfg, S1, S2, "transfer", tmp_path / "s1.pt", progress=False)
    assert resumed.resume() and resumed.state.global_step == 8
    resumed.fit()
    assert losses(tmp_path / "cut") == pytest.approx(losses(tmp_path / "ref"), rel=1e-6, abs=0)


def test_parameter_counts_of_the_three_configurations(tmp_path, synthetic_root):
    cfg = composite_config(tmp_path, synthetic_root)
    counts = parameter_counts(cfg, S1, S2)
    print(counts)
    assert counts["transfer"]["total"] == counts["frozen"]["total"] == counts["transfer"]["trainable"]
    assert 0 < counts["frozen"]["trainable"] < counts["frozen"]["total"]
    assert counts["random"]["total"] == counts["random"]["trainable"]
    assert abs(counts["transfer"]["total"] - counts["random"]["total"]) < 0.05 * counts["random"]["total"]


def test_epochs_to_convergence_is_the_first_epoch_at_95_percent_of_the_best():
    nan = float("nan")
    assert epochs_to_convergence([(1, 10.0), (2, nan), (3, 60.0), (4, 95.0), (5, 100.0), (6, 99.0)]) == 4
    assert epochs_to_convergence([(1, 50.0), (2, 40.0)]) == 1
    assert epochs_to_convergence([(1, nan)]) is None


# ------------------------------------------------------------------------------------ pipeline + CLI
def test_transfer_command_writes_the_report(tmp_path, synthetic_root):
    from posekit.cli.main import main

    cfg = composite_config(tmp_path / "unused", synthetic_root, epochs=1)
    save_config(cfg, tmp_path / "tiny.yaml")
    out = tmp_path / "kpt"
    assert main(["transfer", "--split", "a", "--config", str(tmp_path / "tiny.yaml"), "--out", str(out),
                 "--s1", "upper_body", "--s2", "lower_body", "--no-progress"]) == 0
    for stage in ("s1", "transfer", "frozen", "random"):
        assert (out / stage / "metrics.csv").is_file() and (out / stage / "best.pt").is_file()
    report = json.loads((out / "pckh_s2.json").read_text())
    assert report["s2"] == ["r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis"]
    assert set(report["configurations"]) == {"transfer", "frozen", "random"}
    assert report["split"] is None and report["columns"] == ["hip", "knee", "ankle"]  # own S1 / S2: rows S2 covers
    for c in report["configurations"].values():
        assert set(c["all_rows"]) == {"head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "mean"}
        assert c["all_rows"]["head"] is None and 0 <= c["all_rows"]["knee"] <= 100  # head is not in S2
        assert set(c["table"]) == {"hip", "knee", "ankle", "average"}
        assert c["table"]["average"] == pytest.approx((c["table"]["hip"] + c["table"]["knee"] + c["table"]["ankle"]) / 3)
        assert c["epochs_to_convergence"] == 1 and c["best_epoch"] == 1
        assert len(c["pck_bbox_per_epoch"]) == 1 and 0 <= c["pck_bbox_per_epoch"][0] <= 100
    assert report["params"]["frozen"]["trainable"] < report["params"]["frozen"]["total"]
    md = (out / "pckh_s2.md").read_text()
    assert "| configuration | Hip | Knee | Ankle | Average |" in md and "| random |" in md
    assert (out / "convergence.png").stat().st_size > 1000
    # the composite's checkpoint loads for posekit evaluate / predict and predicts S2 from stack 4
    from posekit.decoding.predictor import PosePredictor

    predictor = PosePredictor.from_checkpoint(out / "transfer" / "best.pt", device="cpu", flip=False)
    assert isinstance(predictor.model, SubsetTransferHourglass)
    assert predictor.keypoints.names == MPII.names[:7]  # S2 given by --s2: r_ankle .. pelvis
    assert predictor.artifact.extra["s1_joints"] == list(MPII.subset(MPII.resolve("upper_body")).names)
    assert predictor.model(torch.zeros(1, 3, 64, 64)).shape == (1, 2, 7, 16, 16)


def test_kptransfer_configs_follow_the_paper_protocol():
    from posekit.config import load_config

    for split in "abcd":
        cfg = load_config(f"kptransfer/split_{split}")
        assert cfg.transfer.split == split and cfg.data.dataset == "files" and cfg.model.num_stacks == 4
        t, a = cfg.train, cfg.data.augment
        assert (t.optimizer, t.scheduler, t.plateau_factor, t.early_stopping, t.iters_per_epoch) == \
            ("rmsprop", "plateau", 0.2, 10, 8000)
        assert (a.scale_min, a.scale_max, a.rotation, a.enabled) == (0.75, 1.25, 30.0, True)
        resolve_split(cfg.transfer.split, cfg.transfer.s1, cfg.transfer.s2)
    quick = load_config("kptransfer/quickstart_d")
    assert quick.transfer.split == "d" and quick.data.dataset == "synthetic"
    assert (quick.train.optimizer, quick.train.scheduler, quick.train.plateau_factor) == ("rmsprop", "plateau", 0.2)


def test_list_splits_json_is_table_1_with_the_data_joint_names(capsys):
    """``posekit transfer --list-splits --json``: ``{"a": {"s1": [...], "s2": [...]}, ...}`` with the joint
    names the data README lists (MPII official order), each split as Table 1 of Vats et al. (2019)."""
    import re

    from conftest import SHARED
    from posekit.cli.main import main

    readme = (SHARED / "README.md").read_text() if (SHARED / "README.md").is_file() else ""
    names_in_readme = set(re.findall(r"\d+ ([a-z_]+)[,.\s]", readme.split("Joint order")[1][:400])) if readme else set()
    assert main(["transfer", "--list-splits", "--json"]) == 0
    splits = json.loads(capsys.readouterr().out)
    assert sorted(splits) == ["a", "b", "c", "d"]
    table1 = {  # the paper's wording, left and right of every paired part
        "a": ("head_top upper_neck shoulder pelvis thorax hip", "knee ankle wrist elbow"),
        "b": ("head_top upper_neck shoulder elbow hip", "knee ankle wrist pelvis thorax"),
        "c": ("head_top upper_neck shoulder elbow knee", "wrist ankle hip pelvis thorax"),
        "d": ("knee ankle wrist elbow", "head_top upper_neck elbow knee pelvis thorax"),
    }
    expand = lambda words: {n for w in words.split() for n in ((w,) if w in MPII.names else (f"r_{w}", f"l_{w}"))}  # noqa: E731
    for name, (s1, s2) in table1.items():
        assert set(splits[name]) == {"s1", "s2"}
        assert set(splits[name]["s1"]) == expand(s1) and len(splits[name]["s1"]) == 8
        assert set(splits[name]["s2"]) == expand(s2) and len(splits[name]["s2"]) == 8
        if names_in_readme:
            assert set(splits[name]["s1"]) | set(splits[name]["s2"]) <= names_in_readme
    if names_in_readme:
        assert names_in_readme == set(MPII.names)
    # without --json: a readable table, one block per split
    assert main(["transfer", "--list-splits"]) == 0
    text = capsys.readouterr().out
    assert "split (d)" in text and "in both: l_elbow, l_knee, r_elbow, r_knee" in text
    assert main(["transfer", "--json"]) == 2
    assert "--json only goes with --list-splits" in capsys.readouterr().err


def test_tables_2_to_5_show_the_papers_columns_and_their_plain_average(tmp_path):
    """Tables 2-5 of Vats et al. (2019): per split the S2 columns the paper prints, Average = their plain
    mean; Table 5, random initialisation: (97.1 + 87.9 + 83.3) / 3 = 89.43, printed 89.4."""
    from posekit.pipelines.kptransfer import PAPER_COLUMNS, plain_average, table_columns, write_report

    assert round(plain_average([97.1, 87.9, 83.3]), 1) == 89.4
    assert round(plain_average([87.9, 84.2, 82.9, 80.6]), 1) == 83.9      # Table 2, transfer
    assert math.isnan(plain_average([91.1, None, 82.9]))                  # a blank cell: no average
    assert {k: table_columns(k, resolve_split(k)[1]) for k in "abcd"} == PAPER_COLUMNS
    # a split-(d) experiment folder with hand-made metrics: every joint of S2 at a known PCKh
    s1, s2 = resolve_split("d")
    pckh = {"head_top": 90.0, "upper_neck": 80.0, "r_elbow": 70.0, "l_elbow": 60.0, "r_knee": 50.0, "l_knee": 40.0,
            "pelvis": 99.0, "thorax": 99.0}
    for i, mode in enumerate(("transfer", "frozen", "random")):
        (tmp_path / mode).mkdir()
        cols = ["epoch", "pckh", "pck_bbox"] + [f"pckh_{n}" for n in pckh]
        rows = [[1, 10.0, 20.0 + i] + [v / 2 for v in pckh.values()], [2, 60.0, 30.0 + i] + list(pckh.values())]
        (tmp_path / mode / "metrics.csv").write_text("\n".join(",".join(map(str, r)) for r in [cols] + rows) + "\n")
    report = write_report(tmp_path, s1, s2, split="d")
    row = report["configurations"]["transfer"]["table"]
    # head = head_top (Table 5's "Head"), elbow / knee = mean of left and right
    assert row == {"head": 90.0, "elbow": 65.0, "knee": 45.0, "average": pytest.approx(200.0 / 3)}
    assert report["configurations"]["random"]["pck_bbox_per_epoch"] == [22.0, 32.0]
    md = (tmp_path / "pckh_s2.md").read_text()
    assert "| configuration | Head | Elbow | Knee | Average |" in md and "Table 5's columns" in md
    assert "| transfer | 90.00 | 65.00 | 45.00 | 66.67 | 2 | 2 |" in md
    assert (tmp_path / "convergence.png").stat().st_size > 1000
