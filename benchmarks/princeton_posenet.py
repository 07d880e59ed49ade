"""The stacked hourglass as the public princeton-vl implementation runs it, rebuilt for the benchmark.

Structure read from https://github.com/princeton-vl/pytorch_stacked_hourglass at commit
ceedc14b9b8814ba641f4a00baa5d0af153588a9 (``models/posenet.py``, ``models/layers.py``,
``task/loss.py``, ``data/MPII/dp.py``) and written again here; only the forward structure matters
for timing, so the code is not theirs. What it keeps from that repository:

* the data loader hands ``(B, H, W, 3)`` float32 batches (NHWC) and the network's forward permutes
  them to ``(B, 3, H, W)`` without a copy, so the tensor has channels-last strides and every
  convolution after it runs channels-last;
* every residual block registers a 1x1 skip convolution even when it is not used (same input and
  output widths), so the module holds more parameters than it trains;
* conv layers carry biases; ReLUs are not in place; the residual sum is in place; the hourglass
  sum and the merge between stacks are not;
* the loss is the per-sample mean squared error over joints and pixels, one per stack.

Not used here: its ``DataParallel`` wrapper and Adam optimiser (the benchmark gives both networks
the same RMSprop step).
"""

from __future__ import annotations

import torch
from torch import nn


class _Conv(nn.Module):
    """conv (bias) -> optional BN -> optional ReLU (not in place)."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, bn: bool = False, relu: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, padding=(k - 1) // 2, bias=True)
        self.bn = nn.BatchNorm2d(cout) if bn else None
        self.relu = nn.ReLU() if relu else None

    def forward(self, x):
        x = self.conv(x)
        x = self.bn(x) if self.bn is not None else x
        return self.relu(x) if self.relu is not None else x


class _Residual(nn.Module):
    """Pre-activation bottleneck; the skip conv exists always and is used only when widths differ."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        half = cout // 2
        self.relu = nn.ReLU()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), _Conv(cin, half, 1, relu=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(half), _Conv(half, half, 3, relu=False)
        self.bn3, self.conv3 = nn.BatchNorm2d(half), _Conv(half, cout, 1, relu=False)
        self.skip_layer = _Conv(cin, cout, 1, relu=False)
        self.need_skip = cin != cout

    def forward(self, x):
        residual = self.skip_layer(x) if self.need_skip else x
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        out += residual
        return out


class _Hourglass(nn.Module):
    def __init__(self, n: int, f: int):
        super().__init__()
        self.up1 = _Residual(f, f)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.low1 = _Residual(f, f)
        self.low2 = _Hourglass(n - 1, f) if n > 1 else _Residual(f, f)
        self.low3 = _Residual(f, f)
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x):
        return self.up1(x) + self.up2(self.low3(self.low2(self.low1(self.pool1(x)))))


class PrincetonPoseNet(nn.Module):
    """``PoseNet(nstack, 256, joints)``: input ``(B, H, W, 3)`` NHWC, output ``(B, nstack, J, H/4, W/4)``."""

    def __init__(self, nstack: int = 2, inp_dim: int = 256, oup_dim: int = 16):
        super().__init__()
        self.nstack = nstack
        self.pre = nn.Sequential(_Conv(3, 64, 7, 2, bn=True, relu=True), _Residual(64, 128), nn.MaxPool2d(2, 2),
                                 _Residual(128, 128), _Residual(128, inp_dim))
        self.hgs = nn.ModuleList(nn.Sequential(_Hourglass(4, inp_dim)) for _ in range(nstack))
        self.features = nn.ModuleList(nn.Sequential(_Residual(inp_dim, inp_dim),
                                                    _Conv(inp_dim, inp_dim, 1, bn=True, relu=True))
                                      for _ in range(nstack))
        self.outs = nn.ModuleList(_Conv(inp_dim, oup_dim, 1, relu=False) for _ in range(nstack))
        self.merge_features = nn.ModuleList(_Conv(inp_dim, inp_dim, 1, relu=False) for _ in range(nstack - 1))
        self.merge_preds = nn.ModuleList(_Conv(oup_dim, inp_dim, 1, relu=False) for _ in range(nstack - 1))

    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        x = self.pre(imgs.permute(0, 3, 1, 2))
        preds = []
        for i in range(self.nstack):
            feature = self.features[i](self.hgs[i](x))
            p = self.outs[i](feature)
            preds.append(p)
            if i < self.nstack - 1:
                x = x + self.merge_preds[i](p) + self.merge_features[i](feature)
        return torch.stack(preds, 1)


def princeton_loss(preds: torch.Tensor, heatmaps: torch.Tensor) -> torch.Tensor:
    """Per-stack, per-sample MSE ``(B, nstack)`` averaged to a scalar, as its training loop does."""
    return ((preds - heatmaps.unsqueeze(1)) ** 2).mean(dim=(2, 3, 4)).mean()


def trained_parameters(model: nn.Module, example: torch.Tensor) -> int:
    """Number of parameters that receive a gradient from one forward/backward on ``example``."""
    model.zero_grad(set_to_none=True)
    out = model(example)
    out.float().sum().backward()
    n = sum(p.numel() for p in model.parameters() if p.grad is not None)
    model.zero_grad(set_to_none=True)
    return n
