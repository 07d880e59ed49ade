"""Run the CPU benchmarks once and write docs/performance.md (tables, plots, machine, command).

    python benchmarks/run_all.py [--out docs/performance.md] [--steps 2] [--repeats 5]
                                 [--mediapipe-python PY] [--checkpoint runs/quickstart/best.pt]

Parts: the training step against princeton-vl's PoseNet (:mod:`train_step`), int8 against fp32
(:mod:`int8`), BlazePose against posekit (:mod:`blazepose`, skipped with one line without
mediapipe), scaling with batch, size and workers (:mod:`scaling`, plots under ``docs/``). Within
each part the runs are interleaved or back to back in one process, so their ratios hold on a
machine shared with other jobs; absolute numbers are this machine's at that moment.
``--json FILE`` also writes the raw results; ``--from-json FILE`` rewrites the page from them;
``--gpu-json FILE`` adds the results of :mod:`gpu` (measured on a machine with a CUDA GPU).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        name = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        name = platform.processor() or platform.machine()
    return f"{name}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def measure(args) -> dict:
    import blazepose
    import int8
    import scaling
    import train_step

    res = {"machine": cpu_name(), "date": str(datetime.date.today()),
           "load_before": round(os.getloadavg()[0], 1),
           "command": "python benchmarks/run_all.py " + " ".join(sys.argv[1:])}
    res["train_step"] = [train_step.run(256, 8, args.steps, args.compile)]
    res["blazepose"] = blazepose.run(SHARED, args.repeats, args.mediapipe_python)
    if Path(args.checkpoint).is_file():
        res["int8_accuracy"] = int8.accuracy(Path(args.checkpoint), SHARED)
    res["scaling"] = scaling.run(SHARED, 1)
    res["load_after"] = round(os.getloadavg()[0], 1)
    return res


def table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)] + \
           ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]


def goals(res: dict) -> list[str]:
    """One line per speed target, with the figures of this run that decide it."""
    rows = res["train_step"][0]["rows"]
    best = max(rows[1:], key=lambda r: r["vs_reference"])
    out = [f"- Training step >= 1.2x the reference: {'met' if best['vs_reference'] >= 1.2 else 'not met'}; best "
           f"posekit variant {best['variant']!r} at {best['vs_reference']}x, from {res['train_step'][0]['steps']} timed "
           "steps per variant: on a loaded machine a longer run is needed to confirm it. Each lever against the "
           "row above it: " + "; ".join(f"{b['variant']!r} {b['img_s'] / a['img_s']:.2f}x" for a, b in
                                        zip(rows[1:], rows[2:])) + "."]
    shares = res["train_step"][0].get("time_shares")
    if shares:
        conv = shares["convolutions, forward"] + shares["convolutions, backward"]
        need = 100 * (1 - best["vs_reference"] / 1.2)
        out[-1] += (f" Convolutions, forward and backward, take {conv:.0f}% of posekit's step; they run the same oneDNN "
                    "kernels on the same shapes in both networks.")
        if need > 0:
            out[-1] += (f" Reaching 1.2x from here means removing {need:.0f}% of the step's time, which is "
                        f"{need / (100 - conv):.0%} of all the work outside convolutions ({100 - conv:.0f}%).")
    lat = res["blazepose"]["posekit"]
    fp32, int8 = lat["posekit 2-stack, ONNX Runtime fp32"], lat["posekit 2-stack, ONNX Runtime int8"]
    acc = res.get("int8_accuracy")
    loss = f"{acc['pckh_onnxruntime'] - acc['pckh_onnx-int8']:.2f}" if acc else "not measured"
    met = fp32 / int8 >= 1.8 and acc is not None and acc["pckh_onnxruntime"] - acc["pckh_onnx-int8"] <= 0.5
    signed = lat.get("posekit 2-stack, ONNX Runtime int8, signed activations")
    float_bn = lat.get("posekit 2-stack, ONNX Runtime int8, batch norms left in float")
    out.append(f"- int8 >= 1.8x fp32 ONNX latency for <= 0.5 PCKh: {'met' if met else 'not met'}; int8 is "
               f"{fp32 / int8:.2f}x fp32 at batch 1, PCKh loss {loss}."
               + " posekit's int8 scheme (`posekit.models.export.quantize_int8`): QDQ, uint8 activations, 7-bit "
               "per-channel weights (no 16-bit overflow in the uint8 x int8 kernels), percentile calibration, "
               "heat-map heads left in float, and the batch norms that follow residual sums (pre-activation blocks; "
               "the exporter cannot fold them into a convolution) rewritten as 1x1 depthwise convolutions, so that "
               "the whole graph runs in int8 kernels."
               + (f" With those batch norms left as float operators between dequantize and quantize nodes the graph "
                  f"is {fp32 / float_bn:.2f}x fp32." if float_bn else "")
               + (f" With signed int8 activations (and float batch norms) it is {fp32 / signed:.2f}x fp32: on a CPU "
                  "without AVX-VNNI ONNX Runtime's fast convolution kernels are the uint8 x int8 ones." if signed else ""))
    bp = res["blazepose"]["blazepose"]
    full = next((v for k, v in bp.items() if "full" in k and not isinstance(v, str)), None) if isinstance(bp, dict) else None
    fastest = min(v for k, v in lat.items() if "reduced" not in k)
    out.append("- Fastest exported 2-stack path at or below BlazePose-full: "
               + (f"{'met' if fastest <= full else 'not met'}; {fastest} ms vs {full} ms per crop." if full
                  else "not measured (BlazePose full did not run)."))
    return out


def load_sentence(res: dict) -> str:
    """How busy the machine was: the 1-minute load averages before and after the run."""
    loads = f"1-minute load average {res['load_before']} before, {res['load_after']} after, on {os.cpu_count()} cores"
    if res["load_before"] > 0.5 * (os.cpu_count() or 1):   # the load after includes the benchmarks' own
        return f"Other jobs shared the machine ({loads}), so absolute numbers are low and noisy."
    return f"No other job ran beside the benchmarks ({loads}; the benchmarks' own processes count in the second)."


def render(res: dict, docs: Path) -> str:
    import scaling

    plots = scaling.plot(res["scaling"], docs) if res.get("scaling") else None
    ts = res["train_step"][0]
    lines = ["# Performance", "",
             f"Measured {res['date']} on {res['machine']}, no GPU, with `{res['command']}`. " + load_sentence(res)
             + " The runs compared in each table are interleaved or back to back in one process, so their ratios "
             "are the figures to read. Numbers from other machines are not comparable."
             + (f" {res['note']}" if res.get("note") else ""), "",
             f"## Training step (2-stack hourglass, 256 features, batch {ts['batch']}, {ts['size']}x{ts['size']}, "
             "forward + backward + RMSprop)", ""]
    lines += table(["variant", "img/s", "vs reference"],
                   [[r["variant"], r["img_s"], f"{r['vs_reference']}x"] for r in ts["rows"]])
    shares = ts.get("time_shares")
    if shares:
        lines += ["", f"Where the time of one step of {shares['variant']!r} goes (torch.profiler, self time of the ATen "
                  "operators over two steps):", ""]
        lines += table(["part", "% of the step"], [[k, v] for k, v in shares.items() if k != "variant"])
    lines += ["", f"Median of {ts['steps']} interleaved steps per variant after one warm-up step each "
              "(`benchmarks/train_step.py`). The reference (`benchmarks/princeton_posenet.py`) rebuilds the forward "
              "structure of princeton-vl/pytorch_stacked_hourglass (commit ceedc14) as that repository trains it: "
              "NHWC batches permuted inside the forward, so its convolutions run channels-last. It trains "
              f"{ts['trained_parameters']:,} parameters, the same number as posekit's network (checked before timing); "
              f"it registers {ts['reference_registered_parameters']:,}, because each of its residual blocks holds a 1x1 "
              "skip convolution even when it does not use it. Each posekit row adds one lever to the row above it. "
              + ("The torch.compile row (`train.compile: true`, Inductor) is timed after its compilation, which took "
                 "most of this part's time." if any("compile" in r["variant"] for r in ts["rows"]) else
                 "`train.compile: true` (torch.compile) is measured with `python benchmarks/run_all.py --compile` "
                 "or `python benchmarks/train_step.py --compile`; it is not part of this run (compiling the training "
                 "graph takes minutes on a CPU)."), ""]
    bp = res["blazepose"]
    lines += ["## Latency per person crop: posekit (ONNX Runtime fp32 / int8) and MediaPipe BlazePose", ""]
    rows = [[k, v] for k, v in bp["posekit"].items()]
    if isinstance(bp["blazepose"], dict):
        rows += [[k, v] for k, v in bp["blazepose"].items()]
    lines += table(["model", "ms per crop (batch 1)"], rows)
    lines += ["", f"{bp['crops']} crops (256x256) of the annotated people of the shared MPII photos, the same for every "
              "model (`benchmarks/blazepose.py`). posekit networks are untrained here (latency does not depend on the "
              "weights); int8 is calibrated on the same crops. The ONNX Runtime sessions are timed in turn with thread "
              "spinning off: by default each session's worker threads keep spinning after a call and take the cores "
              "from the next session timed, which inflates every latency measured in turn. BlazePose runs MediaPipe's `solutions.pose` in "
              "static-image mode (person detection + landmarks on each crop)."]
    if isinstance(bp["blazepose"], str):
        lines += ["", bp["blazepose"]]
    elif any(isinstance(v, str) for v in bp["blazepose"].values()):
        lines += ["", "mediapipe 0.10.14 ships only the `full` landmark model in its wheel; `lite` and `heavy` are "
                  "downloaded from Google's storage on first use, which fails on a machine without internet access "
                  "(the error is in the table)."]
    acc = res.get("int8_accuracy")
    if acc:
        lines += ["", "## int8 accuracy cost", ""]
        lines += table(["model", "PCKh@0.5 fp32", "PCKh@0.5 int8", "fp32 - int8",
                        "keypoint distance fp32 vs int8, shared photos (px, mean / median)"],
                       [[acc["checkpoint"], acc["pckh_onnxruntime"], acc["pckh_onnx-int8"],
                         round(acc["pckh_onnxruntime"] - acc["pckh_onnx-int8"], 2),
                         f"{acc['mean_keypoint_distance_px']} / {acc['median_keypoint_distance_px']} "
                         f"({acc['photos']} photos)"]])
        lines += ["", "PCKh on the checkpoint's own synthetic validation split through `PosePredictor` with "
                  "`backend=\"onnxruntime\"` and `backend=\"onnx-int8\"` (`benchmarks/int8.py`); distances in original "
                  "image pixels between the two backends' keypoints on the shared MPII and COCO photos."]
    lines += ["", "## Read off this run", ""] + goals(res)
    sc = res.get("scaling")
    if not sc:
        lines += ["", "## Scaling", "", "Not measured in these results (`python benchmarks/scaling.py --plots docs`)."]
        return "\n".join(lines + gpu_lines(res)) + "\n"
    lines += ["", "## Scaling", "", f"![training]({plots['training'].name}) ![inference]({plots['inference'].name}) "
              f"![data]({plots['data'].name})", ""]
    lines += table(["training: input", "batch", "img/s", "peak RSS (MB)"],
                   [[r["size"], r["batch"], r["value"], r["peak_rss_mb"]] for r in sc["train_img_s"]])
    lines += [""] + table(["inference (ONNX Runtime fp32, 256 px): batch", "latency (ms)", "peak RSS (MB)"],
                          [[r["batch"], r["value"], r["peak_rss_mb"]] for r in sc["inference_latency_ms"]])
    lines += [""] + table(["data pipeline (MPII photos, 256 px): workers", "samples/s", "peak RSS of the main process (MB)"],
                          [[r["workers"], r["value"], r["peak_rss_mb"]] for r in sc["data_samples_s"]])
    lines += ["", "Each point is a fresh process (`benchmarks/scaling.py`), one timed training step after a warm-up "
              "step, so on a shared machine single points are noisy. Worker processes' memory is not in the data "
              "pipeline's peak RSS."]
    return "\n".join(lines + gpu_lines(res)) + "\n"


def gpu_lines(res: dict) -> list[str]:
    """The GPU section: ``benchmarks/gpu.py``'s results when given (``--gpu-json``), else why there are none."""
    if res.get("gpu"):
        import gpu

        return [""] + gpu.render(res["gpu"])
    return ["", "## GPU", "", "Not measured: no GPU was available to this run. The training loop supports bf16 "
            "autocast, channels-last, `train.compile` and DDP on CUDA; on a machine with a CUDA GPU "
            "`python benchmarks/gpu.py --json runs/gpu_results.json` measures them (2- and 8-stack training img/s "
            "against the reference, with and without torch.compile, peak memory, the largest batch, a torchrun "
            "run) and `--gpu-json runs/gpu_results.json` adds them to this page."]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "performance.md"))
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--compile", action="store_true", help="also time train.compile (slow to compile)")
    ap.add_argument("--mediapipe-python", help="a Python with mediapipe (see benchmarks/blazepose.py)")
    ap.add_argument("--checkpoint", default=str(REPO / "runs" / "quickstart" / "best.pt"),
                    help="trained checkpoint for the int8 accuracy part (skipped when missing)")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--from-json", help="render the page from earlier raw results instead of measuring")
    ap.add_argument("--gpu-json", help="results of benchmarks/gpu.py (run on a GPU machine) for the GPU section")
    args = ap.parse_args()
    res = json.loads(Path(args.from_json).read_text()) if args.from_json else measure(args)
    if args.gpu_json:
        res["gpu"] = json.loads(Path(args.gpu_json).read_text())
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    text = render(res, Path(args.out).parent)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
