"""int8 inference on the CPU: calibration crops for ONNX Runtime's static quantization.

Static quantization fixes the range of every activation before inference, from the values seen
while running representative inputs through the fp32 graph (the ONNX Runtime quantization guide,
https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html). For a pose network
the representative inputs are person crops exactly as the predictor makes them: here they come
from the model's training data (the run's stored data config) without augmentation, cropped by
:class:`posekit.data.dataset.PoseDataset`, so they follow the crop convention of the artifact.

:func:`int8_onnx` gives the cached int8 graph of a checkpoint (:func:`posekit.models.export.cached_onnx`
does the export, quantization and caching).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from posekit.checkpoint import load_checkpoint
from posekit.config import config_from_dict
from posekit.data.dataset import PoseDataset
from posekit.data.sources import prepare_data
from posekit.models.export import cached_onnx

__all__ = ["CropCalibrationReader", "calibration_dataset", "int8_onnx"]

#: Calibration crops used when none is given: enough for stable min/max ranges on a 2-stack
#: hourglass, a few seconds of fp32 inference on a CPU.
DEFAULT_CALIBRATION_SAMPLES = 64


class CropCalibrationReader(CalibrationDataReader):
    """Person crops of a dataset as ONNX Runtime calibration batches.

    Each :meth:`get_next` returns ``{"image": (b, 3, S, S) float32}`` (RGB in [0, 1], the exported
    graph's input), ``b <= batch_size``, then ``None`` once ``num_samples`` crops (evenly spaced
    over the dataset, in index order; samples the dataset skips as unreadable are left out) have
    been given. :meth:`rewind` starts again.

    Raises:
        ValueError: ``num_samples`` or ``batch_size`` below 1, or an empty dataset.
    """

    def __init__(self, dataset: PoseDataset, num_samples: int = DEFAULT_CALIBRATION_SAMPLES, batch_size: int = 8):
        if num_samples < 1 or batch_size < 1:
            raise ValueError(f"num_samples and batch_size must be >= 1, got {num_samples} and {batch_size}")
        if len(dataset) == 0:
            raise ValueError("the calibration dataset has no samples")
        self.dataset, self.batch_size = dataset, batch_size
        n = min(num_samples, len(dataset))
        self.indices = np.unique(np.linspace(0, len(dataset) - 1, n).round().astype(int)).tolist()
        self.rewind()

    def rewind(self) -> None:
        self._next = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        crops = []
        while len(crops) < self.batch_size and self._next < len(self.indices):
            sample = self.dataset[self.indices[self._next]]
            self._next += 1
            if "image" in sample:
                crops.append(sample["image"].numpy().astype(np.float32))
        return {"image": np.stack(crops)} if crops else None


def calibration_dataset(checkpoint: str | Path, annotations: str | Path | None = None,
                        image_dir: str | Path | None = None) -> PoseDataset:
    """The crops to calibrate a checkpoint's int8 graph on, without augmentation.

    Default: the training split of the data config stored in the checkpoint by ``posekit train``
    (a synthetic dataset is generated again where the config says, if it is gone). ``annotations``
    and ``image_dir`` (both or neither) take another annotation file instead, cropped with the
    checkpoint's crop and heat-map settings.

    Raises:
        FileNotFoundError: the checkpoint, or the data it names, is missing.
        ValueError: only one of ``annotations`` / ``image_dir``, or a checkpoint that stores no
            training config (exported with ``save_model``) and no annotations given.
    """
    if (annotations is None) != (image_dir is None):
        raise ValueError("give both the calibration annotations and their image folder, or neither")
    state = load_checkpoint(checkpoint)
    if not isinstance(state.get("config"), dict):
        raise ValueError(f"{checkpoint}: stores no training config, so its training data is unknown; give "
                         "calibration annotations and images")
    data = config_from_dict(state["config"], where=f"{checkpoint}: config").data
    if annotations is None:
        data = prepare_data(data)
        annotations, image_dir = data.annotations, data.image_dir
    data = dataclasses.replace(data, augment=dataclasses.replace(data.augment, enabled=False))
    return PoseDataset(str(annotations), str(image_dir), data, train=False)


def int8_onnx(checkpoint: str | Path, model, input_size: int, num_samples: int = DEFAULT_CALIBRATION_SAMPLES,
              annotations: str | Path | None = None, image_dir: str | Path | None = None) -> Path:
    """The cached int8 ONNX graph of a checkpoint, calibrated on ``num_samples`` crops of
    :func:`calibration_dataset` when it is made (see :func:`posekit.models.export.cached_onnx`).

    Raises:
        as :func:`calibration_dataset` and :func:`posekit.models.export.quantize_int8`.
    """
    def reader() -> CropCalibrationReader:
        return CropCalibrationReader(calibration_dataset(checkpoint, annotations, image_dir), num_samples)

    return cached_onnx(checkpoint, model, input_size, int8_calibration=reader)
