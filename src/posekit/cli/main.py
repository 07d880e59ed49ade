"""The ``posekit`` command line: ``posekit COMMAND --help`` for each command."""

from __future__ import annotations

import argparse
import logging
import sys

from posekit import __version__

COMMANDS = {
    "quickstart": ("posekit.cli.quickstart", "generate synthetic people, train, evaluate, plot and predict"),
    "train": ("posekit.cli.train", "train a model from a YAML config or a packaged config name"),
    "configs": ("posekit.cli.configs", "list the packaged configs, or print one"),
    "evaluate": ("posekit.cli.evaluate", "official MPII PCKh (or LSP PCK@0.2) of a prediction file or a checkpoint"),
    "compare": ("posekit.cli.compare", "A vs B on the same people: PCKh differences, bootstrap CIs, paired tests"),
    "predict": ("posekit.cli.predict", "keypoints (JSON) and skeleton overlays (PNG) for images and folders"),
    "synth": ("posekit.cli.synth", "write the built-in synthetic people dataset"),
    "export": ("posekit.cli.export", "export a checkpoint's network to ONNX (checked with onnxruntime)"),
    "transfer": ("posekit.cli.transfer", "KPTransfer: S1 network, then transfer / frozen / random on S2"),
    "groups": ("posekit.cli.groups", "joint groups from the mutual information of joint locations (PBN)"),
    "gui": ("posekit.cli.gui", "local web page: predictions, heat maps and PCKh colouring on one image"),
    "report": ("posekit.cli.report", "markdown + HTML report of runs: config, PCKh per joint, curves, examples"),
    "reproduce": ("posekit.cli.reproduce", "tables / figures of the source documents: --list, run, --dry-run, --report"),
    "models": ("posekit.cli.models", "list the registered model architectures"),
    "convert": ("posekit.cli.convert", "convert a princeton-vl or bearpaw hourglass checkpoint into a posekit one"),
    "data": ("posekit.cli.data", "dataset tools: the crop boxes of an annotation file, MPII from the official release"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-parser per command (each command module adds its arguments)."""
    import importlib

    parser = argparse.ArgumentParser(prog="posekit", description="2D single-person human pose estimation.")
    parser.add_argument("--version", action="version", version=f"posekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip().splitlines()[0])
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``posekit`` console script; returns the exit code.

    User errors (missing or unreadable files, bad configs, malformed annotations, bad images)
    print one clear line on stderr and exit with code 2, without a traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from posekit.data.dataset import DataError

    console_logging()
    try:
        return int(args._run(args) or 0)
    except (OSError, ValueError, KeyError, DataError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e   # KeyError's str() adds quotes
        print(f"posekit {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"posekit {args.command}: interrupted", file=sys.stderr)
        return 130


def console_logging() -> None:
    """Send posekit's log records (epoch lines, warnings) to stderr, one plain line each (once)."""
    logger = logging.getLogger("posekit")
    if not any(getattr(h, "posekit_console", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.posekit_console = True
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
