"""Experiment configuration: plain YAML mapped onto dataclasses.

A config file has the sections ``data``, ``model``, ``train``, ``eval`` and (for ``posekit
transfer``) ``transfer``. Every key maps onto a dataclass field, so a typo is an error, not a
silently ignored setting; enumerated values (optimizer, scheduler, stem, ...) are checked when the
config loads and the message lists the valid choices; counts and sizes that must be positive
(``train.batch_size``, ``train.val_every``, ``train.lr``, ``data.input_size``, ``data.sigma``, ...)
are checked too (:func:`at_least`). The ``model`` section is typed by model
family: ``model.name`` picks one of :data:`MODEL_CONFIGS` (``hourglass``, ``pbn``,
``pbn_baseline``, ``multitask``) and only that family's fields are accepted.

``--set section.key=value`` on the command line overrides single fields (values are parsed as
YAML: ``--set train.lr=1e-3``, ``--set data.augment.flip=false``).

Configs ship inside the package (``posekit/configs/``): :func:`list_configs` lists them and
:func:`find_config` resolves a packaged name (``quickstart``, ``hourglass/mpii_8stack``) or a path.
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Optional, Union, get_args, get_origin, get_type_hints

import yaml

__all__ = [
    "at_least", "AugmentConfig", "ANNOTATION_FORMATS", "SourceConfig", "DataConfig", "HourglassConfig", "PBNConfig", "PBNBaselineConfig", "MultiTaskConfig",
    "MODEL_CONFIGS", "TrainConfig", "EvalConfig", "TransferConfig", "Config", "ConfigError",
    "config_from_dict", "apply_overrides", "load_config", "config_to_dict", "config_yaml", "save_config", "find_config",
    "list_configs", "config_diff",
]


class ConfigError(ValueError):
    """A malformed config: unknown key, wrong type or a value outside its choices (names the key)."""


def choice(default: Any, choices: tuple) -> Any:
    """A dataclass field whose value must be one of ``choices`` (checked when the config loads)."""
    return field(default=default, metadata={"choices": choices})


def at_least(default: Any, low: float, strict: bool = False) -> Any:
    """A numeric dataclass field whose value must be ``>= low`` (``> low`` when ``strict``; NaN never
    passes), checked when the config loads."""
    return field(default=default, metadata={"min": low, "strict": strict})


@dataclass
class AugmentConfig:
    """Training augmentation (Newell et al. 2016, Sec. 4: scale, rotation, flip; plus colour jitter;
    Tang & Wu 2019, Sec. 4.1, add shearing)."""

    scale_min: float = at_least(0.75, 0, strict=True)
    scale_max: float = at_least(1.25, 0, strict=True)
    rotation: float = at_least(30.0, 0)  # degrees, uniform in [-rotation, rotation]
    rotation_prob: float = at_least(1.0, 0)  # probability of rotating at all
    shear: float = at_least(0.0, 0)      # horizontal shear factor, uniform in [-shear, shear] (0: off)
    flip: bool = True               # horizontal flip with left/right joint swap, p = 0.5
    brightness: float = at_least(0.2, 0)  # multiplicative jitter in [1 - b, 1 + b]
    contrast: float = at_least(0.2, 0)  # jitter of contrast around the image mean
    enabled: bool = True


#: Annotation file formats (:func:`posekit.data.annotations.annotation_format`): ``auto`` (by suffix;
#: ``.mat``: LSP or LSP-extended by content), ``h5``, ``json``, ``lsp`` and ``lspet``.
ANNOTATION_FORMATS = ("auto", "h5", "json", "lsp", "lspet")


@dataclass
class SourceConfig:
    """One more annotation file + image folder whose people join the training split
    (``data.extra_train``), e.g. LSP and LSP-extended beside MPII as in Tang & Wu (2019, Sec. 4).
    Its joints are read into ``data.keypoints`` by name (LSP into MPII: pelvis and thorax unannotated)."""

    annotations: str = ""
    image_dir: str = ""
    format: str = choice("auto", ANNOTATION_FORMATS)
    samples: str = ""                       # "START:STOP" by position in the file (LSP training half: "0:1000")


@dataclass
class DataConfig:
    """Where the samples come from and how crops and targets are made.

    ``dataset: files``: annotation files (``.h5`` / ``.json`` / LSP ``joints.mat``, by
    ``annotation_format``) plus image folders, the train split in ``annotations`` / ``image_dir``
    (samples ``train_samples``, plus the people of ``extra_train``), the validation split in
    ``val_annotations`` / ``val_image_dir`` (default ``image_dir``; samples ``val_samples``).
    ``dataset: synthetic``: the built-in synthetic people, generated into ``root`` first
    (:mod:`posekit.data.synthetic`). ``keypoints`` names the dataset's keypoint set (``mpii``,
    ``lsp``, ``coco`` or a YAML file, :mod:`posekit.keypoints`); ``joints`` picks the subset a model
    predicts.
    """

    dataset: str = choice("synthetic", ("synthetic", "files"))
    root: str = "data/synthetic"            # synthetic: output folder
    keypoints: Any = "mpii"                 # keypoint set of the annotations (name or YAML file)
    joints: Any = "all"                     # joint subset spec (KeypointSet.resolve)
    annotations: str = ""                   # training annotation file (.h5 or .json)
    image_dir: str = ""
    val_annotations: str = ""
    val_image_dir: str = ""
    annotation_format: str = choice("auto", ANNOTATION_FORMATS)   # of annotations and val_annotations
    train_samples: str = ""                 # "START:STOP" of data.annotations (empty: all)
    val_samples: str = ""                   # "START:STOP" of data.val_annotations (LSP test half: "1000:2000")
    extra_train: list[SourceConfig] = field(default_factory=list)   # more training files (dataset: files)
    input_size: int = at_least(256, 1)      # square crop side, crop pixels
    heatmap_size: int = at_least(64, 1)     # heat-map side, heat-map pixels
    sigma: float = at_least(1.0, 0, strict=True)   # Gaussian std, heat-map pixels
    crop: str = choice("center_scale", ("center_scale", "clip_pad_square"))
    # The MPII crop protocol (posekit.data.transforms): the crop is the square of side
    # scale * 200 * scale_factor px around the raw person centre moved down by center_shift * scale px.
    scale_factor: float = at_least(1.25, 0, strict=True)   # enlargement of the raw scale*200 px person box
    center_shift: float = 15.0              # downward centre shift, in units of the raw scale
    # what the annotation files' center/scale hold: auto (h5: the adjusted MPII box, json: the raw one),
    # mpii_raw or mpii_adjusted; the files are read into raw boxes, the protocol is applied once
    box_convention: str = choice("auto", ("auto", "mpii_raw", "mpii_adjusted"))
    on_error: str = choice("raise", ("raise", "skip"))   # bad images / boxes stop, or are skipped and counted
    #                                                       (errors in the annotation file itself always stop)
    num_workers: int = at_least(0, 0)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # synthetic generation (dataset == "synthetic")
    synthetic_train: int = 2000
    synthetic_val: int = 200
    synthetic_image_size: int = 256
    synthetic_seed: int = 0
    synthetic_options: dict = field(default_factory=dict)  # render difficulty: rotation, occluder_prob, clutter
    # part segmentation labels (multitask models; synthetic: set by the generator)
    parts_dir: str = ""                     # folder of the train split's part label maps (json "parts" names)
    val_parts_dir: str = ""
    pascal_root: str = ""                   # PASCAL-Person-Part folder: extra segmentation-only training samples
    pascal_split: str = "train"


# ---------------------------------------------------------------------------------------- models
# One dataclass per model family; ``create_kwargs`` maps the config onto the keyword arguments of
# the family's registered builder (posekit.models.registry) for a given keypoint set.


@dataclass
class _StackedTrunk:
    """Fields shared by the stacked-hourglass families: stacks, channels, hourglass depth, stem width."""

    num_stacks: int = 2
    num_features: int = 256
    depth: int = 4
    stem_width: int = 64                    # first stem width (64 in the papers; smaller for CPU quick runs)

    def trunk_kwargs(self) -> dict:
        return dict(num_stacks=self.num_stacks, num_features=self.num_features, depth=self.depth,
                    stem=self.stem, stem_width=self.stem_width)


@dataclass
class HourglassConfig(_StackedTrunk):
    """Stacked hourglass (Newell et al. 2016); ``stem: reduced`` is the reduced-stem variant,
    ``stem: bearpaw`` the stem of bearpaw/pytorch-pose's ``hg``."""

    family: ClassVar[str] = "hourglass"
    name: str = "hourglass"
    stem: str = choice("newell", ("newell", "reduced", "bearpaw"))

    def create_kwargs(self, keypoints) -> dict:
        """Builder arguments for ``keypoints`` (a :class:`posekit.keypoints.KeypointSet`)."""
        return dict(num_joints=len(keypoints), **self.trunk_kwargs())


@dataclass
class PBNConfig(_StackedTrunk):
    """Part-based branching network (Tang & Wu 2019). ``groups``: a grouping preset of the keypoint
    set (``body``, ``pbn_paper``, ``pbn_paper_overlap``), ``mi:K`` (K groups by spectral clustering
    of joint-location mutual information, resolved once when training starts), or explicit lists of
    joint names (groups may overlap)."""

    family: ClassVar[str] = "pbn"
    name: str = "pbn"
    num_stacks: int = 8
    stem: str = choice("pbn", ("pbn", "newell", "reduced"))
    groups: Any = "mi:5"
    branch_width: int = 64                  # W: channels of a branch
    branch_depth: int = 1                   # D: residual blocks per branch
    next_stack_features: str = choice("shared", ("shared", "specific"))

    def create_kwargs(self, keypoints) -> dict:
        """Builder arguments; ``groups`` must be resolved already (a preset or name lists).

        Raises:
            ValueError: ``groups`` is still ``mi:K`` (resolve it with the training data first).
        """
        groups = self.groups
        if isinstance(groups, str):
            if groups not in keypoints.groups:
                raise ValueError(f"model.groups {groups!r} must be resolved to joint-name lists first "
                                 f"(presets of {keypoints.name!r}: {sorted(keypoints.groups)})")
            groups = keypoints.groups[groups]
        return dict(joint_names=list(keypoints.names), groups=[list(g) for g in groups],
                    branch_width=self.branch_width, branch_depth=self.branch_depth,
                    next_stack_features=self.next_stack_features, **self.trunk_kwargs())


@dataclass
class PBNBaselineConfig(_StackedTrunk):
    """The baselines of PBN's Fig. 5(c): ``plain`` (1x1 head) or ``deep`` (one more residual block)."""

    family: ClassVar[str] = "pbn_baseline"
    name: str = "pbn_baseline"
    num_stacks: int = 8
    stem: str = choice("pbn", ("pbn", "newell", "reduced"))
    baseline: str = choice("deep", ("plain", "deep"))

    def create_kwargs(self, keypoints) -> dict:
        """Builder arguments for ``keypoints``."""
        return dict(kind=self.baseline, num_joints=len(keypoints), **self.trunk_kwargs())


@dataclass
class MultiTaskConfig:
    """Multi-task pose + part segmentation (Agrawal, Agarwal & Gupta; :mod:`posekit.models.multitask`).

    ``tasks`` picks the branches of the paper's Table 1 rows: ``[pose, seg]`` (joint pipeline),
    ``[pose]`` (PAF pose branch alone), ``[seg]`` (segmentation alone). ``seg_head`` is ``fcn32``
    (FCN-32s, the paper's) or ``stride8``. The loss settings below are eqs. 1-4
    (:class:`posekit.losses.multitask.MultiTaskLoss`): ``loss: paper`` sums over pixels as written,
    ``loss: normalized`` takes masked means. ``backbone_weights`` is a local torchvision VGG16 state
    dict that initialises the trunk (and an FCN-32s head of VGG16's size) when training starts.
    """

    family: ClassVar[str] = "multitask"
    name: str = "multitask"
    tasks: list = field(default_factory=lambda: ["pose", "seg"])
    num_stages: int = 6                     # PAF stages, 1..6
    num_classes: int = 7                    # part classes including background
    trunk_width: int = 64                   # VGG16 first-block width (64 = VGG16; smaller for CPU runs)
    feature_channels: int = 128
    stage_width: int = 128
    refine_kernel: int = 7
    seg_upsample: str = choice("bilinear", ("bilinear", "deconv"))
    seg_head: str = choice("fcn32", ("fcn32", "stride8"))
    fc_channels: int = 4096                 # fc6 / fc7 width of the FCN-32s head (4096 = VGG16)
    backbone_weights: str = ""
    loss: str = choice("paper", ("paper", "normalized"))
    paf_width: float = 1.0                  # PAF band half-width, heat-map pixels
    w_heatmap: float = 1.0
    w_paf: float = 1.0
    w_seg: float = 1.0
    loss_threshold: Optional[float] = 0.02  # W(p) threshold; null: W = 1 everywhere
    pck_dist_factor: float = 5.0            # PCK_dist threshold: factor x shortest limb

    def create_kwargs(self, keypoints) -> dict:
        """Builder arguments for ``keypoints`` (limbs from its skeleton)."""
        bad = sorted(set(self.tasks) - {"pose", "seg"})
        if not self.tasks or bad:
            raise ConfigError(f"model.tasks must be a non-empty subset of ['pose', 'seg'], got {self.tasks}")
        return dict(num_joints=len(keypoints), limbs=[list(limb) for limb in keypoints.limbs()],
                    tasks=list(self.tasks), num_stages=self.num_stages, num_classes=self.num_classes,
                    trunk_width=self.trunk_width, feature_channels=self.feature_channels,
                    stage_width=self.stage_width, refine_kernel=self.refine_kernel, seg_upsample=self.seg_upsample,
                    seg_head=self.seg_head, fc_channels=self.fc_channels)


#: ``model.name`` -> the family's config dataclass.
MODEL_CONFIGS: dict[str, type] = {c.family: c for c in (HourglassConfig, PBNConfig, PBNBaselineConfig,
                                                        MultiTaskConfig)}
ModelConfig = Union[HourglassConfig, PBNConfig, PBNBaselineConfig, MultiTaskConfig]


@dataclass
class TrainConfig:
    """Optimisation settings (defaults: Newell et al. 2016, RMSprop lr 2.5e-4, batch 16)."""

    output_dir: str = ""                    # empty: runs/<config name>
    epochs: int = at_least(100, 0)
    iters_per_epoch: int = at_least(0, 0)   # 0: one pass over the data per epoch
    batch_size: int = at_least(16, 1)
    optimizer: str = choice("rmsprop", ("rmsprop", "adam", "adamw", "radam", "sgd"))
    lr: float = at_least(2.5e-4, 0)         # 0 keeps the weights fixed
    momentum: float = at_least(0.0, 0)
    weight_decay: float = at_least(0.0, 0)
    scheduler: str = choice("none", ("none", "multistep", "plateau", "cosine"))
    milestones: list[int] = field(default_factory=lambda: [150, 170])
    gamma: float = 0.1                      # multistep factor
    warmup_epochs: int = at_least(0, 0)     # cosine: linear warm-up epochs
    min_lr: float = at_least(0.0, 0)        # cosine: the learning rate at the last epoch
    plateau_factor: float = 0.2             # reduce-on-plateau factor (0.2 = divide by 5)
    plateau_patience: int = at_least(5, 0)
    early_stopping: int = at_least(0, 0)    # epochs without val improvement before stopping (0: off)
    seed: int = 0
    device: str = "auto"                    # auto | cpu | cuda | cuda:N
    amp: bool = True                        # mixed precision on CUDA only
    amp_dtype: str = choice("bfloat16", ("bfloat16", "float16"))   # float16 adds a GradScaler
    channels_last: bool = True              # NHWC memory format (faster convolutions on CPU and GPU; same numbers)
    compile: bool = False                   # torch.compile the training forward (needs a C++ compiler on the CPU)
    sync_batchnorm: bool = False            # multi-process runs on GPUs: BatchNorm statistics over the global batch
    freeze_bn: bool = False                 # BatchNorm layers use their running statistics while training
    num_threads: int = at_least(0, 0)       # torch CPU threads (0: torch default)
    checkpoint_every: int = at_least(0, 0)  # also write last.pt every N steps inside an epoch (0: epoch end only)
    val_every: int = at_least(1, 1)         # validate every N epochs (and always after the last)
    init_from: str = ""                     # checkpoint whose matching weights initialise the model (fine-tuning)
    tensorboard: bool = False               # also write TensorBoard logs to OUTPUT_DIR/tensorboard


@dataclass
class EvalConfig:
    """Evaluation and decoding defaults (recorded in the model artifact)."""

    flip_test: bool = True                  # flip testing in evaluation and prediction
    val_flip_test: bool = False             # flip testing in the per-epoch validation (twice the cost)
    scales: Optional[list[float]] = None    # multi-scale testing zooms (null: single scale)
    ground_truth: str = ""                  # optional gt_valid.mat: official head boxes for the val split
    batch_size: int = at_least(32, 1)


@dataclass
class TransferConfig:
    """KPTransfer joint subsets (Vats et al. 2019, Sec. 3): S1 (source) and S2 (target).

    ``split`` names one of the splits of :data:`posekit.training.transfer.KPTRANSFER_SPLITS`;
    ``s1`` / ``s2`` (joint subset specs) override it.
    """

    split: str = "d"
    s1: Any = None                          # None: the split's S1
    s2: Any = None                          # None: the split's S2


@dataclass
class Config:
    """One experiment: data, model, training and evaluation settings."""

    name: str = "experiment"
    data: DataConfig = field(default_factory=DataConfig)
    model: Any = field(default_factory=HourglassConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)

    def __post_init__(self) -> None:
        if not self.train.output_dir:   # each config trains into its own folder by default
            self.train.output_dir = f"runs/{self.name}"


# ---------------------------------------------------------------------------------------- building
def _build(cls: type, values: Any, where: str) -> Any:
    """Instantiate dataclass ``cls`` from a mapping, recursing into nested dataclasses."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(fields)
    if unknown:
        family = f" of model {cls.family!r}" if hasattr(cls, "family") else ""
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; valid keys{family}: {sorted(fields)}")
    kwargs = {}
    for key, value in values.items():
        hint, path = hints[key], f"{where}.{key}"
        if cls is Config and key == "model":
            kwargs[key] = _build_model(value or {}, path)
        elif dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value or {}, path)
        else:
            kwargs[key] = _coerce(hint, value, path)
            choices = fields[key].metadata.get("choices")
            if choices is not None and kwargs[key] not in choices:
                raise ConfigError(f"{path}: {kwargs[key]!r} is not one of {', '.join(map(str, choices))}")
            low, strict = fields[key].metadata.get("min"), fields[key].metadata.get("strict")
            if low is not None and kwargs[key] is not None and not (kwargs[key] > low if strict else kwargs[key] >= low):
                raise ConfigError(f"{path}: {kwargs[key]!r} must be {'>' if strict else '>='} {low:g}")
    return cls(**kwargs)


def _build_model(values: Any, where: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
    name = values.get("name", "hourglass")
    if name not in MODEL_CONFIGS:
        raise ConfigError(f"{where}.name: {name!r} is not one of {', '.join(MODEL_CONFIGS)}")
    return _build(MODEL_CONFIGS[name], values, where)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if hint is Any:
        return value
    if dataclasses.is_dataclass(hint):      # e.g. the items of a list of SourceConfig
        return _build(hint, {} if value is None else value, where)
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(args[0], value, where) if len(args) == 1 else value
    if value is None:
        raise ConfigError(f"{where}: a value is required (got null)")
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected int, got {value!r}")
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    if hint is list or origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r} (write e.g. [{value}])")
        (item,) = get_args(hint) or (Any,)
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
    return value


def config_from_dict(values: dict, where: str = "config") -> Config:
    """Build a :class:`Config` from a nested mapping (as read from YAML).

    Raises:
        ConfigError: an unknown key, a value of the wrong type or outside its choices; the message
            names the key path.
    """
    return _build(Config, values or {}, where)


def apply_overrides(values: dict, overrides: list[str] | None) -> dict:
    """Apply ``key.path=value`` overrides to a nested mapping (values parsed as YAML).

    Raises:
        ConfigError: an override without ``=`` or with malformed YAML.
    """
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form section.key=value")
        path, raw = item.split("=", 1)
        node = values
        keys = path.strip().split(".")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {k!r} is not a section")
        try:
            node[keys[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise ConfigError(f"override {item!r}: malformed value ({e})") from None
    return values


# ---------------------------------------------------------------------------------------- files
def _packaged_root():
    return resources.files("posekit") / "configs"


def list_configs() -> list[str]:
    """Names of the packaged configs (``quickstart``, ``hourglass/mpii_2stack``, ...), sorted."""
    names = []

    def walk(node, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".yaml"):
                names.append(prefix + child.name[: -len(".yaml")])

    walk(_packaged_root(), "")
    return sorted(names)


def find_config(name_or_path: str | Path) -> tuple[str, str]:
    """Locate a config: an existing file path, else a packaged config name (with or without
    ``.yaml``, e.g. ``quickstart`` or ``hourglass/mpii_8stack``).

    Returns:
        ``(text, where)``: the YAML text and a description of where it came from.

    Raises:
        FileNotFoundError: neither a file nor a packaged config (the packaged names are listed).
    """
    path = Path(name_or_path)
    if path.is_file():
        return path.read_text(), str(path)
    name = str(name_or_path).removesuffix(".yaml").removeprefix("configs/")
    node = _packaged_root().joinpath(*f"{name}.yaml".split("/"))
    if node.is_file():
        return node.read_text(), f"packaged config {name}"
    raise FileNotFoundError(f"config not found: {name_or_path} (not a file; packaged configs: "
                            f"{', '.join(list_configs())})")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (a file or a packaged name; the defaults when None) and apply overrides.

    Raises:
        FileNotFoundError: no such file or packaged config.
        ConfigError: malformed YAML, unknown keys, wrongly typed values or values outside their
            choices (the file and key are named).
    """
    values: dict = {}
    where = "defaults"
    if path is not None:
        text, where = find_config(path)
        try:
            values = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{where}: malformed YAML: {e}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: expected a mapping of sections, got {type(values).__name__}")
    values = apply_overrides(values, overrides)
    return config_from_dict(values, where)


def config_to_dict(cfg: Config) -> dict:
    """The config as a plain nested dict (for saving next to a run and into checkpoints)."""
    return dataclasses.asdict(cfg)


def config_yaml(cfg: Config) -> str:
    """The config as YAML text (what :func:`save_config` writes and :func:`load_config` reads)."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the config as YAML."""
    Path(path).write_text(config_yaml(cfg))


def config_diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested config dicts (sorted)."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, None), b.get(key, None)
        path = f"{prefix}{key}"
        if isinstance(va, dict) and isinstance(vb, dict):
            out += config_diff(va, vb, path + ".")
        elif va != vb:
            out.append(path)
    return out

