"""PyTorch dataset of single-person pose samples: crops, Gaussian targets and the crop geometry.

One sample = one annotated person (MPII layout, see :mod:`posekit.data.annotations`). The crop is
the MPII protocol box: side ``scale * 200 * scale_factor`` px around the raw person centre moved
down by ``center_shift * scale`` px (or the clip-and-pad box, see
:func:`posekit.data.transforms.clip_pad_square_box`), resized to ``input_size``; training adds Newell et
al. (2016, Sec. 4) augmentation (scale, rotation, flip), colour jitter and, when
``augment.shear`` is set, the shear of Tang & Wu (2019, Sec. 4.1).

Images are handed to the network as RGB in [0, 1] (:func:`image_to_tensor`); every posekit network
applies its own mean / standard-deviation normalisation (:mod:`posekit.models.layers`).

Joints follow the dataset's keypoint set (``cfg.keypoints``, :mod:`posekit.keypoints`); ``joint_ids``
selects the ones the model predicts, in channel order.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.context
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from posekit.config import DataConfig, SourceConfig
from posekit.data.annotations import PoseAnnotations, check_num_joints, read_annotations
from posekit.data.images import REASONS, DataError, read_image_file
from posekit.data.targets import HeatmapCodec
from posekit.data.transforms import (
    CROP_MODES,
    AugParams,
    affine_points,
    apply_color_jitter,
    compose_affine,
    crop_image,
    hflip_affine,
    person_crop,
    sample_augmentation,
    shear_affine,
)
from posekit.keypoints import KeypointSet, get_keypoint_set

__all__ = [
    "DataError",
    "PoseDataset",
    "MixedDataset",
    "collate_samples",
    "loaded_batches",
    "load_image",
    "image_to_tensor",
    "tensor_to_image",
]

log = logging.getLogger(__name__)

ERROR_MODES = ("raise", "skip")
#: What a skipped sample becomes: replaced by the next loadable one, or dropped from the batch.
BAD_SAMPLE_MODES = ("replace", "drop")


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB (:func:`posekit.data.images.read_image_file`: the pixel limit is
    checked on the file header before decoding, truncated JPEG / PNG files are refused).

    Returns:
        (H, W, 3) uint8 RGB.

    Raises:
        DataError: the file does not exist, is above the pixel limit, truncated or not decodable
            (message names the file; ``reason`` says which).
    """
    return read_image_file(path)


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """Network input from an RGB crop: ``(H, W, 3)`` uint8 (or float in [0, 255]) -> ``(3, H, W)``
    float32 tensor ``image / 255`` in [0, 1]."""
    x = image.astype(np.float32) * np.float32(1.0 / 255.0)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """Inverse of :func:`image_to_tensor`: (3, H, W) tensor -> (H, W, 3) uint8 RGB (for display)."""
    x = tensor.detach().cpu().float().numpy().transpose(1, 2, 0) * 255.0
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


class PoseDataset(Dataset):
    """Single-person pose samples with heat-map targets.

    Args:
        annotations: a :class:`PoseAnnotations` or the path of an annotation file (.h5 / .json /
            LSP joints.mat, read into ``keypoints`` by :func:`~posekit.data.annotations.read_annotations`
            with ``cfg.box_convention``).
        image_dir: folder the annotation image names are relative to.
        cfg: crop, heat-map, joint-subset, error and augmentation settings.
        train: apply augmentation from ``cfg.augment`` (when ``cfg.augment.enabled``).
        joint_ids: keypoint ids of the target channels, in channel order; default
            ``keypoints.resolve(cfg.joints)``.
        seed: base seed of the per-sample augmentation RNG (attribute ``seed``).
        stream: optional extra entropy of that RNG, so that several datasets mixed into one
            training split (``data.extra_train``) draw independent augmentations.
        keypoints: the annotations' keypoint set (default: ``cfg.keypoints``). Attribute
            ``channel_keypoints`` is its subset ``joint_ids``: the keypoints of the target channels.

    Each item is a dict (tensors unless noted; S = ``cfg.input_size``, h = ``cfg.heatmap_size``,
    J' = ``len(joint_ids)``):

    * ``image`` (3, S, S) float32: RGB crop in [0, 1] (see :func:`image_to_tensor`).
    * ``heatmaps`` (J', h, h) float32, ``target_weight`` (J',) float32: targets of
      :class:`~posekit.data.targets.HeatmapCodec`; weight 1 for annotated joints (visible or
      occluded), 0 for unannotated joints and joints whose Gaussian is outside the heat map.
    * ``joints`` (K, 2) float32 original px, ``annotated`` (K,) bool, ``visible`` (K,) float32:
      the annotation as stored (all K keypoints of the set, never flipped or subset).
    * ``center`` (2,) float32 original px and ``scale`` () float32: the box actually cropped
      (the centre after ``cfg.center_shift`` or the ``clip_pad_square`` conversion; the scale times
      the augmentation scale factor); the box side is ``scale * 200 * cfg.scale_factor`` px (the
      padded square for ``clip_pad_square``).
    * ``rotation`` () float32 degrees (counter-clockwise), ``flipped`` (python bool).
    * ``affine`` (2, 3) float32 original px -> crop px, including rotation, shear and flip. Crop
      predictions map back to original px with its inverse; for a flipped sample, channel ``k``
      shows original joint ``joint_ids[channel_keypoints.flip_permutation()[k]]`` (its left/right partner).
    * ``index`` (int): the sample index actually returned.

    Augmentation is drawn from ``numpy.random.default_rng([seed, epoch, index])`` (``[seed, epoch,
    index, stream]`` with a ``stream``), so a sample is the
    same whatever the worker that loads it; call :meth:`set_epoch` each epoch for new draws.

    Bad samples: a missing, undecodable, truncated or oversized image, or a person box that is
    not a usable view of its image (:func:`posekit.data.transforms.check_crop_box`: outside the
    image, or a side below 4 px or above 10 x the image's longer side) raises :class:`DataError`
    naming the file, sample index and field, with a ``reason`` (:data:`posekit.data.images.REASONS`).
    With ``cfg.on_error == "skip"`` a bad sample is, by ``bad_samples``:

    * ``"replace"`` (default for training): replaced by the next loadable one (index + 1, + 2, ...,
      wrapping around); the returned ``index`` is then the replacement's;
    * ``"drop"`` (default for evaluation, ``train=False``): returned as the marker
      ``{"index": i, "skipped_reason": reason}``, which :func:`collate_samples` leaves out of the
      batch, so that a metric never scores one sample's prediction against another's ground truth.

    Either way a warning is logged the first time a sample is found bad, :attr:`skipped` counts
    every time a bad sample is met and :attr:`skipped_by_reason` the distinct bad samples by reason
    (both across DataLoader workers). A bad label is never returned. Errors in the annotation file
    itself (a non-finite number, a wrong joint count, ``scale <= 0``, ...) always stop at
    construction, whatever ``on_error`` says.

    Raises (construction):
        FileNotFoundError, AnnotationError: unreadable annotations, or not one joint per keypoint of the set.
        ValueError: unknown ``cfg.crop`` / ``cfg.on_error`` / ``bad_samples``, invalid ``joint_ids``,
            or a flip-augmented joint subset that lacks a left/right partner.
    """

    def __init__(
        self,
        annotations: PoseAnnotations | str | Path,
        image_dir: str | Path,
        cfg: DataConfig,
        train: bool,
        joint_ids: Sequence[int] | None = None,
        seed: int = 0,
        keypoints: KeypointSet | None = None,
        bad_samples: str | None = None,
        stream: int | None = None,
    ):
        if cfg.crop not in CROP_MODES:
            raise ValueError(f"data.crop must be one of {CROP_MODES}, got {cfg.crop!r}")
        if cfg.on_error not in ERROR_MODES:
            raise ValueError(f"data.on_error must be one of {ERROR_MODES}, got {cfg.on_error!r}")
        self.bad_samples = bad_samples or ("replace" if train else "drop")
        if self.bad_samples not in BAD_SAMPLE_MODES:
            raise ValueError(f"bad_samples must be one of {BAD_SAMPLE_MODES}, got {bad_samples!r}")
        self.keypoints = get_keypoint_set(cfg.keypoints) if keypoints is None else keypoints
        if not isinstance(annotations, PoseAnnotations):
            annotations = read_annotations(annotations, self.keypoints, box_convention=cfg.box_convention)
        check_num_joints(annotations, len(self.keypoints))
        self.annotations = annotations
        self.image_dir = Path(image_dir)
        self.cfg = cfg
        self.train = bool(train)
        k = len(self.keypoints)
        if joint_ids is None:
            self.joint_ids = self.keypoints.resolve(cfg.joints)
        else:
            self.joint_ids = tuple(int(j) for j in joint_ids)
            if len(set(self.joint_ids)) != len(self.joint_ids) or not all(0 <= j < k for j in self.joint_ids):
                raise ValueError(f"joint_ids must be distinct ids in 0..{k - 1}, got {list(joint_ids)}")
        self.channel_keypoints = self.keypoints.subset(self.joint_ids)
        self.codec = HeatmapCodec(cfg.input_size, cfg.heatmap_size, cfg.sigma)
        self.seed = int(seed)
        self.stream = None if stream is None else int(stream)
        self.epoch = 0
        self.augment = self.train and cfg.augment.enabled
        self._flip_perm: list[int] | None = None
        if self.augment and cfg.augment.flip:
            try:
                self._flip_perm = self.channel_keypoints.flip_permutation()
            except ValueError as e:
                raise ValueError(f"{e}; flip augmentation needs both sides (set data.augment.flip=false)") from None
        self._skipped = multiprocessing.Value("q", 0)
        # per sample: 0 = not found bad, else 1 + index of the reason in REASONS (shared with workers)
        self._bad = multiprocessing.Array("b", len(annotations))

    # -- construction from a config ----------------------------------------------------------------

    @classmethod
    def from_config(
        cls,
        cfg: DataConfig,
        split: str,
        train: bool | None = None,
        joint_ids: Sequence[int] | None = None,
        seed: int = 0,
        keypoints: KeypointSet | None = None,
    ) -> PoseDataset:
        """The ``"train"`` split (``cfg.annotations``, ``cfg.image_dir``, samples ``cfg.train_samples``,
        augmented) or the ``"val"`` split (``cfg.val_annotations``, ``cfg.val_image_dir`` or else
        ``cfg.image_dir``, samples ``cfg.val_samples``, not augmented); files are read in
        ``cfg.annotation_format``. The people of ``cfg.extra_train`` are not included: see
        :meth:`from_source`.

        Args:
            train: override whether augmentation is applied (default: ``split == "train"``).

        Raises:
            ValueError: unknown split or the annotation path for it is empty (names the config key).
        """
        if split == "train":
            ann, img_dir, key, samples = cfg.annotations, cfg.image_dir, "data.annotations", cfg.train_samples
        elif split == "val":
            ann, img_dir, key, samples = (cfg.val_annotations, cfg.val_image_dir or cfg.image_dir,
                                          "data.val_annotations", cfg.val_samples)
        else:
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if not ann:
            raise ValueError(f"{key} is empty: set the annotation file of the {split} split")
        if train is None:
            train = split == "train"
        source = SourceConfig(annotations=ann, image_dir=img_dir, format=cfg.annotation_format, samples=samples)
        return cls.from_source(cfg, source, train=train, joint_ids=joint_ids, seed=seed, keypoints=keypoints)

    @classmethod
    def from_source(
        cls,
        cfg: DataConfig,
        source: SourceConfig,
        train: bool = True,
        joint_ids: Sequence[int] | None = None,
        seed: int = 0,
        keypoints: KeypointSet | None = None,
        stream: int | None = None,
    ) -> PoseDataset:
        """The people of one annotation file (an item of ``cfg.extra_train``, or a split), read in
        ``source.format`` into ``keypoints`` (default ``cfg.keypoints``), samples ``source.samples``.

        Raises:
            FileNotFoundError, AnnotationError: see :func:`posekit.data.annotations.read_annotations`.
        """
        keypoints = get_keypoint_set(cfg.keypoints) if keypoints is None else keypoints
        ann = read_annotations(source.annotations, keypoints, source.format, source.samples)
        return cls(ann, source.image_dir, cfg, train=train, joint_ids=joint_ids, seed=seed, keypoints=keypoints,
                   stream=stream)

    # -- bookkeeping -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.annotations)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of ``epoch`` (call before each epoch's DataLoader pass)."""
        self.epoch = int(epoch)

    @property
    def skipped(self) -> int:
        """Number of times a bad sample was met and skipped (``on_error == "skip"``), over all workers."""
        return int(self._skipped.value)

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        """Distinct bad samples found so far (or since :meth:`reset_skipped`), by reason
        (:data:`posekit.data.images.REASONS`); reasons without a sample are left out."""
        codes = np.frombuffer(self._bad.get_obj(), dtype=np.int8)
        counts = np.bincount(codes, minlength=len(REASONS) + 1)[1:]
        return {r: int(c) for r, c in zip(REASONS, counts) if c}

    def reset_skipped(self) -> None:
        """Forget which samples were found bad (:attr:`skipped_by_reason` starts again from zero)."""
        with self._bad.get_lock():
            np.frombuffer(self._bad.get_obj(), dtype=np.int8)[:] = 0

    def __getstate__(self) -> dict:
        # The shared counters travel to DataLoader worker processes; a plain copy (pickle, deepcopy)
        # gets its own counters starting at the current values.
        state = self.__dict__.copy()
        if multiprocessing.context.get_spawning_popen() is None:
            state["_skipped"] = self.skipped
            state["_bad"] = np.frombuffer(self._bad.get_obj(), dtype=np.int8).tobytes()
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state["_skipped"], int):
            state["_skipped"] = multiprocessing.Value("q", state["_skipped"])
        if isinstance(state["_bad"], bytes):
            bad = multiprocessing.Array("b", len(state["_bad"]))
            np.frombuffer(bad.get_obj(), dtype=np.int8)[:] = np.frombuffer(state["_bad"], dtype=np.int8)
            state["_bad"] = bad
        self.__dict__.update(state)

    def rng(self, index: int) -> np.random.Generator:
        """The augmentation RNG of sample ``index`` for the current epoch."""
        entropy = [self.seed, self.epoch, int(index)] + ([] if self.stream is None else [self.stream])
        return np.random.default_rng(entropy)

    def image_path(self, index: int) -> Path:
        """Path of the image of sample ``index``."""
        return self.image_dir / self.annotations.image_names[index]

    # -- loading -----------------------------------------------------------------------------------

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"sample index {index} out of range for {n} samples")
        if self.cfg.on_error == "raise":
            return self._load(index)
        if self.bad_samples == "drop":
            try:
                return self._load(index)
            except DataError as e:
                self._record_bad(index, e)
                return {"index": int(index), "skipped_reason": e.reason}
        for k in range(n):
            i = (index + k) % n
            try:
                return self._load(i)
            except DataError as e:
                self._record_bad(i, e)
        raise DataError(f"{self.annotations.source}: no loadable sample among all {n} samples")

    def _record_bad(self, index: int, error: DataError) -> None:
        with self._skipped.get_lock():
            self._skipped.value += 1
        with self._bad.get_lock():
            first = self._bad[index] == 0
            self._bad[index] = 1 + REASONS.index(error.reason)
        if first:
            log.warning("skipping bad sample (%s): %s", error.reason, error)

    def _read_image(self, index: int) -> np.ndarray:
        try:
            return load_image(self.image_path(index))
        except DataError as e:
            raise DataError(f"sample {index} ({self.annotations.source}): {e}", e.reason) from None

    def extra_targets(self, index: int, image: np.ndarray, affine: np.ndarray, keypoints: np.ndarray,
                      weights: np.ndarray) -> dict[str, Any]:
        """More item entries computed from the same crop (default: none); overridden by subclasses
        that train on more than heat maps (e.g. :class:`posekit.data.multitask.MultiTaskDataset`).

        Args:
            index: the sample index being loaded.
            image: ``(H, W, 3)`` uint8 RGB original image.
            affine: ``(2, 3)`` float64 original px -> crop px (rotation, shear and flip included).
            keypoints: ``(J', 2)`` target joints in crop px, channel order (flip-permuted when flipped).
            weights: ``(J',)`` float64, 1 where the joint is annotated.
        """
        return {}

    def _load(self, index: int) -> dict[str, Any]:
        ann, cfg, size = self.annotations, self.cfg, self.cfg.input_size
        image = self._read_image(index)

        aug = sample_augmentation(cfg.augment, self.rng(index)) if self.augment else AugParams()
        try:
            affine, keep_box, center, scale = person_crop(ann.centers[index], float(ann.scales[index]), size,
                                                          cfg.crop, cfg.scale_factor, aug.rot_deg, aug.scale_mult,
                                                          cfg.center_shift, image_shape=image.shape)
        except ValueError as e:
            raise DataError(f"sample {index} ({ann.source}): fields 'center' {ann.centers[index].tolist()} and "
                            f"'scale' {float(ann.scales[index])} of image {self.image_path(index)}: {e}",
                            "bad_box") from None
        if aug.shear:
            affine = compose_affine(shear_affine(size, aug.shear), affine)
        if aug.flip:
            affine = compose_affine(hflip_affine(size), affine)

        crop = crop_image(image, affine, size, keep_box=keep_box)
        if self.augment:
            crop = apply_color_jitter(crop.astype(np.float32), aug)

        ids = list(self.joint_ids)
        keypoints = affine_points(ann.joints[index], affine)[ids]
        weights = ann.annotated[index, ids].astype(np.float64)
        if aug.flip:
            keypoints, weights = keypoints[self._flip_perm], weights[self._flip_perm]
        heatmaps, target_weight = self.codec.encode(keypoints, weights)

        sample = {
            "image": image_to_tensor(crop),
            "heatmaps": torch.from_numpy(heatmaps),
            "target_weight": torch.from_numpy(target_weight),
            "joints": torch.from_numpy(ann.joints[index].astype(np.float32)),
            "annotated": torch.from_numpy(ann.annotated[index].copy()),
            "visible": torch.from_numpy(ann.visible[index].astype(np.float32)),
            "center": torch.tensor(center, dtype=torch.float32),
            "scale": torch.tensor(scale, dtype=torch.float32),
            "rotation": torch.tensor(aug.rot_deg, dtype=torch.float32),
            "flipped": bool(aug.flip),
            "affine": torch.from_numpy(affine.astype(np.float32)),
            "index": int(index),
        }
        sample.update(self.extra_targets(index, image, affine, keypoints, weights))
        return sample


class MixedDataset(ConcatDataset):
    """Several datasets as one training split (e.g. MPII + LSP + LSP-extended, Tang & Wu 2019,
    Sec. 4; synthetic people + PASCAL-Person-Part), with :meth:`set_epoch` and the bad-sample
    counters of :class:`PoseDataset` over all of them. Index ``i`` runs through the first dataset,
    then the second, ... (``torch.utils.data.ConcatDataset``)."""

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of ``epoch`` in every part."""
        for d in self.datasets:
            d.set_epoch(epoch)

    @property
    def skipped(self) -> int:
        """Bad samples met and skipped, over all parts."""
        return sum(d.skipped for d in self.datasets)

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        """Distinct bad samples of all parts, by reason (see :attr:`PoseDataset.skipped_by_reason`)."""
        out: dict[str, int] = {}
        for d in self.datasets:
            for reason, count in d.skipped_by_reason.items():
                out[reason] = out.get(reason, 0) + count
        return out


def collate_samples(items: list[dict[str, Any]]) -> dict[str, Any]:
    """``collate_fn`` for loaders over a ``bad_samples="drop"`` :class:`PoseDataset`: the loaded
    items are collated as usual (``torch.utils.data.default_collate``) and the dropped ones are
    listed under ``"skipped"`` as ``(index, reason)`` pairs. A batch whose every item was dropped
    holds ``"skipped"`` only."""
    from torch.utils.data import default_collate

    kept = [it for it in items if "skipped_reason" not in it]
    batch = default_collate(kept) if kept else {}
    batch["skipped"] = [(int(it["index"]), it["skipped_reason"]) for it in items if "skipped_reason" in it]
    return batch


def loaded_batches(loader, skipped: list[tuple[int, str]]):
    """The batches of ``loader`` (built with :func:`collate_samples`) that hold at least one sample,
    in order; the ``(index, reason)`` of every dropped sample is appended to ``skipped``."""
    for batch in loader:
        skipped.extend(batch.pop("skipped", []))
        if "index" in batch:
            yield batch
