"""Convert a reference implementation's checkpoint into a posekit checkpoint.

Usage::

    posekit convert --from princeton|bearpaw SRC.pt -o OUT.pt [--force]

``--from princeton``: a ``checkpoint.pt`` of princeton-vl/pytorch_stacked_hourglass (its trainer's
``state_dict``, keys ``model.module.*``); ``--from bearpaw``: a ``checkpoint.pth.tar`` /
``model_best.pth.tar`` of bearpaw/pytorch-pose (``state_dict`` with ``module.*`` keys) or its
``clean_model.pth.tar``. OUT is a posekit checkpoint: ``posekit.load_model(OUT)`` returns the same
network, and ``posekit evaluate --checkpoint OUT`` / ``posekit predict --checkpoint OUT`` crop,
normalise and decode as the source repository does (:mod:`posekit.models.convert`).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    from posekit.models.convert import SOURCES

    p.add_argument("src", metavar="SRC", help="the other repository's checkpoint file")
    p.add_argument("--from", dest="source", required=True, choices=list(SOURCES),
                   help="the repository that wrote SRC: " + ", ".join(f"{k} ({v})" for k, v in SOURCES.items()))
    p.add_argument("-o", "--out", required=True, metavar="OUT", help="posekit checkpoint to write")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")


def run(args: argparse.Namespace) -> int:
    from posekit.models.convert import convert_checkpoint

    out = Path(args.out)
    if out.exists() and not args.force:
        raise ValueError(f"{out} exists (use --force to overwrite it)")
    artifact, report = convert_checkpoint(args.src, args.source, out)
    print(f"wrote {out} ({artifact.summary()})")
    kw = artifact.arch_kwargs
    print(f"  network: {kw['num_stacks']} stacks, {kw['num_features']} features, stem {kw['stem']}; "
          f"input mean {[round(v, 4) for v in artifact.input['mean']]}; decoding {artifact.codec['decoding']}; "
          f"flip testing {'on' if artifact.eval['flip_test'] else 'off'}")
    if report["dropped"]:
        print(f"  dropped {len(report['dropped'])} tensors the source network never uses (e.g. {report['dropped'][0]})")
    if report["filled"]:
        print(f"  set {len(report['filled'])} BatchNorm counters the source lacks to 0")
    return 0
