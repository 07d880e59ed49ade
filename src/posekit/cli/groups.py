"""``posekit groups``: joint groups by spectral clustering of joint-location mutual information (PBN).

Usage::

    posekit groups --annotations ../shared/data/mpii/valid.h5 --k 5 [--plot mi.png] [--json]

Reads an annotation file (``.h5`` / ``.json``; ``--keypoints`` names its keypoint set, MPII by
default), normalises every pose into a 16 x 16 lattice over its
person box, computes the mutual information between the locations of every pair of joints
(Tang & Wu 2019, eq. 1), removes the diagonal, scales it to [0, 1] and splits the joints into K
groups by spectral clustering (:mod:`posekit.data.grouping`). Prints one line per group with
the joint names; ``--json`` prints exactly one JSON object instead::

    {"groups": [["r_ankle", ...], ...], "mutual_information": [[...16...], ...16 rows...]}

``mutual_information`` is the normalised affinity that was clustered (diagonal 0, values in [0, 1]).
``--plot`` saves it as an annotated heat map (PNG).
"""

from __future__ import annotations

import argparse
import json

from posekit.data.grouping import DEFAULT_BINS, joint_mutual_information, normalised_affinity, spectral_groups


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``groups`` options to ``p``."""
    p.add_argument("--annotations", required=True, metavar="FILE", help="annotation file (.h5 or .json)")
    p.add_argument("--keypoints", default="mpii", help="keypoint set of the annotations (default: mpii)")
    p.add_argument("--k", type=int, default=5, help="number of groups (default: 5)")
    p.add_argument("--bins", type=int, default=DEFAULT_BINS, help="lattice side (default: 16, the paper's)")
    p.add_argument("--random-state", type=int, default=0, help="seed of the spectral clustering (default: 0)")
    p.add_argument("--plot", metavar="PNG", help="save the normalised MI matrix as an annotated heat map")
    p.add_argument("--json", action="store_true", help="print one JSON object {groups, mutual_information}")
    return p


def run(args: argparse.Namespace) -> int:
    """Compute and print the groups; returns 0.

    Raises:
        FileNotFoundError, AnnotationError (unreadable annotations), ValueError (bad --k / --bins).
    """
    from posekit.data.annotations import load_annotations
    from posekit.keypoints import get_keypoint_set

    keypoints = get_keypoint_set(args.keypoints)
    ann = load_annotations(args.annotations, num_joints=len(keypoints))
    affinity = normalised_affinity(joint_mutual_information(ann, args.bins))
    groups = spectral_groups(affinity, args.k, random_state=args.random_state)
    names = [[keypoints.names[j] for j in g] for g in groups]
    if args.plot:
        from posekit.viz.plots import plot_mutual_information

        plot_mutual_information(affinity, args.plot, list(keypoints.names),
                                title=f"normalised mutual information ({len(ann)} people)")
    if args.json:
        print(json.dumps({"groups": names, "mutual_information": affinity.tolist()}))
    else:
        print(f"{len(groups)} groups of {args.annotations} ({len(ann)} people, {args.bins}x{args.bins} lattice):")
        for i, g in enumerate(names):
            print(f"  group {i + 1}: {', '.join(g)}")
        if args.plot:
            print(f"heat map: {args.plot}")
    return 0
