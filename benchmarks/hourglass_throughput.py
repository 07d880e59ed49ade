"""Training and inference throughput of a stacked hourglass on this machine.

    python benchmarks/hourglass_throughput.py [--stacks 2] [--size 256] [--batch 8] [--steps 5]

Measures, in one run, images/s of a full training step (forward + backward + RMSprop, the loss of
posekit.losses) and of inference (forward, no grad), in the default (NCHW) and channels-last memory
formats, and prints them with the channels-last / default ratio. The numbers depend on the machine:
report them with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from posekit.losses import HeatmapMSELoss
from posekit.models import create_model


def measure(model, batch: int, size: int, steps: int, train: bool, channels_last: bool, device: str) -> float:
    """Images per second over ``steps`` timed iterations (after 2 warm-up iterations)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=fmt).train(train)
    x = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=fmt)
    target = torch.rand(batch, model.num_joints, size // 4, size // 4, device=device)
    weight = torch.ones(batch, model.num_joints, device=device)
    opt = torch.optim.RMSprop(model.parameters(), lr=2.5e-4)
    crit = HeatmapMSELoss()

    def step():
        if train:
            loss = crit(model(x), target, weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        else:
            with torch.no_grad():
                model(x)

    for _ in range(2):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stacks", type=int, default=2)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    torch.manual_seed(0)
    model = create_model("hourglass", num_stacks=args.stacks, num_joints=16)
    results = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
               "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
               "torch": torch.__version__, "stacks": args.stacks, "size": args.size, "batch": args.batch}
    for mode in ("train", "infer"):
        for cl in (False, True):
            key = f"{mode}_img_s{'_channels_last' if cl else ''}"
            results[key] = round(measure(model, args.batch, args.size, args.steps, mode == "train", cl,
                                         args.device), 2)
        results[f"{mode}_channels_last_ratio"] = round(
            results[f"{mode}_img_s_channels_last"] / results[f"{mode}_img_s"], 3)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
