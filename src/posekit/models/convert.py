"""Importers for the checkpoints of the reference stacked-hourglass implementations.

:func:`convert_checkpoint` reads a checkpoint written by another repository's training code and
writes a posekit checkpoint (:class:`posekit.checkpoint.ModelArtifact` + weights) that
:func:`posekit.load_model` opens: the same network as a posekit ``hourglass`` (whose heat maps equal
the reference network's on the same image, ``tests/test_convert.py``), with that repository's input
normalisation, crop protocol and heat-map decoding recorded in the artifact.

Supported layouts (read from each repository's training code; the checkpoint files themselves are
``torch.save`` pickles and are read with ``torch.load(..., weights_only=True)``):

``princeton`` -- princeton-vl/pytorch_stacked_hourglass (``train.py`` ``save``): a dict
    ``{"state_dict", "optimizer", "epoch"}`` whose state dict belongs to the trainer wrapper around
    ``DataParallel(PoseNet)``, so every key starts with ``model.module.`` (``pre.*``, ``hgs.*``,
    ``features.*``, ``outs.*``, ``merge_features.*``, ``merge_preds.*``). ``PoseNet`` is posekit's
    ``hourglass`` with the ``newell`` stem; its residual blocks also hold a ``skip_layer`` conv when
    input and output widths are equal, which its forward never uses: those tensors are dropped.
    Input: RGB / 255, no mean or standard deviation (the network permutes NHWC itself; posekit's
    takes NCHW). The published models (2 and 8 stacks, 256 features, 16 MPII joints) decode with
    the ``princeton`` convention and are evaluated with flip testing (its ``test.py``).
``bearpaw`` -- bearpaw/pytorch-pose (``example/main.py``): a dict ``{"epoch", "arch",
    "state_dict", "best_acc", "optimizer"}`` with ``DataParallel`` keys (``module.`` prefix), or the
    bare state dict of its ``example/convert_checkpoint.py`` (``clean_model.pth.tar``, no prefix).
    ``hg`` with ``num_blocks = 1`` (the published ``hg_s2_b1`` and ``hg_s8_b1``) is posekit's
    ``hourglass`` with the ``bearpaw`` stem; more blocks per position are not supported. Input: RGB in
    [0, 1] minus the MPII mean of its ``data/mpii/mean.pth.tar`` (:data:`BEARPAW_MPII_MEAN`), no
    standard deviation. Decoded with the ``bearpaw`` convention; its ``--flip`` is off by default,
    so flip testing is off in the artifact. BatchNorm ``num_batches_tracked`` counters, absent
    from checkpoints of PyTorch before 0.4.1, are set to 0 (they do not affect evaluation).

Both repositories crop the MPII protocol box (raw scale x 1.25, centre y + 15 x scale) of 256 px
and predict 64 x 64 heat maps (Gaussian sigma 1).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import torch

from posekit.checkpoint import CheckpointError, ModelArtifact, make_artifact, save_model
from posekit.keypoints import MPII
from posekit.models.registry import create_model

__all__ = ["SOURCES", "BEARPAW_MPII_MEAN", "read_foreign_checkpoint", "convert_state", "convert_checkpoint"]

#: The repositories :func:`convert_checkpoint` reads, by ``--from`` name.
SOURCES: dict[str, str] = {"princeton": "princeton-vl/pytorch_stacked_hourglass", "bearpaw": "bearpaw/pytorch-pose"}
#: RGB mean (images in [0, 1]) that bearpaw/pytorch-pose subtracts on MPII: ``data/mpii/mean.pth.tar``
#: of its repository (float32 values), the mean of its training images.
BEARPAW_MPII_MEAN: tuple[float, float, float] = (0.440442830324173, 0.4440267086029053, 0.4326828420162201)
_PREFIXES = {"princeton": ("model.module.", "module.", "model."), "bearpaw": ("module.",)}


def read_foreign_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The state dict of another repository's checkpoint and its bookkeeping entries.

    Args:
        path: a ``torch.save`` file holding ``{"state_dict": ..., ...}`` or a bare state dict.

    Returns:
        ``(state_dict, info)``: tensors by key (prefixes kept), and the file's other plain entries
        (``epoch``, ``arch``, ``best_acc``, ...).

    Raises:
        FileNotFoundError: no such file.
        posekit.checkpoint.CheckpointError: unreadable with ``weights_only=True``, or no state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, not a torch file, or holding objects weights-only loading refuses
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"{path}: not readable as a weights-only torch checkpoint: {reason}") from None
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f"{path}: no state dict of tensors (expected a dict with 'state_dict', or a state dict)")
    info = {k: (v.item() if torch.is_tensor(v) and v.numel() == 1 else v) for k, v in ckpt.items()
            if k in ("epoch", "arch", "best_acc")} if "state_dict" in ckpt else {}
    return dict(state), info


def _strip(state: dict[str, torch.Tensor], prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The keys without the first of ``prefixes`` that every key carries (none when none fits)."""
    for prefix in prefixes:
        if all(k.startswith(prefix) for k in state):
            return {k[len(prefix):]: v for k, v in state.items()}
    return dict(state)


def _count(state: dict, pattern: str) -> int:
    """1 + the largest integer captured by ``pattern`` over the keys (0 when nothing matches)."""
    found = [int(m.group(1)) for k in state for m in [re.match(pattern, k)] if m]
    return max(found) + 1 if found else 0


def _shape(state: dict, key: str, where: str) -> tuple[int, ...]:
    if key not in state:
        raise CheckpointError(f"{where}: missing tensor {key!r}; is this the right --from repository?")
    return tuple(state[key].shape)


# ---------------------------------------------------------------------------------------- princeton
_PRINCETON_RULES: tuple[tuple[str, str], ...] = (
    (r"^pre\.0\.conv\.", "stem.0.0."), (r"^pre\.0\.bn\.", "stem.0.1."), (r"^pre\.(\d+)\.", r"stem.\1."),
    (r"^hgs\.(\d+)\.0\.", r"stacks.hourglasses.\1."), (r"\.up1\.", ".skip."), (r"\.low2(?=\.)", ".inner"),
    (r"^features\.(\d+)\.1\.conv\.", r"stacks.features.\1.1.0."),
    (r"^features\.(\d+)\.1\.bn\.", r"stacks.features.\1.1.1."), (r"^features\.(\d+)\.0\.", r"stacks.features.\1.0."),
    (r"^outs\.(\d+)\.conv\.", r"stacks.heads.\1.conv."),
    (r"^merge_features\.(\d+)\.conv\.conv\.", r"stacks.remap_features.\1."),
    (r"^merge_preds\.(\d+)\.conv\.conv\.", r"stacks.remap_heatmaps.\1."),
    (r"\.(conv[123])\.conv\.", r".\1."), (r"\.skip_layer\.conv\.", ".skip."),
)


def _princeton_arch(state: dict, where: str) -> dict:
    num_features = _shape(state, "pre.4.conv3.conv.weight", where)[0]
    num_joints = _shape(state, "outs.0.conv.weight", where)[0]
    depth = max((k.split(".").count("low2") for k in state if k.startswith("hgs.0.")), default=0)
    return dict(num_joints=num_joints, num_stacks=_count(state, r"^outs\.(\d+)\."), num_features=num_features,
                depth=depth, stem="newell", stem_width=_shape(state, "pre.0.conv.weight", where)[0],
                input_mean=[0.0, 0.0, 0.0], input_std=[1.0, 1.0, 1.0])


def _regex_renamer(rules: tuple[tuple[str, str], ...]) -> Callable[[str], str]:
    compiled = [(re.compile(p), r) for p, r in rules]

    def rename(key: str) -> str:
        for pattern, replacement in compiled:
            key = pattern.sub(replacement, key)
        return key

    return rename


# ---------------------------------------------------------------------------------------- bearpaw
_BEARPAW_RULES: tuple[tuple[str, str], ...] = (
    (r"^conv1\.", "stem.0.0."), (r"^bn1\.", "stem.0.1."), (r"^layer1\.0\.", "stem.1."), (r"^layer2\.0\.", "stem.3."),
    (r"^layer3\.0\.", "stem.4."), (r"\.downsample\.0\.", ".skip."), (r"^res\.(\d+)\.0\.", r"stacks.features.\1.0."),
    (r"^fc\.(\d+)\.0\.", r"stacks.features.\1.1.0."), (r"^fc\.(\d+)\.1\.", r"stacks.features.\1.1.1."),
    (r"^score\.(\d+)\.", r"stacks.heads.\1.conv."), (r"^fc_\.(\d+)\.", r"stacks.remap_features.\1."),
    (r"^score_\.(\d+)\.", r"stacks.remap_heatmaps.\1."),
)
#: bearpaw's residuals per hourglass level: 0 upper branch, 1 before the lower branch, 2 after it,
#: 3 (innermost level only) the bottom.
_BEARPAW_LEVEL = {"0": "skip", "1": "low1", "2": "low3", "3": "inner"}


def _bearpaw_arch(state: dict, where: str) -> dict:
    joints, features = _shape(state, "score.0.weight", where)[:2]
    extra_blocks = sorted(k for k in state if re.match(r"^(hg\.\d+\.hg\.\d+\.\d+|res\.\d+)\.[1-9]\d*\.", k))
    if extra_blocks:
        raise CheckpointError(f"{where}: a bearpaw 'hg' with more than one residual block per position "
                              f"(--blocks > 1, e.g. {extra_blocks[0]}); posekit converts hg_s*_b1 models only")
    return dict(num_joints=joints, num_stacks=_count(state, r"^score\.(\d+)\."), num_features=features,
                depth=_count(state, r"^hg\.0\.hg\.(\d+)\."), stem="bearpaw",
                stem_width=_shape(state, "conv1.weight", where)[0], input_mean=list(BEARPAW_MPII_MEAN),
                input_std=[1.0, 1.0, 1.0])


def _bearpaw_renamer(depth: int) -> Callable[[str], str]:
    plain = _regex_renamer(_BEARPAW_RULES)
    level = re.compile(r"^hg\.(\d+)\.hg\.(\d+)\.(\d)\.0\.")

    def rename(key: str) -> str:
        m = level.match(key)
        if m:
            stack, d, part = m.groups()
            path = "inner." * (depth - 1 - int(d)) + _BEARPAW_LEVEL.get(part, f"unknown_{part}") + "."
            return f"stacks.hourglasses.{stack}." + path + key[m.end():]
        return plain(key)

    return rename


# ---------------------------------------------------------------------------------------- both
def _few(items: list[str]) -> str:
    return ", ".join(items[:6]) + (f" and {len(items) - 6} more" if len(items) > 6 else "")


def convert_state(state: dict[str, torch.Tensor], source: str, where: str = "checkpoint"
                  ) -> tuple[torch.nn.Module, dict]:
    """A posekit network holding the weights of another repository's state dict.

    Args:
        state: the state dict as saved (prefixes are stripped here).
        source: one of :data:`SOURCES`.
        where: the file name for messages.

    Returns:
        ``(model, report)``: the posekit ``hourglass`` (eval mode) and ``{"dropped": [...],
        "filled": [...]}``: source tensors the network does not use (princeton's unused skip convs)
        and posekit buffers the source lacked (BatchNorm counters).

    Raises:
        ValueError: unknown ``source``.
        posekit.checkpoint.CheckpointError: a layout that is not the repository's, unsupported
            variants, or tensors that do not fit; the message lists the unknown, missing and
            wrongly shaped tensors under their names in the file.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown checkpoint source {source!r}; expected one of {', '.join(SOURCES)}")
    state = _strip(state, _PREFIXES[source])
    if source == "princeton":
        kwargs = _princeton_arch(state, where)
        rename = _regex_renamer(_PRINCETON_RULES)
    else:
        kwargs = _bearpaw_arch(state, where)
        rename = _bearpaw_renamer(kwargs["depth"])
    if kwargs["num_joints"] != len(MPII):
        raise CheckpointError(f"{where}: {kwargs['num_joints']} heat maps; the converter reads MPII models (16 joints)")
    try:
        model = create_model("hourglass", **kwargs)
    except ValueError as e:
        raise CheckpointError(f"{where}: cannot build the network it describes ({e})") from None
    own = model.state_dict()
    new, unknown, dropped, shapes = {}, [], [], []
    for key, value in state.items():
        target = rename(key)
        if target not in own:
            if source == "princeton" and key.endswith((".skip_layer.conv.weight", ".skip_layer.conv.bias")):
                dropped.append(key)          # PoseNet builds it for every residual, uses it only when widths differ
            else:
                unknown.append(key)
        elif tuple(value.shape) != tuple(own[target].shape):
            shapes.append(f"{key} {tuple(value.shape)} (posekit {target}: {tuple(own[target].shape)})")
        else:
            new[target] = value
    filled = [k for k in own if k not in new and k.endswith("num_batches_tracked")]
    for k in filled:
        new[k] = own[k]
    missing = [k for k in own if k not in new]
    if unknown or missing or shapes:
        parts = [f"{len(unknown)} unknown tensor(s): {_few(unknown)}" if unknown else "",
                 f"{len(missing)} missing (posekit names): {_few(missing)}" if missing else "",
                 f"{len(shapes)} of another shape: {_few(shapes)}" if shapes else ""]
        raise CheckpointError(f"{where}: not the {SOURCES[source]} layout this converter reads "
                              f"({'; '.join(p for p in parts if p)})")
    model.load_state_dict(new)
    return model.eval(), {"dropped": dropped, "filled": filled}


def convert_checkpoint(src: str | Path, source: str, out: str | Path) -> tuple[ModelArtifact, dict]:
    """Convert another repository's checkpoint ``src`` into the posekit checkpoint ``out``.

    The artifact records: architecture ``hourglass`` (stem ``newell`` or ``bearpaw``), the MPII
    keypoints, the source's input normalisation, a 256 px crop of the MPII protocol box
    (``scale_factor`` 1.25, ``center_shift`` 15), 64 x 64 heat maps of sigma 1 decoded in the
    source's convention (:data:`posekit.data.targets.DECODINGS`), its test-time flip setting, and
    where the weights came from (``extra["converted_from"]``).

    Returns:
        ``(artifact, report)`` (report as in :func:`convert_state`).

    Raises:
        FileNotFoundError: ``src`` does not exist.
        ValueError: unknown ``source``.
        posekit.checkpoint.CheckpointError: see :func:`read_foreign_checkpoint` and :func:`convert_state`.
    """
    state, info = read_foreign_checkpoint(src)
    model, report = convert_state(state, source, where=str(src))
    converted_from = {"repository": SOURCES[source], "file": Path(src).name, **info,
                      "dropped_tensors": len(report["dropped"]), "filled_tensors": len(report["filled"])}
    artifact = make_artifact(model.posekit_spec, MPII, input_size=256, heatmap_size=64, sigma=1.0,
                             crop_mode="center_scale", scale_factor=1.25, center_shift=15.0,
                             flip_test=source == "princeton", decoding=source,
                             trained_on={"dataset": "MPII (train split of Tompson et al. / Newell et al.)",
                                         "keypoint_set": "mpii", "epochs": info.get("epoch")},
                             extra={"converted_from": converted_from})
    save_model(model, artifact, out)
    return artifact, report
