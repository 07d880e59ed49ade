"""Layers shared by every model family: the input normalisation and parameter counting.

Every posekit network takes RGB images with values in [0, 1], NCHW float32, and normalises them
itself as its first operation (:class:`InputNormalization`), so a user of
:func:`posekit.load_model` never needs to know which mean and standard deviation a model was
trained with: they are constructor arguments, recorded in the model artifact.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

#: ImageNet RGB channel mean and standard deviation for images in [0, 1] (torchvision, HRNet, MMPose).
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


class InputNormalization(nn.Module):
    """``(x - mean) / std`` per RGB channel: ``(B, 3, H, W)`` in [0, 1] -> the network's input scale.

    ``mean`` and ``std`` are non-persistent buffers: they are not in the state dict (they are part
    of the architecture's constructor arguments instead).

    Raises:
        ValueError: not three values each, or a non-positive std.
    """

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD):
        super().__init__()
        mean, std = [float(v) for v in mean], [float(v) for v in std]
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"input mean and std need 3 values each and std > 0, got {mean}, {std}")
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def extra_repr(self) -> str:
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"


def count_parameters(module: nn.Module) -> int:
    """All trainable parameters of ``module`` (conv weights and biases and BatchNorm affine parameters)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_conv_parameters(module: nn.Module) -> int:
    """Number of conv weights + biases in ``module`` (BatchNorm parameters excluded)."""
    return sum(p.numel() for m in module.modules() if isinstance(m, nn.Conv2d) for p in m.parameters())
