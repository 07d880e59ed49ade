"""Run every benchmark once and write the results table to docs/performance.md.

    python benchmarks/run_all.py [--out docs/performance.md] [--steps 3] [--repeats 3]

All figures of one table come from one run on one machine, so their ratios are meaningful; the
absolute numbers are this machine's. The machine and the command are written into the file.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import data_pipeline  # noqa: E402
import inference  # noqa: E402
import train_step  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        name = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        name = platform.processor() or platform.machine()
    return f"{name}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "performance.md"))
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    steps = [train_step.run(size, 8, args.steps) for size in (256, 128)]
    infer = inference.measure_all(stacks=2, size=256, repeats=args.repeats)
    data = data_pipeline.run(REPO.parent / "shared" / "data", 200)

    lines = [
        "# Performance",
        "",
        f"Measured {datetime.date.today()} on {cpu_name()}, no GPU, with "
        f"`python benchmarks/run_all.py --steps {args.steps} --repeats {args.repeats}`. One run; numbers from "
        "other machines are not comparable, ratios within this table are.",
        "",
        "## Training step (2-stack hourglass, 256 features, batch 8, forward + backward + RMSprop)",
        "",
        "| input | reference img/s | posekit img/s | posekit channels-last img/s | posekit / reference | channels-last / reference |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in steps:
        lines.append(f"| {r['size']}x{r['size']} | {r['reference_img_s']} | {r['posekit_img_s']} | "
                     f"{r['posekit_channels_last_img_s']} | {r['ratio']} | {r['ratio_channels_last']} |")
    lines += [
        "",
        f"The reference (`benchmarks/train_step.py`) is a plain re-implementation with the same "
        f"{steps[0]['parameters']:,} parameters (checked).",
        "",
        f"## Inference (2-stack hourglass, 256x256; {infer['forward_gflop_per_image']} GFLOP per image forward, "
        f"fp32 matrix-product peak measured in the same run: {infer['matmul_peak_gflop_s']} GFLOP/s)",
        "",
        "| path | batch | img/s | latency (ms) | GFLOP/s | % of matmul peak |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in infer["rows"]:
        lines.append(f"| {r['path']} | {r['batch']} | {r['img_s']} | {r['latency_ms']} | {r['gflop_s']} | "
                     f"{r['pct_of_peak']} |")
    best = max(infer["rows"], key=lambda r: r["img_s"])
    lines += [
        "",
        f"Fastest path here: {best['path']} at batch {best['batch']}. `posekit predict` uses ONNX Runtime on "
        "the CPU when it is installed (`--backend auto`), else torch with channels-last memory format.",
        "",
        "## Data pipeline (read -> crop/augment -> heat maps, one process = one DataLoader worker)",
        "",
        "| data | samples/s per worker | training step img/s it feeds | ratio |",
        "| --- | --- | --- | --- |",
    ]
    if "mpii_real_256px_samples_s" in data:
        feed = steps[0]["posekit_channels_last_img_s"]
        lines.append(f"| real MPII photos, 256 px crops | {data['mpii_real_256px_samples_s']} | {feed} (2-stack, 256 px) | "
                     f"{data['mpii_real_256px_samples_s'] / feed:.1f}x |")
    feed = steps[1]["posekit_channels_last_img_s"]
    lines.append(f"| synthetic people, 128 px crops | {data['synthetic_128px_samples_s']} | {feed} (2-stack, 128 px) | "
                 f"{data['synthetic_128px_samples_s'] / feed:.1f}x |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
