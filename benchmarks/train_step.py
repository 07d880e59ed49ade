"""Training step of the 2-stack hourglass: posekit's levers against princeton-vl's PoseNet as it runs.

    python benchmarks/train_step.py [--sizes 256 128] [--batch 8] [--steps 3] [--compile]

The reference is :class:`princeton_posenet.PrincetonPoseNet`: NHWC batches permuted inside its
forward, so its convolutions run channels-last, exactly as that repository trains. Its trained
parameters (those that get a gradient) are checked equal in number to posekit's before timing.
posekit runs in these variants, each a lever added to the previous one:

* ``NCHW, plain adds``: contiguous NCHW tensors, residual / hourglass sums out of place;
* ``channels-last, plain adds``: the same network and batch in channels-last memory format;
* ``channels-last, in-place adds``: posekit's residual blocks as shipped (sums written into a
  fresh conv output, same numbers);
* ``+ torch.compile`` (with ``--compile``): ``train.compile: true`` (Inductor, needs a C++ compiler).

All take the same forward + backward + RMSprop step on the same random batch. The steps are
interleaved (one step of each variant per round, after one warm-up step each), so that a machine
shared with other jobs slows every variant alike; the figure is the median over rounds. Afterwards
two steps of the shipped variant run under torch.profiler to tell where its time goes
(:func:`time_shares`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import types

import torch
from torch import nn

from posekit.losses import HeatmapMSELoss
from posekit.models import create_model
from posekit.models.hourglass import Hourglass, Residual

from princeton_posenet import PrincetonPoseNet, princeton_loss, trained_parameters


# ------------------------------------------------------------------ the out-of-place variant
def _plain_residual_forward(self, x):
    out = self.conv1(self.relu(self.bn1(x)))
    out = self.conv2(self.relu(self.bn2(out)))
    out = self.conv3(self.relu(self.bn3(out)))
    return out + self.skip(x)


def _plain_hourglass_forward(self, x):
    return self.skip(x) + self.up(self.low3(self.inner(self.low1(self.down(x)))))


def with_plain_adds(model: nn.Module) -> nn.Module:
    """``model`` with every residual and hourglass sum computed out of place (a new tensor per sum)."""
    for m in model.modules():
        if isinstance(m, Residual):
            m.forward = types.MethodType(_plain_residual_forward, m)
        elif isinstance(m, Hourglass):
            m.forward = types.MethodType(_plain_hourglass_forward, m)
    return model


# ------------------------------------------------------------------ timing
class Variant:
    """One network, its input layout and loss, with its own RMSprop optimiser."""

    def __init__(self, name, model, x, loss_fn):
        self.name, self.model, self.x, self.loss_fn = name, model, x, loss_fn
        self.opt = torch.optim.RMSprop(model.parameters(), lr=2.5e-4)
        self.times = []

    def step(self) -> float:
        t0 = time.perf_counter()
        loss = self.loss_fn(self.model(self.x))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return time.perf_counter() - t0


def build_variants(size: int, batch: int, compile: bool) -> tuple[list[Variant], int]:
    torch.manual_seed(0)
    x = torch.rand(batch, 3, size, size)
    target, weight = torch.rand(batch, 16, size // 4, size // 4), torch.ones(batch, 16)
    crit = HeatmapMSELoss()
    cl = torch.channels_last
    ref = PrincetonPoseNet(2, 256, 16)
    nhwc = x.permute(0, 2, 3, 1).contiguous()            # what princeton's loader hands the network
    n_ref = trained_parameters(ref, nhwc[:1])
    n_ours = sum(p.numel() for p in create_model("hourglass_2stack").parameters())
    assert n_ours == n_ref, f"trained parameter counts differ: posekit {n_ours}, reference {n_ref}"

    def ours(fmt, plain):
        m = create_model("hourglass_2stack").to(memory_format=fmt)
        return with_plain_adds(m) if plain else m

    def pk_loss(out):
        return crit(out, target, weight)

    variants = [
        Variant("reference (princeton PoseNet, NHWC input)", ref, nhwc, lambda out: princeton_loss(out, target)),
        Variant("posekit NCHW, plain adds", ours(torch.contiguous_format, True), x, pk_loss),
        Variant("posekit channels-last, plain adds", ours(cl, True), x.contiguous(memory_format=cl), pk_loss),
        Variant("posekit channels-last, in-place adds", ours(cl, False), x.contiguous(memory_format=cl), pk_loss),
    ]
    if compile:
        from posekit.training.trainer import compile_model

        variants.append(Variant("posekit channels-last, in-place adds, torch.compile",
                                compile_model(ours(cl, False), torch.device("cpu")),
                                x.contiguous(memory_format=cl), pk_loss))
    return variants, n_ref


#: ATen operators (self time) grouped into the parts of a training step that :func:`time_shares` reports.
PARTS = {
    "convolutions, forward": ("aten::mkldnn_convolution", "aten::_convolution", "aten::convolution"),
    "convolutions, backward": ("aten::convolution_backward", "aten::mkldnn_convolution_backward"),
    "batch norm, forward + backward": ("aten::native_batch_norm", "aten::native_batch_norm_backward",
                                       "aten::_batch_norm_impl_index", "aten::batch_norm",
                                       "aten::_native_batch_norm_legit", "aten::_native_batch_norm_legit_no_training"),
    "ReLU, forward + backward": ("aten::relu", "aten::relu_", "aten::clamp_min", "aten::clamp_min_",
                                 "aten::threshold_backward"),
}


def time_shares(variant: Variant, steps: int = 2) -> dict[str, float]:
    """Percent of a training step's CPU time (self time of the ATen operators, torch.profiler) spent
    in convolutions (forward, backward), batch norm, ReLU and everything else (pooling, upsampling,
    sums, loss, optimiser, autograd bookkeeping), over ``steps`` steps after the caller's warm-up."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            variant.step()
    self_us = {e.key: e.self_cpu_time_total for e in prof.key_averages()}
    total = sum(self_us.values())
    shares = {part: 100 * sum(self_us.get(op, 0) for op in ops) / total for part, ops in PARTS.items()}
    shares["everything else"] = 100 - sum(shares.values())
    return {k: round(v, 1) for k, v in shares.items()}


def run(size: int, batch: int, steps: int, compile: bool = False) -> dict:
    """img/s of every variant at one input size (interleaved rounds, median) and ratios to the reference."""
    variants, n_params = build_variants(size, batch, compile)
    registered = sum(p.numel() for p in variants[0].model.parameters())
    for v in variants:                       # warm-up (and, for torch.compile, compilation)
        v.step()
        if "compile" in v.name:
            v.step()
    for _ in range(steps):
        for v in variants:
            v.times.append(v.step())
    ref_rate = batch / statistics.median(variants[0].times)
    rows = []
    for v in variants:
        rate = batch / statistics.median(v.times)
        rows.append({"variant": v.name, "img_s": round(rate, 3), "vs_reference": round(rate / ref_rate, 3)})
    shipped = next(v for v in variants if v.name == "posekit channels-last, in-place adds")
    return {"size": size, "batch": batch, "steps": steps, "trained_parameters": n_params,
            "reference_registered_parameters": registered, "rows": rows,
            "time_shares": {"variant": shipped.name, **time_shares(shipped)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 128])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="also time train.compile (torch.compile)")
    args = ap.parse_args()
    print(json.dumps([run(s, args.batch, args.steps, args.compile) for s in args.sizes], indent=2))


if __name__ == "__main__":
    main()
