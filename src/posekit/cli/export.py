"""Export a checkpoint's network: ``posekit export --checkpoint CKPT --format onnx [--out FILE]``.

The ONNX graph takes ``image`` (B, 3, S, S) RGB in [0, 1] with a dynamic batch axis and returns
the network's outputs under their names (``heatmaps`` (B, stacks, K, S/4, S/4); a multi-task model
also ``pafs`` / ``segmentation``); after writing it, ONNX Runtime's outputs are compared with PyTorch's.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="posekit checkpoint (best.pt / last.pt)")
    p.add_argument("--format", choices=["onnx"], default="onnx")
    p.add_argument("--out", help="output file (default: the checkpoint's name with .onnx)")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--no-check", action="store_true", help="skip the ONNX Runtime comparison")


def run(args: argparse.Namespace) -> int:
    from posekit.models.export import check_onnx, export_onnx
    from posekit.models.registry import load_model

    model = load_model(args.checkpoint)
    size = model.artifact.input["size"]
    out = Path(args.out) if args.out else Path(args.checkpoint).with_suffix(".onnx")
    export_onnx(model, out, size, opset=args.opset)
    print(f"wrote {out} ({model.artifact.summary()})")
    if not args.no_check:
        diff = check_onnx(model, out, size)
        print(f"onnxruntime vs torch: max abs difference {diff:.2e} at batch 1 and 3")
    return 0
