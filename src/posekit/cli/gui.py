"""Web GUI: ``posekit gui --checkpoint CKPT [--checkpoint CKPT2 ...] [--host 127.0.0.1 --port 8765]``.

Opens a local page (no internet needed) where you upload an image or pick a sample photo, give
the person box if you like, and see the skeleton overlay, per-joint confidences, heat maps and,
for samples with ground truth, correct / wrong joints at a PCKh threshold; two checkpoints can be
compared side by side. Binds 127.0.0.1 by default: only this machine can reach it.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", action="append", default=[], metavar="CKPT",
                   help="posekit checkpoint to offer (repeatable, for side-by-side comparison)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, local only)")
    p.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    p.add_argument("--samples", default=None, metavar="DIR",
                   help="folder with sample photos (default: $POSEKIT_SAMPLE_DATA, ./shared/data or ../shared/data)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto (default: cpu)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from posekit.checkpoint import resolve_device
    from posekit.data.samples import find_sample_data
    from posekit.gui.app import create_app

    for c in args.checkpoint:
        if not Path(c).is_file():
            raise FileNotFoundError(f"checkpoint not found: {c}")
    resolve_device(args.device)   # a CUDA device without CUDA fails here, not at the first request
    app = create_app(args.checkpoint, samples=find_sample_data(args.samples), device=args.device)
    print(f"posekit gui: http://{args.host}:{args.port}/  (Ctrl-C to stop)")
    app.run(host=args.host, port=args.port, debug=False, threaded=True)
    return 0
