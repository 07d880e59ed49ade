"""Multi-task pose estimation + part segmentation with hard parameter sharing (Agrawal, Agarwal &
Gupta, "Multi-task learning for human pose estimation and part segmentation with hard parameter
sharing").

One shared trunk feeds two task branches:

* **Trunk**: the first ten conv layers of VGG16 (conv1_1 ... conv4_3, each followed by ReLU, with
  the three 2x2 max-pools between the blocks), laid out exactly like ``torchvision.models.vgg16()
  .features[:23]`` (indices 0 .. 22, the last being the ReLU after conv4_3), so the parameter names
  ``trunk.features.0.weight`` ... ``trunk.features.21.bias`` match torchvision's ``features.N.*``
  and load with :func:`load_backbone_weights`. Three pools: the trunk's output stride is **8**
  (``(B, 3, H, W) -> (B, 512, H/8, W/8)``), not the 32 of a full VGG16 / FCN-32s.
* **Pose branch** (OpenPose-style, Cao et al. 2017): ``num_stages`` stages; every stage has two
  parallel conv towers predicting joint heat maps ``S`` (J maps) and part affinity fields ``L``
  (2 maps per limb of the keypoint set's skeleton, :data:`posekit.keypoints.MPII` by default). Stage 1 sees the (reduced) trunk features
  ``F``; stage t+1 sees ``cat(F, S_t, L_t)``. Every stage's output is returned (intermediate
  supervision).
* **Segmentation branch**, to ``C`` class logits (7 by default: background + the six
  PASCAL-Person-Part parts of :data:`posekit.data.synthetic.PART_CLASSES`), one of:

  - ``seg_head="fcn32"`` (default; the paper's Sec. 2.2 "FCN32"): FCN-32s as Long et al. (2015)
    define it, branching off the shared trunk: pool4, VGG16's conv5 block (conv5_1..conv5_3),
    pool5, fc6 and fc7 as convolutions (7x7 and 1x1, ``fc_channels`` = 4096 in VGG16, ReLU and
    dropout 0.5 each), a 1x1 score layer at stride 32, and one upsampling to the input size;
  - ``seg_head="stride8"``: a 1x1 score conv on the trunk's stride-8 conv4_3 features, then one
    upsampling (a cheaper head of the same one-shot kind).

  The upsampling is a fixed **bilinear** interpolation by default (``seg_upsample="bilinear"``:
  ``F.interpolate(..., size=(H, W), mode="bilinear", align_corners=False)``), or
  ``seg_upsample="deconv"``: a learnable transposed conv (kernel 2s, stride s, padding s/2 for the
  head's stride s) initialised to bilinear interpolation as in FCN.

Output of :meth:`MultiTaskPoseSegNet.forward` for input ``(B, 3, H, W)``, RGB in [0, 1] (H, W
divisible by 8; normalised inside with ``input_mean`` / ``input_std``, ImageNet's by default):
``{"heatmaps": (B, stages, J, H/8, W/8), "pafs": (B, stages, 2 * len(limbs), H/8, W/8),
"segmentation": (B, C, H, W)}`` (raw logits / regressions, no activation). H and W must be
divisible by 8 (``fcn32``: by 32).

Reads top to bottom: the blocks (:class:`VGGTrunk`, :class:`PoseStage`, :class:`FCN32Head`,
:class:`Stride8SegmentationHead`),
the network :class:`MultiTaskPoseSegNet`, the weight loader and the registered builders.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from posekit.keypoints import MPII
from posekit.models.layers import IMAGENET_MEAN, IMAGENET_STD, InputNormalization
from posekit.models.registry import create_model, register_model

log = logging.getLogger(__name__)

#: conv channel plan of VGG16 up to conv4_3 ("M" = 2x2 max-pool), torchvision's ``cfgs["D"]`` prefix.
VGG16_CONV4_3_PLAN: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512)
#: Output stride of the trunk cut after conv4_3 (three max-pools).
TRUNK_STRIDE = 8
#: Output stride of the FCN-32s score layer (pool4 and pool5 after the trunk).
FCN32_STRIDE = 32
SEG_UPSAMPLE = ("bilinear", "deconv")
SEG_HEADS = ("fcn32", "stride8")
#: The two task branches.
TASKS = ("pose", "seg")


class VGGTrunk(nn.Module):
    """conv1_1 ... conv4_3 of VGG16 (3x3 convs with bias, ReLU, 2x2 max-pools), torchvision layout.

    ``self.features`` is an ``nn.Sequential`` of 23 modules with the same indices as
    ``torchvision.models.vgg16().features[:23]`` (conv at 0, 2, 5, 7, 10, 12, 14, 17, 19, 21).

    Args:
        width: channels of the first block (64 in VGG16); blocks use ``width * (1, 2, 4, 8)``.
            Only ``width=64`` is weight-compatible with VGG16; smaller values are for CPU tests.

    Shapes: ``(B, 3, H, W) -> (B, 8 * width, H/8, W/8)`` (floor division by each pool).
    """

    def __init__(self, width: int = 64):
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        layers: list[nn.Module] = []
        in_ch = 3
        for item in VGG16_CONV4_3_PLAN:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                out_ch = int(item) * width // 64
                layers += [nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.out_channels = in_ch
        for m in self.features:
            if isinstance(m, nn.Conv2d):  # torchvision's VGG init
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def _conv_relu(in_ch: int, out_ch: int, k: int) -> list[nn.Module]:
    return [nn.Conv2d(in_ch, out_ch, k, padding=k // 2), nn.ReLU(inplace=True)]


def _tower(in_ch: int, width: int, out_ch: int, num_convs: int, k: int) -> nn.Sequential:
    """``num_convs`` k x k conv+ReLU at ``width`` channels, then 1x1 conv+ReLU and a 1x1 output conv."""
    layers: list[nn.Module] = []
    ch = in_ch
    for _ in range(num_convs):
        layers += _conv_relu(ch, width, k)
        ch = width
    layers += _conv_relu(ch, width, 1)
    layers.append(nn.Conv2d(width, out_ch, 1))
    return nn.Sequential(*layers)


class PoseStage(nn.Module):
    """One OpenPose stage: two parallel towers, joint heat maps ``S`` and PAFs ``L``.

    Stage 1 (Cao et al. 2017, Fig. 3): three 3x3 convs, then 1x1, 1x1 per branch. Later stages:
    five 7x7 convs, then 1x1, 1x1. ``num_convs``/``kernel_size`` make these configurable.

    Shapes: ``(B, in_ch, h, w) -> (S: (B, J, h, w), L: (B, 2 * num_limbs, h, w))``.
    """

    def __init__(self, in_ch: int, width: int, num_joints: int, num_limbs: int, num_convs: int, kernel_size: int):
        super().__init__()
        self.heatmap = _tower(in_ch, width, num_joints, num_convs, kernel_size)
        self.paf = _tower(in_ch, width, 2 * num_limbs, num_convs, kernel_size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heatmap(x), self.paf(x)


def _bilinear_kernel(channels: int, kernel_size: int) -> torch.Tensor:
    """``(C, C, k, k)`` weights of a per-channel bilinear-interpolation transposed conv (FCN's init)."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = torch.arange(kernel_size, dtype=torch.float32)
    filt1d = 1 - (og - center).abs() / factor
    filt = filt1d[:, None] * filt1d[None, :]
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    weight[range(channels), range(channels)] = filt
    return weight


class _Upsample(nn.Module):
    """Score map at ``stride`` -> input size: fixed bilinear interpolation, or a learnable transposed
    conv (kernel ``2 * stride``, padding ``stride / 2``) initialised to bilinear interpolation (FCN)."""

    def __init__(self, num_classes: int, stride: int, mode: str):
        super().__init__()
        if mode not in SEG_UPSAMPLE:
            raise ValueError(f"unknown upsample {mode!r}; expected one of {SEG_UPSAMPLE}")
        self.stride = stride
        self.deconv = None
        if mode == "deconv":
            self.deconv = nn.ConvTranspose2d(num_classes, num_classes, 2 * stride, stride=stride, padding=stride // 2,
                                             bias=False)
            with torch.no_grad():
                self.deconv.weight.copy_(_bilinear_kernel(num_classes, 2 * stride))

    def forward(self, scores: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
        if self.deconv is None:
            return F.interpolate(scores, size=out_size, mode="bilinear", align_corners=False)
        out = self.deconv(scores)
        if tuple(out.shape[-2:]) != tuple(out_size):
            raise ValueError(f"deconv upsampling gives {tuple(out.shape[-2:])}, input is {tuple(out_size)}; "
                             f"use an input size divisible by {self.stride} or upsample='bilinear'")
        return out


def _score(in_ch: int, num_classes: int) -> nn.Conv2d:
    conv = nn.Conv2d(in_ch, num_classes, 1)
    nn.init.zeros_(conv.weight)  # FCN zero-initialises the score layer
    nn.init.zeros_(conv.bias)
    return conv


class FCN32Head(nn.Module):
    """FCN-32s (Long, Shelhamer & Darrell 2015, Sec. 4.1-4.2) on the shared conv4_3 features.

    pool4, conv5_1..conv5_3 (3x3, ``in_ch`` channels, ReLU), pool5, ``fc6`` (7x7 conv, padding 3,
    ``fc_channels``) and ``fc7`` (1x1 conv) each with ReLU and dropout 0.5 (VGG16's fully connected
    layers as convolutions), ``score`` (1x1 to ``num_classes``, zero-initialised), one upsampling to
    the input size. With ``in_ch = 512`` and ``fc_channels = 4096`` the conv5 / fc6 / fc7 weights are
    those of torchvision's VGG16 (:func:`load_backbone_weights` loads them, reshaping the
    classifier's linear layers).

    Shapes: ``(B, in_ch, H/8, W/8), out_size=(H, W) -> (B, num_classes, H, W)``; H, W divisible by 32.

    Raises:
        ValueError: unknown ``upsample`` or non-positive sizes.
    """

    def __init__(self, in_ch: int, num_classes: int = 7, fc_channels: int = 4096, upsample: str = "bilinear"):
        super().__init__()
        if min(in_ch, num_classes, fc_channels) < 1:
            raise ValueError("in_ch, num_classes and fc_channels must be >= 1")
        self.pool4 = nn.MaxPool2d(2, 2)
        self.conv5 = nn.Sequential(*_conv_relu(in_ch, in_ch, 3), *_conv_relu(in_ch, in_ch, 3),
                                   *_conv_relu(in_ch, in_ch, 3))
        self.pool5 = nn.MaxPool2d(2, 2)
        self.fc6 = nn.Sequential(nn.Conv2d(in_ch, fc_channels, 7, padding=3), nn.ReLU(inplace=True), nn.Dropout2d(0.5))
        self.fc7 = nn.Sequential(nn.Conv2d(fc_channels, fc_channels, 1), nn.ReLU(inplace=True), nn.Dropout2d(0.5))
        self.score = _score(fc_channels, num_classes)
        self.upsample = _Upsample(num_classes, FCN32_STRIDE, upsample)

    def forward(self, feats: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
        x = self.pool5(self.conv5(self.pool4(feats)))
        return self.upsample(self.score(self.fc7(self.fc6(x))), out_size)


class Stride8SegmentationHead(nn.Module):
    """A 1x1 score conv to ``num_classes`` logits on the stride-8 trunk features, one upsampling to
    the input size (the one-shot scheme of FCN-32s without its conv5 / fc layers).

    Shapes: ``(B, in_ch, H/8, W/8), out_size=(H, W) -> (B, num_classes, H, W)``.

    Raises:
        ValueError: unknown ``upsample``; with ``"deconv"``, ``8 * (h, w) != out_size`` at forward.
    """

    def __init__(self, in_ch: int, num_classes: int = 7, upsample: str = "bilinear"):
        super().__init__()
        self.score = _score(in_ch, num_classes)
        self.upsample = _Upsample(num_classes, TRUNK_STRIDE, upsample)

    def forward(self, feats: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
        return self.upsample(self.score(feats), out_size)


class MultiTaskPoseSegNet(nn.Module):
    """Shared VGG16 trunk + multi-stage PAF pose branch + FCN segmentation branch.

    Args:
        num_joints: heat maps per stage (16 MPII joints).
        limbs: joint-id pairs with one PAF (2 channels, x then y) each; default the MPII skeleton (15).
        num_classes: segmentation classes including background (7).
        num_stages: pose stages, 1..6 (OpenPose used 6).
        trunk_width: VGG first-block width (64 = VGG16, required for pretrained weights).
        feature_channels: channels of the pose branch's input features ``F`` after two extra 3x3
            conv+ReLU on the trunk (OpenPose's conv4_3_CPM / conv4_4_CPM: 256 -> 128).
        stage_width: channels inside the stage towers (128 in OpenPose).
        stage1_convs / stage1_kernel: 3 x 3x3 in stage 1; refine_convs / refine_kernel: 5 x 7x7 later.
        seg_head: ``"fcn32"`` (:class:`FCN32Head`, the paper's) or ``"stride8"``
            (:class:`Stride8SegmentationHead`).
        fc_channels: fc6 / fc7 width of the FCN-32s head (4096 in VGG16; smaller for CPU runs).
        seg_upsample: ``"bilinear"`` or ``"deconv"`` (see the heads).
        tasks: the branches to build, ``("pose", "seg")`` (the joint pipeline) or one of them
            alone (the single-task rows of the paper's Table 1: PAF pose branch / FCN32 alone).
        input_mean, input_std: RGB normalisation applied to the [0, 1] input.

    The segmentation head reads the trunk output (conv4_3) directly; the pose branch reads ``F``.

    Raises:
        ValueError: ``num_stages`` outside 1..6, non-positive sizes, unknown ``seg_head`` or
            ``seg_upsample``, ``tasks`` empty or holding anything but ``"pose"`` / ``"seg"``.
    """

    def __init__(self, num_joints: int = 16, limbs: Sequence[Sequence[int]] = MPII.limbs(),
                 num_classes: int = 7, num_stages: int = 6, trunk_width: int = 64, feature_channels: int = 128,
                 stage_width: int = 128, stage1_convs: int = 3, stage1_kernel: int = 3, refine_convs: int = 5,
                 refine_kernel: int = 7, seg_upsample: str = "bilinear", tasks: Sequence[str] = TASKS,
                 seg_head: str = "fcn32", fc_channels: int = 4096, input_mean: Sequence[float] = IMAGENET_MEAN,
                 input_std: Sequence[float] = IMAGENET_STD):
        super().__init__()
        if seg_head not in SEG_HEADS:
            raise ValueError(f"unknown seg_head {seg_head!r}; expected one of {SEG_HEADS}")
        self.normalize = InputNormalization(input_mean, input_std)
        tasks = tuple(dict.fromkeys(tasks))
        if not tasks or not set(tasks) <= set(TASKS):
            raise ValueError(f"tasks must be a non-empty subset of {TASKS}, got {list(tasks)}")
        self.tasks = tasks
        if not 1 <= num_stages <= 6:
            raise ValueError(f"num_stages must be in 1..6, got {num_stages}")
        if min(num_joints, len(limbs), num_classes, feature_channels, stage_width) < 1:
            raise ValueError("num_joints, limbs, num_classes, feature_channels and stage_width must be >= 1")
        self.num_joints, self.limbs, self.num_stages = num_joints, tuple(tuple(limb) for limb in limbs), num_stages
        self.num_classes = num_classes
        self.trunk = VGGTrunk(trunk_width)
        c = self.trunk.out_channels
        self.pose_features = self.stages = self.segmentation = None
        if "pose" in tasks:
            self.pose_features = nn.Sequential(*_conv_relu(c, 2 * feature_channels, 3),
                                               *_conv_relu(2 * feature_channels, feature_channels, 3))
            n_out = num_joints + 2 * len(self.limbs)
            self.stages = nn.ModuleList(
                PoseStage(feature_channels if t == 0 else feature_channels + n_out, stage_width, num_joints,
                          len(self.limbs), stage1_convs if t == 0 else refine_convs,
                          stage1_kernel if t == 0 else refine_kernel)
                for t in range(num_stages))
        self.input_multiple = TRUNK_STRIDE
        if "seg" in tasks:
            if seg_head == "fcn32":
                self.segmentation = FCN32Head(c, num_classes, fc_channels, seg_upsample)
                self.input_multiple = FCN32_STRIDE
            else:
                self.segmentation = Stride8SegmentationHead(c, num_classes, seg_upsample)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(B, 3, H, W)`` -> dict of ``heatmaps (B, T, J, H/8, W/8)``, ``pafs (B, T, 2L, H/8, W/8)``,
        ``segmentation (B, C, H, W)`` logits (only the keys of the built ``tasks``). Raises
        ValueError for a non-4-D input or H, W not divisible by 8 (32 with the FCN-32s head)."""
        m = self.input_multiple
        if x.dim() != 4 or x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"input must be (B, 3, H, W) with H, W divisible by {m}, got {tuple(x.shape)}")
        trunk = self.trunk(self.normalize(x))
        out = {}
        if self.stages is not None:
            feats = self.pose_features(trunk)
            heatmaps, pafs = [], []
            inp = feats
            for t, stage in enumerate(self.stages):
                s, l_ = stage(inp)
                heatmaps.append(s)
                pafs.append(l_)
                if t < self.num_stages - 1:
                    inp = torch.cat([feats, s, l_], dim=1)
            out["heatmaps"], out["pafs"] = torch.stack(heatmaps, 1), torch.stack(pafs, 1)
        if self.segmentation is not None:
            out["segmentation"] = self.segmentation(trunk, (x.shape[-2], x.shape[-1]))
        return out


def load_backbone_weights(model: MultiTaskPoseSegNet, path: str | Path | None) -> list[str]:
    """Load VGG16 weights from a local file (downloads nothing): conv1_1 ... conv4_3 into
    ``model.trunk``, and, when the network has an FCN-32s head of VGG16's size (512 / 4096 channels)
    and the file holds them, conv5_1 ... conv5_3 and the classifier's fc6 / fc7 (reshaped to 7x7 and
    1x1 convolutions, as FCN does) into that head.

    Accepted files (read with ``torch.load(path, weights_only=True)``): a full torchvision VGG16
    state dict (``features.N.weight/bias``, ``classifier.*``; other keys are ignored), the same with
    a ``trunk.`` or ``module.`` prefix, or a dict holding one of these under ``"state_dict"`` / ``"model"``.

    Args:
        model: the network; its trunk must have ``trunk_width=64`` for the shapes to match.
        path: the weight file, or None: keep the random (Kaiming) initialisation and log that.

    Returns:
        The file's keys loaded (``features.0.weight`` ...): the trunk's 20, plus the head's 10 when
        loaded; empty for ``path=None``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a trunk key is missing from the file or has the wrong shape.
    """
    if path is None:
        log.info("no backbone weights given: VGG16 trunk randomly initialised (Kaiming normal)")
        return []
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"backbone weight file not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    stripped: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        for prefix in ("module.", "trunk."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        stripped[k] = v
    own = model.trunk.state_dict()
    new_state, problems = {}, []
    for k, v in own.items():
        if k not in stripped:
            problems.append(f"{k} missing")
        elif tuple(stripped[k].shape) != tuple(v.shape):
            problems.append(f"{k} has shape {tuple(stripped[k].shape)}, expected {tuple(v.shape)}")
        else:
            new_state[k] = stripped[k]
    if problems:
        raise ValueError(f"{path}: not a VGG16 state dict for this trunk: " + "; ".join(problems[:5]))
    model.trunk.load_state_dict(new_state)
    loaded = sorted(new_state)
    if isinstance(model.segmentation, FCN32Head):
        loaded += _load_fcn32_head(model.segmentation, stripped, path)
    ignored = len(set(stripped) - set(loaded))
    log.info("loaded %d VGG16 tensors from %s (ignored %d other keys)", len(loaded), path, ignored)
    return loaded


#: torchvision VGG16 key -> FCN32Head key (the conv5 block and the classifier's fc6 / fc7).
_FCN32_FROM_VGG16 = {"features.24": "conv5.0", "features.26": "conv5.2", "features.28": "conv5.4",
                     "classifier.0": "fc6.0", "classifier.3": "fc7.0"}


def _load_fcn32_head(head: FCN32Head, state: dict, path: Path) -> list[str]:
    """conv5 and fc6 / fc7 of a VGG16 state dict into ``head`` when every tensor fits; else none."""
    own = head.state_dict()
    new = {}
    for src, dst in _FCN32_FROM_VGG16.items():
        for leaf in ("weight", "bias"):
            if f"{src}.{leaf}" not in state:
                log.info("%s has no %s.%s: the FCN-32s head keeps its random initialisation", path, src, leaf)
                return []
            tensor = state[f"{src}.{leaf}"]
            want = own[f"{dst}.{leaf}"].shape
            if tensor.numel() != want.numel():
                log.info("the FCN-32s head (%s %s) does not fit VGG16's %s %s: it keeps its random initialisation",
                         dst, tuple(want), src, tuple(tensor.shape))
                return []
            new[f"{dst}.{leaf}"] = tensor.reshape(want)
    head.load_state_dict({**own, **new})
    return sorted(f"{src}.{leaf}" for src in _FCN32_FROM_VGG16 for leaf in ("weight", "bias"))


@register_model
def multitask(num_joints: int = 16, limbs: Sequence[Sequence[int]] = MPII.limbs(), tasks: Sequence[str] = TASKS,
              num_stages: int = 6, num_classes: int = 7, trunk_width: int = 64, feature_channels: int = 128,
              stage_width: int = 128, refine_kernel: int = 7, seg_upsample: str = "bilinear",
              seg_head: str = "fcn32", fc_channels: int = 4096, input_mean: Sequence[float] = IMAGENET_MEAN,
              input_std: Sequence[float] = IMAGENET_STD) -> MultiTaskPoseSegNet:
    """The multi-task family: a :class:`MultiTaskPoseSegNet` with random initialisation (load a
    local VGG16 trunk with :func:`load_backbone_weights`). Arguments: see the class."""
    return MultiTaskPoseSegNet(num_joints=num_joints, limbs=limbs, num_classes=num_classes, num_stages=num_stages,
                               trunk_width=trunk_width, feature_channels=feature_channels, stage_width=stage_width,
                               refine_kernel=refine_kernel, seg_upsample=seg_upsample, tasks=tasks,
                               seg_head=seg_head, fc_channels=fc_channels, input_mean=input_mean,
                               input_std=input_std)


@register_model
def multitask_vgg16(num_joints: int = 16, **kwargs) -> MultiTaskPoseSegNet:
    """Paper size: the VGG16 trunk (width 64, loads torchvision's VGG16 weights), 128-channel PAF
    stages, both branches."""
    return create_model("multitask", num_joints=num_joints, trunk_width=64, **kwargs)
