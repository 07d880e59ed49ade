"""Scaling on the CPU: training img/s vs batch and input size, inference latency vs batch, data
pipeline samples/s vs DataLoader workers, each with the peak resident memory of its process.

    python benchmarks/scaling.py [--shared ../shared/data] [--steps 1] [--plots docs]

Every measurement runs in a fresh Python process, so that its peak resident set size (``ru_maxrss``)
is its own. Training: the 2-stack hourglass (256 features), channels-last, forward + backward +
RMSprop on random batches, ``--steps`` timed steps after one warm-up step. Inference: the same
network exported to ONNX (fp32, ONNX Runtime, the CPU default of ``posekit predict``), median of 3
calls. Data: ``PoseDataset`` with training augmentation on the shared MPII photos (256 px crops)
through a ``torch.utils.data.DataLoader`` (batch 8), samples/s over 48 samples after the first batch.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BATCHES = (1, 2, 4, 8, 16)


def _train(size: int, batch: int, steps: int) -> float:
    import torch

    from posekit.losses import HeatmapMSELoss
    from posekit.models import create_model

    cl = torch.channels_last
    model = create_model("hourglass_2stack").to(memory_format=cl).train()
    opt, crit = torch.optim.RMSprop(model.parameters(), lr=2.5e-4), HeatmapMSELoss()
    x = torch.rand(batch, 3, size, size).contiguous(memory_format=cl)
    target, weight = torch.rand(batch, 16, size // 4, size // 4), torch.ones(batch, 16)
    for i in range(steps + 1):
        if i == 1:
            t0 = time.perf_counter()
        loss = crit(model(x), target, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return batch * steps / (time.perf_counter() - t0)


def _infer(batch: int) -> float:
    import statistics

    import torch

    from posekit.models import create_model
    from posekit.models.export import OnnxRuntimeNetwork, export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        net = OnnxRuntimeNetwork(export_onnx(create_model("hourglass_2stack").eval(), Path(tmp) / "m.onnx", 256))
        x = torch.rand(batch, 3, 256, 256)
        net(x)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            net(x)
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def _data(shared: str, workers: int) -> float:
    from torch.utils.data import DataLoader

    from posekit.config import DataConfig
    from posekit.data.dataset import PoseDataset

    images = Path(shared) / "mpii" / "images"
    cfg = DataConfig(dataset="mpii", input_size=256, heatmap_size=64, sigma=1.0)
    ds = PoseDataset(str(images / "annotations.json"), str(images), cfg, train=True)
    big = [i % len(ds) for i in range(56)]
    loader = DataLoader(ds, batch_size=8, num_workers=workers, sampler=big)
    it = iter(loader)
    next(it)
    t0 = time.perf_counter()
    n = sum(len(b["image"]) for b in it)
    return n / (time.perf_counter() - t0)


def _child(kind: str, args: list) -> None:
    value = {"train": _train, "infer": _infer, "data": _data}[kind](*args)
    print(json.dumps({"value": round(value, 2), "peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> int:
    """This process's peak resident set size in MB: ``VmHWM`` of /proc/self/status, which starts
    afresh with the new address space of an exec'd child; ``ru_maxrss`` would carry over the peak of
    the process that forked it (Linux keeps it across execve), so it is only the fallback."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def measure(kind: str, *args) -> dict:
    """Run one measurement in a fresh process; ``{"value": ..., "peak_rss_mb": ...}``."""
    run = subprocess.run([sys.executable, __file__, "--child", kind, json.dumps(list(args))], capture_output=True,
                         text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def run(shared: Path, steps: int = 1) -> dict:
    train = [{"size": s, "batch": b, **measure("train", s, b, steps)} for s in (128, 256) for b in BATCHES]
    infer = [{"batch": b, **measure("infer", b)} for b in BATCHES]
    data = [{"workers": w, **measure("data", str(shared), w)} for w in (0, 1, 2)]
    return {"train_img_s": train, "inference_latency_ms": infer, "data_samples_s": data}


def plot(results: dict, folder: Path) -> dict[str, Path]:
    """Three PNGs (value and peak RSS against the swept setting); returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    specs = [("training", results["train_img_s"], "batch", "img/s (2-stack, forward + backward + RMSprop)", "size"),
             ("inference", results["inference_latency_ms"], "batch", "latency per batch (ms, ONNX Runtime fp32)", None),
             ("data", results["data_samples_s"], "workers", "samples/s (MPII photos, 256 px, augmented)", None)]
    for name, rows, x, ylabel, group in specs:
        fig, (ax, ax_mem) = plt.subplots(1, 2, figsize=(9, 3.4))
        groups = sorted({r[group] for r in rows}) if group else [None]
        for g in groups:
            sel = [r for r in rows if group is None or r[group] == g]
            label = f"{g} px" if g else None
            ax.plot([r[x] for r in sel], [r["value"] for r in sel], "o-", label=label)
            ax_mem.plot([r[x] for r in sel], [r["peak_rss_mb"] for r in sel], "o-", label=label)
        ax.set(xlabel=x, ylabel=ylabel)
        ax_mem.set(xlabel=x, ylabel="peak resident memory (MB)")
        if group:
            ax.legend()
        fig.tight_layout()
        out[name] = folder / f"scaling_{name}.png"
        fig.savefig(out[name], dpi=90)
        plt.close(fig)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--plots", help="folder for the PNG plots")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        _child(a.child, json.loads(a.args))
        return
    res = run(Path(a.shared), a.steps)
    if a.plots:
        res["plots"] = {k: str(v) for k, v in plot(res, Path(a.plots)).items()}
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
