"""The registered model architectures: ``posekit models [PATTERN] [--json]``.

Each name builds with ``posekit.create_model(NAME, **kwargs)``; ``--json`` prints
``{name: docstring's first line}``.
"""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'hourglass*'")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from posekit.models.registry import list_models, model_summary

    names = list_models(args.pattern)
    if args.json:
        print(json.dumps({n: model_summary(n) for n in names}, indent=2))
    else:
        width = max((len(n) for n in names), default=0)
        for n in names:
            print(f"{n:<{width}}  {model_summary(n)}")
    return 0
