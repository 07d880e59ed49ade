"""Inference paths for a stacked hourglass: images/s, latency and achieved GFLOP/s, in one run.

    python benchmarks/inference.py [--stacks 2] [--size 256] [--repeats 5] [--compile]

Paths: torch eager (NCHW), torch eager channels-last, torch.compile (with ``--compile``; slow to
compile on a small CPU), and ONNX Runtime (CPU provider). FLOPs of one forward pass are counted
with ``torch.utils.flop_counter``; the machine's fp32 peak is estimated by a large matrix product
measured in the same run (a practical peak, below the data-sheet number). Results are ratios
within this run: on another machine, run it again.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from posekit.models import create_model


def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best fp32 GFLOP/s of an ``n x n`` matrix product over ``repeats`` runs."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def forward_flops(model: torch.nn.Module, size: int) -> int:
    """FLOPs of one forward pass on one ``size x size`` image."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, 3, size, size))
    return counter.get_total_flops()


def time_path(fn, batch: int, size: int, repeats: int) -> float:
    """Median seconds per call of ``fn(x)`` on a ``(batch, 3, size, size)`` input, after 2 warm-ups."""
    x = torch.randn(batch, 3, size, size)
    for _ in range(2):
        fn(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def measure_all(stacks: int = 2, size: int = 256, repeats: int = 5, compile: bool = False) -> dict:
    """Time every available inference path at batch 1 and 8; returns the results dict."""
    torch.manual_seed(0)
    model = create_model("hourglass", num_stacks=stacks, num_joints=16).eval()
    flops = forward_flops(model, size)
    peak = matmul_peak_gflops()
    model_cl = create_model("hourglass", num_stacks=stacks, num_joints=16).eval().to(memory_format=torch.channels_last)
    model_cl.load_state_dict(model.state_dict())

    def eager(x):
        with torch.no_grad():
            return model(x)

    def channels_last(x):
        with torch.no_grad():
            return model_cl(x.contiguous(memory_format=torch.channels_last))

    paths = {"torch eager (NCHW)": eager, "torch channels-last": channels_last}
    if compile:
        compiled = torch.compile(model_cl)

        def compiled_fn(x):
            with torch.no_grad():
                return compiled(x.contiguous(memory_format=torch.channels_last))

        paths["torch.compile (channels-last)"] = compiled_fn
    try:
        import onnxruntime as ort

        from posekit.models.export import export_onnx

        onnx_path = Path(tempfile.mkdtemp()) / "hourglass.onnx"
        export_onnx(model, onnx_path, size)
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        paths["onnxruntime (CPU)"] = lambda x: session.run(None, {"image": x.numpy()})
    except ImportError:
        print("onnxruntime not installed: skipping that path")

    rows = []
    for name, fn in paths.items():
        for batch in (1, 8):
            sec = time_path(fn, batch, size, repeats)
            gflops = flops * batch / sec / 1e9
            rows.append({"path": name, "batch": batch, "img_s": round(batch / sec, 2),
                         "latency_ms": round(sec * 1000, 1), "gflop_s": round(gflops, 1),
                         "pct_of_peak": round(100 * gflops / peak, 1)})
    return {"model": f"{stacks}-stack hourglass, 256 features, {size}x{size}",
            "forward_gflop_per_image": round(flops / 1e9, 2), "matmul_peak_gflop_s": round(peak, 1),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "rows": rows}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stacks", type=int, default=2)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--compile", action="store_true", help="also time torch.compile")
    args = p.parse_args()
    print(json.dumps(measure_all(args.stacks, args.size, args.repeats, args.compile), indent=2))


if __name__ == "__main__":
    main()
