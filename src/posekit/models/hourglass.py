"""Stacked Hourglass Networks (Newell, Yang & Deng, ECCV 2016), with the reduced-stem variant.

Reads top to bottom: the building blocks (:class:`ConvBNReLU`, :class:`Residual`), the two stems,
one :class:`Hourglass` module, the :class:`StackedHourglass` network and its builder.

Shapes: an input crop ``(B, 3, S, S)`` gives heat maps ``(B, num_stacks, J, S/4, S/4)``; heat-map
pixel ``(i, j)`` covers crop pixels ``4i .. 4i+3`` (stride 4, see :mod:`posekit.data.targets`).
"""

from __future__ import annotations

import torch
from torch import nn

STEMS = ("newell", "reduced")


class ConvBNReLU(nn.Sequential):
    """Conv (with bias) -> BatchNorm -> ReLU; the plain layer of the reduced stem and the stack heads."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1):
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding=kernel_size // 2),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )


class Residual(nn.Module):
    """Bottleneck residual block of the hourglass (Newell 2016, Fig. 4 left; pre-activation order).

    BN-ReLU-conv1x1 (C_in -> C_out/2), BN-ReLU-conv3x3 (C_out/2), BN-ReLU-conv1x1 (-> C_out), plus the
    identity, or a 1x1 conv when ``C_in != C_out``. Keeps the spatial size: ``(B, C_in, H, W) ->
    (B, C_out, H, W)``.
    """

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        mid = out_ch // 2
        self.bn1, self.conv1 = nn.BatchNorm2d(in_ch), nn.Conv2d(in_ch, mid, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), nn.Conv2d(mid, mid, 3, padding=1)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), nn.Conv2d(mid, out_ch, 1)
        self.relu = nn.ReLU(inplace=True)
        self.skip = nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + self.skip(x)


def newell_stem(num_features: int = 256, width: int = 64) -> nn.Sequential:
    """The original stem: 7x7/2 conv 3->64, residual 64->128, max-pool, residual 128->128, residual
    128->F. ``(B, 3, S, S) -> (B, F, S/4, S/4)``; 350,848 conv weights + biases for F = 256.

    ``width`` (64 in the paper) scales the 64/128 channels, for small CPU models only."""
    w = width
    return nn.Sequential(
        ConvBNReLU(3, w, 7, stride=2),
        Residual(w, 2 * w),
        nn.MaxPool2d(2, 2),
        Residual(2 * w, 2 * w),
        Residual(2 * w, num_features),
    )


def reduced_stem(num_features: int = 256, width: int = 64) -> nn.Sequential:
    """The reduced stem (seed table "proposed model architecture"): five plain layers 3->64 (7x7/2),
    64->64 (3x3), 64->128 (1x1), max-pool, 128->128 (3x3), 128->F (1x1), each conv (with bias) ->
    BatchNorm -> ReLU. ``(B, 3, S, S) -> (B, F, S/4, S/4)``; 235,328 conv weights + biases for F = 256.

    ``width`` (64 in the seed) scales the 64/128 channels, for small CPU models only."""
    w = width
    return nn.Sequential(
        ConvBNReLU(3, w, 7, stride=2),
        ConvBNReLU(w, w, 3),
        ConvBNReLU(w, 2 * w, 1),
        nn.MaxPool2d(2, 2),
        ConvBNReLU(2 * w, 2 * w, 3),
        ConvBNReLU(2 * w, num_features, 1),
    )


class Hourglass(nn.Module):
    """One hourglass of the given depth (Newell 2016, Sec. 3.1, Fig. 3).

    At each level: an upper skip branch (a residual at the current resolution) and a lower branch
    (max-pool 2x2, residual, the next level or a residual at the bottom, residual, nearest-neighbour
    upsampling x2); the two are added. ``(B, F, H, W) -> (B, F, H, W)`` with H, W divisible by
    ``2**depth``.
    """

    def __init__(self, depth: int, num_features: int):
        super().__init__()
        f = num_features
        self.skip = Residual(f, f)
        self.down = nn.MaxPool2d(2, 2)
        self.low1 = Residual(f, f)
        self.inner = Hourglass(depth - 1, f) if depth > 1 else Residual(f, f)
        self.low3 = Residual(f, f)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.low3(self.inner(self.low1(self.down(x))))
        return self.skip(x) + self.up(low)


class StackedHourglass(nn.Module):
    """Stacked hourglass network with intermediate supervision (Newell 2016, Sec. 3.2-3.4, Fig. 4 right).

    Each stack: hourglass -> residual -> 1x1 conv+BN+ReLU (features) -> 1x1 conv (heat maps, one per
    joint). Between stacks the features and the heat maps are remapped by 1x1 convs and added to the
    stack's input.

    Args:
        num_stacks: number of hourglass modules (the paper's best model: 8).
        num_joints: heat maps per stack (16 for MPII).
        num_features: channels inside the hourglasses (256 in the paper).
        depth: number of pooling levels per hourglass (4: 64 -> 4 px at 256 input).
        stem: ``"newell"`` (residual stem) or ``"reduced"`` (5 plain conv layers).
        stem_width: first stem width (64 in both papers; smaller only for quick CPU models).

    Input ``(B, 3, S, S)`` with S divisible by ``4 * 2**depth``; output ``(B, num_stacks, num_joints,
    S/4, S/4)``, every stack's heat maps (the last stack is the prediction).

    Raises:
        ValueError: unknown ``stem`` or a non-positive size.
    """

    def __init__(self, num_stacks: int = 2, num_joints: int = 16, num_features: int = 256, depth: int = 4,
                 stem: str = "newell", stem_width: int = 64):
        super().__init__()
        if stem not in STEMS:
            raise ValueError(f"unknown stem {stem!r}; expected one of {STEMS}")
        if min(num_stacks, num_joints, num_features, depth) < 1:
            raise ValueError("num_stacks, num_joints, num_features and depth must be >= 1")
        self.num_stacks, self.num_joints, self.depth = num_stacks, num_joints, depth
        f = num_features
        self.stem = (newell_stem if stem == "newell" else reduced_stem)(f, stem_width)
        add_stacks(self, num_stacks, num_joints, f, depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run_stacks(self.stem(x))[0]

    def run_stacks(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """The stacks on stem features ``x`` ``(B, F, S/4, S/4)``.

        Returns:
            ``(heatmaps, (x_last, feats, last))``: every stack's heat maps ``(B, stacks, J, S/4, S/4)``,
            and what a network continuing with more stacks needs: the last stack's input and features
            ``(B, F, S/4, S/4)`` and its heat maps ``(B, J, S/4, S/4)``.
        """
        return run_stack_modules(self, x)


def add_stacks(net: nn.Module, num_stacks: int, num_joints: int, num_features: int, depth: int) -> None:
    """Give ``net`` the modules of ``num_stacks`` stacks (Newell et al. 2016, Fig. 4): ``hourglasses``,
    ``features`` (residual + 1x1 conv-BN-ReLU), 1x1 ``heads`` to ``num_joints`` heat maps, and the
    ``num_stacks - 1`` 1x1 remaps of features (``remap_features``) and heat maps (``remap_heatmaps``)
    added to the next stack's input. Shared by :class:`StackedHourglass` and the KPTransfer composite."""
    f = num_features
    net.hourglasses = nn.ModuleList(Hourglass(depth, f) for _ in range(num_stacks))
    net.features = nn.ModuleList(nn.Sequential(Residual(f, f), ConvBNReLU(f, f, 1)) for _ in range(num_stacks))
    net.heads = nn.ModuleList(nn.Conv2d(f, num_joints, 1) for _ in range(num_stacks))
    net.remap_features = nn.ModuleList(nn.Conv2d(f, f, 1) for _ in range(num_stacks - 1))
    net.remap_heatmaps = nn.ModuleList(nn.Conv2d(num_joints, f, 1) for _ in range(num_stacks - 1))


def run_stack_modules(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Run the stacks that :func:`add_stacks` gave ``net`` on ``x`` ``(B, F, S/4, S/4)``; returns
    what :meth:`StackedHourglass.run_stacks` documents."""
    outputs = []
    num_stacks = len(net.hourglasses)
    for i in range(num_stacks):
        feats = net.features[i](net.hourglasses[i](x))
        heatmaps = net.heads[i](feats)
        outputs.append(heatmaps)
        if i < num_stacks - 1:
            x = x + net.remap_features[i](feats) + net.remap_heatmaps[i](heatmaps)
    return torch.stack(outputs, dim=1), (x, feats, heatmaps)


def count_conv_parameters(module: nn.Module) -> int:
    """Number of conv weights + biases in ``module`` (BatchNorm parameters excluded)."""
    return sum(p.numel() for m in module.modules() if isinstance(m, nn.Conv2d) for p in m.parameters())


def stacked_hourglass(num_stacks: int = 2, num_joints: int = 16, num_features: int = 256, depth: int = 4,
                      stem: str = "newell", stem_width: int = 64) -> StackedHourglass:
    """Builder: a :class:`StackedHourglass` with weights initialised as in PyTorch's defaults."""
    return StackedHourglass(num_stacks, num_joints, num_features, depth, stem, stem_width)
