"""GPU training throughput: posekit's stacked hourglass against princeton-vl's PoseNet, bf16 autocast
and channels-last, with and without torch.compile; peak GPU memory; the largest batch that fits; a
data-parallel training run under torchrun (NCCL, one process).

    python benchmarks/gpu.py [--stacks 2 8] [--batch 16] [--steps 20] [--json runs/gpu_results.json]
    python benchmarks/run_all.py --gpu-json runs/gpu_results.json ...   # puts it into docs/performance.md

Every network trains on the same random 256x256 batch (forward + backward + RMSprop, bf16 autocast,
channels-last); posekit's step is the one ``posekit train`` takes on a GPU (``train.amp: true``,
``train.channels_last: true``), the reference is :class:`princeton_posenet.PrincetonPoseNet` fed
NHWC batches as its repository does. Each configuration is timed over ``--steps`` steps after three
warm-up steps (which include torch.compile's compilation), with the GPU synchronised around the
timed steps; peak memory is ``torch.cuda.max_memory_allocated`` over the timed steps. The largest
batch is found by doubling from ``--batch`` until the GPU runs out of memory (or ``--max-batch``).
The data-parallel run is ``torchrun --standalone --nproc_per_node 1 -m posekit train CONFIG``: one
process still joins an NCCL process group and trains through DistributedDataParallel.

``--device cpu`` runs the same code on the CPU (no peak memory, gloo instead of NCCL); with
``--features`` and ``--size`` small it is the smoke test of this script.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from posekit.losses import HeatmapMSELoss
from posekit.models import create_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from princeton_posenet import PrincetonPoseNet, princeton_loss  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_rate(model, x, loss_fn, steps: int, device: torch.device, compile: bool = False) -> dict:
    """Images per second of ``steps`` training steps (bf16 autocast, RMSprop) after three warm-up
    steps, and the peak memory of the timed steps in MiB (``None`` on the CPU)."""
    net = torch.compile(model) if compile else model
    opt = torch.optim.RMSprop(model.parameters(), lr=2.5e-4)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = loss_fn(net(x))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    seconds = time.perf_counter() - t0
    peak = round(torch.cuda.max_memory_allocated(device) / 2**20) if device.type == "cuda" else None
    return {"img_s": round(steps * x.shape[0] / seconds, 1), "peak_mb": peak}


POSEKIT, REFERENCE = "posekit", "reference (princeton PoseNet, NHWC input)"


def network(name: str, stacks: int, features: int, size: int, batch: int, device: torch.device):
    """``(model, input batch, loss function)`` of posekit's hourglass (channels-last, as ``posekit
    train`` runs it) or of the reference (NHWC batches), on ``device``."""
    torch.manual_seed(0)
    x = torch.rand(batch, 3, size, size, device=device)
    target = torch.rand(batch, 16, size // 4, size // 4, device=device)
    if name == POSEKIT:
        crit, weight = HeatmapMSELoss(), torch.ones(batch, 16, device=device)
        model = create_model("hourglass", num_joints=16, num_stacks=stacks, num_features=features)
        return (model.to(device, memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last),
                lambda out: crit(out.float(), target, weight))
    model = PrincetonPoseNet(stacks, features, 16).to(device)
    return model, x.permute(0, 2, 3, 1).contiguous(), lambda out: princeton_loss(out.float(), target)


def _out_of_memory(e: Exception) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or "out of memory" in str(e).lower()


def largest_batch(stacks: int, features: int, size: int, start: int, cap: int, device: torch.device) -> dict:
    """posekit's eager step at batch ``start``, ``2 * start``, ... until out of memory or past ``cap``:
    the largest batch that trained, with its img/s and peak memory."""
    best, batch = None, start
    while batch <= cap:
        try:
            model, x, loss_fn = network(POSEKIT, stacks, features, size, batch, device)
            best = {"batch": batch, **train_rate(model, x, loss_fn, 3, device)}
        except Exception as e:  # noqa: BLE001 - only running out of memory ends the search quietly
            if not _out_of_memory(e):
                raise
            break
        finally:
            model = x = loss_fn = None
            if device.type == "cuda":
                torch.cuda.empty_cache()
        batch *= 2
    return {"stacks": stacks, **(best or {"batch": None}), "capped": batch > cap}


def ddp_run(config: str, device: torch.device, steps: int, extra: list[str] | None = None) -> dict:
    """One epoch of ``steps`` steps of ``posekit train CONFIG`` under ``torchrun --nproc_per_node 1``
    (``extra``: more ``KEY=VALUE`` overrides): return code, wall seconds and the run log's
    data-parallel line (process count and backend)."""
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1"]
    with tempfile.TemporaryDirectory() as tmp:
        sets = ["train.epochs=1", f"train.iters_per_epoch={steps}", f"train.device={device.type}", *(extra or [])]
        cmd = torchrun + ["-m", "posekit", "train", config, "--no-progress", "--output-dir", f"{tmp}/run"]
        cmd += [arg for kv in sets for arg in ("--set", kv)]
        t0 = time.perf_counter()
        run = subprocess.run(cmd, capture_output=True, text=True)
        seconds = round(time.perf_counter() - t0, 1)
        log = Path(tmp, "run", "train.log")
        text = log.read_text() if log.is_file() else ""
    line = re.search(r"data-parallel: .*", text)
    return {"command": " ".join(["torchrun --standalone --nproc_per_node 1"] + cmd[len(torchrun):]),
            "returncode": run.returncode, "seconds": seconds, "data_parallel": line.group(0) if line else None,
            "error": None if run.returncode == 0 else (run.stderr.strip().splitlines() or ["?"])[-1][:300]}


def run(stacks=(2, 8), batch: int = 16, steps: int = 20, features: int = 256, size: int = 256,
        compile: bool = True, max_batch: int = 256, device: str = "cuda", ddp_config: str | None = "quickstart",
        ddp_extra: list[str] | None = None) -> dict:
    """Every measurement of this script as one dict (see the module docstring)."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu.py: no CUDA GPU here (use --device cpu for a CPU smoke run)")
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    rows = []
    for s in stacks:
        for net_name in (POSEKIT, REFERENCE):
            for comp in ((False, True) if compile else (False,)):
                model, x, loss_fn = network(net_name, s, features, size, batch, dev)
                rows.append({"stacks": s, "network": net_name, "compile": comp, "batch": batch,
                             **train_rate(model, x, loss_fn, steps, dev, comp)})
                del model, x
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
    res = {"device": name, "torch": torch.__version__, "size": size, "features": features, "steps": steps,
           "rows": rows, "largest_batch": [largest_batch(s, features, size, batch, max_batch, dev) for s in stacks]}
    if ddp_config:
        res["ddp"] = ddp_run(ddp_config, dev, steps, ddp_extra)
    return res


def render(res: dict) -> list[str]:
    """The GPU section of docs/performance.md from :func:`run`'s results."""
    def rate(s, net, comp):
        return next((r["img_s"] for r in res["rows"] if (r["stacks"], r["network"], r["compile"]) == (s, net, comp)),
                    None)

    lines = ["## GPU", "", f"Measured on {res['device']} (torch {res['torch']}) with `python benchmarks/gpu.py`: "
             f"training step at {res['size']}x{res['size']}, {res['features']} features, bf16 autocast, "
             f"channels-last, RMSprop, {res['steps']} timed steps after three warm-up steps.", "",
             "| stacks | network | torch.compile | batch | img/s | vs reference | peak memory (MiB) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in res["rows"]:
        ref = rate(r["stacks"], REFERENCE, r["compile"])
        lines.append(f"| {r['stacks']} | {r['network']} | {'yes' if r['compile'] else 'no'} | {r['batch']} | "
                     f"{r['img_s']} | {r['img_s'] / ref:.2f}x | {r['peak_mb']} |")
    lines += ["", "| stacks | largest batch that trained (posekit, eager) | img/s | peak memory (MiB) |",
              "| --- | --- | --- | --- |"]
    for b in res["largest_batch"]:
        bound = " (search capped)" if b.get("capped") else ""
        lines.append(f"| {b['stacks']} | {b['batch']}{bound} | {b.get('img_s')} | {b.get('peak_mb')} |")
    d = res.get("ddp")
    if d:
        lines += ["", f"Data-parallel run: `{d['command']}` "
                  + (f"finished in {d['seconds']} s; its log: \"{d['data_parallel']}\"." if d["returncode"] == 0
                     else f"failed (return code {d['returncode']}): {d['error']}")]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stacks", type=int, nargs="+", default=[2, 8])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--features", type=int, default=256)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--max-batch", type=int, default=256)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--ddp-config", default="quickstart", help="config for the torchrun run ('' to skip it)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    res = run(args.stacks, args.batch, args.steps, args.features, args.size, not args.no_compile, args.max_batch,
              args.device, args.ddp_config or None)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    print("\n".join(render(res)))


if __name__ == "__main__":
    main()
