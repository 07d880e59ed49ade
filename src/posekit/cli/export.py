"""Export a checkpoint's network: ``posekit export --checkpoint CKPT --format onnx [--out FILE]``.

The ONNX graph has a dynamic batch axis (input ``image`` (B, 3, S, S), output ``heatmaps``
(B, stacks, J, S/4, S/4)); after writing it, the output of ONNX Runtime is compared with PyTorch's.
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
    from posekit.config import config_from_dict
    from posekit.models import build_model
    from posekit.models.export import check_onnx, export_onnx
    from posekit.training.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    cfg = config_from_dict(ckpt["config"], where=str(args.checkpoint))
    model = build_model(cfg.model, len(ckpt["joint_ids"]))
    model.load_state_dict(ckpt["model"])
    out = Path(args.out) if args.out else Path(args.checkpoint).with_suffix(".onnx")
    export_onnx(model, out, cfg.data.input_size, opset=args.opset)
    print(f"wrote {out}")
    if not args.no_check:
        diff = check_onnx(model, out, cfg.data.input_size)
        print(f"onnxruntime vs torch: max abs difference {diff:.2e} at batch 1 and 3")
    return 0
