"""Dataset tools.

Usage::

    posekit data boxes ANNOTATIONS [--json] [--box-convention auto|mpii_raw|mpii_adjusted]
                       [--checkpoint CKPT | --crop MODE --scale-factor F --center-shift S]
    posekit data mpii --release mpii_human_pose_v1_u12_1.mat --images DIR --out DIR [--valid-split valid.h5]

``boxes`` prints, for every person of an annotation file (``.h5`` or ``.json``), the square box
posekit crops, without augmentation, in original image pixels: by default the MPII crop protocol
(raw scale x 1.25, centre y + 15 x raw scale, applied once whatever the file's convention), or the
crop settings of a checkpoint's model artifact. ``--json`` prints one JSON list of
``{"image", "person" (index in the file), "center": [x, y], "side"}``.

``mpii`` converts the official MPII annotation release into ``train.json`` / ``valid.json``
(the split of Newell et al.) and ``gt_valid.mat`` (:mod:`posekit.data.mpii_release`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    from posekit.data.transforms import BOX_CONVENTIONS, CROP_MODES, MPII_CENTER_SHIFT, MPII_SCALE_FACTOR

    sub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    boxes = sub.add_parser("boxes", help="the crop box of every person of an annotation file",
                           description="The crop box posekit uses for every person of an annotation file.")
    boxes.add_argument("annotations", metavar="ANNOTATIONS", help="annotation file (.h5 or .json)")
    boxes.add_argument("--json", action="store_true", help="print one JSON list")
    boxes.add_argument("--box-convention", choices=["auto", *BOX_CONVENTIONS], default="auto",
                       help="what the file's center/scale hold (auto: h5 the adjusted MPII box, json the raw one)")
    boxes.add_argument("--checkpoint", metavar="CKPT", help="use the crop settings of this checkpoint's model artifact")
    boxes.add_argument("--crop", choices=list(CROP_MODES), default="center_scale")
    boxes.add_argument("--scale-factor", type=float, default=MPII_SCALE_FACTOR)
    boxes.add_argument("--center-shift", type=float, default=MPII_CENTER_SHIFT)
    boxes.set_defaults(_data_run=_boxes)

    mpii = sub.add_parser("mpii", help="MPII annotation files from the official release",
                          description="train.json / valid.json (split of Newell et al.) and gt_valid.mat from "
                                      "the official MPII annotation release.")
    mpii.add_argument("--release", required=True, metavar="MAT", help="mpii_human_pose_v1_u12_1.mat")
    mpii.add_argument("--images", required=True, metavar="DIR", help="the MPII images/ folder")
    mpii.add_argument("--out", required=True, metavar="DIR", help="output folder")
    mpii.add_argument("--valid-split", metavar="H5", help="valid.h5 defining the validation people "
                                                          "(default: the packaged list of Newell et al.'s valid.h5)")
    mpii.set_defaults(_data_run=_mpii)


def run(args: argparse.Namespace) -> int:
    return args._data_run(args)


def _boxes(args: argparse.Namespace) -> int:
    from posekit.data.annotations import load_annotations

    mode, factor, shift = args.crop, args.scale_factor, args.center_shift
    if args.checkpoint:
        from posekit.models.registry import read_artifact

        crop = read_artifact(args.checkpoint)[0].crop
        mode, factor = crop.get("mode", "center_scale"), crop.get("scale_factor", 1.25)
        shift = crop.get("center_shift", 0.0)      # absent: a checkpoint trained without the shift
    ann = load_annotations(args.annotations, box_convention=args.box_convention)
    centers, sides = ann.crop_boxes(mode, factor, shift)
    rows = [{"image": name, "person": i, "center": [float(c[0]), float(c[1])], "side": float(side)}
            for i, (name, c, side) in enumerate(zip(ann.image_names, centers, sides))]
    if args.json:
        print(json.dumps(rows))
    else:
        print(f"{'person':>6}  {'image':<24} {'center_x':>10} {'center_y':>10} {'side':>10}")
        for r in rows:
            x, y = r["center"]
            print(f"{r['person']:>6}  {r['image']:<24} {x:>10.3f} {y:>10.3f} {r['side']:>10.3f}")
    return 0


def _mpii(args: argparse.Namespace) -> int:
    from posekit.data.mpii_release import convert_mpii_release

    summary = convert_mpii_release(args.release, args.images, args.out, valid=args.valid_split)
    print(f"train: {summary['train']} people in {summary['train_images']} images "
          f"({summary['skipped']} training-image people without joints or person box left out)")
    print(f"valid: {summary['valid']} people (the validation split of Newell et al.)")
    if summary["missing_images"]:
        print(f"warning: {summary['missing_images']} referenced images are not in {args.images}")
    for name, path in summary["files"].items():
        print(f"wrote {path}")
    out = Path(args.out)
    print(f"train with: posekit train hourglass/mpii_2stack --set data.annotations={out / 'train.json'} "
          f"--set data.val_annotations={out / 'valid.json'} --set data.image_dir={args.images} "
          f"--set eval.ground_truth={out / 'gt_valid.mat'}")
    return 0
