"""Part-based Branching Network (PBN; Tang & Wu, "Does learning specific features for related parts
help human pose estimation?", CVPR 2019, Sec. 3-4) and its baselines.

Reads top to bottom: the PBN stem, the per-stack heads (:class:`DeepHead`, the deep baseline of
Fig. 5(c); :class:`BranchingHead`, one branch per joint group) and the registered builders
:func:`pbn` and :func:`pbn_baseline` and their paper-size variants. A PBN is a
:class:`~posekit.models.hourglass.StackedHourglass` whose stack loop
(:class:`~posekit.models.hourglass.HourglassStacks`) runs these heads; the residual block, the
hourglass, the conv-BN-ReLU layer and the plain baseline's 1x1 head
(:class:`~posekit.models.hourglass.LinearHead`) are those of :mod:`posekit.models.hourglass`.

Each stack: hourglass -> *shared* features (residual + 1x1 conv-BN-ReLU, as in Newell et al.) -> a
head that predicts the heat maps. In PBN the head is a set of branches, one per group of related
joints: 1x1 conv-BN-ReLU ``F -> W``, ``D`` residual blocks of width ``W``, 1x1 conv ``W -> |group|``
(Sec. 3). The branches' heat maps are scattered back to dataset joint order; a joint in
several (overlapping) groups gets the mean of its branches' heat maps. Between stacks (Sec. 3):
``next input = input + remap(heat maps) + remap(features)`` with the shared features (default) or
the concatenated group-specific features.

Shapes: input ``(B, 3, S, S)`` RGB in [0, 1] with ``S`` divisible by ``4 * 2**depth``; output ``(B,
num_stacks, J, S/4, S/4)`` like every stacked hourglass, so the trainer, the loss and the decoding
work unchanged. Groups are given by joint *name* (``joint_names`` names the output channels), so a
model artifact describes its branches explicitly.

Parameter counts (Table 6 of the paper; ``count_parameters`` = all weights, biases and BatchNorm
affine parameters). The paper gives 26.69M for the eight-stack PBN (W = 64, D = 1, 5 groups) and
27.22M for the eight-stack deep baseline. The details that the text leaves open were fixed by
these two numbers:

* the stem is the one described in the paper (three 3x3 convs of 64 channels with a 2x2 max-pool
  after the first, residual 64 -> 128, max-pool, residuals 128 -> 128 and 128 -> 256): 419,072
  parameters;
* "width W" of a branch residual block is its *output* width (bottleneck ``W -> W/2 -> W/2 -> W``
  as in every hourglass residual). Reading W = 64 as the bottleneck's middle width instead (blocks
  128 -> 64 -> 64 -> 128, i.e. ``branch_width=128`` here) gives 28,970,880 parameters, 1.75M more
  than the deep baseline, while the table has the PBN 0.53M *smaller*: the deep baseline's head
  (256-channel block + 1x1 conv, 218,640 parameters per stack) minus the PBN head (five W = 64
  branches of 30,272 parameters plus their 1x1 convs, 152,400 per stack) is 0.53M over eight stacks;
* the branch's 1x1 ``F -> W`` layer is conv + BN + ReLU (128 BN parameters per branch); with a bare
  conv the PBN count is 26,681,728 (26.68M), with BN-ReLU 26,686,848 (26.69M, the table's value);
* the shared features keep Newell's residual + 1x1 conv-BN-ReLU; the deep baseline adds one
  256-channel residual block before its linear head (Fig. 5(c)).

This gives 27,216,768 parameters for the eight-stack deep baseline (paper: 27.22M), 26,686,848 for the
eight-stack PBN (26.69M), and 25,500,544 for the plain eight-stack baseline (a stacked hourglass with
the PBN stem); ``tests/test_pbn.py`` checks all three exactly.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from posekit.models.hourglass import (
    ConvBNReLU,
    LinearHead,
    Residual,
    StackedHourglass,
)
from posekit.models.hourglass import make_stem as hourglass_stem
from posekit.models.layers import IMAGENET_MEAN, IMAGENET_STD
from posekit.models.registry import create_model, register_model

STEMS = ("pbn", "newell", "reduced")
BASELINES = ("plain", "deep")


def pbn_stem(num_features: int = 256, width: int = 64) -> nn.Sequential:
    """The PBN stem (Sec. 3-4): three 3x3 conv-BN-ReLU of ``width`` channels with a 2x2 max-pool after
    the first, residual ``width -> 2 width``, max-pool, residuals ``2 width -> 2 width`` and
    ``2 width -> F``. ``(B, 3, S, S) -> (B, F, S/4, S/4)``; 419,072 parameters for F = 256, width 64.

    ``width`` (64 in the paper) may be reduced for small CPU models only."""
    w = width
    return nn.Sequential(
        ConvBNReLU(3, w, 3),
        nn.MaxPool2d(2, 2),
        ConvBNReLU(w, w, 3),
        ConvBNReLU(w, w, 3),
        Residual(w, 2 * w),
        nn.MaxPool2d(2, 2),
        Residual(2 * w, 2 * w),
        Residual(2 * w, num_features),
    )


def make_stem(name: str, num_features: int, width: int) -> nn.Sequential:
    """``"pbn"`` (:func:`pbn_stem`), or the hourglass stems ``"newell"`` / ``"reduced"``
    (:func:`posekit.models.hourglass.make_stem`).

    Raises:
        ValueError: unknown stem name.
    """
    if name not in STEMS:
        raise ValueError(f"unknown stem {name!r}; expected one of {STEMS}")
    return pbn_stem(num_features, width) if name == "pbn" else hourglass_stem(name, num_features, width)


# ---------------------------------------------------------------------------------------- heads
# A head maps the shared features (B, F, h, w) to (heat maps (B, J, h, w), specific features
# (B, out_features, h, w)); see posekit.models.hourglass.HourglassStacks.


class DeepHead(nn.Module):
    """Deep baseline head (Fig. 5(c) "deep baseline"): one ``F``-channel residual block, then a 1x1 conv
    ``F -> J``. The same depth as a PBN branch with D = 1, but shared by all joints."""

    def __init__(self, num_features: int, num_joints: int):
        super().__init__()
        self.out_features = num_features
        self.block = Residual(num_features, num_features)
        self.conv = nn.Conv2d(num_features, num_joints, 1)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        specific = self.block(feats)
        return self.conv(specific), specific


class Branch(nn.Sequential):
    """One PBN branch (Sec. 3): 1x1 conv-BN-ReLU ``F -> W``, ``D`` residual blocks of width ``W``.
    ``(B, F, h, w) -> (B, W, h, w)``, the features specific to one group of joints."""

    def __init__(self, num_features: int, width: int, depth: int):
        super().__init__(ConvBNReLU(num_features, width, 1), *[Residual(width, width) for _ in range(depth)])


class BranchingHead(nn.Module):
    """The PBN head: one :class:`Branch` and one 1x1 conv per joint group (Sec. 3).

    Group ``g`` predicts the heat maps of its joints ``groups[g]``; they are scattered back to the
    output channel order, and a joint predicted by several branches (overlapping groups, Sec. 4.3)
    gets their mean.

    Args:
        num_features: shared feature channels ``F``.
        groups: channel ids per group; every channel in at least one.
        num_joints: output heat maps ``J``.
        width: branch width ``W``.
        depth: residual blocks per branch ``D`` (0: the branch is only the 1x1 ``F -> W`` layer).

    Specific features: the branches' outputs concatenated, ``out_features = len(groups) * W``.

    Raises:
        ValueError: a joint in no group, an id out of range, or ``width < 1``, ``depth < 0``.
    """

    def __init__(self, num_features: int, groups: Sequence[Sequence[int]], num_joints: int, width: int = 64,
                 depth: int = 1):
        super().__init__()
        groups = [tuple(int(j) for j in g) for g in groups]
        if width < 1 or depth < 0:
            raise ValueError(f"branch width must be >= 1 and depth >= 0, got {width}, {depth}")
        covered = [j for g in groups for j in g]
        if any(not 0 <= j < num_joints for j in covered) or set(covered) != set(range(num_joints)):
            raise ValueError(f"groups {groups} must use joint ids 0..{num_joints - 1} and cover every one of them")
        self.groups = groups
        self.num_joints = num_joints
        self.out_features = len(groups) * width
        self.branches = nn.ModuleList(Branch(num_features, width, depth) for _ in groups)
        self.convs = nn.ModuleList(nn.Conv2d(width, len(g), 1) for g in groups)
        for i, g in enumerate(groups):
            self.register_buffer(f"index_{i}", torch.tensor(g, dtype=torch.long), persistent=False)
        counts = torch.bincount(torch.tensor(covered), minlength=num_joints).float()
        self.register_buffer("inv_count", (1.0 / counts).view(1, -1, 1, 1), persistent=False)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, h, w = feats.shape
        specific = [branch(feats) for branch in self.branches]
        heatmaps = feats.new_zeros(b, self.num_joints, h, w)
        for i, (conv, spec) in enumerate(zip(self.convs, specific)):
            heatmaps = heatmaps.index_add(1, getattr(self, f"index_{i}"), conv(spec).to(heatmaps.dtype))
        return heatmaps * self.inv_count.to(heatmaps.dtype), torch.cat(specific, dim=1)


def group_ids(groups: Sequence[Sequence[str]], joint_names: Sequence[str]) -> list[tuple[int, ...]]:
    """Joint-name groups -> channel-id groups (order kept).

    Raises:
        ValueError: an empty group, a name not in ``joint_names``, a joint twice in one group, or a
            joint in no group.
    """
    names = list(joint_names)
    out = []
    for i, g in enumerate(groups):
        if not g:
            raise ValueError(f"group {i} is empty")
        unknown = [n for n in g if n not in names]
        if unknown:
            raise ValueError(f"group {i} names unknown joints {unknown}; the model's joints are {names}")
        if len(set(g)) != len(g):
            raise ValueError(f"group {i} lists a joint twice: {list(g)}")
        out.append(tuple(names.index(n) for n in g))
    uncovered = [n for k, n in enumerate(names) if not any(k in g for g in out)]
    if uncovered:
        raise ValueError(f"joint(s) {', '.join(uncovered)} are in no group")
    return out


# ---------------------------------------------------------------------------------------- builders
_MPII_PAPER_GROUPS = [["r_ankle", "r_knee", "l_knee", "l_ankle"],
                      ["thorax", "upper_neck", "head_top", "r_shoulder", "l_shoulder"],
                      ["r_wrist", "r_elbow"], ["l_elbow", "l_wrist"], ["r_hip", "l_hip", "pelvis"]]
_MPII_NAMES = ["r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax", "upper_neck",
               "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist"]


@register_model
def pbn(joint_names: Sequence[str], groups: Sequence[Sequence[str]], num_stacks: int = 8, num_features: int = 256,
        depth: int = 4, branch_width: int = 64, branch_depth: int = 1, stem: str = "pbn", stem_width: int = 64,
        next_stack_features: str = "shared", input_mean: Sequence[float] = IMAGENET_MEAN,
        input_std: Sequence[float] = IMAGENET_STD) -> StackedHourglass:
    """The PBN family: a stacked hourglass with one branch per joint group in every stack (Sec. 3).

    Args:
        joint_names: names of the output channels, in order (``J = len(joint_names)``).
        groups: groups of joint names; every joint in at least one (overlaps allowed, Sec. 4.3).
        branch_width, branch_depth: ``W`` and ``D`` of Fig. 5 (paper's benchmark: 64 and 1).
        stem: ``"pbn"`` (:func:`pbn_stem`), ``"newell"`` or ``"reduced"``.
        next_stack_features: ``"shared"`` (default, Sec. 4.3) or ``"specific"`` features into the next stack.
        Others: see :func:`posekit.models.hourglass.hourglass`.

    Raises:
        ValueError: bad groups, an unknown stem or a non-positive size.
    """
    ids = group_ids(groups, joint_names)
    j = len(joint_names)
    heads = [BranchingHead(num_features, ids, j, branch_width, branch_depth) for _ in range(num_stacks)]
    return StackedHourglass(make_stem(stem, num_features, stem_width), heads, j, num_features, depth,
                            next_stack_features, input_mean, input_std)


@register_model
def pbn_baseline(kind: str = "deep", num_joints: int = 16, num_stacks: int = 8, num_features: int = 256,
                 depth: int = 4, stem: str = "pbn", stem_width: int = 64, input_mean: Sequence[float] = IMAGENET_MEAN,
                 input_std: Sequence[float] = IMAGENET_STD) -> StackedHourglass:
    """The baselines of Fig. 5(c), same trunk as :func:`pbn`.

    Args:
        kind: ``"plain"`` (1x1 conv on the shared features; a stacked hourglass with the PBN stem) or
            ``"deep"`` (one ``F``-channel residual block, then the 1x1 conv).

    Raises:
        ValueError: unknown ``kind`` or stem.
    """
    if kind not in BASELINES:
        raise ValueError(f"unknown baseline {kind!r}; expected one of {BASELINES}")
    head = LinearHead if kind == "plain" else DeepHead
    return StackedHourglass(make_stem(stem, num_features, stem_width),
                            [head(num_features, num_joints) for _ in range(num_stacks)], num_joints, num_features,
                            depth, input_mean=input_mean, input_std=input_std)


@register_model
def pbn_8stack(joint_names: Sequence[str] = tuple(_MPII_NAMES), groups: Sequence[Sequence[str]] = None,
               **kwargs) -> StackedHourglass:
    """The paper's benchmark PBN on MPII: eight stacks, W = 64, D = 1, the five groups of Fig. 2(b)
    (26,686,848 parameters; Table 6: 26.69M)."""
    groups = _MPII_PAPER_GROUPS if groups is None else groups
    return create_model("pbn", joint_names=list(joint_names), groups=groups, num_stacks=8, **kwargs)


@register_model
def pbn_baseline_deep_8stack(num_joints: int = 16, **kwargs) -> StackedHourglass:
    """The eight-stack deep baseline of Table 6 (27,216,768 parameters; paper: 27.22M)."""
    return create_model("pbn_baseline", kind="deep", num_joints=num_joints, num_stacks=8, **kwargs)


@register_model
def pbn_baseline_plain_8stack(num_joints: int = 16, **kwargs) -> StackedHourglass:
    """The eight-stack plain baseline of Fig. 5(c): a stacked hourglass with the PBN stem."""
    return create_model("pbn_baseline", kind="plain", num_joints=num_joints, num_stacks=8, **kwargs)
