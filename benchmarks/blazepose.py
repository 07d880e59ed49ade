"""Latency per person crop: MediaPipe BlazePose (lite / full / heavy) against posekit on the CPU.

    python benchmarks/blazepose.py [--shared ../shared/data] [--repeats 5] [--mediapipe-python PY]

The crops are the annotated people of the shared MPII photos, 256x256 RGB, the same for every
model. BlazePose runs as MediaPipe's legacy ``solutions.pose`` in static-image mode (person
detection + landmarks on each crop); posekit's rows come from :mod:`int8` (ONNX Runtime, fp32 and
int8, 2-stack and reduced stem). MediaPipe is an optional benchmark dependency
(``pip install posekit[bench]``, which pins ``mediapipe==0.10.14``); it is looked for in this
Python, or in the interpreter given by ``--mediapipe-python`` (a separate virtual environment),
and the comparison is skipped with one line when neither has it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

COMPLEXITY = {"lite": 0, "full": 1, "heavy": 2}


def mediapipe_latency(crops: np.ndarray, repeats: int) -> dict[str, float | str]:
    """Median ms per crop of each BlazePose model, or the error that stopped it (``"failed: ..."``)."""
    import mediapipe as mp

    out = {}
    for name, complexity in COMPLEXITY.items():
        try:
            with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=complexity) as pose:
                pose.process(crops[0])
                times = []
                for _ in range(repeats):
                    for crop in crops:
                        t0 = time.perf_counter()
                        pose.process(crop)
                        times.append(time.perf_counter() - t0)
            out[f"BlazePose {name} (mediapipe {mp.__version__})"] = round(1000 * statistics.median(times), 1)
        except Exception as e:  # noqa: BLE001 - e.g. a model file mediapipe would download and cannot offline
            out[f"BlazePose {name} (mediapipe {mp.__version__})"] = f"failed: {type(e).__name__}: {str(e)[:160]}"
    return out


def blazepose_rows(crops: np.ndarray, repeats: int, python: str | None) -> dict | str:
    """BlazePose latencies, here or in ``python``; a one-line reason when mediapipe is not installed."""
    try:
        import mediapipe  # noqa: F401

        return mediapipe_latency(crops, repeats)
    except ImportError:
        if not python:
            return "MediaPipe comparison skipped: mediapipe is not installed (pip install posekit[bench])"
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "crops.npy", crops)
        run = subprocess.run([python, __file__, "--crops", str(Path(tmp) / "crops.npy"), "--repeats", str(repeats)],
                             capture_output=True, text=True)
    if run.returncode != 0:
        return f"MediaPipe comparison skipped: {python} could not run it: {run.stderr.strip().splitlines()[-1:]}"
    return json.loads(run.stdout.strip().splitlines()[-1])


def run(shared: Path, repeats: int, python: str | None = None) -> dict:
    """One table: BlazePose rows (or the skip line) and posekit's rows, same crops, one run."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from int8 import latency, mpii_crops

    ds = mpii_crops(shared)
    crops = np.stack([np.clip(np.rint(ds[i]["image"].permute(1, 2, 0).numpy() * 255), 0, 255).astype(np.uint8)
                      for i in range(len(ds))])
    return {"crops": len(crops), "blazepose": blazepose_rows(crops, repeats, python),
            "posekit": latency(shared, repeats)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--mediapipe-python", help="a Python with mediapipe installed (its own virtual environment)")
    ap.add_argument("--crops", help=argparse.SUPPRESS)   # internal: time BlazePose only, on these saved crops
    args = ap.parse_args()
    if args.crops:
        print(json.dumps(mediapipe_latency(np.load(args.crops), args.repeats)))
        return
    print(json.dumps(run(Path(args.shared), args.repeats, args.mediapipe_python), indent=2))


if __name__ == "__main__":
    main()
