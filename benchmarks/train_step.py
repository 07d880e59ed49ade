"""Training step of the 2-stack hourglass: posekit vs a straightforward reference implementation.

    python benchmarks/train_step.py [--sizes 256 128] [--batch 8] [--steps 3]

The reference below is written the plain way (recursive hourglass with separate up/low branches, an
explicit loss loop over stacks, NCHW tensors) and has exactly the same parameter count as
``posekit.models.StackedHourglass`` (checked before timing). Both take the same forward + backward +
RMSprop step on the same random batch; the result is the ratio posekit / reference in this run.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from posekit.losses import HeatmapMSELoss
from posekit.models import StackedHourglass


# ------------------------------------------------------------------ reference implementation
class RefResidual(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.bn1, self.c1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout // 2, 1)
        self.bn2, self.c2 = nn.BatchNorm2d(cout // 2), nn.Conv2d(cout // 2, cout // 2, 3, padding=1)
        self.bn3, self.c3 = nn.BatchNorm2d(cout // 2), nn.Conv2d(cout // 2, cout, 1)
        self.proj = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        y = self.c1(torch.relu(self.bn1(x)))
        y = self.c2(torch.relu(self.bn2(y)))
        y = self.c3(torch.relu(self.bn3(y)))
        return y + (self.proj(x) if self.proj is not None else x)


class RefHourglass(nn.Module):
    def __init__(self, n, f):
        super().__init__()
        self.up1 = RefResidual(f, f)
        self.low1 = RefResidual(f, f)
        self.low2 = RefHourglass(n - 1, f) if n > 1 else RefResidual(f, f)
        self.low3 = RefResidual(f, f)

    def forward(self, x):
        low = self.low3(self.low2(self.low1(nn.functional.max_pool2d(x, 2))))
        return self.up1(x) + nn.functional.interpolate(low, scale_factor=2, mode="nearest")


class RefStackedHourglass(nn.Module):
    def __init__(self, stacks=2, joints=16, f=256):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3), nn.BatchNorm2d(64), nn.ReLU())
        self.pre = nn.ModuleList([RefResidual(64, 128), RefResidual(128, 128), RefResidual(128, f)])
        self.hgs = nn.ModuleList(RefHourglass(4, f) for _ in range(stacks))
        self.res = nn.ModuleList(RefResidual(f, f) for _ in range(stacks))
        self.lin = nn.ModuleList(nn.Sequential(nn.Conv2d(f, f, 1), nn.BatchNorm2d(f), nn.ReLU())
                                 for _ in range(stacks))
        self.out = nn.ModuleList(nn.Conv2d(f, joints, 1) for _ in range(stacks))
        self.merge_f = nn.ModuleList(nn.Conv2d(f, f, 1) for _ in range(stacks - 1))
        self.merge_p = nn.ModuleList(nn.Conv2d(joints, f, 1) for _ in range(stacks - 1))

    def forward(self, x):
        x = self.pre[0](self.conv(x))
        x = self.pre[2](self.pre[1](nn.functional.max_pool2d(x, 2)))
        preds = []
        for i in range(len(self.hgs)):
            y = self.lin[i](self.res[i](self.hgs[i](x)))
            p = self.out[i](y)
            preds.append(p)
            if i < len(self.hgs) - 1:
                x = x + self.merge_f[i](y) + self.merge_p[i](p)
        return preds


def ref_loss(preds, target, weight):
    """Per-stack masked MSE, summed: the same value as posekit's HeatmapMSELoss."""
    h, w = target.shape[-2:]
    total = 0.0
    for p in preds:
        total = total + (((p - target) ** 2).sum(dim=(-2, -1)) * weight).sum() / (h * w * weight.sum().clamp(min=1))
    return total


# ------------------------------------------------------------------ timing
def time_steps(model, loss_fn, x, target, weight, steps: int) -> float:
    opt = torch.optim.RMSprop(model.parameters(), lr=2.5e-4)
    for i in range(steps + 1):
        if i == 1:
            t0 = time.perf_counter()
        loss = loss_fn(model(x), target, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return x.shape[0] * steps / (time.perf_counter() - t0)


def run(size: int, batch: int, steps: int) -> dict:
    """img/s of posekit (default and channels-last) and of the reference at one input size."""
    torch.manual_seed(0)
    ours, ref = StackedHourglass(2, 16), RefStackedHourglass(2, 16)
    n_ours, n_ref = (sum(p.numel() for p in m.parameters()) for m in (ours, ref))
    assert n_ours == n_ref, f"parameter counts differ: posekit {n_ours}, reference {n_ref}"
    x = torch.randn(batch, 3, size, size)
    target, weight = torch.rand(batch, 16, size // 4, size // 4), torch.ones(batch, 16)
    crit = HeatmapMSELoss()
    r = time_steps(ref, ref_loss, x, target, weight, steps)
    p = time_steps(ours, crit, x, target, weight, steps)
    ours_cl = StackedHourglass(2, 16).to(memory_format=torch.channels_last)
    p_cl = time_steps(ours_cl, crit, x.contiguous(memory_format=torch.channels_last), target, weight, steps)
    return {"size": size, "batch": batch, "parameters": n_ours, "reference_img_s": round(r, 3),
            "posekit_img_s": round(p, 3), "posekit_channels_last_img_s": round(p_cl, 3),
            "ratio": round(p / r, 3), "ratio_channels_last": round(p_cl / r, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 128])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    print(json.dumps([run(s, args.batch, args.steps) for s in args.sizes], indent=2))


if __name__ == "__main__":
    main()
