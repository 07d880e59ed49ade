"""Predict keypoints: ``posekit predict --checkpoint CKPT INPUT... [--bbox X1 Y1 X2 Y2 | --center X Y --scale S | --boxes FILE]``.

INPUT is an image file, a folder, a glob pattern or a video file; ``--camera N`` reads a camera
instead. For each image writes ``OUT/NAME.json`` (every person's keypoints in original image pixels,
confidences and box) and ``OUT/NAME_pose.png`` (the overlay; for a multi-task model also its part
segmentation and part affinity fields); a video gives ``OUT/NAME.json`` (per frame) and
``OUT/NAME_pose.mp4``; the whole run ``OUT/results_coco.json`` (COCO keypoint results) and, for an
MPII model, ``OUT/pred.mat``. Without a box the person detector finds people (``--detector``); an
image where it finds none is predicted on as a whole. Flip testing follows the checkpoint's setting
unless ``--flip`` / ``--no-flip`` says otherwise (:mod:`posekit.pipelines.predict`).
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="*", help="image files, folders, glob patterns or video files")
    p.add_argument("--checkpoint", required=True, help="posekit checkpoint (best.pt / last.pt)")
    p.add_argument("--camera", type=int, metavar="N", help="read camera N instead of files (stop with Ctrl-C)")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop each video / the camera after N frames")
    p.add_argument("--center", nargs=2, type=float, metavar=("X", "Y"), help="person center, original pixels")
    p.add_argument("--scale", type=float, help="person scale (box = scale * 200 px)")
    p.add_argument("--bbox", nargs=4, type=float, metavar=("X1", "Y1", "X2", "Y2"), help="person box, original pixels")
    p.add_argument("--boxes", metavar="FILE", help="person boxes per image: COCO detection results json, or "
                                                   "{file name: [[x1, y1, x2, y2], ...]}")
    p.add_argument("--detector", choices=["auto", "hog", "none"], default="auto",
                   help="person detector for images without a box (default auto: OpenCV's HOG detector when "
                        "available); none: the whole image is the person box")
    p.add_argument("--out", default="predictions", help="output folder (default: predictions)")
    flip = p.add_mutually_exclusive_group()
    flip.add_argument("--flip", dest="flip", action="store_true", default=None, help="flip testing on")
    flip.add_argument("--no-flip", dest="flip", action="store_false", help="flip testing off")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--backend", choices=["auto", "torch", "onnxruntime", "onnx-int8"], default="auto",
                   help="network runtime on the CPU (default auto: ONNX Runtime fp32 when installed; the export "
                        "is cached); onnx-int8: the int8 graph calibrated on the checkpoint's training data "
                        "(made once and cached; accuracy cost in docs/performance.md)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from posekit.pipelines.predict import PoseInferencer, load_boxes_file, predict_to_folder

    if (args.center is None) != (args.scale is None):
        raise ValueError("give both --center and --scale, or neither")
    if sum(x is not None for x in (args.center, args.bbox, args.boxes)) > 1:
        raise ValueError("give one of --center/--scale, --bbox and --boxes")
    if bool(args.images) == (args.camera is not None):
        raise ValueError("give input files, folders or videos, or --camera N (not both)")
    boxes = load_boxes_file(args.boxes) if args.boxes else None
    inferencer = PoseInferencer(args.checkpoint, device=args.device, flip=args.flip, backend=args.backend,
                                detector=args.detector)
    if args.center is None and args.bbox is None and boxes is None and inferencer.detector is None:
        print("posekit predict: no person box: each image is one person box; for photos with several people "
              "use --boxes or a detector (--detector hog)")
    inputs = args.camera if args.camera is not None else args.images
    written = predict_to_folder(inferencer, inputs, args.out, progress=None if not args.no_progress else False,
                                bbox=args.bbox, center=args.center, scale=args.scale, boxes=boxes,
                                max_frames=args.max_frames)
    for w in written:
        print(f"{w['input']}: {w['people']} person(s) -> {w['json']}, {w['overlay']}")
    print(f"flip testing {'on' if inferencer.predictor.flip else 'off'}; {len(written)} input(s) -> {args.out}")
    return 0
