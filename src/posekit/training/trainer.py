"""The training loop: data -> model -> intermediate-supervision MSE -> optimiser, with validation,
per-epoch metrics (CSV), atomic last/best checkpoints, early stopping and exact resume.

Exact resume: the order of samples in epoch ``e`` is a permutation drawn from ``(seed, e)`` and the
augmentation of a sample from ``(seed, e, index)``, so a run resumed from a checkpoint written after
step ``k`` replays steps ``k+1, ...`` exactly as the uninterrupted run would (bit-for-bit on CPU).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from posekit.checkpoint import (
    FORMAT_VERSION,
    ModelArtifact,
    atomic_write,
    load_checkpoint,
    make_artifact,
    remove_stale_temporaries,
    resolve_device,
    save_checkpoint,
)
from posekit.config import Config, PBNConfig, config_to_dict, config_yaml
from posekit.data.annotations import load_annotations
from posekit.data.dataset import DataError, MixedDataset, PoseDataset, collate_samples, loaded_batches
from posekit.data.ground_truth import check_evaluable
from posekit.data.sources import prepare_data
from posekit.data.targets import HeatmapCodec
from posekit.decoding.heatmaps import output_heatmaps, predict_heatmaps
from posekit.decoding.inference import crop_to_original
from posekit.evaluation.pck import bbox_sizes, pck_bbox
from posekit.evaluation.pckh import pckh
from posekit.evaluation.samples import sample_scores_from_result
from posekit.keypoints import MPII, KeypointSet, get_keypoint_set
from posekit.losses import HeatmapMSELoss
from posekit.models.registry import create_model, load_matching_weights, load_weights, read_artifact
from posekit.training.distributed import DistInfo, broadcast_from_main, init_distributed, mean_over_ranks, rank_slice
from posekit.training.optim import build_optimizer, build_scheduler, current_lr, trainable


log = logging.getLogger(__name__)

#: Per-sample PCKh scores of the validation that made ``best.pt`` (:mod:`posekit.evaluation.samples`).
VAL_SAMPLES = "val_samples.npz"
#: ``train.amp_dtype`` -> autocast dtype.
AMP_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def compile_model(model: nn.Module, device: torch.device) -> nn.Module:
    """``torch.compile(model)`` (TorchInductor) for ``train.compile: true``.

    The parameters stay those of ``model`` (its state dict, optimiser and checkpoints are
    unchanged); the first training steps are slow while the graphs compile (minutes on a small
    CPU). On the CPU, Inductor writes and builds C++ code, so it needs a C++ compiler.

    Raises:
        ValueError: this torch has no ``torch.compile`` / no working Inductor backend, or no C++
            compiler is found for a CPU run (the message says to set ``train.compile=false``).
    """
    import shutil

    hint = "set train.compile=false to train without it"
    if not hasattr(torch, "compile"):
        raise ValueError(f"train.compile: this torch {torch.__version__} has no torch.compile; {hint}")
    if device.type == "cpu":
        cxx = os.environ.get("CXX") or next((c for c in ("g++", "c++", "clang++") if shutil.which(c)), None)
        if not cxx or not shutil.which(cxx):
            raise ValueError(f"train.compile: torch.compile on the CPU needs a C++ compiler (g++ or clang++) and "
                             f"none was found; install one or {hint}")
    try:
        return torch.compile(model)
    except Exception as e:  # noqa: BLE001 - backend import failures differ between torch builds
        raise ValueError(f"train.compile: torch.compile is unavailable here ({type(e).__name__}: {e}); {hint}") from None


class EpochSampler(Sampler[int]):
    """Sample order of one epoch, reproducible from ``(seed, epoch)`` and resumable mid-epoch.

    An epoch has ``num_samples`` indices: concatenated random permutations of the dataset (or the
    identity when ``shuffle`` is False). ``set_epoch(e, start)`` selects epoch ``e`` and skips its first
    ``start`` indices (the samples already trained on before an interruption). In a multi-process
    run every process draws the same order and keeps its slice of each global batch of
    ``global_batch`` indices (:func:`posekit.training.distributed.rank_slice`).
    """

    def __init__(self, dataset_size: int, num_samples: int, seed: int, shuffle: bool = True,
                 global_batch: int = 1, dist_info: DistInfo = DistInfo()):
        self.n, self.num_samples, self.seed, self.shuffle = dataset_size, num_samples, seed, shuffle
        self.global_batch, self.dist_info = global_batch, dist_info
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def indices(self) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        parts, total = [], 0
        while total < self.num_samples:
            parts.append(torch.randperm(self.n, generator=g) if self.shuffle else torch.arange(self.n))
            total += self.n
        return torch.cat(parts)[: self.num_samples].tolist()

    def __iter__(self) -> Iterator[int]:
        remaining = self.indices()[self.start:]
        if self.dist_info.enabled:
            remaining = rank_slice(remaining, self.global_batch, self.dist_info)
        return iter(remaining)

    def __len__(self) -> int:
        return (self.num_samples - self.start) // self.dist_info.world_size


@dataclass
class TrainState:
    """Everything besides the weights that a resumed run needs."""

    epoch: int = 0                 # current epoch (0-based)
    step_in_epoch: int = 0         # optimiser steps already done in this epoch
    global_step: int = 0
    loss_sum: float = 0.0          # running training-loss sum of this epoch
    best_pckh: float = float("-inf")   # best validation score of Trainer.evaluate (PCKh for pose models)
    best_epoch: int = -1
    bad_epochs: int = 0            # epochs since the last improvement (early stopping)
    history: list = field(default_factory=list)


def seed_everything(seed: int) -> None:
    """Seed torch and numpy's global generators (data order and augmentation have their own seeds)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


@torch.no_grad()
def validate(model: nn.Module, loader: DataLoader, codec: HeatmapCodec, criterion: nn.Module,
             device: torch.device, flip: bool = False, head_sizes: np.ndarray | None = None, amp_dtype=None,
             memory_format: torch.memory_format = torch.contiguous_format) -> dict:
    """Validation loss and PCKh of ``model`` on ``loader``'s :class:`PoseDataset` (in dataset order).

    Samples the dataset drops (``on_error: skip``, :func:`posekit.data.dataset.collate_samples`)
    leave the loss and the metric: every prediction is scored against its own sample's ground truth.

    Args:
        flip: flip testing (with the dataset's channel keypoints for the left/right swap).
        head_sizes: ``(N,)`` PCKh normalisers in original image pixels; default: the dataset's
            annotation head sizes (``normalize`` / ``head_size`` / head boxes).

    Returns:
        dict with ``val_loss``, ``pckh`` (official mean), ``pckh@0.1``, ``per_joint`` (joint name ->
        PCKh@0.5, %), ``samples`` (per-sample scores of the M evaluated samples, see
        :func:`pckh_metrics`), ``preds`` ``(M, J, 2)`` original pixels and ``indices`` ``(M,)``: the
        M evaluated samples, ``skipped`` (reason -> count of the dropped samples).

    Raises:
        DataError: every sample was dropped.
    """
    model.eval()
    dataset = loader.dataset
    losses, preds, indices, skipped = [], [], [], []
    for batch in loaded_batches(loader, skipped):
        indices.append(batch["index"].numpy())
        images = batch["image"].to(device).contiguous(memory_format=memory_format)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            out = model(images)
        losses.append(criterion(out.float(), batch["heatmaps"].to(device), batch["target_weight"].to(device)).item()
                      * len(images))
        if flip:
            heatmaps = predict_heatmaps(model, images, flip=True, keypoints=dataset.channel_keypoints)
        else:
            heatmaps = output_heatmaps(out).float()
        coords, _ = codec.decode(heatmaps.cpu().numpy())
        preds.append(crop_to_original(coords, batch["affine"].numpy()))
    keep = evaluated_indices(indices, skipped, dataset)
    preds = np.concatenate(preds)
    result = {"val_loss": float(np.sum(losses) / len(keep)), "preds": preds, "indices": keep,
              "skipped": skip_counts(skipped)}
    result.update(pckh_metrics(preds, dataset.annotations.subset(keep), dataset.joint_ids, dataset.keypoints,
                               None if head_sizes is None else np.asarray(head_sizes)[keep]))
    return result


def evaluated_indices(indices: list[np.ndarray], skipped: list[tuple[int, str]], dataset) -> np.ndarray:
    """The sample indices a validation pass evaluated (the batches' ``index`` entries, in order).

    Raises:
        DataError: none (every sample was dropped as bad).
    """
    if not indices:
        raise DataError(f"{dataset.annotations.source}: no loadable validation sample: all {len(skipped)} were "
                        f"skipped ({', '.join(f'{k}: {v}' for k, v in skip_counts(skipped).items())})")
    return np.concatenate(indices)


def skip_columns(split: str, counts: dict[str, int], evaluated: int | None = None) -> dict:
    """metrics.csv columns of skipped samples: ``{split}_skipped`` (total), ``{split}_skipped_{reason}``
    (reasons that occurred) and, for a validation pass, ``{split}_samples`` (samples scored)."""
    out: dict = {} if evaluated is None else {f"{split}_samples": int(evaluated)}
    out[f"{split}_skipped"] = int(sum(counts.values()))
    out.update({f"{split}_skipped_{reason}": int(c) for reason, c in counts.items()})
    return out


def skip_message(row: dict) -> str:
    """One console line about the skipped samples of a metrics row (see :func:`skip_columns`)."""
    parts = []
    for split, what in (("train", "training samples found bad so far"), ("val", "validation samples left out")):
        if row.get(f"{split}_skipped"):
            prefix = f"{split}_skipped_"
            reasons = ", ".join(f"{k[len(prefix):]}: {v}" for k, v in row.items() if k.startswith(prefix))
            parts.append(f"{row[f'{split}_skipped']} {what} ({reasons})")
    if "val_samples" in row and row.get("val_skipped"):
        parts.append(f"validation metrics over the {row['val_samples']} loadable samples")
    return "; ".join(parts)


def skip_counts(skipped: list[tuple[int, str]]) -> dict[str, int]:
    """``(index, reason)`` pairs -> reason -> number of samples."""
    out: dict[str, int] = {}
    for _, reason in skipped:
        out[reason] = out.get(reason, 0) + 1
    return out


def pckh_metrics(preds: np.ndarray, ann, joint_ids: tuple[int, ...], keypoints: KeypointSet,
                 head_sizes: np.ndarray | None = None) -> dict:
    """Official PCKh of validation predictions (the set's ``mean_excluded`` out of the mean).

    Args:
        preds: ``(N, J', 2)`` predictions of keypoints ``joint_ids``, original image px.
        ann: the dataset's :class:`~posekit.data.annotations.PoseAnnotations` (ground truth, all K keypoints).
        keypoints: the annotations' keypoint set.
        head_sizes: ``(N,)`` PCKh normalisers, px; default the annotations' (``normalize`` /
            ``head_size`` / head boxes).

    Returns:
        ``pckh`` (mean @0.5), ``pckh@0.1``, ``per_joint`` (joint name -> PCKh@0.5 %, joints of
        ``joint_ids``), ``samples`` (the per-sample :class:`~posekit.evaluation.samples.SampleScores`,
        all K keypoints, those outside ``joint_ids`` not evaluated); NaN, ``{}`` and None when
        there are no head sizes. ``pck_bbox``: PCK@0.1 of the person's bounding box
        (:func:`posekit.evaluation.pck.pck_bbox`; the box spans every annotated joint, the score
        counts ``joint_ids`` of people with a box of non-zero size).
    """
    k = len(keypoints)
    full = np.zeros((len(preds), k, 2))
    full[:, list(joint_ids)] = preds
    missing = ~ann.annotated.copy()
    keep = np.zeros(k, bool)
    keep[list(joint_ids)] = True
    missing[:, ~keep] = True
    box = bbox_sizes(ann.joints, ann.annotated)
    no_box = ~(np.isfinite(box) & (box > 0))          # fewer than two distinct annotated joints
    box_pck = pck_bbox(full, ann.joints, missing | no_box[:, None], alpha=0.1, keypoints=keypoints,
                       box_joints=ann.annotated)["mean"]
    head_sizes = ann.head_sizes if head_sizes is None else head_sizes
    if head_sizes is None:
        return {"pckh": float("nan"), "pckh@0.1": float("nan"), "per_joint": {}, "pck_bbox": box_pck,
                "samples": None}
    res = pckh(full, ann.joints, head_sizes, missing, thresholds=(0.5, 0.1), keypoints=keypoints)
    per_joint = res.joint_pckh(0.5)
    names = [keypoints.names[j] for j in joint_ids]
    samples = sample_scores_from_result(res, ann.joints, head_sizes, ann.image_names, source="validation")
    return {"pckh": res.mean(0.5), "pckh@0.1": res.mean(0.1), "per_joint": {n: per_joint[n] for n in names},
            "pck_bbox": box_pck, "samples": samples}


def resolve_model_config(cfg: Config, keypoints: KeypointSet, channel_keypoints: KeypointSet) -> Config:
    """``cfg`` with everything the model section leaves to the data resolved, once, when a run starts:
    PBN ``groups`` (``mi:K`` or a preset) become explicit joint-name lists of the channel keypoints.
    ``mi:K`` is measured on the training annotations, except for the full MPII set, where the
    packaged MI of the MPII validation people is used (so it matches ``posekit groups --k K``).

    Returns:
        A copy when something was resolved, else ``cfg`` itself.
    """
    m = cfg.model
    if not isinstance(m, PBNConfig) or not isinstance(m.groups, str):
        return cfg
    from posekit.data.grouping import resolve_groups

    annotations = None
    if m.groups.startswith("mi:") and channel_keypoints.names != MPII.names:
        ann = load_annotations(prepare_data(cfg.data).annotations, num_joints=len(keypoints),
                               box_convention=cfg.data.box_convention)
        annotations = ann.select_joints(keypoints.indices(channel_keypoints.names))
    groups = resolve_groups(m.groups, channel_keypoints, annotations)
    out = copy.deepcopy(cfg)
    out.model.groups = [list(g) for g in groups]
    return out


class Trainer:
    """Runs one experiment described by a :class:`posekit.config.Config` into ``cfg.train.output_dir``.

    Files written there: ``config.yaml`` (the resolved config: PBN groups as explicit lists),
    ``metrics.csv`` (one row per epoch: lr, train/val loss, PCKh mean, PCKh@0.1 mean and per
    joint), ``steps.csv`` (global step, epoch, loss, lr), ``last.pt`` (every epoch and every
    ``checkpoint_every`` steps), ``best.pt`` (best val PCKh), ``val_samples.npz`` (the per-sample,
    per-joint PCKh distances of the validation that made ``best.pt``,
    :mod:`posekit.evaluation.samples`), ``summary.json``. Checkpoints are model
    artifacts (:func:`posekit.load_model` reads them) plus the training state.

    Under ``torchrun`` the run is data-parallel (:mod:`posekit.training.distributed`):
    ``train.batch_size`` is the global batch, split evenly over the processes; only rank 0 validates,
    logs and writes files.

    Raises (construction):
        ValueError: an invalid setting (batch size not divisible by the processes, a keypoint set
            that cannot be flipped with flip augmentation, ...); FileNotFoundError / AnnotationError:
            missing or malformed data.
    """

    #: whether the training step goes through ``forward`` (required by DistributedDataParallel)
    supports_distributed = True

    def __init__(self, cfg: Config, progress: bool = True,
                 on_step: Callable[["Trainer", float], None] | None = None):
        t = cfg.train
        self.progress, self.on_step = progress, on_step
        self.out = Path(t.output_dir)
        if t.num_threads:
            torch.set_num_threads(t.num_threads)
        seed_everything(t.seed)
        self.device = resolve_device(t.device)
        self.dist = init_distributed(self.device.type)
        if self.dist.enabled:
            if not self.supports_distributed:
                raise ValueError(f"{type(self).__name__} does not support multi-process training")
            if t.batch_size % self.dist.world_size:
                raise ValueError(f"train.batch_size {t.batch_size} is not divisible by the "
                                 f"{self.dist.world_size} processes")
            if self.device.type == "cuda":
                self.device = torch.device("cuda", self.dist.local_rank)
                torch.cuda.set_device(self.device)
        self.progress = progress and self.dist.is_main
        self.local_batch = t.batch_size // self.dist.world_size
        self.amp_dtype = AMP_DTYPES[t.amp_dtype] if (t.amp and self.device.type == "cuda") else None
        # float16 autocast needs loss scaling against gradient underflow; bfloat16 does not
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.keypoints = get_keypoint_set(cfg.data.keypoints)
        self.joint_ids = self.keypoints.resolve(cfg.data.joints)
        self.cfg = cfg = resolve_model_config(cfg, self.keypoints, self.keypoints.subset(self.joint_ids))
        self.data_cfg = prepare_data(cfg.data)
        self.codec = HeatmapCodec(cfg.data.input_size, cfg.data.heatmap_size, cfg.data.sigma)
        self.train_set, self.val_set = self.build_datasets()
        self.val_head_sizes = None
        if self.val_set is not None:
            self.val_head_sizes = self.check_validation_ground_truth()
        steps = t.iters_per_epoch or math.ceil(len(self.train_set) / t.batch_size)
        self.steps_per_epoch = steps
        self.sampler = EpochSampler(len(self.train_set), steps * t.batch_size, t.seed, global_batch=t.batch_size,
                                    dist_info=self.dist)
        self.model = self.build_network()
        if t.init_from:
            self.init_weights(t.init_from)
        self.model = self.model.to(self.device)
        self.memory_format = torch.channels_last if t.channels_last else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)
        if self.dist.enabled and t.sync_batchnorm:
            self.model = nn.SyncBatchNorm.convert_sync_batchnorm(self.model)  # CUDA only
        self.forward_model = self.model
        if self.dist.enabled:
            self.forward_model = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if t.compile:   # the training forward only; validation and checkpoints use the plain module
            self.forward_model = compile_model(self.forward_model, self.device)
        self.criterion = self.build_criterion()
        self.optimizer = build_optimizer(trainable(self.model), t)
        self.scheduler = build_scheduler(self.optimizer, t)
        self.state = TrainState()
        self.empty_batches = 0   # training batches of the current epoch without any target
        self.val_samples = None   # per-sample scores of the latest validation (set by evaluate)

    def check_validation_ground_truth(self) -> np.ndarray | None:
        """Check, before anything is trained or written, that the validation split can be scored:
        ``eval.ground_truth`` (when set) has one sample per validation sample, and every sample
        with an annotated joint has a finite, positive head size. Returns the head sizes from
        ``eval.ground_truth`` (None: the annotations' are used).

        Raises:
            ValueError: a sample-count mismatch or an unusable head size (names file, sample, field).
        """
        ann = self.val_set.annotations
        if self.cfg.eval.ground_truth:
            from posekit.data.ground_truth import load_mpii_ground_truth

            gt = load_mpii_ground_truth(self.cfg.eval.ground_truth)
            if gt.num_samples != len(ann):
                raise ValueError(f"eval.ground_truth {self.cfg.eval.ground_truth} has {gt.num_samples} samples, "
                                 f"data.val_annotations {ann.source} has {len(ann)}: they must be the same people")
            return gt.head_sizes
        if ann.head_sizes is not None:
            check_evaluable(ann.source, ann.joints, ~ann.annotated, ann.head_sizes, "joints",
                            "normalize / head_size / headbox", self.keypoints)
        return None

    def batch_is_empty(self, batch: dict) -> bool:
        """Whether a training batch holds no target at all (no annotated joint inside any crop), so
        that its loss is 0 and nothing is learned from it."""
        return not bool(batch["target_weight"].any())

    # ---------------------------------------------------------------- hooks (overridden by subclasses)
    def train_joint_ids(self) -> tuple[int, ...]:
        """Keypoint ids of the training targets, in channel order (default: ``data.joints``)."""
        return self.joint_ids

    def output_keypoints(self) -> KeypointSet:
        """The keypoints of the network's output channels (what its artifact records)."""
        return self.keypoints.subset(self.joint_ids)

    def build_datasets(self) -> tuple[Dataset, Dataset | None]:
        """Training and validation datasets (default: :class:`PoseDataset` on ``data``'s train/val
        splits, the train split mixed with the people of ``data.extra_train`` (:class:`MixedDataset`);
        no validation set when ``data.val_annotations`` is empty). The training set must have
        ``set_epoch(epoch)``."""
        train_set = PoseDataset.from_config(self.data_cfg, "train", joint_ids=self.train_joint_ids(),
                                            seed=self.cfg.train.seed, keypoints=self.keypoints)
        if self.data_cfg.extra_train:
            extra = [PoseDataset.from_source(self.data_cfg, source, joint_ids=self.train_joint_ids(),
                                             seed=self.cfg.train.seed, keypoints=self.keypoints, stream=k + 1)
                     for k, source in enumerate(self.data_cfg.extra_train)]
            log.info("training on %d people: %s", sum(map(len, [train_set, *extra])),
                     " + ".join(f"{len(d)} from {d.annotations.source}" for d in [train_set, *extra]))
            train_set = MixedDataset([train_set, *extra])
        val_set = None
        if self.data_cfg.val_annotations:
            val_set = PoseDataset.from_config(self.data_cfg, "val", joint_ids=self.joint_ids, keypoints=self.keypoints)
        return train_set, val_set

    def build_criterion(self) -> nn.Module:
        """The training loss module (default: intermediate-supervision heat-map MSE)."""
        return HeatmapMSELoss()

    def build_network(self) -> nn.Module:
        """The network to train, on the CPU; called once in ``__init__`` before the optimiser is built
        (default: the registry's builder of ``model.name`` for the output keypoints)."""
        return create_model(self.cfg.model.name, **self.cfg.model.create_kwargs(self.output_keypoints()))

    def compute_loss(self, images: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Forward pass and training loss of one batch.

        Args:
            images: ``(B, 3, S, S)`` network input on the training device.
            target: ``(B, J, h, h)`` heat maps of :meth:`train_joint_ids`; weight ``(B, J)``.

        Returns:
            Scalar loss (intermediate-supervision MSE over all stacks by default).
        """
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            out = self.forward_model(images)
        return self.criterion(out.float(), target, weight)

    def batch_loss(self, batch: dict) -> torch.Tensor:
        """Scalar training loss of one collated batch (default: moves ``image``, ``heatmaps`` and
        ``target_weight`` to the device and calls :meth:`compute_loss`)."""
        images = batch["image"].to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        target = batch["heatmaps"].to(self.device, non_blocking=True)
        weight = batch["target_weight"].to(self.device, non_blocking=True)
        return self.compute_loss(images, target, weight)

    def evaluate(self, val_loader: DataLoader) -> tuple[dict, float]:
        """Validation of the current model (rank 0 only).

        Returns:
            ``(row, score)``: ``row`` holds the metrics.csv columns (``val_loss``, ``pckh``,
            ``pckh@0.1``, ``pckh_<joint>``); ``score`` (higher is better) picks ``best.pt`` and
            drives the plateau scheduler and early stopping: the PCKh mean, or ``-val_loss`` when
            the validation set has no head sizes.
        """
        val = validate(self.model, val_loader, self.codec, self.criterion, self.device,
                       flip=self.cfg.eval.val_flip_test, head_sizes=self.val_head_sizes,
                       amp_dtype=self.amp_dtype, memory_format=self.memory_format)
        self.val_samples = val["samples"]
        row = {"val_loss": val["val_loss"], "pckh": val["pckh"], "pckh@0.1": val["pckh@0.1"],
               "pck_bbox": val["pck_bbox"]}
        row.update({f"pckh_{k}": v for k, v in val["per_joint"].items()})
        row.update(skip_columns("val", val["skipped"], len(val["indices"])))
        return row, (val["pckh"] if not math.isnan(val["pckh"]) else -val["val_loss"])

    def init_weights(self, path: str | Path) -> None:
        """Fine-tuning start (``train.init_from``): the tensors of a checkpoint whose names and shapes
        match the network are copied into it; the rest keep their initialisation. Which were not
        loaded is logged (and ends up in ``train.log``). A resumed run takes its weights from
        ``last.pt`` instead.

        Raises:
            FileNotFoundError, posekit.checkpoint.CheckpointError: an unreadable checkpoint.
        """
        _, state, _ = read_artifact(path)
        loaded, not_loaded = load_matching_weights(self.model, state)
        self.init_report = {"checkpoint": str(path), "loaded": len(loaded), "not_loaded": not_loaded}
        if not loaded:
            raise ValueError(f"train.init_from {path}: no tensor matches this network by name and shape")
        shown = ", ".join(not_loaded[:8]) + (f" and {len(not_loaded) - 8} more" if len(not_loaded) > 8 else "")
        log.info("initialised from %s: %d of %d tensors loaded%s", path, len(loaded), len(loaded) + len(not_loaded),
                 f"; not loaded: {shown}" if not_loaded else "")

    # ---------------------------------------------------------------- checkpoints
    def artifact(self) -> ModelArtifact:
        """The model artifact of the network being trained (see :mod:`posekit.checkpoint`)."""
        d, s = self.cfg.data, self.state
        trained_on = {"config": self.cfg.name, "dataset": d.dataset if d.dataset != "files" else d.annotations,
                      "keypoint_set": self.keypoints.name, "epochs": s.epoch,
                      "val_pckh": s.best_pckh if math.isfinite(s.best_pckh) and s.best_pckh >= 0 else None,
                      "best_epoch": s.best_epoch if s.best_epoch > 0 else None}
        return make_artifact(self.model.posekit_spec, self.output_keypoints(), d.input_size, d.heatmap_size, d.sigma,
                             d.crop, d.scale_factor, self.cfg.eval.flip_test, self.cfg.eval.scales,
                             trained_on=trained_on, extra=self.artifact_extra(), center_shift=d.center_shift)

    def artifact_extra(self) -> dict:
        """Family-specific facts for the artifact's ``extra`` (default: none)."""
        return {}

    def checkpoint_state(self) -> dict:
        s = self.state
        return {
            "format_version": FORMAT_VERSION,
            "artifact": self.artifact().to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else {},
            "scaler": self.scaler.state_dict(),
            "config": config_to_dict(self.cfg),
            "train_state": {"epoch": s.epoch, "step_in_epoch": s.step_in_epoch, "global_step": s.global_step,
                            "loss_sum": s.loss_sum, "best_pckh": s.best_pckh, "best_epoch": s.best_epoch,
                            "bad_epochs": s.bad_epochs, "history": s.history},
            "torch_rng": torch.get_rng_state(),
        }

    def resume(self, path: str | Path | None = None) -> bool:
        """Load ``last.pt`` (or ``path``) if it exists; returns whether a checkpoint was loaded.

        Raises:
            posekit.checkpoint.CheckpointError: the checkpoint describes another network than this
                run builds, or its weights / optimiser state do not fit (nothing is changed then).
        """
        from posekit.checkpoint import CheckpointError

        path = Path(path) if path else self.out / "last.pt"
        if not path.is_file():
            return False
        ckpt = load_checkpoint(path, map_location=self.device)
        if "artifact" not in ckpt or "optimizer" not in ckpt or "train_state" not in ckpt:
            raise CheckpointError(f"{path}: not a training checkpoint of this posekit version (no training state)")
        saved = ckpt["artifact"]
        spec = self.model.posekit_spec
        if saved.get("arch") != spec["arch"] or saved.get("arch_kwargs") != spec["kwargs"]:
            raise CheckpointError(f"{path}: written for the network {saved.get('arch')} {saved.get('arch_kwargs')}, "
                                  f"but the run builds {spec['arch']} {spec['kwargs']}")
        load_weights(self.model, ckpt["model"], str(path))
        try:
            self.optimizer.load_state_dict(ckpt["optimizer"])
            if self.scheduler is not None and ckpt["scheduler"]:
                self.scheduler.load_state_dict(ckpt["scheduler"])
        except (KeyError, ValueError) as e:
            raise CheckpointError(f"{path}: its optimiser / scheduler state does not fit train.optimizer="
                                  f"{self.cfg.train.optimizer}, train.scheduler={self.cfg.train.scheduler} ({e})") from None
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        self.state = TrainState(**ckpt["train_state"])
        torch.set_rng_state(ckpt["torch_rng"])
        steps = self.out / "steps.csv"
        if steps.is_file() and self.dist.is_main:  # drop steps the interrupted run logged after this checkpoint
            lines = steps.read_text().splitlines(keepends=True)
            atomic_write(steps, "".join(lines[: 1 + self.state.global_step]))
        return True

    def _save(self, name: str) -> None:
        if self.dist.is_main:
            save_checkpoint(self.checkpoint_state(), self.out / name)

    # ---------------------------------------------------------------- loop
    def fit(self) -> dict:
        """Train until ``cfg.train.epochs`` or early stopping; returns the summary dict."""
        s = self.state
        main = self.dist.is_main
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(self.out)
            atomic_write(self.out / "config.yaml", config_yaml(self.cfg))
            if s.step_in_epoch == 0 and s.epoch == 0:
                (self.out / "steps.csv").write_text("global_step,epoch,loss,lr\n")
        with RunLog(self.out if main else None, self.cfg.train.tensorboard and main) as self.run_log:
            if main:
                log.info("%s %s (%s) in %s", "resuming" if s.global_step else "training", self.cfg.name,
                         self.model.posekit_spec["arch"], self.out)
                if self.dist.enabled:
                    log.info("data-parallel: %d process(es), backend %s, %d images per process and step",
                             self.dist.world_size, dist.get_backend(), self.local_batch)
            summary = self._fit()
            if main:
                log.info("finished after %d epochs: best val score %.2f at epoch %d -> %s", s.epoch, s.best_pckh,
                         s.best_epoch, self.out / ("best.pt" if s.best_epoch > 0 else "last.pt"))
        return summary

    def _fit(self) -> dict:
        t, s = self.cfg.train, self.state
        main = self.dist.is_main
        loader = DataLoader(self.train_set, batch_size=self.local_batch, sampler=self.sampler,
                            num_workers=self.data_cfg.num_workers, drop_last=False,
                            persistent_workers=False, pin_memory=self.device.type == "cuda")
        val_loader = None
        if self.val_set is not None:
            val_loader = DataLoader(self.val_set, batch_size=self.cfg.eval.batch_size, shuffle=False,
                                    num_workers=self.data_cfg.num_workers, collate_fn=collate_samples)
        start, first_epoch = time.time(), s.epoch
        stopped_early = False
        while s.epoch < t.epochs and not stopped_early:
            self.sampler.set_epoch(s.epoch, s.step_in_epoch * t.batch_size)
            self.train_set.set_epoch(s.epoch)
            self.model.train()
            if t.freeze_bn:
                for m in self.model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()
            # a progress bar only on a terminal: logs redirected to a file get the epoch lines alone
            bar = tqdm(loader, total=self.steps_per_epoch, initial=s.step_in_epoch,
                       disable=not (self.progress and sys.stderr.isatty()), desc=f"epoch {s.epoch + 1}/{t.epochs}",
                       leave=False)
            self.empty_batches = 0
            try:
                for batch in bar:
                    if self.batch_is_empty(batch):
                        self.empty_batches += 1
                        if self.empty_batches == 1 and main:
                            log.warning("epoch %d, step %d: a training batch holds no annotated joint inside its "
                                        "crops (loss 0, nothing learned); check the person boxes and joints of "
                                        "samples %s", s.epoch + 1, s.step_in_epoch + 1, batch["index"].tolist())
                    loss = self._step(batch)
                    s.step_in_epoch += 1
                    s.global_step += 1
                    s.loss_sum += loss
                    if main:
                        with open(self.out / "steps.csv", "a") as f:
                            f.write(f"{s.global_step},{s.epoch},{loss:.8g},{current_lr(self.optimizer):.6g}\n")
                    bar.set_postfix(loss=f"{s.loss_sum / s.step_in_epoch:.3e}")
                    if t.checkpoint_every and s.global_step % t.checkpoint_every == 0:
                        self._save("last.pt")
                    if self.on_step is not None:
                        self.on_step(self, loss)
            except KeyboardInterrupt:
                self._save("last.pt")
                raise
            finally:
                bar.close()
            stopped_early = self._end_epoch(val_loader, time.time() - start, first_epoch)
        summary = {"epochs_run": s.epoch, "global_step": s.global_step, "best_pckh": s.best_pckh,
                   "best_epoch": s.best_epoch, "stopped_early": stopped_early,
                   "last": s.history[-1] if s.history else {}, "train_seconds": time.time() - start,
                   "skipped": self.skipped_summary()}
        if main:
            atomic_write(self.out / "summary.json", json.dumps(summary, indent=2))
        return summary

    def skipped_summary(self) -> dict:
        """Bad samples left out (``data.on_error: skip``), by reason: ``"train"``: distinct training
        samples found bad since the run (or its resumption) started; ``"val"``: the samples the last
        validation left out of its metrics."""
        last_val = next((r for r in reversed(self.state.history) if "val_skipped" in r), {})
        prefix = "val_skipped_"
        return {"train": dict(getattr(self.train_set, "skipped_by_reason", {})),
                "val": {k[len(prefix):]: int(v) for k, v in last_val.items() if k.startswith(prefix)}}

    def _step(self, batch: dict) -> float:
        loss = self.batch_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()   # plain backward / step when the scaler is disabled
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return mean_over_ranks(float(loss.item()), self.dist, self.device)

    def _end_epoch(self, val_loader: DataLoader | None, elapsed: float, first_epoch: int = 0) -> bool:
        """Validate, log, schedule, checkpoint; returns True when early stopping triggers."""
        t, s = self.cfg.train, self.state
        row = {"epoch": s.epoch + 1, "lr": current_lr(self.optimizer),
               "train_loss": s.loss_sum / max(1, s.step_in_epoch)}
        last_epoch = s.epoch + 1 >= t.epochs
        score = None
        if val_loader is not None and ((s.epoch + 1) % t.val_every == 0 or last_epoch):
            val = self.evaluate(val_loader) if self.dist.is_main else None  # rank 0 validates ...
            val_row, score = broadcast_from_main(val, self.dist)  # ... every rank takes the same decisions
            row.update(val_row)
        train_bad = getattr(self.train_set, "skipped_by_reason", {})
        row.update(skip_columns("train", train_bad))
        if self.empty_batches:
            row["train_batches_without_joints"] = self.empty_batches
            log.warning("epoch %d: %d of %d training batches held no annotated joint inside their crops",
                        s.epoch + 1, self.empty_batches, s.step_in_epoch)
        if train_bad or row.get("val_skipped"):
            log.warning("epoch %d: %s", s.epoch + 1, skip_message(row))
        row["time_s"] = elapsed
        s.history.append(row)
        self._write_metrics()
        if self.dist.is_main:
            done = s.epoch + 1 - first_epoch
            self.run_log.epoch(row, t.epochs, elapsed, elapsed / done * (t.epochs - s.epoch - 1))
        if self.scheduler is not None:
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                if score is not None:
                    self.scheduler.step(score)
            else:
                self.scheduler.step()
        improved = False
        if score is not None:
            improved = score > s.best_pckh
            if improved:
                s.best_pckh, s.best_epoch, s.bad_epochs = score, s.epoch + 1, 0
            else:
                s.bad_epochs += 1
        s.epoch += 1
        s.step_in_epoch, s.loss_sum = 0, 0.0
        self._save("last.pt")
        if improved:
            self._save("best.pt")
            if self.dist.is_main and self.val_samples is not None:
                self.val_samples.save(self.out / VAL_SAMPLES)
        return bool(t.early_stopping and s.bad_epochs >= t.early_stopping)

    def _write_metrics(self) -> None:
        if not self.dist.is_main:
            return
        keys: list[str] = []
        for row in self.state.history:
            keys += [k for k in row if k not in keys]
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=keys)
        writer.writeheader()
        writer.writerows(self.state.history)
        atomic_write(self.out / "metrics.csv", text.getvalue())


def _clock(seconds: float) -> str:
    """``h:mm:ss`` (or ``m:ss`` under an hour)."""
    m, sec = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def epoch_line(row: dict, epochs: int, elapsed: float, eta: float, out: Path) -> str:
    """The one line a run prints per epoch: epoch, train loss, val loss, val PCKh, lr, time, ETA and
    the run folder (``-`` for values the epoch does not have, e.g. no validation)."""
    def num(key: str, fmt: str) -> str:
        v = row.get(key)
        return format(v, fmt) if isinstance(v, (int, float)) and math.isfinite(v) else "-"

    return (f"epoch {row['epoch']}/{epochs} | train loss {num('train_loss', '.4g')} | val loss {num('val_loss', '.4g')}"
            f" | val PCKh {num('pckh', '.2f')} | lr {num('lr', '.3g')} | time {_clock(elapsed)} | ETA {_clock(eta)}"
            f" | {out}")


class RunLog:
    """Where a run reports: ``train.log`` in the run folder (every ``posekit`` log record, appended
    across resumptions), the console through the ``posekit`` logger, and optionally TensorBoard
    (``OUTPUT_DIR/tensorboard``; needs the ``tensorboard`` package). A context manager: the file
    handler and the TensorBoard writer are closed on exit.

    Raises:
        ImportError: ``tensorboard`` asked for but not installed (``pip install posekit[tensorboard]``).
    """

    def __init__(self, out: Path | None, tensorboard: bool = False):
        self.out, self.handler, self.writer = out, None, None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ImportError("train.tensorboard needs the tensorboard package: pip install 'posekit[tensorboard]'")
            self.writer = SummaryWriter(str(out / "tensorboard"))

    def __enter__(self) -> "RunLog":
        if self.out is not None:
            self.handler = logging.FileHandler(self.out / "train.log", encoding="utf-8")
            self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            root = logging.getLogger("posekit")
            root.addHandler(self.handler)
            if root.getEffectiveLevel() > logging.INFO:
                root.setLevel(logging.INFO)
        return self

    def epoch(self, row: dict, epochs: int, elapsed: float, eta: float) -> None:
        """Log the epoch line; write the row's numbers to TensorBoard."""
        log.info("%s", epoch_line(row, epochs, elapsed, eta, self.out))
        if self.writer is not None:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)) and math.isfinite(value):
                    self.writer.add_scalar(key, value, row["epoch"])
            self.writer.flush()

    def __exit__(self, *exc) -> None:
        if self.handler is not None:
            logging.getLogger("posekit").removeHandler(self.handler)
            self.handler.close()
        if self.writer is not None:
            self.writer.close()
