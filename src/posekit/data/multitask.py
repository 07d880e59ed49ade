"""Samples for multi-task pose + part segmentation: heat maps, PAFs and part labels.

:class:`MultiTaskDataset` is a :class:`~posekit.data.dataset.PoseDataset` (same crop, augmentation,
heat maps and error handling) whose items also carry

* ``pafs`` ``(2L, h, h)`` / ``paf_weight`` ``(L,)``: part affinity fields of the limbs
  (:func:`posekit.data.paf.paf_targets`) on the heat-map grid;
* ``segmentation`` ``(S, S)`` uint8: the sample's part label map warped with the crop's affine
  (nearest neighbour; outside the original image: background 0, the padding shows no person;
  255 = unlabelled);
* ``has_pose`` / ``has_seg`` (bool): which labels the sample carries, so that one batch can mix
  pose-only (MPII), segmentation-only (PASCAL-Person-Part) and fully labelled (synthetic) samples
  and every loss term counts only its own samples (:class:`posekit.losses.multitask.MultiTaskLoss`).

Part label files: ``parts_dir / annotations.part_label_files[i]`` (the synthetic json's ``parts``,
the PASCAL-Person-Part reader's label names), or, when the annotations name none,
``parts_dir / <image stem>.png``. Without ``parts_dir`` no sample has segmentation labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch

from posekit.config import DataConfig
from posekit.data.annotations import PoseAnnotations
from posekit.data.dataset import DataError, MixedDataset, PoseDataset
from posekit.data.paf import paf_targets
from posekit.data.pascal_parts import IGNORE_INDEX, load_part_labels
from posekit.keypoints import KeypointSet

__all__ = ["MixedDataset", "MultiTaskDataset", "channel_limbs"]


def channel_limbs(keypoints: KeypointSet) -> tuple[tuple[int, int], ...]:
    """The skeleton limbs of the target channels' keypoints, as channel-index pairs.

    Raises:
        ValueError: the set has no limb (PAFs need at least one).
    """
    out = keypoints.limbs()
    if not out:
        raise ValueError(f"keypoints {list(keypoints.names)} have no skeleton limb: PAFs need at least one")
    return out


class MultiTaskDataset(PoseDataset):
    """Pose samples with PAF targets and part segmentation labels.

    Args:
        annotations, image_dir, cfg, train, joint_ids, seed, keypoints: as :class:`PoseDataset`
            (``cfg.crop`` must be ``"center_scale"``).
        parts_dir: folder of the part label maps (PNG of class ids, or PASCAL-Part ``.mat``), or
            None: no segmentation labels.
        paf_width: PAF band half-width, heat-map pixels.

    The limbs with one PAF each are the skeleton limbs of the target channels' keypoints
    (:attr:`limbs`, channel-index pairs, :func:`channel_limbs`).

    Items: everything :class:`PoseDataset` returns plus ``pafs`` ``(2L, h, h)`` float32,
    ``paf_weight`` ``(L,)`` float32, ``segmentation`` ``(S, S)`` uint8 class ids in crop pixels
    (all 255 when the sample has none), ``has_pose`` and ``has_seg`` (python bools). ``has_pose``
    is True when at least one target joint is annotated.

    Raises:
        ValueError: ``cfg.crop`` is not ``"center_scale"`` (construction).
        DataError: a sample's part label file is missing, unreadable or not the image's size
            (names the file and sample; skipped and counted with ``cfg.on_error == "skip"``).
    """

    def __init__(self, annotations: PoseAnnotations | str | Path, image_dir: str | Path, cfg: DataConfig,
                 train: bool, parts_dir: str | Path | None = None, paf_width: float = 1.0,
                 joint_ids: Sequence[int] | None = None, seed: int = 0, keypoints: KeypointSet | None = None):
        if cfg.crop != "center_scale":
            raise ValueError(f"multi-task samples need data.crop 'center_scale', got {cfg.crop!r}")
        super().__init__(annotations, image_dir, cfg, train, joint_ids=joint_ids, seed=seed, keypoints=keypoints)
        self.parts_dir = Path(parts_dir) if parts_dir else None
        self.paf_width = float(paf_width)
        self.limbs = channel_limbs(self.channel_keypoints)

    def part_label_path(self, index: int) -> Path | None:
        """Path of sample ``index``'s part label map, or None without ``parts_dir``."""
        if self.parts_dir is None:
            return None
        names = self.annotations.part_label_files
        name = names[index] if names is not None else Path(self.annotations.image_names[index]).with_suffix(".png").name
        return self.parts_dir / name

    def _read_labels(self, index: int, image_shape: tuple[int, int]) -> np.ndarray | None:
        path = self.part_label_path(index)
        if path is None:
            return None
        try:
            labels = load_part_labels(path)
        except (FileNotFoundError, ValueError) as e:
            raise DataError(f"sample {index} ({self.annotations.source}): part labels: {e}", "bad_labels") from None
        if labels.shape != image_shape:
            raise DataError(f"sample {index} ({self.annotations.source}): part labels {path} are "
                            f"{labels.shape[1]}x{labels.shape[0]}, the image is {image_shape[1]}x{image_shape[0]}",
                            "bad_labels")
        return labels

    def extra_targets(self, index: int, image: np.ndarray, affine: np.ndarray, keypoints: np.ndarray,
                      weights: np.ndarray) -> dict[str, Any]:
        """PAFs of the crop's keypoints, the warped part labels and the label flags."""
        size, h = self.cfg.input_size, self.cfg.heatmap_size
        pafs, paf_weight = paf_targets(self.codec.crop_to_heatmap(keypoints), (h, h), self.paf_width,
                                       annotated=weights > 0, limbs=self.limbs)
        labels = self._read_labels(index, image.shape[:2])
        if labels is None:
            seg = np.full((size, size), IGNORE_INDEX, np.uint8)
        else:
            seg = cv2.warpAffine(labels, affine, (size, size), flags=cv2.INTER_NEAREST,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return {
            "pafs": torch.from_numpy(pafs),
            "paf_weight": torch.from_numpy(paf_weight),
            "segmentation": torch.from_numpy(seg),
            "has_pose": bool(weights.any()),
            "has_seg": labels is not None,
        }
