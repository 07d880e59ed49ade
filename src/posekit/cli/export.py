"""Export a checkpoint's network: ``posekit export --checkpoint CKPT --format onnx [--out FILE] [--quantize int8]``.

The ONNX graph takes ``image`` (B, 3, S, S) RGB in [0, 1] with a dynamic batch axis and returns
the network's outputs under their names (``heatmaps`` (B, stacks, K, S/4, S/4); a multi-task model
also ``pafs`` / ``segmentation``); after writing it, ONNX Runtime's outputs are compared with PyTorch's.
``--quantize int8`` writes the int8 graph instead (ONNX Runtime static quantization, QDQ,
calibrated on crops of the checkpoint's training data or of ``--calibration-annotations``), and
reports how far its keypoints move from PyTorch's on the calibration crops.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="posekit checkpoint (best.pt / last.pt)")
    p.add_argument("--format", choices=["onnx"], default="onnx")
    p.add_argument("--out", help="output file (default: the checkpoint's name with .onnx, .int8.onnx when quantized)")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--no-check", action="store_true", help="skip the ONNX Runtime comparison")
    p.add_argument("--quantize", choices=["none", "int8"], default="none",
                   help="int8: static int8 quantization calibrated on person crops of the training data")
    p.add_argument("--calibration-samples", type=int, default=64, metavar="N",
                   help="crops to calibrate on (default 64)")
    p.add_argument("--calibration-annotations", metavar="FILE",
                   help="annotation file to calibrate on (default: the checkpoint's training split)")
    p.add_argument("--calibration-images", metavar="DIR", help="image folder of --calibration-annotations")


def run(args: argparse.Namespace) -> int:
    from posekit.models.export import check_onnx, export_onnx
    from posekit.models.registry import load_model

    if args.quantize == "none" and (args.calibration_annotations or args.calibration_images):
        raise ValueError("--calibration-annotations / --calibration-images only go with --quantize int8")
    model = load_model(args.checkpoint)
    size = model.artifact.input["size"]
    if args.quantize == "int8":
        return _export_int8(args, model, size)
    out = Path(args.out) if args.out else Path(args.checkpoint).with_suffix(".onnx")
    export_onnx(model, out, size, opset=args.opset)
    print(f"wrote {out} ({model.artifact.summary()})")
    if not args.no_check:
        diff = check_onnx(model, out, size)
        print(f"onnxruntime vs torch: max abs difference {diff:.2e} at batch 1 and 3")
    return 0


def _export_int8(args: argparse.Namespace, model, size: int) -> int:
    import os

    import numpy as np
    import torch

    from posekit.decoding.quantize import CropCalibrationReader, calibration_dataset
    from posekit.models.export import OnnxRuntimeNetwork, export_onnx, quantize_int8

    if args.calibration_samples < 1:
        raise ValueError(f"--calibration-samples must be >= 1, got {args.calibration_samples}")
    reader = CropCalibrationReader(calibration_dataset(args.checkpoint, args.calibration_annotations,
                                                       args.calibration_images), args.calibration_samples)
    out = Path(args.out) if args.out else Path(args.checkpoint).with_suffix(".int8.onnx")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        fp32 = export_onnx(model, Path(tmp) / "fp32.onnx", size, opset=args.opset)
        staged = quantize_int8(fp32, Path(tmp) / out.name, reader)
        os.replace(staged, out)
    print(f"wrote {out} (int8, calibrated on {len(reader.indices)} crops; {model.artifact.summary()})")
    if not args.no_check:
        from posekit.decoding.heatmaps import output_heatmaps

        reader.rewind()
        int8, shifts = OnnxRuntimeNetwork(out), []
        while (batch := reader.get_next()) is not None:
            x = torch.from_numpy(batch["image"])
            with torch.no_grad():
                a, b = output_heatmaps(model(x)).float(), output_heatmaps(int8(x)).float()
            shifts.append(_argmax_distance(a.numpy(), b.numpy()))
        d = np.concatenate(shifts)
        print(f"int8 vs torch on the calibration crops: heat-map peaks {d.mean():.2f} heat-map px apart on "
              f"average, {np.mean(d == 0) * 100:.0f}% identical")
    return 0


def _argmax_distance(a, b):
    """Per (sample, joint) distance in heat-map pixels between the peaks of two ``(B, J, h, w)`` arrays."""
    import numpy as np

    w = a.shape[-1]
    ia, ib = a.reshape(*a.shape[:2], -1).argmax(-1), b.reshape(*b.shape[:2], -1).argmax(-1)
    return np.hypot(ia % w - ib % w, ia // w - ib // w).ravel()
