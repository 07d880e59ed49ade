"""Experiment configuration: plain YAML mapped onto dataclasses.

A config file has the sections ``data``, ``model``, ``train`` and ``eval``; every key maps onto a
field below, so a typo is an error, not a silently ignored setting. ``--set section.key=value`` on the
command line overrides single fields (values are parsed as YAML: ``--set train.lr=1e-3``,
``--set data.augment.flip=false``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, get_args, get_origin, get_type_hints

import yaml


@dataclass
class AugmentConfig:
    """Training augmentation (Newell et al. 2016, Sec. 4: scale, rotation, flip; plus colour jitter)."""

    scale_min: float = 0.75
    scale_max: float = 1.25
    rotation: float = 30.0          # degrees, uniform in [-rotation, rotation]
    rotation_prob: float = 1.0      # probability of rotating at all
    flip: bool = True               # horizontal flip with left/right joint swap, p = 0.5
    brightness: float = 0.2         # multiplicative jitter in [1 - b, 1 + b]
    contrast: float = 0.2           # jitter of contrast around the image mean
    enabled: bool = True


@dataclass
class DataConfig:
    """Where the samples come from and how crops and targets are made.

    ``annotations``/``image_dir`` are the training split; ``val_annotations``/``val_image_dir`` the
    validation split (``val_image_dir`` defaults to ``image_dir``). ``dataset: synthetic`` generates
    the built-in synthetic people into ``root`` first (see :mod:`posekit.data.synthetic`).
    """

    dataset: str = "synthetic"              # "synthetic" | "mpii"
    root: str = "data/synthetic"            # synthetic: output folder
    annotations: str = ""                   # training annotation file (.h5 or .json)
    image_dir: str = ""
    val_annotations: str = ""
    val_image_dir: str = ""
    input_size: int = 256                   # square crop side, crop pixels
    heatmap_size: int = 64                  # heat-map side, heat-map pixels
    sigma: float = 1.0                      # Gaussian std, heat-map pixels
    crop: str = "center_scale"              # "center_scale" | "seed002"
    scale_factor: float = 1.25              # enlargement of the scale*200 px person box
    joints: Any = "all"                     # joint subset spec (see posekit.joints.resolve_joints)
    on_error: str = "raise"                 # "raise" | "skip": bad samples stop or are skipped and counted
    num_workers: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # synthetic generation (dataset == "synthetic")
    synthetic_train: int = 2000
    synthetic_val: int = 200
    synthetic_image_size: int = 256
    synthetic_seed: int = 0
    synthetic_options: dict = field(default_factory=dict)  # render difficulty: rotation, occluder_prob, clutter
    # part segmentation labels (model.name == "multitask"; synthetic: set by the generator)
    parts_dir: str = ""                     # folder of the train split's part label maps (json "parts" names)
    val_parts_dir: str = ""
    pascal_root: str = ""                   # PASCAL-Person-Part folder: extra segmentation-only training samples
    pascal_split: str = "train"


@dataclass
class ModelConfig:
    """Network choice and size (``StackedHourglass`` unless ``name`` says otherwise)."""

    name: str = "hourglass"
    num_stacks: int = 2
    num_features: int = 256
    depth: int = 4
    stem: str = "newell"                    # "newell" | "reduced" | "pbn" (pbn, pbn_baseline only)
    stem_width: int = 64                    # first stem width (64 in the papers; smaller for CPU quick runs)
    # PBN (name: pbn | pbn_baseline; Tang & Wu 2019, posekit.models.pbn). PBN configs set stem: pbn.
    groups: Any = "mi:5"                    # "body" | "mi:K" | list of joint-name lists (may overlap)
    branch_width: int = 64                  # W: channels of a branch
    branch_depth: int = 1                   # D: residual blocks per branch
    next_stack_features: str = "shared"     # "shared" | "specific": features fed to the next stack
    baseline: str = "deep"                  # pbn_baseline: "plain" | "deep"


@dataclass
class TrainConfig:
    """Optimisation settings (defaults: Newell et al. 2016, RMSprop lr 2.5e-4, batch 16)."""

    output_dir: str = "runs/default"
    epochs: int = 100
    iters_per_epoch: int = 0                # 0: one pass over the data per epoch
    batch_size: int = 16
    optimizer: str = "rmsprop"              # rmsprop | adam | radam | sgd
    lr: float = 2.5e-4
    momentum: float = 0.0
    weight_decay: float = 0.0
    scheduler: str = "none"                 # none | multistep | plateau
    milestones: list = field(default_factory=lambda: [150, 170])
    gamma: float = 0.1                      # multistep factor
    plateau_factor: float = 0.2             # reduce-on-plateau factor (0.2 = divide by 5)
    plateau_patience: int = 5
    early_stopping: int = 0                 # epochs without val improvement before stopping (0: off)
    seed: int = 0
    device: str = "auto"                    # auto | cpu | cuda
    amp: bool = True                        # mixed precision on CUDA only
    amp_dtype: str = "bfloat16"             # bfloat16 | float16 (float16 adds a GradScaler)
    channels_last: bool = False             # NHWC memory format (faster convolutions on CPU and GPU)
    sync_batchnorm: bool = False            # multi-process runs on GPUs: BatchNorm statistics over the global batch
    freeze_bn: bool = False                 # BatchNorm layers use their running statistics while training
    num_threads: int = 0                    # torch CPU threads (0: torch default)
    log_every: int = 20
    checkpoint_every: int = 0               # also write last.pt every N steps inside an epoch (0: epoch end only)
    val_every: int = 1                      # validate every N epochs (and always after the last)


@dataclass
class EvalConfig:
    """Evaluation and decoding settings."""

    flip_test: bool = True                  # flip testing in the final evaluation
    val_flip_test: bool = False             # flip testing in the per-epoch validation (twice the cost)
    ground_truth: str = ""                  # optional gt_valid.mat: official head boxes for the val split
    threshold: float = 0.5
    batch_size: int = 32


@dataclass
class TransferConfig:
    """KPTransfer joint subsets (Vats et al. 2019, Sec. 3): S1 (source) and S2 (target).

    ``split`` names one of the four splits (a)-(d) of :data:`posekit.training.transfer.KPTRANSFER_SPLITS`;
    ``s1`` / ``s2`` (joint subset specs, see :func:`posekit.joints.resolve_joints`) override it.
    """

    split: str = "d"
    s1: Any = None                          # None: the split's S1
    s2: Any = None                          # None: the split's S2


@dataclass
class MultiTaskConfig:
    """Multi-task pose + part segmentation (``model.name: multitask``, :mod:`posekit.models.multitask`).

    ``tasks`` picks the branches of the seed's Table 1 rows: ``[pose, seg]`` (joint pipeline),
    ``[pose]`` (PAF pose branch alone), ``[seg]`` (FCN segmentation alone). Loss weights and the
    ``W(p)`` threshold are the seed's eqs. 2-4 (:class:`posekit.losses.multitask.MultiTaskLoss`).
    """

    tasks: list = field(default_factory=lambda: ["pose", "seg"])
    num_stages: int = 6                     # PAF stages, 1..6
    num_classes: int = 7                    # part classes including background
    trunk_width: int = 64                   # VGG16 first-block width (64 = VGG16; smaller for CPU runs)
    feature_channels: int = 128
    stage_width: int = 128
    refine_kernel: int = 7
    seg_upsample: str = "bilinear"          # bilinear | deconv
    backbone_weights: str = ""              # local torchvision VGG16 state dict; empty: random init
    paf_width: float = 1.0                  # PAF band half-width, heat-map pixels
    w_heatmap: float = 1.0
    w_paf: float = 1.0
    w_seg: float = 1.0
    loss_threshold: Optional[float] = 0.02  # W(p) threshold; null: W = 1 everywhere
    pck_dist_factor: float = 5.0            # PCK_dist threshold: factor x shortest limb


@dataclass
class Config:
    """One experiment: data, model, training and evaluation settings."""

    name: str = "experiment"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    multitask: MultiTaskConfig = field(default_factory=MultiTaskConfig)


def _build(cls: type, values: dict, where: str) -> Any:
    """Instantiate dataclass ``cls`` from a mapping, recursing into nested dataclasses."""
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(values).__name__}")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; valid keys: {sorted(names)}")
    kwargs = {}
    for key, value in values.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value or {}, f"{where}.{key}")
        else:
            kwargs[key] = _coerce(hint, value, f"{where}.{key}")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if hint is Any or value is None:
        return value
    origin = get_origin(hint)
    if origin is Optional or (origin is not None and type(None) in get_args(hint)):
        return value
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise ValueError(f"{where}: expected {hint.__name__}, got {value!r}")
    if hint is int and isinstance(value, bool):
        raise ValueError(f"{where}: expected int, got {value!r}")
    return value


def config_from_dict(values: dict, where: str = "config") -> Config:
    """Build a :class:`Config` from a nested mapping (as read from YAML).

    Raises:
        ValueError: an unknown key or a value of the wrong type; the message names the key path.
    """
    return _build(Config, values or {}, where)


def apply_overrides(values: dict, overrides: list[str] | None) -> dict:
    """Apply ``key.path=value`` overrides to a nested mapping (values parsed as YAML).

    Raises:
        ValueError: an override without ``=``.
    """
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form section.key=value")
        path, raw = item.split("=", 1)
        node = values
        keys = path.strip().split(".")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = yaml.safe_load(raw)
    return values


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config file (or the defaults when ``path`` is None) and apply overrides.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: malformed YAML, unknown keys or wrongly typed values (the file is named).
    """
    values: dict = {}
    where = "defaults"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ValueError(f"{path}: malformed YAML: {e}") from None
        where = str(path)
    values = apply_overrides(values, overrides)
    return config_from_dict(values, where)


def config_to_dict(cfg: Config) -> dict:
    """The config as a plain nested dict (for saving next to a run and into checkpoints)."""
    return dataclasses.asdict(cfg)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the config as YAML."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
