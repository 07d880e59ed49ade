"""Predict keypoints on images: ``posekit predict --checkpoint CKPT IMAGE... [--center X Y --scale S | --bbox X1 Y1 X2 Y2]``.

For each image writes ``OUT/NAME.json`` (keypoints in original image pixels with per-joint
confidence) and ``OUT/NAME_pose.png`` (the skeleton drawn on the image). Without a box the whole
image is the person box.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--checkpoint", required=True, help="posekit checkpoint (best.pt / last.pt)")
    p.add_argument("--center", nargs=2, type=float, metavar=("X", "Y"), help="person center, original pixels")
    p.add_argument("--scale", type=float, help="person scale (box = scale * 200 px)")
    p.add_argument("--bbox", nargs=4, type=float, metavar=("X1", "Y1", "X2", "Y2"), help="person box, original pixels")
    p.add_argument("--out", default="predictions", help="output folder (default: predictions)")
    p.add_argument("--no-flip", action="store_true", help="no flip testing")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--backend", choices=["auto", "torch", "onnxruntime"], default="auto",
                   help="network runtime on the CPU (default auto: ONNX Runtime when installed, the fastest "
                        "path measured in docs/performance.md; the export is cached)")


def predict_files(predictor, images: list[str], out: str | Path, center=None, scale=None, bbox=None) -> list[dict]:
    """Run ``predictor`` on image files and write a JSON and an overlay PNG for each.

    Returns:
        One dict per image: ``image``, ``json``, ``overlay`` paths and the prediction.

    Raises:
        posekit.data.dataset.DataError: an image is missing or cannot be decoded (named).
    """
    from posekit.analysis.draw import draw_skeleton
    from posekit.data.dataset import load_image

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for path in images:
        image = load_image(path)
        pred = predictor.predict(image, center=center, scale=scale, bbox=bbox)
        stem = Path(path).stem
        record = {"image": str(path), "width": image.shape[1], "height": image.shape[0], **pred.to_dict()}
        json_path, png_path = out / f"{stem}.json", out / f"{stem}_pose.png"
        json_path.write_text(json.dumps(record, indent=2))
        overlay = draw_skeleton(image, np.nan_to_num(pred.keypoints), valid=np.isfinite(pred.confidence))
        cv2.imwrite(str(png_path), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
        results.append({"image": str(path), "json": str(json_path), "overlay": str(png_path), "prediction": record})
    return results


def run(args: argparse.Namespace) -> int:
    from posekit.decoding.predictor import PosePredictor

    if (args.center is None) != (args.scale is None):
        raise ValueError("give both --center and --scale, or neither")
    if args.center is not None and args.bbox is not None:
        raise ValueError("give either --center/--scale or --bbox, not both")
    predictor = PosePredictor.from_checkpoint(args.checkpoint, device=args.device, flip=not args.no_flip,
                                              backend=args.backend)
    results = predict_files(predictor, args.images, args.out, center=args.center, scale=args.scale, bbox=args.bbox)
    for r in results:
        print(f"{r['image']}: {r['json']}, {r['overlay']}")
    return 0
