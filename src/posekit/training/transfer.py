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

The training protocol (Sec. 3.3: RMSprop, lr / 5 on plateau, early stopping after 10 epochs
without improvement, epochs of a fixed number of iterations, scale 0.75-1.25 and rotation +/-30
degrees) lives in the packaged configs (``kptransfer/``); every stage uses the ordinary
:class:`~posekit.training.trainer.Trainer` loop (checkpoints, exact resume, metrics.csv). The whole
experiment and its report are :mod:`posekit.pipelines.kptransfer`.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from posekit.checkpoint import CheckpointError
from posekit.config import Config, HourglassConfig
from posekit.keypoints import MPII
from posekit.models.registry import create_model, read_artifact
from posekit.training.trainer import Trainer

#: The four joint splits (a)-(d) of Vats et al. (2019), Table 1, written as the table lists them
#: (MPII joint names; "head" is head_top, "neck" upper_neck; every paired part counts its left and
#: right joint, so each subset has 8 joints). In split (d), S2 shares the elbows and knees with S1,
#: which Sec. 3.2 allows (S1 and S2 need not be disjoint).
KPTRANSFER_SPLITS: dict[str, dict[str, tuple[str, ...]]] = {
    "a": {"s1": ("head_top", "upper_neck", "r_shoulder", "l_shoulder", "pelvis", "thorax", "r_hip", "l_hip"),
          "s2": ("r_knee", "l_knee", "r_ankle", "l_ankle", "r_wrist", "l_wrist", "r_elbow", "l_elbow")},
    "b": {"s1": ("head_top", "upper_neck", "r_shoulder", "l_shoulder", "r_elbow", "l_elbow", "r_hip", "l_hip"),
          "s2": ("r_knee", "l_knee", "r_ankle", "l_ankle", "r_wrist", "l_wrist", "pelvis", "thorax")},
    "c": {"s1": ("head_top", "upper_neck", "r_shoulder", "l_shoulder", "r_elbow", "l_elbow", "r_knee", "l_knee"),
          "s2": ("r_wrist", "l_wrist", "r_ankle", "l_ankle", "r_hip", "l_hip", "pelvis", "thorax")},
    "d": {"s1": ("r_knee", "l_knee", "r_ankle", "l_ankle", "r_wrist", "l_wrist", "r_elbow", "l_elbow"),
          "s2": ("head_top", "upper_neck", "r_elbow", "l_elbow", "r_knee", "l_knee", "pelvis", "thorax")},
}

MODES = ("transfer", "frozen", "random")


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
    ids1, ids2 = MPII.resolve(s1), MPII.resolve(s2)
    if not ids1 or not ids2:
        raise ValueError("S1 and S2 must each contain at least one joint")
    return ids1, ids2


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
        ValueError: unknown mode, odd stack count, or a model section that is not a hourglass.
        posekit.checkpoint.CheckpointError: a checkpoint trained on other joints than S1.
        FileNotFoundError: ``s1_checkpoint`` does not exist.
    """

    #: the S1/S2 routing calls ``forward_subsets``, not ``forward``: single process only
    supports_distributed = False

    def __init__(self, cfg: Config, s1_ids, s2_ids, mode: str, s1_checkpoint: str | Path | None,
                 progress: bool = True, on_step=None):
        if mode not in ("transfer", "frozen"):
            raise ValueError(f"TransferTrainer mode must be 'transfer' or 'frozen', got {mode!r}")
        if not isinstance(cfg.model, HourglassConfig):
            raise ValueError(f"KPTransfer trains stacked hourglasses: model.name must be 'hourglass', got "
                             f"{cfg.model.name!r}")
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
        net = create_model("kptransfer", num_s1=len(self.s1_ids), num_s2=len(self.s2_ids),
                           num_features=m.num_features, depth=m.depth, stem=m.stem, stem_width=m.stem_width,
                           stacks_per_subset=self.stacks_per_subset)
        if self.s1_checkpoint is not None:
            artifact, state, _ = read_artifact(self.s1_checkpoint)
            s1_names = tuple(MPII.names[j] for j in self.s1_ids)
            if artifact.keypoints.names != s1_names:
                raise CheckpointError(f"{self.s1_checkpoint}: trained on joints {list(artifact.keypoints.names)}, "
                                      f"expected S1 = {list(s1_names)}")
            try:
                net.load_s1(state)
            except RuntimeError as e:
                raise CheckpointError(f"{self.s1_checkpoint}: its network does not fit the S1 part ({e})") from None
        if self.mode == "frozen":
            net.freeze_s1()
        return net

    def artifact_extra(self) -> dict:
        """The S1 joints and the configuration, recorded in the composite's artifact."""
        return {"s1_joints": [MPII.names[j] for j in self.s1_ids], "kptransfer_mode": self.mode}

    def compute_loss(self, images: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Intermediate-supervision MSE: S2 targets on stacks ``k+1..2k``, plus (``transfer`` only)
        S1 targets on stacks ``1..k``. ``target`` ``(B, J_union, h, h)``, ``weight`` ``(B, J_union)``."""
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            s1_out, s2_out = self.model.forward_subsets(images)
        loss = self.criterion(s2_out.float(), target[:, self.s2_channels], weight[:, self.s2_channels])
        if self.mode == "transfer":
            loss = loss + self.criterion(s1_out.float(), target[:, self.s1_channels], weight[:, self.s1_channels])
        return loss
