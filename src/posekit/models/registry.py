"""The model registry: one place where every network is built and loaded.

The family modules register their builders with :func:`register_model` when the package
``posekit.models`` is imported, which Python always does before this module is used.

In the style of timm's ``register_model``: a builder is a plain function decorated with
:func:`register_model`, registered under its function name; :func:`create_model` calls it with
keyword arguments, :func:`list_models` lists the names, and :func:`load_model` rebuilds a network
from a checkpoint's model artifact (:class:`posekit.checkpoint.ModelArtifact`) and loads its weights.

Every network made by :func:`create_model` carries ``model.posekit_spec = {"arch", "kwargs"}``:
the *family* builder and its fully resolved arguments. A named variant (``hourglass_8stack``) calls
its family builder through :func:`create_model`, so the spec of a variant is that of the family
with every argument explicit; the variant's name is kept in ``"variant"``.
"""

from __future__ import annotations

import fnmatch
import inspect
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from posekit.checkpoint import CheckpointError, ModelArtifact, load_checkpoint

__all__ = ["register_model", "create_model", "list_models", "model_summary", "is_model", "load_model", "read_artifact",
           "load_matching_weights", "load_weights", "ModelLoadError"]

_MODELS: dict[str, Callable[..., nn.Module]] = {}


class ModelLoadError(CheckpointError):
    """Weights that do not fit the network a checkpoint describes (names the file and the keys)."""


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: register a builder under its function name (returns it unchanged).

    Raises:
        ValueError: the name is registered already.
    """
    name = fn.__name__
    if name in _MODELS and _MODELS[name] is not fn:
        raise ValueError(f"model {name!r} is registered twice")
    _MODELS[name] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern`` (``"hourglass*"``), sorted."""
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def model_summary(name: str) -> str:
    """The first paragraph of a registered builder's docstring, on one line.

    Raises:
        KeyError: unknown name.
    """
    doc = (_MODELS[name].__doc__ or "").strip()
    return " ".join(line.strip() for line in doc.split("\n\n")[0].splitlines())


def is_model(name: str) -> bool:
    """Whether ``name`` is a registered model."""
    return name in _MODELS


def _plain(value: Any) -> Any:
    """Tuples -> lists, recursively (artifacts hold plain data)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _resolved_kwargs(fn: Callable, kwargs: dict, name: str) -> dict:
    try:
        bound = inspect.signature(fn).bind(**kwargs)
    except TypeError as e:
        params = [p for p in inspect.signature(fn).parameters if p != "kwargs"]
        raise TypeError(f"create_model({name!r}): {e}; arguments: {', '.join(params)}") from None
    bound.apply_defaults()
    out = {}
    for key, value in bound.arguments.items():
        if inspect.signature(fn).parameters[key].kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        else:
            out[key] = value
    return _plain(out)


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered network ``name`` with keyword arguments.

    Examples: ``create_model("hourglass_8stack", num_joints=16)``,
    ``create_model("hourglass", num_stacks=2, num_joints=14, num_features=128)``.

    Returns:
        The network (training mode, CPU, random initialisation) with ``posekit_spec`` set. Every
        family takes RGB in [0, 1], NCHW, and returns heat maps ``(B, stacks, K, H/4, W/4)`` (the
        multi-task network: a dict holding ``"heatmaps"`` and its other outputs).

    Raises:
        KeyError: unknown name (the registered names are listed).
        TypeError: an argument the builder does not take.
        ValueError: invalid argument values (from the builder).
    """
    if name not in _MODELS:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(sorted(_MODELS))}")
    fn = _MODELS[name]
    spec = {"arch": name, "kwargs": _resolved_kwargs(fn, kwargs, name)}
    model = fn(**kwargs)
    if getattr(model, "posekit_spec", None) is None:
        model.posekit_spec = spec
    else:  # a variant that went through create_model for its family builder
        model.posekit_spec.setdefault("variant", name)
    return model


# ---------------------------------------------------------------------------------------- loading
def read_artifact(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[ModelArtifact, dict, dict]:
    """The model artifact and weights of a checkpoint file (format 1 files are migrated).

    Returns:
        ``(artifact, state_dict, checkpoint)``: the raw checkpoint dict too (training state).

    Raises:
        FileNotFoundError, posekit.checkpoint.CheckpointError: unreadable or not a posekit checkpoint.
    """
    ckpt = load_checkpoint(path, map_location=map_location)
    if "artifact" in ckpt:
        return ModelArtifact.from_dict(ckpt["artifact"], where=str(path)), ckpt["model"], ckpt
    from posekit.models.legacy import migrate_v1

    artifact, state = migrate_v1(ckpt, where=str(path))
    return artifact, state, ckpt


def load_weights(model: nn.Module, state: dict, where: str) -> None:
    """``model.load_state_dict(state)`` with a readable error.

    Raises:
        ModelLoadError: missing, unexpected or wrongly shaped tensors (the first few are named).
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} (network: {tuple(own[k].shape)})" for k in own
              if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        def few(items: list[str]) -> str:
            return ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")

        parts = []
        if missing:
            parts.append(f"{len(missing)} missing tensor(s): {few(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensor(s): {few(unexpected)}")
        if shapes:
            parts.append(f"{len(shapes)} of another shape: {few(shapes)}")
        raise ModelLoadError(f"{where}: the weights do not fit the network ({'; '.join(parts)}); "
                             f"was the checkpoint written for another model or joint set?")
    model.load_state_dict(state)


def load_matching_weights(model: nn.Module, state: dict) -> tuple[list[str], list[str]]:
    """Copy the tensors of ``state`` whose name and shape match ``model``'s (fine-tuning from
    another model); the others keep the model's initialisation.

    Returns:
        ``(loaded, not_loaded)``: the model's state-dict keys that were / were not loaded (a
        ``not_loaded`` entry names its reason: absent from ``state`` or another shape).
    """
    own = model.state_dict()
    loaded, not_loaded, new = [], [], {}
    for k, v in own.items():
        if k not in state:
            not_loaded.append(f"{k} (absent)")
        elif not hasattr(state[k], "shape") or tuple(state[k].shape) != tuple(v.shape):
            not_loaded.append(f"{k} (shape {tuple(getattr(state[k], 'shape', ()))}, model {tuple(v.shape)})")
        else:
            new[k] = state[k]
            loaded.append(k)
    model.load_state_dict({**own, **new})
    return loaded, not_loaded


def load_model(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The network of a posekit checkpoint, in eval mode, ready to run.

    Input: RGB images in [0, 1], ``(B, 3, S, S)`` float32 with ``S = model.artifact.input["size"]``
    (the crop of a person, see ``model.artifact.crop``). Output: heat maps ``(B, stacks, K, S/4,
    S/4)`` for ``K = len(model.artifact.keypoints)`` (the multi-task network: a dict whose
    ``"heatmaps"`` entry has that form, at its own stride, plus ``"pafs"`` / ``"segmentation"``).
    ``model.artifact`` is the :class:`posekit.checkpoint.ModelArtifact`: keypoint names, flip
    pairs, codec, crop convention and evaluation defaults.

    Raises:
        FileNotFoundError: no such file.
        posekit.checkpoint.CheckpointError: not a posekit checkpoint, an unknown architecture, or
            weights that do not fit (:class:`ModelLoadError`); the message names the file.
    """
    artifact, state, _ = read_artifact(path, map_location=device)
    try:
        model = create_model(artifact.arch, **artifact.arch_kwargs)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: cannot rebuild its network {artifact.arch!r}: {e}") from None
    load_weights(model, state, str(path))
    model.artifact = artifact
    return model.to(device).eval()
