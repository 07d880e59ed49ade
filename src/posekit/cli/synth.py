"""Write the built-in synthetic people dataset (images, part labels, MPII-layout json)."""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="data/synthetic", help="output folder (default: data/synthetic)")
    p.add_argument("--train", type=int, default=2000, help="number of training images")
    p.add_argument("--val", type=int, default=200, help="number of validation images")
    p.add_argument("--image-size", type=int, default=256, help="image side in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keypoints", default="mpii", help="keypoint set of the written annotations (name or YAML file)")
    p.add_argument("--overwrite", action="store_true", help="regenerate even if a matching dataset exists")


def run(args: argparse.Namespace) -> int:
    from posekit.data.synthetic import generate_synthetic

    paths = generate_synthetic(args.out, args.train, args.val, image_size=args.image_size, seed=args.seed,
                               overwrite=args.overwrite, keypoints=args.keypoints)
    print(json.dumps({k: str(v) for k, v in paths.items()}, indent=2))
    return 0
