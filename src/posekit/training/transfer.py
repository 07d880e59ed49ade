"""KPTransfer: domain transfer between joint subsets (Vats, Neher, Wong, Clausi & Zelek 2019,
"KPTransfer: improved performance and faster convergence from keypoint subset-wise domain transfer
in human pose estimation", Sec. 3-4).

The experiment of one split (S1 -> S2):

1. **S1 network**: a ``k``-stack :class:`~posekit.models.hourglass.StackedHourglass` trained on the
   joints of S1 (``k = model.num_stacks // 2``; 2 in the paper).
2. Three ``2k``-stack networks evaluated on S2 (validation PCKh on S2):

   * ``transfer``: a :class:`~posekit.models.composite.SubsetTransferHourglass` whose stacks
     ``1..k`` are initialised from the S1 network's ``best.pt`` (every tensor copied, stem
     included) and whose stacks ``k+1..2k`` are random; all stacks trained jointly, S1 targets
     on stacks ``1..k`` and S2 targets on stacks ``k+1..2k``;
   * ``frozen``: the same initialisation, stacks ``1..k`` frozen (no gradients, BatchNorm in eval
     mode), loss on stacks ``k+1..2k`` only (the paper's frozen weight extraction);
   * ``random``: a plain ``2k``-stack StackedHourglass with random initialisation trained on S2.

The training protocol (RMSprop, lr / 5 on plateau, early stopping after 10 epochs without
improvement, epochs of a fixed number of iterations, scale 0.75-1.25 and rotation +/-30 degrees)
lives in the configs (``configs/kptransfer/``); every stage uses the ordinary
:class:`~posekit.training.trainer.Trainer` loop (checkpoints, exact resume, metrics.csv).

**Convergence** (this module's definition, used for the "epochs to convergence" report): the first
epoch whose validation PCKh@0.5 mean on S2 reaches ``CONVERGENCE_FRACTION`` (95%) of the best
validation PCKh@0.5 mean that run reached.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from posekit.analysis.plots import read_metrics  # noqa: E402
from posekit.config import Config  # noqa: E402
from posekit.evaluation.pckh import MEAN_EXCLUDED_JOINTS, TABLE_ROWS  # noqa: E402
from posekit.joints import JOINT_NAMES, PCKH_TABLE_GROUPS, resolve_joints  # noqa: E402
from posekit.models import build_model  # noqa: E402
from posekit.models.composite import SubsetTransferHourglass  # noqa: E402
from posekit.training.checkpoint import load_checkpoint  # noqa: E402
from posekit.training.trainer import Trainer  # noqa: E402

#: The four joint splits (a)-(d): split -> {"s1": names, "s2": names}, MPII joint names.
#:
#: NOT the paper's Table 1 verbatim: the text of Table 1 could not be retrieved (only the
#: abstract and introduction of arXiv:1903.09926 were available). These splits are defined from
#: what the paper says: transfer between two different keypoint subsets, subsets formed by adding
#: and removing keypoints, gains on wrists and knees in some splits. Every named body part has
#: its left and right joint, so every subset is closed under the horizontal flip.
#:
#: * (a) upper body -> lower body;
#: * (b) lower body -> upper body;
#: * (c) head and torso -> limbs (elbows, wrists, knees, ankles);
#: * (d) all joints but the wrists and ankles -> all 16 joints (keypoints added).
KPTRANSFER_SPLITS: dict[str, dict[str, tuple[str, ...]]] = {
    "a": {
        "s1": ("head_top", "upper_neck", "thorax", "r_shoulder", "l_shoulder", "r_elbow", "l_elbow",
               "r_wrist", "l_wrist"),
        "s2": ("pelvis", "r_hip", "l_hip", "r_knee", "l_knee", "r_ankle", "l_ankle"),
    },
    "b": {
        "s1": ("pelvis", "r_hip", "l_hip", "r_knee", "l_knee", "r_ankle", "l_ankle"),
        "s2": ("head_top", "upper_neck", "thorax", "r_shoulder", "l_shoulder", "r_elbow", "l_elbow",
               "r_wrist", "l_wrist"),
    },
    "c": {
        "s1": ("head_top", "upper_neck", "thorax", "pelvis", "r_shoulder", "l_shoulder", "r_hip", "l_hip"),
        "s2": ("r_elbow", "l_elbow", "r_wrist", "l_wrist", "r_knee", "l_knee", "r_ankle", "l_ankle"),
    },
    "d": {
        "s1": ("head_top", "upper_neck", "thorax", "pelvis", "r_shoulder", "l_shoulder", "r_elbow", "l_elbow",
               "r_hip", "l_hip", "r_knee", "l_knee"),
        "s2": JOINT_NAMES,
    },
}

MODES = ("transfer", "frozen", "random")

#: Fraction of a run's best validation PCKh that defines convergence (see the module docstring).
CONVERGENCE_FRACTION = 0.95


def resolve_split(split: str | None = None, s1=None, s2=None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Joint ids of S1 and S2: the named split, with ``s1`` / ``s2`` (joint subset specs, e.g.
    ``["l_wrist", "r_wrist"]`` or ``"arms"``) replacing its subsets when given.

    Returns:
        ``(s1_ids, s2_ids)``, each sorted (MPII joint order).

    Raises:
        KeyError: unknown split name (when a subset is not given explicitly) or joint name.
        ValueError: an empty subset.
    """
    if s1 is None or s2 is None:
        if split not in KPTRANSFER_SPLITS:
            raise KeyError(f"unknown KPTransfer split {split!r}; expected one of {sorted(KPTRANSFER_SPLITS)}")
        s1 = KPTRANSFER_SPLITS[split]["s1"] if s1 is None else s1
        s2 = KPTRANSFER_SPLITS[split]["s2"] if s2 is None else s2
    ids1, ids2 = resolve_joints(s1), resolve_joints(s2)
    if not ids1 or not ids2:
        raise ValueError("S1 and S2 must each contain at least one joint")
    return ids1, ids2


def _stage_config(cfg: Config, output_dir: Path, joints: tuple[int, ...], num_stacks: int) -> Config:
    """A copy of ``cfg`` for one stage: its output folder, target joints and stack count."""
    stage = copy.deepcopy(cfg)
    stage.train.output_dir = str(output_dir)
    stage.data.joints = [int(j) for j in joints]
    stage.model.num_stacks = int(num_stacks)
    return stage


def split_stacks(num_stacks: int) -> int:
    """Stacks per subset ``k`` of a ``2k``-stack composite.

    Raises:
        ValueError: ``num_stacks`` is odd or below 2.
    """
    if num_stacks < 2 or num_stacks % 2:
        raise ValueError(f"model.num_stacks must be even and >= 2 for KPTransfer (the composite's total), "
                         f"got {num_stacks}")
    return num_stacks // 2


class TransferTrainer(Trainer):
    """Trains a :class:`SubsetTransferHourglass` in the ``transfer`` or ``frozen`` configuration.

    ``cfg.model.num_stacks`` is the composite's total ``2k``; ``cfg.data.joints`` is replaced by S2
    (validation, PCKh and ``best.pt`` selection are on S2, stacks ``k+1..2k``). The training
    targets hold S2 then the S1 joints not in S2 (``train_joint_ids``); :meth:`compute_loss` routes
    them: S2 targets to stacks ``k+1..2k``, S1 targets to stacks ``1..k`` (``transfer`` only).

    Args:
        cfg: the experiment config (its ``data.joints`` is ignored).
        s1_ids, s2_ids: dataset joint ids of S1 and S2.
        mode: ``"transfer"`` or ``"frozen"``.
        s1_checkpoint: checkpoint of the trained ``k``-stack S1 network (``best.pt``); None only to
            build an untrained composite (tests).
        progress, on_step: as in :class:`Trainer`.

    Raises:
        ValueError: unknown mode, odd stack count, or a checkpoint trained on other joints than S1.
        FileNotFoundError: ``s1_checkpoint`` does not exist.
    """

    #: the S1/S2 routing calls ``forward_subsets``, not ``forward``: single process only
    supports_distributed = False

    def __init__(self, cfg: Config, s1_ids, s2_ids, mode: str, s1_checkpoint: str | Path | None,
                 progress: bool = True, on_step=None):
        if mode not in ("transfer", "frozen"):
            raise ValueError(f"TransferTrainer mode must be 'transfer' or 'frozen', got {mode!r}")
        self.s1_ids, self.s2_ids = tuple(s1_ids), tuple(s2_ids)
        self.mode, self.s1_checkpoint = mode, s1_checkpoint
        self.stacks_per_subset = split_stacks(cfg.model.num_stacks)
        union = list(self.s2_ids) + [j for j in self.s1_ids if j not in self.s2_ids]
        self.s2_channels = list(range(len(self.s2_ids)))
        self.s1_channels = [union.index(j) for j in self.s1_ids]
        self._union = tuple(union)
        cfg = copy.deepcopy(cfg)
        cfg.data.joints = list(self.s2_ids)
        super().__init__(cfg, progress=progress, on_step=on_step)

    def train_joint_ids(self) -> tuple[int, ...]:
        """S2 joints, then the S1 joints not in S2 (channel order of the training targets)."""
        return self._union

    def build_network(self) -> nn.Module:
        m = self.cfg.model
        net = SubsetTransferHourglass(len(self.s1_ids), len(self.s2_ids), m.num_features, m.depth, m.stem,
                                      m.stem_width, stacks_per_subset=self.stacks_per_subset)
        if self.s1_checkpoint is not None:
            ckpt = load_checkpoint(self.s1_checkpoint)
            if tuple(ckpt.get("joint_ids", ())) != self.s1_ids:
                raise ValueError(f"{self.s1_checkpoint}: trained on joints {ckpt.get('joint_ids')}, "
                                 f"expected S1 = {list(self.s1_ids)}")
            net.load_s1(ckpt["model"])
        if self.mode == "frozen":
            net.freeze_s1()
        return net

    def checkpoint_state(self) -> dict:
        """The :class:`Trainer` checkpoint plus ``s1_joint_ids``, which tells
        :meth:`posekit.decoding.predictor.PosePredictor.from_checkpoint` (``posekit evaluate`` /
        ``predict``) to rebuild the composite; ``joint_ids`` are S2, the joints it predicts."""
        state = super().checkpoint_state()
        state["s1_joint_ids"] = list(self.s1_ids)
        return state

    def compute_loss(self, images: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Intermediate-supervision MSE: S2 targets on stacks ``k+1..2k``, plus (``transfer`` only)
        S1 targets on stacks ``1..k``. ``target`` ``(B, J_union, h, h)``, ``weight`` ``(B, J_union)``."""
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            s1_out, s2_out = self.model.forward_subsets(images)
        loss = self.criterion(s2_out.float(), target[:, self.s2_channels], weight[:, self.s2_channels])
        if self.mode == "transfer":
            loss = loss + self.criterion(s1_out.float(), target[:, self.s1_channels], weight[:, self.s1_channels])
        return loss


# ---------------------------------------------------------------------------------------- pipeline
def parameter_counts(cfg: Config, s1_ids, s2_ids) -> dict[str, dict[str, int]]:
    """Parameters of the three configurations' networks (weights, biases and BatchNorm affine).

    Returns:
        ``{mode: {"total": n, "trainable": n}}`` for ``transfer``, ``frozen`` and ``random``.
    """
    m = cfg.model
    k = split_stacks(m.num_stacks)
    out = {}
    for mode in MODES:
        if mode == "random":
            net = build_model(m, len(s2_ids))
        else:
            net = SubsetTransferHourglass(len(s1_ids), len(s2_ids), m.num_features, m.depth, m.stem, m.stem_width, k)
            if mode == "frozen":
                net.freeze_s1()
        out[mode] = {"total": sum(p.numel() for p in net.parameters()),
                     "trainable": sum(p.numel() for p in net.parameters() if p.requires_grad)}
    return out


def epochs_to_convergence(pckh_per_epoch: list[tuple[int, float]], fraction: float = CONVERGENCE_FRACTION) -> int | None:
    """First epoch whose validation PCKh reaches ``fraction`` of the run's best validation PCKh.

    Args:
        pckh_per_epoch: ``(epoch, PCKh %)`` pairs (1-based epochs; NaN entries are skipped).

    Returns:
        The epoch, or None when no epoch has a finite PCKh.
    """
    valid = [(e, p) for e, p in pckh_per_epoch if math.isfinite(p)]
    if not valid:
        return None
    target = fraction * max(p for _, p in valid)
    return next(e for e, p in valid if p >= target)


def pckh_table_row(row: dict, s2_ids) -> dict[str, float]:
    """Table 2-5 row of one run from a ``metrics.csv`` row: head, shoulder, ..., ankle, mean (%).

    Left/right rows are ``0.5 * (left + right)`` over the S2 joints of that row (NaN when S2 has
    none of them); ``mean`` is the validation Mean (count-weighted over S2, pelvis and thorax
    excluded, as :func:`posekit.training.trainer.validate` computes it).
    """
    out = {}
    for name in TABLE_ROWS:
        vals = [row.get(f"pckh_{JOINT_NAMES[j]}", math.nan) for j in PCKH_TABLE_GROUPS[name] if j in s2_ids]
        vals = [v for v in vals if math.isfinite(v)]
        out[name] = sum(vals) / len(vals) if vals else math.nan
    out["mean"] = row.get("pckh", math.nan)
    return out


def _best_row(rows: list[dict]) -> dict:
    scored = [r for r in rows if math.isfinite(r.get("pckh", math.nan))]
    return max(scored, key=lambda r: r["pckh"]) if scored else (rows[-1] if rows else {})


def plot_convergence(runs: dict[str, Path], out_path: Path, convergence: dict[str, int | None]) -> Path:
    """Validation PCKh@0.5 mean on S2 against epoch for each configuration (the paper's Fig. 3),
    with a dotted vertical line at each run's epoch of convergence. ``runs``: label -> metrics.csv."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for label, path in runs.items():
        rows = [r for r in read_metrics(path) if math.isfinite(r.get("pckh", math.nan))]
        line, = ax.plot([r["epoch"] for r in rows], [r["pckh"] for r in rows], marker="o", label=label)
        if convergence.get(label) is not None:
            ax.axvline(convergence[label], color=line.get_color(), linestyle=":", alpha=0.8)
    ax.set(xlabel="epoch", ylabel="validation PCKh@0.5 mean on S2 (%)",
           title=f"Convergence (dotted: first epoch >= {CONVERGENCE_FRACTION:.0%} of best)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path


def write_report(out: Path, s1_ids, s2_ids, params: dict | None = None) -> dict:
    """Write ``pckh_s2.md``, ``pckh_s2.json`` and ``convergence.png`` from the runs in ``out``.

    Reads ``out/{transfer,frozen,random}/metrics.csv``; each configuration's table row is its best
    validation epoch (the epoch of its ``best.pt``).

    Returns:
        The JSON report: S1/S2 joint names, per-configuration table row, per-joint PCKh, best epoch,
        epochs to convergence and PCKh per epoch, and ``params`` when given.

    Raises:
        FileNotFoundError: a configuration's ``metrics.csv`` is missing.
    """
    s2_ids = tuple(s2_ids)
    report: dict = {"s1": [JOINT_NAMES[j] for j in s1_ids], "s2": [JOINT_NAMES[j] for j in s2_ids],
                    "convergence_definition": f"first epoch with val PCKh >= {CONVERGENCE_FRACTION} x best val PCKh",
                    "configurations": {}}
    convergence = {}
    for mode in MODES:
        rows = read_metrics(out / mode / "metrics.csv")
        curve = [(int(r["epoch"]), r.get("pckh", math.nan)) for r in rows]
        best = _best_row(rows)
        convergence[mode] = epochs_to_convergence(curve)
        report["configurations"][mode] = {
            "table": pckh_table_row(best, s2_ids),
            "per_joint": {JOINT_NAMES[j]: best.get(f"pckh_{JOINT_NAMES[j]}", math.nan) for j in s2_ids},
            "best_epoch": int(best["epoch"]) if best else None,
            "epochs_run": len(rows),
            "epochs_to_convergence": convergence[mode],
            "pckh_per_epoch": [p for _, p in curve],
        }
    if params is not None:
        report["params"] = params
    shown = [name for name in TABLE_ROWS if any(j in s2_ids for j in PCKH_TABLE_GROUPS[name])]
    header = ["configuration"] + [n.capitalize() for n in shown] + ["Mean", "best epoch", "epochs to convergence"]
    lines = [f"PCKh@0.5 on S2 = {', '.join(report['s2'])} (S1 = {', '.join(report['s1'])}); Mean excludes "
             f"{' and '.join(JOINT_NAMES[j] for j in MEAN_EXCLUDED_JOINTS)}; convergence: first epoch with "
             f"val PCKh >= {CONVERGENCE_FRACTION:.0%} of the run's best.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for mode in MODES:
        c = report["configurations"][mode]
        cells = [mode] + [f"{c['table'][n]:.2f}" for n in shown] + [f"{c['table']['mean']:.2f}", str(c["best_epoch"]),
                                                                    str(c["epochs_to_convergence"])]
        lines.append("| " + " | ".join(cells) + " |")
    if params is not None:
        lines += ["", "| configuration | parameters | trainable |", "|---|---|---|"]
        lines += [f"| {mode} | {params[mode]['total']:,} | {params[mode]['trainable']:,} |" for mode in MODES]
    (out / "pckh_s2.md").write_text("\n".join(lines) + "\n")
    (out / "pckh_s2.json").write_text(json.dumps(_finite_or_none(report), indent=2))
    plot_convergence({mode: out / mode / "metrics.csv" for mode in MODES}, out / "convergence.png", convergence)
    return report


def _finite_or_none(x):
    """``x`` with every non-finite float replaced by None (strict JSON has no NaN)."""
    if isinstance(x, dict):
        return {k: _finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite_or_none(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _fit(trainer: Trainer, resume: bool) -> dict:
    """Run one stage; with ``resume``, a finished stage (``summary.json``) is kept and an interrupted
    one continues from its ``last.pt``."""
    summary = trainer.out / "summary.json"
    if resume and summary.is_file():
        return json.loads(summary.read_text())
    if resume:
        trainer.resume()
    return trainer.fit()


def run_kptransfer(cfg: Config, out: str | Path, progress: bool = True, resume: bool = False) -> dict:
    """The whole experiment of ``cfg.transfer`` into ``out``: ``s1/``, ``transfer/``, ``frozen/``,
    ``random/`` run folders, then the report (:func:`write_report`).

    ``cfg.model.num_stacks`` is the composite's total (4 in the paper); the S1 network has half.

    Returns:
        The JSON report.

    Raises:
        KeyError, ValueError: unknown split or joints, odd stack count.
    """
    out = Path(out)
    s1_ids, s2_ids = resolve_split(cfg.transfer.split, cfg.transfer.s1, cfg.transfer.s2)
    k = split_stacks(cfg.model.num_stacks)
    out.mkdir(parents=True, exist_ok=True)
    _fit(Trainer(_stage_config(cfg, out / "s1", s1_ids, k), progress=progress), resume)
    s1_best = out / "s1" / "best.pt"
    if not s1_best.is_file():  # no validation split: no best.pt, use the last epoch
        s1_best = out / "s1" / "last.pt"
    for mode in ("transfer", "frozen"):
        stage = _stage_config(cfg, out / mode, s2_ids, 2 * k)
        _fit(TransferTrainer(stage, s1_ids, s2_ids, mode, s1_best, progress=progress), resume)
    _fit(Trainer(_stage_config(cfg, out / "random", s2_ids, 2 * k), progress=progress), resume)
    return write_report(out, s1_ids, s2_ids, parameter_counts(cfg, s1_ids, s2_ids))
