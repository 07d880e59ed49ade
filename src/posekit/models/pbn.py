"""Part-based Branching Network (PBN; Tang & Wu, "Does learning specific features for related parts
help human pose estimation?", CVPR 2019, Sec. 3-4) and its baselines.

Reads top to bottom: the PBN stem, the three per-stack heads (:class:`LinearHead` and
:class:`DeepHead`, the baselines of Fig. 5(c); :class:`BranchingHead`, one branch per joint group),
the stacked network :class:`PBN` and the builders :func:`pbn` and :func:`pbn_baseline`.
The residual block, the hourglass and the conv-BN-ReLU layer are those of
:mod:`posekit.models.hourglass`.

Each stack: hourglass -> *shared* features (residual + 1x1 conv-BN-ReLU, as in Newell et al.) -> a
head that predicts the heat maps. In PBN the head is a set of branches, one per group of related
joints: 1x1 conv-BN-ReLU ``F -> W``, ``D`` residual blocks of width ``W``, 1x1 conv ``W -> |group|``
(Sec. 3). The branches' heat maps are scattered back to dataset joint order; a joint in
several (overlapping) groups gets the mean of its branches' heat maps. Between stacks (Sec. 3):
``next input = input + remap(heat maps) + remap(features)`` with the shared features (default) or
the concatenated group-specific features.

Shapes: input ``(B, 3, S, S)`` with ``S`` divisible by ``4 * 2**depth``; output ``(B, num_stacks, J,
S/4, S/4)`` like :class:`posekit.models.hourglass.StackedHourglass`, so the trainer, the loss and the
decoding work unchanged.

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

from posekit.models.hourglass import ConvBNReLU, Hourglass, Residual, newell_stem, reduced_stem

STEMS = ("pbn", "newell", "reduced")
NEXT_STACK_FEATURES = ("shared", "specific")
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
    """``"pbn"`` (:func:`pbn_stem`), ``"newell"`` or ``"reduced"`` stem.

    Raises:
        ValueError: unknown stem name.
    """
    if name == "pbn":
        return pbn_stem(num_features, width)
    if name == "newell":
        return newell_stem(num_features, width)
    if name == "reduced":
        return reduced_stem(num_features, width)
    raise ValueError(f"unknown stem {name!r}; expected one of {STEMS}")


# ---------------------------------------------------------------------------------------- heads
# A head maps the shared features (B, F, h, w) to (heat maps (B, J, h, w), specific features
# (B, out_features, h, w)); ``out_features`` is the channel count of the latter.


class LinearHead(nn.Module):
    """Plain baseline head (Fig. 5(c) "baseline"): one 1x1 conv ``F -> J`` on the shared features.

    Its specific features are the shared features themselves (``out_features = F``)."""

    def __init__(self, num_features: int, num_joints: int):
        super().__init__()
        self.out_features = num_features
        self.conv = nn.Conv2d(num_features, num_joints, 1)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.conv(feats), feats


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

    Group ``g`` predicts the heat maps of its joints ``groups[g]``; they are scattered back to dataset
    joint order, and a joint predicted by several branches (overlapping groups) gets their mean.

    Args:
        num_features: shared feature channels ``F``.
        groups: joint ids (channel indices of the output) per group; every joint in at least one.
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


# ---------------------------------------------------------------------------------------- network


class PBN(nn.Module):
    """Stacked hourglass trunk with a per-stack head (PBN branches or a baseline head).

    Each stack ``i``: ``feats = shared_i(hourglass_i(x))`` (residual + 1x1 conv-BN-ReLU), ``heat maps,
    specific = head_i(feats)``; then (all but the last stack) ``x = x + remap_heatmaps_i(heat maps) +
    remap_features_i(feats or specific)`` (Sec. 3: identity + heat maps + features).

    Args:
        heads: one head per stack (:class:`BranchingHead`, :class:`LinearHead` or :class:`DeepHead`),
            each predicting ``num_joints`` heat maps.
        num_joints: heat maps per stack ``J``.
        num_features: trunk channels ``F`` (256 in the paper).
        depth: pooling levels per hourglass (4).
        stem: ``"pbn"`` (:func:`pbn_stem`), ``"newell"`` or ``"reduced"``.
        stem_width: first stem width (64 in the paper).
        next_stack_features: ``"shared"`` (default) or ``"specific"`` features into the next stack.

    Input ``(B, 3, S, S)``; output ``(B, num_stacks, J, S/4, S/4)``.

    Raises:
        ValueError: unknown stem or ``next_stack_features``, no heads, or a non-positive size.
    """

    def __init__(self, heads: Sequence[nn.Module], num_joints: int, num_features: int = 256, depth: int = 4,
                 stem: str = "pbn", stem_width: int = 64, next_stack_features: str = "shared"):
        super().__init__()
        if next_stack_features not in NEXT_STACK_FEATURES:
            raise ValueError(f"unknown next_stack_features {next_stack_features!r}; expected one of {NEXT_STACK_FEATURES}")
        if not heads or min(num_joints, num_features, depth) < 1:
            raise ValueError("need at least one stack, and num_joints, num_features, depth >= 1")
        f, n = num_features, len(heads)
        self.num_stacks, self.num_joints, self.depth = n, num_joints, depth
        self.next_stack_features = next_stack_features
        self.stem = make_stem(stem, f, stem_width)
        self.hourglasses = nn.ModuleList(Hourglass(depth, f) for _ in range(n))
        self.shared = nn.ModuleList(nn.Sequential(Residual(f, f), ConvBNReLU(f, f, 1)) for _ in range(n))
        self.heads = nn.ModuleList(heads)
        remap_in = [f if next_stack_features == "shared" else h.out_features for h in heads[:-1]]
        self.remap_features = nn.ModuleList(nn.Conv2d(c, f, 1) for c in remap_in)
        self.remap_heatmaps = nn.ModuleList(nn.Conv2d(num_joints, f, 1) for _ in range(n - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        outputs = []
        for i in range(self.num_stacks):
            feats = self.shared[i](self.hourglasses[i](x))
            heatmaps, specific = self.heads[i](feats)
            outputs.append(heatmaps)
            if i < self.num_stacks - 1:
                carried = feats if self.next_stack_features == "shared" else specific
                x = x + self.remap_heatmaps[i](heatmaps) + self.remap_features[i](carried)
        return torch.stack(outputs, dim=1)


def count_parameters(module: nn.Module) -> int:
    """All trainable parameters of ``module`` (conv weights and biases and BatchNorm affine parameters)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def pbn(groups: Sequence[Sequence[int]], num_stacks: int = 8, num_joints: int = 16, num_features: int = 256,
        depth: int = 4, branch_width: int = 64, branch_depth: int = 1, stem: str = "pbn", stem_width: int = 64,
        next_stack_features: str = "shared") -> PBN:
    """Builder: a stacked PBN with one branch per group in every stack (Sec. 3).

    Args:
        groups: joint ids per group (e.g. from :func:`posekit.analysis.grouping.resolve_groups`).
        branch_width, branch_depth: ``W`` and ``D`` of Fig. 5 (paper's benchmark: 64 and 1).
        Others: see :class:`PBN`.
    """
    heads = [BranchingHead(num_features, groups, num_joints, branch_width, branch_depth) for _ in range(num_stacks)]
    return PBN(heads, num_joints, num_features, depth, stem, stem_width, next_stack_features)


def pbn_baseline(kind: str = "deep", num_stacks: int = 8, num_joints: int = 16, num_features: int = 256,
                 depth: int = 4, stem: str = "pbn", stem_width: int = 64) -> PBN:
    """Builder: the baselines of Fig. 5(c), same trunk as :func:`pbn`.

    Args:
        kind: ``"plain"`` (1x1 conv on the shared features; a stacked hourglass with the PBN stem) or
            ``"deep"`` (one ``F``-channel residual block, then the 1x1 conv).

    Raises:
        ValueError: unknown ``kind``.
    """
    if kind not in BASELINES:
        raise ValueError(f"unknown baseline {kind!r}; expected one of {BASELINES}")
    head = LinearHead if kind == "plain" else DeepHead
    return PBN([head(num_features, num_joints) for _ in range(num_stacks)], num_joints, num_features, depth, stem,
               stem_width)
