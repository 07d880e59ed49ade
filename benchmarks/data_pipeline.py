"""Data pipeline throughput: read -> crop/augment -> heat maps, samples/s in one process (= per worker).

    python benchmarks/data_pipeline.py [--shared ../shared/data] [--samples 200]

Measured on the real MPII photos of ``../shared/data/mpii/images`` (1280x720 JPEGs, 256 px crops,
64x64 heat maps, training augmentation on) and on synthetic people (128 px images, 128 px crops,
32x32 heat maps, as in the quickstart).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from posekit.config import DataConfig
from posekit.data.dataset import PoseDataset
from posekit.data.synthetic import generate_synthetic

REPO = Path(__file__).resolve().parents[1]


def samples_per_second(dataset: PoseDataset, samples: int) -> float:
    """Samples/s of ``dataset[i]`` over ``samples`` items (cycling through the dataset)."""
    dataset[0]
    t0 = time.perf_counter()
    for i in range(samples):
        dataset.set_epoch(i // len(dataset))
        dataset[i % len(dataset)]
    return samples / (time.perf_counter() - t0)


def run(shared: Path, samples: int) -> dict:
    out = {}
    images = shared / "mpii" / "images"
    if (images / "annotations.json").is_file():
        cfg = DataConfig(dataset="mpii", input_size=256, heatmap_size=64, sigma=1.0)
        ds = PoseDataset(str(images / "annotations.json"), str(images), cfg, train=True)
        out["mpii_real_256px_samples_s"] = round(samples_per_second(ds, samples), 1)
    with tempfile.TemporaryDirectory() as tmp:
        generate_synthetic(tmp, 64, 8, image_size=128, seed=0)
        cfg = DataConfig(dataset="synthetic", input_size=128, heatmap_size=32, sigma=2.0)
        ds = PoseDataset(str(Path(tmp) / "train" / "annotations.json"), str(Path(tmp) / "train" / "images"), cfg,
                         train=True)
        out["synthetic_128px_samples_s"] = round(samples_per_second(ds, samples), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--samples", type=int, default=200)
    args = ap.parse_args()
    print(json.dumps(run(Path(args.shared), args.samples), indent=2))


if __name__ == "__main__":
    main()
