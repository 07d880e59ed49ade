#!/usr/bin/env python
"""Build ``src/posekit/assets/mpii_valid_split.json``: the validation people of Newell et al.

Source: ``../shared/data/mpii/valid.h5`` (the 2958-person MPII Human Pose validation split of
Newell et al., itself the split of Tompson et al. CVPR 2015; distributed with
princeton-vl/pytorch_stacked_hourglass; MPII Human Pose annotations, Simplified BSD licence).

The file lists, in ``valid.h5`` order, each validation person's image name (``imgname``), its
0-based person index in that image's ``annorect`` list of the official release (``person``) and the
0-based ``annolist`` index (``index``, for reference; people are identified by image name and person
index). ``posekit data mpii`` uses it to split the official release.

Usage::

    python scripts/build_mpii_valid_split.py [--src ../shared/data/mpii/valid.h5]
                                             [--out src/posekit/assets/mpii_valid_split.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import h5py

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SRC = ROOT.parent / "shared" / "data" / "mpii" / "valid.h5"
DEFAULT_OUT = ROOT / "src" / "posekit" / "assets" / "mpii_valid_split.json"


def build_split(src: Path) -> dict:
    """The split record of ``valid.h5`` (see the module docstring)."""
    with h5py.File(src, "r") as f:
        names = [n.decode("utf-8") for n in f["imgname"][()]]
        person = [int(p) for p in f["person"][()]]
        index = [int(i) for i in f["index"][()]]
    return {"source": "valid.h5 of Newell et al. (princeton-vl/pytorch_stacked_hourglass data/MPII/annot)",
            "image": names, "person": person, "index": index}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    args.out.write_text(json.dumps(build_split(args.src), separators=(",", ":")) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
