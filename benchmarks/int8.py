"""int8 against fp32 ONNX Runtime on the CPU: batch-1 latency and what it costs in accuracy.

    python benchmarks/int8.py [--checkpoint runs/quickstart/best.pt] [--shared ../shared/data] [--repeats 10]

* Latency: an untrained 2-stack hourglass (256 features, 256 px input) and its reduced-stem
  variant, exported fp32 and int8 (calibrated on 256 px crops of the shared MPII photos; the
  2-stack also in the other schemes of :data:`SCHEMES`), one crop per call, interleaved calls,
  ONNX Runtime sessions without thread spinning, median.
* Accuracy: a trained checkpoint (default the quickstart model) through ``PosePredictor`` with
  ``backend="onnxruntime"`` and ``backend="onnx-int8"``: PCKh@0.5 on its own validation split, and
  the mean distance in original pixels between the two backends' keypoints on the shared photos.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from posekit.config import DataConfig, load_config
from posekit.data.dataset import PoseDataset, load_image
from posekit.data.samples import sample_photos
from posekit.data.sources import prepare_data
from posekit.decoding.predictor import PosePredictor
from posekit.decoding.quantize import CropCalibrationReader
from posekit.models import create_model
from posekit.models.export import OnnxRuntimeNetwork, export_onnx, quantize_int8
from posekit.pipelines.evaluate import evaluate_checkpoint

REPO = Path(__file__).resolve().parents[1]


def mpii_crops(shared: Path, size: int = 256) -> PoseDataset:
    """The annotated people of the shared MPII photos as ``size`` px crops (no augmentation)."""
    images = shared / "mpii" / "images"
    cfg = DataConfig(dataset="mpii", input_size=size, heatmap_size=size // 4, sigma=1.0)
    return PoseDataset(str(images / "annotations.json"), str(images), cfg, train=False)


#: int8 schemes timed besides posekit's default (``quantize_int8``'s keyword arguments): the
#: graph with the batch norms left as they are shows what rewriting them as depthwise convolutions
#: gives; the signed-activation graph (the scheme posekit used first) what the uint8 x int8 kernels
#: give on a CPU without AVX-VNNI.
SCHEMES = {"int8, batch norms left in float": {"batchnorm_as_conv": False},
           "int8, signed activations": {"activations": "int8", "reduce_range": False, "method": "minmax",
                                        "batchnorm_as_conv": False}}


def exported_pair(arch: str, crops: PoseDataset, folder: Path, size: int = 256,
                  scheme_rows: bool = False) -> dict[str, OnnxRuntimeNetwork]:
    """fp32 and int8 ONNX Runtime networks of an untrained ``arch`` (int8 calibrated on ``crops``);
    with ``scheme_rows`` also the other int8 schemes of :data:`SCHEMES`. The sessions do not spin
    between calls (:class:`OnnxRuntimeNetwork`), since they are timed in turn on the same cores."""
    torch.manual_seed(0)
    fp32 = export_onnx(create_model(arch).eval(), folder / f"{arch}.onnx", size)
    int8 = quantize_int8(fp32, folder / f"{arch}.int8.onnx", CropCalibrationReader(crops, len(crops)))
    nets = {"fp32": OnnxRuntimeNetwork(fp32, spinning=False), "int8": OnnxRuntimeNetwork(int8, spinning=False)}
    for label, kwargs in (SCHEMES if scheme_rows else {}).items():
        other = quantize_int8(fp32, folder / f"{arch}.{len(nets)}.onnx", CropCalibrationReader(crops, len(crops)),
                              **kwargs)
        nets[label] = OnnxRuntimeNetwork(other, spinning=False)
    return nets


def interleaved_latency_ms(fns: dict, x: torch.Tensor, repeats: int) -> dict[str, float]:
    """Median ms per call of each ``fn(x)``, calls interleaved round by round after one warm-up each."""
    times = {k: [] for k in fns}
    for fn in fns.values():
        fn(x)
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn(x)
            times[k].append(time.perf_counter() - t0)
    return {k: round(1000 * statistics.median(v), 1) for k, v in times.items()}


def latency(shared: Path, repeats: int) -> dict:
    crops = mpii_crops(shared)
    with tempfile.TemporaryDirectory() as tmp:
        nets = {}
        for arch, label in (("hourglass_2stack", "2-stack"), ("hourglass_2stack_reduced", "2-stack reduced stem")):
            for kind, net in exported_pair(arch, crops, Path(tmp), scheme_rows=arch == "hourglass_2stack").items():
                nets[f"posekit {label}, ONNX Runtime {kind}"] = net
        x = crops[0]["image"][None]
        return interleaved_latency_ms(nets, x, repeats)


def accuracy(checkpoint: Path, shared: Path) -> dict:
    """PCKh@0.5 fp32 vs int8 on the checkpoint's validation split; keypoint distance on the shared photos."""
    cfg = load_config(checkpoint.parent / "config.yaml")
    data = prepare_data(cfg.data)
    out = {"checkpoint": str(checkpoint)}
    preds = {}
    for backend in ("onnxruntime", "onnx-int8"):
        p = PosePredictor.from_checkpoint(checkpoint, device="cpu", backend=backend)
        result, _, _ = evaluate_checkpoint(checkpoint, data.val_annotations, data.val_image_dir, predictor=p)
        out[f"pckh_{backend}"] = round(result.mean(0.5), 2)
        preds[backend] = [p.predict(load_image(s.path), **s.box).keypoints for s in sample_photos(shared)]
    d = [np.linalg.norm(a - b, axis=-1) for a, b in zip(preds["onnxruntime"], preds["onnx-int8"])]
    out["photos"] = len(d)
    out["mean_keypoint_distance_px"] = round(float(np.mean(np.concatenate(d))), 2)
    out["median_keypoint_distance_px"] = round(float(np.median(np.concatenate(d))), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=str(REPO / "runs" / "quickstart" / "best.pt"))
    ap.add_argument("--shared", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    shared = Path(args.shared)
    res = {"latency_ms_batch1": latency(shared, args.repeats)}
    if Path(args.checkpoint).is_file():
        res["accuracy"] = accuracy(Path(args.checkpoint), shared)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
