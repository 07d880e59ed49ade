"""Predict keypoints on images: ``posekit predict --checkpoint CKPT INPUT... [--center X Y --scale S | --bbox X1 Y1 X2 Y2]``.

INPUT is an image file, a folder of images or a glob pattern. For each image writes
``OUT/NAME.json`` (keypoints in original image pixels with per-joint confidence) and
``OUT/NAME_pose.png`` (the skeleton drawn on the image; for a multi-task model also its part
segmentation). Without a box the whole image is the person box. Flip testing follows the
checkpoint's setting unless ``--flip`` / ``--no-flip`` says otherwise.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--checkpoint", required=True, help="posekit checkpoint (best.pt / last.pt)")
    p.add_argument("--center", nargs=2, type=float, metavar=("X", "Y"), help="person center, original pixels")
    p.add_argument("--scale", type=float, help="person scale (box = scale * 200 px)")
    p.add_argument("--bbox", nargs=4, type=float, metavar=("X1", "Y1", "X2", "Y2"), help="person box, original pixels")
    p.add_argument("--out", default="predictions", help="output folder (default: predictions)")
    flip = p.add_mutually_exclusive_group()
    flip.add_argument("--flip", dest="flip", action="store_true", default=None, help="flip testing on")
    flip.add_argument("--no-flip", dest="flip", action="store_false", help="flip testing off")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--backend", choices=["auto", "torch", "onnxruntime"], default="auto",
                   help="network runtime on the CPU (default auto: ONNX Runtime when installed, the fastest "
                        "path measured in docs/performance.md; the export is cached)")


def run(args: argparse.Namespace) -> int:
    from posekit.decoding.predictor import PosePredictor
    from posekit.pipelines.predict import expand_inputs, predict_files

    if (args.center is None) != (args.scale is None):
        raise ValueError("give both --center and --scale, or neither")
    if args.center is not None and args.bbox is not None:
        raise ValueError("give either --center/--scale or --bbox, not both")
    images = expand_inputs(args.images)
    predictor = PosePredictor.from_checkpoint(args.checkpoint, device=args.device, flip=args.flip,
                                              backend=args.backend)
    results = predict_files(predictor, images, args.out, center=args.center, scale=args.scale, bbox=args.bbox)
    for r in results:
        print(f"{r['image']}: {r['json']}, {r['overlay']}")
    print(f"flip testing {'on' if predictor.flip else 'off'}; {len(results)} image(s) -> {args.out}")
    return 0
