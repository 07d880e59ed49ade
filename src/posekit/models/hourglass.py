"""Stacked Hourglass Networks (Newell, Yang & Deng, ECCV 2016), with the reduced-stem variant.

Reads top to bottom: the building blocks (:class:`ConvBNReLU`, :class:`Residual`), the three stems
(Newell's, the reduced one, bearpaw/pytorch-pose's),
one :class:`Hourglass` module, the per-stack :class:`LinearHead`, the stack loop
:class:`HourglassStacks` (shared with the PBN family, whose heads plug into it), the network
:class:`StackedHourglass` and its registered builders.

Shapes: an input crop ``(B, 3, S, S)``, RGB in [0, 1], gives heat maps ``(B, num_stacks, J, S/4,
S/4)``; heat-map pixel ``(i, j)`` covers crop pixels ``4i .. 4i+3`` (stride 4, see
:mod:`posekit.data.targets`).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from posekit.models.layers import IMAGENET_MEAN, IMAGENET_STD, InputNormalization
from posekit.models.registry import create_model, register_model

STEMS = ("newell", "reduced", "bearpaw")
NEXT_STACK_FEATURES = ("shared", "specific")


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
        # in place: conv3's output is not needed by its backward, so no new tensor is allocated
        out += self.skip(x)
        return out


def _residual_stem(num_features: int, width: int, middle: int) -> nn.Sequential:
    """7x7/2 conv 3->w, residual w->2w, max-pool, residual 2w->middle, residual middle->F."""
    return nn.Sequential(
        ConvBNReLU(3, width, 7, stride=2),
        Residual(width, 2 * width),
        nn.MaxPool2d(2, 2),
        Residual(2 * width, middle),
        Residual(middle, num_features),
    )


def newell_stem(num_features: int = 256, width: int = 64) -> nn.Sequential:
    """The original stem: 7x7/2 conv 3->64, residual 64->128, max-pool, residual 128->128, residual
    128->F. ``(B, 3, S, S) -> (B, F, S/4, S/4)``; 350,848 conv weights + biases for F = 256.

    ``width`` (64 in the paper) scales the 64/128 channels, for small CPU models only."""
    return _residual_stem(num_features, width, 2 * width)


def reduced_stem(num_features: int = 256, width: int = 64) -> nn.Sequential:
    """The reduced stem (Kim, Novossyolov & Nurambek, Table I): five plain layers 3->64 (7x7/2),
    64->64 (3x3), 64->128 (1x1), max-pool, 128->128 (3x3), 128->F (1x1), each conv (with bias) ->
    BatchNorm -> ReLU. ``(B, 3, S, S) -> (B, F, S/4, S/4)``; 235,328 conv weights + biases for F = 256.

    ``width`` (64 in the report) scales the 64/128 channels, for small CPU models only."""
    w = width
    return nn.Sequential(
        ConvBNReLU(3, w, 7, stride=2),
        ConvBNReLU(w, w, 3),
        ConvBNReLU(w, 2 * w, 1),
        nn.MaxPool2d(2, 2),
        ConvBNReLU(2 * w, 2 * w, 3),
        ConvBNReLU(2 * w, num_features, 1),
    )


def bearpaw_stem(num_features: int = 256, width: int = 64) -> nn.Sequential:
    """The stem of bearpaw/pytorch-pose's ``hg`` (``pose/models/hourglass.py``, ``HourglassNet``):
    7x7/2 conv 3->64, residual 64->128, max-pool, residual 128->256 (1x1 projection), residual
    256->F. ``(B, 3, S, S) -> (B, F, S/4, S/4)``. It differs from :func:`newell_stem` only after the
    pool (Newell: 128->128, 128->F), which makes the 2-stack, 256-feature network 6,730,912
    parameters instead of 6,570,400 (``tests/test_models.py``).

    ``width`` (64 there) scales the 64/128/256 channels, for small CPU models only."""
    return _residual_stem(num_features, width, 4 * width)


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
        out = self.skip(x)
        out += self.up(low)   # in place into the skip branch's fresh output (same sum, one tensor fewer)
        return out


class LinearHead(nn.Module):
    """The hourglass head: one 1x1 conv from the stack's features ``F`` to ``J`` heat maps.

    A head maps features ``(B, F, h, w)`` to ``(heat maps (B, J, h, w), specific features (B,
    out_features, h, w))``; here the specific features are the input itself (``out_features = F``).
    """

    def __init__(self, num_features: int, num_joints: int):
        super().__init__()
        self.out_features = num_features
        self.conv = nn.Conv2d(num_features, num_joints, 1)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.conv(feats), feats


class HourglassStacks(nn.Module):
    """The stacks of a stacked hourglass with intermediate supervision (Newell 2016, Sec. 3.2-3.4,
    Fig. 4 right), with one pluggable head per stack.

    Stack ``i``: ``feats = features_i(hourglass_i(x))`` (residual + 1x1 conv-BN-ReLU), ``heat maps,
    specific = heads_i(feats)``; then, for all but the last stack, ``x = x + remap_features_i(feats
    or specific) + remap_heatmaps_i(heat maps)`` (1x1 convs back to ``F`` channels).

    Args:
        heads: one head per stack, each predicting ``num_joints`` heat maps (:class:`LinearHead`, or
            the PBN heads of :mod:`posekit.models.pbn`).
        num_joints: heat maps per stack ``J``.
        num_features: channels ``F`` inside the hourglasses.
        depth: pooling levels per hourglass.
        next_stack_features: ``"shared"`` (the stack's features, as Newell) or ``"specific"`` (the
            head's specific features) go into the next stack.

    ``forward(x)`` with ``x`` ``(B, F, h, w)`` (stem features) returns ``(heatmaps, (x_last, feats,
    last))``: every stack's heat maps ``(B, stacks, J, h, w)``, and what a network continuing with
    more stacks needs: the last stack's input and shared features ``(B, F, h, w)`` and its heat maps.

    Raises:
        ValueError: no heads, a non-positive size, or an unknown ``next_stack_features``.
    """

    def __init__(self, heads: Sequence[nn.Module], num_joints: int, num_features: int, depth: int,
                 next_stack_features: str = "shared"):
        super().__init__()
        if next_stack_features not in NEXT_STACK_FEATURES:
            raise ValueError(f"unknown next_stack_features {next_stack_features!r}; expected one of "
                             f"{NEXT_STACK_FEATURES}")
        if not heads or min(num_joints, num_features, depth) < 1:
            raise ValueError("need at least one stack, and num_joints, num_features, depth >= 1")
        f, n = num_features, len(heads)
        self.next_stack_features = next_stack_features
        self.hourglasses = nn.ModuleList(Hourglass(depth, f) for _ in range(n))
        self.features = nn.ModuleList(nn.Sequential(Residual(f, f), ConvBNReLU(f, f, 1)) for _ in range(n))
        self.heads = nn.ModuleList(heads)
        carried = [f if next_stack_features == "shared" else h.out_features for h in heads[:-1]]
        self.remap_features = nn.ModuleList(nn.Conv2d(c, f, 1) for c in carried)
        self.remap_heatmaps = nn.ModuleList(nn.Conv2d(num_joints, f, 1) for _ in range(n - 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        outputs = []
        for i, (hg, shared, head) in enumerate(zip(self.hourglasses, self.features, self.heads)):
            feats = shared(hg(x))
            heatmaps, specific = head(feats)
            outputs.append(heatmaps)
            if i < len(self.remap_heatmaps):
                carried = feats if self.next_stack_features == "shared" else specific
                remapped = self.remap_features[i](carried)
                remapped += self.remap_heatmaps[i](heatmaps)
                x = x + remapped   # not in place: x is saved for the backward of this stack
        return torch.stack(outputs, dim=1), (x, feats, heatmaps)


class StackedHourglass(nn.Module):
    """A stacked hourglass network: input normalisation -> stem -> :class:`HourglassStacks`.

    Args:
        stem: ``(B, 3, S, S) -> (B, F, S/4, S/4)`` (:func:`newell_stem`, :func:`reduced_stem`, the
            PBN stem).
        heads: one head per stack (see :class:`HourglassStacks`).
        num_joints, num_features, depth, next_stack_features: as in :class:`HourglassStacks`.
        input_mean, input_std: RGB normalisation applied to the [0, 1] input (ImageNet's by default).

    Input ``(B, 3, S, S)`` RGB in [0, 1] with S divisible by ``4 * 2**depth``; output ``(B, stacks,
    J, S/4, S/4)``, every stack's heat maps (the last stack is the prediction).
    """

    def __init__(self, stem: nn.Module, heads: Sequence[nn.Module], num_joints: int, num_features: int = 256,
                 depth: int = 4, next_stack_features: str = "shared", input_mean: Sequence[float] = IMAGENET_MEAN,
                 input_std: Sequence[float] = IMAGENET_STD):
        super().__init__()
        self.num_stacks, self.num_joints, self.depth = len(heads), num_joints, depth
        self.normalize = InputNormalization(input_mean, input_std)
        self.stem = stem
        self.stacks = HourglassStacks(heads, num_joints, num_features, depth, next_stack_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stacks(self.stem(self.normalize(x)))[0]


def make_stem(name: str, num_features: int, width: int) -> nn.Sequential:
    """``"newell"`` (:func:`newell_stem`), ``"reduced"`` (:func:`reduced_stem`) or ``"bearpaw"``
    (:func:`bearpaw_stem`).

    Raises:
        ValueError: unknown stem name.
    """
    stems = {"newell": newell_stem, "reduced": reduced_stem, "bearpaw": bearpaw_stem}
    if name not in stems:
        raise ValueError(f"unknown stem {name!r}; expected one of {STEMS}")
    return stems[name](num_features, width)


# ---------------------------------------------------------------------------------------- builders
@register_model
def hourglass(num_joints: int = 16, num_stacks: int = 2, num_features: int = 256, depth: int = 4,
              stem: str = "newell", stem_width: int = 64, input_mean: Sequence[float] = IMAGENET_MEAN,
              input_std: Sequence[float] = IMAGENET_STD) -> StackedHourglass:
    """The stacked hourglass family (Newell et al. 2016), PyTorch default initialisation.

    Args:
        num_joints: heat maps per stack (16 for MPII).
        num_stacks: number of hourglass modules (the paper's best model: 8).
        num_features: channels inside the hourglasses (256 in the paper).
        depth: pooling levels per hourglass (4: 64 -> 4 px at 256 input).
        stem: ``"newell"`` (residual stem), ``"reduced"`` (5 plain conv layers) or ``"bearpaw"``
            (bearpaw/pytorch-pose's residual stem).
        stem_width: first stem width (64 in both papers; smaller only for quick CPU models).
        input_mean, input_std: RGB normalisation of the [0, 1] input.

    Raises:
        ValueError: unknown ``stem`` or a non-positive size.
    """
    if min(num_stacks, num_joints, num_features, depth, stem_width) < 1:
        raise ValueError("num_stacks, num_joints, num_features, depth and stem_width must be >= 1")
    heads = [LinearHead(num_features, num_joints) for _ in range(num_stacks)]
    return StackedHourglass(make_stem(stem, num_features, stem_width), heads, num_joints, num_features, depth,
                            input_mean=input_mean, input_std=input_std)


@register_model
def hourglass_2stack(num_joints: int = 16, **kwargs) -> StackedHourglass:
    """Two-stack hourglass, 256 features, residual stem (the 2-stack model of Newell et al. 2016)."""
    return create_model("hourglass", num_joints=num_joints, num_stacks=2, **kwargs)


@register_model
def hourglass_8stack(num_joints: int = 16, **kwargs) -> StackedHourglass:
    """Eight-stack hourglass, 256 features, residual stem (Newell et al. 2016, Sec. 4 benchmark model)."""
    return create_model("hourglass", num_joints=num_joints, num_stacks=8, **kwargs)


@register_model
def hourglass_2stack_reduced(num_joints: int = 16, **kwargs) -> StackedHourglass:
    """Two-stack hourglass with the reduced stem (Kim, Novossyolov & Nurambek, Table I)."""
    return create_model("hourglass", num_joints=num_joints, num_stacks=2, stem="reduced", **kwargs)


@register_model
def hourglass_8stack_reduced(num_joints: int = 16, **kwargs) -> StackedHourglass:
    """Eight-stack hourglass with the reduced stem (Kim, Novossyolov & Nurambek, Table I)."""
    return create_model("hourglass", num_joints=num_joints, num_stacks=8, stem="reduced", **kwargs)
