"""The KPTransfer composite network: a stacked hourglass whose first stacks predict joint subset S1
and whose last stacks predict joint subset S2 (Vats et al. 2019, "KPTransfer", Sec. 3).

Stacks ``1 .. k`` are exactly a ``k``-stack :class:`~posekit.models.hourglass.StackedHourglass` for
S1 (attribute ``s1_net``: same module names, so a trained S1 network's ``state_dict`` loads into it
unchanged, stem and input normalisation included). Stacks ``k+1 .. 2k`` (``s2_stacks``) are new
hourglass stacks with S2 heads, run by the same stack loop
(:class:`~posekit.models.hourglass.HourglassStacks`). The S1 part hands over to the S2 part like any
two consecutive stacks of Newell et al. (2016, Sec. 3.4): the last S1 stack's features and heat maps
are remapped by 1x1 convs (``bridge_features``, ``bridge_heatmaps``) and added to that stack's input.

Shapes: input ``(B, 3, S, S)`` RGB in [0, 1]; :meth:`SubsetTransferHourglass.forward` returns the S2 heat maps
``(B, k, J2, S/4, S/4)`` (so validation, flip testing and the predictor see a normal stacked
hourglass for S2); :meth:`SubsetTransferHourglass.forward_subsets` returns both parts.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from posekit.models.hourglass import HourglassStacks, LinearHead
from posekit.models.layers import IMAGENET_MEAN, IMAGENET_STD
from posekit.models.registry import create_model, register_model


class SubsetTransferHourglass(nn.Module):
    """``2k``-stack hourglass: stacks ``1..k`` predict S1 (``num_s1`` joints), stacks ``k+1..2k`` S2.

    Args:
        num_s1: number of S1 joints (heat maps of stacks ``1..k``).
        num_s2: number of S2 joints (heat maps of stacks ``k+1..2k``).
        num_features, depth, stem, stem_width, input_mean, input_std: as in
            :func:`posekit.models.hourglass.hourglass`.
        stacks_per_subset: ``k`` (2 in the paper: a four-stack network).

    Freezing (the paper's "frozen weight extraction" configuration): :meth:`freeze_s1` sets
    ``requires_grad = False`` on every S1 parameter and keeps the S1 BatchNorm layers in eval mode
    (running statistics not updated) even when the network is put in training mode.

    Raises:
        ValueError: a non-positive size or an unknown stem (from :class:`StackedHourglass`).
    """

    def __init__(self, num_s1: int, num_s2: int, num_features: int = 256, depth: int = 4, stem: str = "newell",
                 stem_width: int = 64, stacks_per_subset: int = 2, input_mean: Sequence[float] = IMAGENET_MEAN,
                 input_std: Sequence[float] = IMAGENET_STD):
        super().__init__()
        if min(num_s1, num_s2, stacks_per_subset) < 1:
            raise ValueError("num_s1, num_s2 and stacks_per_subset must be >= 1")
        f, k = num_features, stacks_per_subset
        self.num_s1, self.num_s2, self.stacks_per_subset = num_s1, num_s2, k
        self.num_stacks, self.num_joints = 2 * k, num_s2
        self.s1_frozen = False
        self.s1_net = create_model("hourglass", num_joints=num_s1, num_stacks=k, num_features=f, depth=depth,
                                   stem=stem, stem_width=stem_width, input_mean=input_mean, input_std=input_std)
        self.bridge_features = nn.Conv2d(f, f, 1)
        self.bridge_heatmaps = nn.Conv2d(num_s1, f, 1)
        self.s2_stacks = HourglassStacks([LinearHead(f, num_s2) for _ in range(k)], num_s2, f, depth)

    # ---------------------------------------------------------------- transfer and freezing
    def load_s1(self, s1_state: dict[str, torch.Tensor]) -> None:
        """Copy a trained ``k``-stack S1 :class:`StackedHourglass` (its ``state_dict``) into stacks
        ``1..k``, stem included; every tensor (weights, biases, BatchNorm statistics) is copied exactly.

        Raises:
            RuntimeError: the state does not match (wrong stack count, joint count or width).
        """
        self.s1_net.load_state_dict(s1_state, strict=True)

    def freeze_s1(self) -> None:
        """Freeze stacks ``1..k``: no gradients, BatchNorm running statistics fixed (eval mode)."""
        self.s1_frozen = True
        for p in self.s1_net.parameters():
            p.requires_grad_(False)
        self.s1_net.eval()

    def train(self, mode: bool = True) -> "SubsetTransferHourglass":
        """Training/eval mode as usual, except that a frozen S1 part always stays in eval mode."""
        super().train(mode)
        if self.s1_frozen:
            self.s1_net.eval()
        return self

    # ---------------------------------------------------------------- forward
    def forward_subsets(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Heat maps of both parts.

        Args:
            x: ``(B, 3, S, S)`` input crops.

        Returns:
            ``(s1, s2)``: ``(B, k, num_s1, S/4, S/4)`` and ``(B, k, num_s2, S/4, S/4)``.
        """
        s1 = self.s1_net
        s1_out, (x, feats, heatmaps) = s1.stacks(s1.stem(s1.normalize(x)))
        x = x + self.bridge_features(feats) + self.bridge_heatmaps(heatmaps)
        s2_out, _ = self.s2_stacks(x)
        return s1_out, s2_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """S2 heat maps ``(B, k, num_s2, S/4, S/4)`` of stacks ``k+1..2k`` (the last is the prediction)."""
        return self.forward_subsets(x)[1]


@register_model
def kptransfer(num_s1: int, num_s2: int, num_features: int = 256, depth: int = 4, stem: str = "newell",
               stem_width: int = 64, stacks_per_subset: int = 2, input_mean: Sequence[float] = IMAGENET_MEAN,
               input_std: Sequence[float] = IMAGENET_STD) -> SubsetTransferHourglass:
    """The KPTransfer composite (:class:`SubsetTransferHourglass`): ``2 * stacks_per_subset`` stacks,
    the first half predicting ``num_s1`` joints, the second ``num_s2``.

    Raises:
        ValueError: a non-positive size or an unknown stem.
    """
    return SubsetTransferHourglass(num_s1, num_s2, num_features, depth, stem, stem_width, stacks_per_subset,
                                   input_mean, input_std)


@register_model
def kptransfer_4stack(num_s1: int = 8, num_s2: int = 8, **kwargs) -> SubsetTransferHourglass:
    """The paper's composite (Vats et al. 2019, Sec. 3.3): two S1 stacks then two S2 stacks, 256
    features, 8 joints in each subset as in its Table 1."""
    return create_model("kptransfer", num_s1=num_s1, num_s2=num_s2, stacks_per_subset=2, **kwargs)
