"""Layers shared by every model family: the input normalisation, parameter and FLOP counting.

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


def count_flops(module: nn.Module, input_size: int = 256, batch: int = 1) -> int:
    """Floating-point operations of one forward pass of ``module`` on a ``(batch, 3, S, S)`` input
    (``S = input_size`` px, values 0.5), as ``torch.utils.flop_counter.FlopCounterMode`` counts them.

    That counter charges 2 FLOPs per multiply-add of convolutions, transposed convolutions and
    matrix products (so a ``k x k`` convolution from ``C_in`` to ``C_out`` channels on an ``H x W``
    output costs ``2 * C_in * C_out * k * k * H * W``) and nothing for BatchNorm, activations,
    pooling, up-sampling or element-wise additions. Multiply-adds (MACs) are half the result. The
    module is run in eval mode without gradients and put back in the mode it was in.

    Raises:
        ValueError: ``input_size`` or ``batch`` < 1.
    """
    from torch.utils.flop_counter import FlopCounterMode

    if input_size < 1 or batch < 1:
        raise ValueError(f"input_size and batch must be >= 1, got {input_size} and {batch}")
    was_training = module.training
    module.eval()
    try:
        x = torch.full((batch, 3, input_size, input_size), 0.5)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(x)
    finally:
        module.train(was_training)
    return int(counter.get_total_flops())
