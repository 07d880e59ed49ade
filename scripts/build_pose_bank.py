#!/usr/bin/env python
"""Build ``src/posekit/assets/pose_bank.npz`` from the MPII validation annotations.

Source: ``../shared/data/mpii/valid.h5`` (the 2958-person MPII validation split of Newell et al.,
distributed with princeton-vl/pytorch_stacked_hourglass; MPII Human Pose annotations, Simplified BSD
licence). Only joint coordinates are used; no image data.

Derivation (deterministic, no randomness):

1. Keep the persons whose 16 joints are all annotated (a joint is unannotated when its coordinates
   are (0, 0)); no missing joint is filled in.
2. Normalise each pose: subtract the centre of the joints' bounding box and divide by the MPII person
   size ``scale * 200`` px. In MPII this size is tied to the head: the head-neck length is about
   0.133 and the PCKh head size (``normalize``) is 0.1 of it, so the bank keeps body proportions.
3. Split by image, 90/10: a person goes to val when ``crc32(imgname) % 10 == 0``, so that no image
   (and no group of people posing together) contributes to both splits.

Usage::

    python scripts/build_pose_bank.py [--src ../shared/data/mpii/valid.h5] [--out src/posekit/assets/pose_bank.npz]
"""

from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SRC = ROOT.parent / "shared" / "data" / "mpii" / "valid.h5"
DEFAULT_OUT = ROOT / "src" / "posekit" / "assets" / "pose_bank.npz"
VAL_MODULUS = 10


def normalize_pose(part: np.ndarray, scale: float) -> np.ndarray:
    """Normalise one MPII pose.

    Args:
        part: (16, 2) joint (x, y) in original image pixels.
        scale: the MPII person scale (person size = ``scale * 200`` px).

    Returns:
        (16, 2) float32 coordinates with the joint bounding-box centre at the origin, in units of
        ``scale * 200`` px.
    """
    part = np.asarray(part, dtype=np.float64)
    center = (part.min(axis=0) + part.max(axis=0)) / 2.0
    return ((part - center) / (float(scale) * 200.0)).astype(np.float32)


def is_val_image(imgname: bytes | str) -> bool:
    """Whether an MPII image goes to the val part of the bank (``crc32(name) % 10 == 0``)."""
    name = imgname.encode() if isinstance(imgname, str) else bytes(imgname)
    return zlib.crc32(name) % VAL_MODULUS == 0


def build_bank(src: Path) -> dict[str, np.ndarray]:
    """Derive the bank arrays from ``valid.h5`` (see the module docstring for the rules)."""
    with h5py.File(src, "r") as f:
        part = f["part"][:]
        visible = f["visible"][:]
        scale = f["scale"][:]
        imgname = f["imgname"][:]
    annotated = (part != 0).any(axis=2)              # (N, 16)
    keep = np.flatnonzero(annotated.all(axis=1))
    poses = np.stack([normalize_pose(part[i], scale[i]) for i in keep]).astype(np.float16)
    split = np.array([1 if is_val_image(imgname[i]) else 0 for i in keep], dtype=np.uint8)
    return {
        "poses": poses,                                   # (K, 16, 2) float16
        "visible": visible[keep].astype(np.uint8),        # (K, 16) MPII visibility flags
        "source_index": keep.astype(np.int16),            # (K,) row in valid.h5
        "split": split,                                   # (K,) 0 = train, 1 = val
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    bank = build_bank(args.src)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **bank)
    k = len(bank["poses"])
    print(f"{args.out}: {k} poses ({int((bank['split'] == 0).sum())} train, "
          f"{int(bank['split'].sum())} val), {args.out.stat().st_size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
