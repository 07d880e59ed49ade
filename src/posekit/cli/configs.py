"""The packaged configs: ``posekit configs`` lists them, ``posekit configs NAME`` prints one.

Any of them runs with ``posekit train NAME`` from any folder; copy one (``posekit configs NAME >
my.yaml``) to edit it.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="a packaged config to print (default: list them all)")


def run(args: argparse.Namespace) -> int:
    from posekit.config import find_config, list_configs

    if args.name:
        print(find_config(args.name)[0], end="")
        return 0
    for name in list_configs():
        print(name)
    return 0
