"""Checkpoint files and the self-describing model artifact.

Files are written atomically (a temporary file in the same folder, fsync, rename) and read with
``torch.load(..., weights_only=True)``: nothing in a checkpoint can run code.

A posekit checkpoint is a dict with ``"format_version"`` (:data:`FORMAT_VERSION`), the network's
``"model"`` state dict and an ``"artifact"``: everything needed to rebuild and run the network
without the config it was trained from (:class:`ModelArtifact`). A training checkpoint adds the
optimiser, scheduler and loop state; :func:`posekit.load_model` reads only the artifact part.
Checkpoints written before the artifact existed (format 1: ``"config"`` + ``"joint_ids"``) are
migrated when read (:mod:`posekit.models.legacy`).
"""

from __future__ import annotations

import os
import pickle
import tempfile
import time
import warnings
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch

from posekit.keypoints import KeypointSet

__all__ = ["FORMAT_VERSION", "CheckpointError", "ModelArtifact", "make_artifact", "save_model", "save_checkpoint",
           "atomic_write", "load_checkpoint", "remove_stale_temporaries", "resolve_device"]

#: Version of the checkpoint layout written by this posekit (1: before the model artifact).
FORMAT_VERSION = 2
_TMP_SUFFIX = ".tmp"


class CheckpointError(ValueError):
    """A file that is not a readable posekit checkpoint, or one that does not fit (names the file)."""


@dataclass
class ModelArtifact:
    """What a model is and how it is used, stored beside its weights.

    Attributes:
        arch: registered builder name (:func:`posekit.create_model`).
        arch_kwargs: the builder's fully resolved keyword arguments (plain lists/numbers/strings;
            PBN groups as joint-name lists).
        keypoints: the keypoints of the model's output channels, in channel order.
        input: the input contract: RGB in [0, 1], NCHW float32 (``"size"`` crop pixels); ``mean`` /
            ``std`` are the normalisation the network applies inside its forward.
        crop: how a raw MPII person box (``center``, ``scale``) becomes the input crop: ``mode``
            (``center_scale`` or ``clip_pad_square``), ``scale_factor`` and ``center_shift`` (box side =
            ``scale * 200 * scale_factor`` px around ``center`` moved down by ``center_shift * scale``
            px; a checkpoint written before ``center_shift`` existed has none and is cropped without
            a shift, as it was trained), ``input_size``.
        codec: the heat-map codec: ``input_size``, ``heatmap_size``, ``sigma`` (heat-map px) and
            ``decoding`` (the convention that maps heat-map pixels to original pixels:
            :data:`posekit.data.targets.DECODINGS`).
        eval: evaluation defaults: ``flip_test`` (bool), ``scales`` (list or None).
        trained_on: provenance: dataset, keypoint set, epochs, validation PCKh, ... (informative).
        extra: family-specific facts (e.g. a KPTransfer model's S1 joints).
    """

    arch: str
    arch_kwargs: dict
    keypoints: KeypointSet
    input: dict
    crop: dict
    codec: dict
    eval: dict = field(default_factory=lambda: {"flip_test": True, "scales": None})
    trained_on: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain-data form stored under ``checkpoint["artifact"]``."""
        out = asdict(self)
        out["keypoints"] = self.keypoints.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "checkpoint") -> "ModelArtifact":
        """Read :meth:`to_dict`'s form.

        Raises:
            CheckpointError: a missing or malformed entry (``where`` names the file).
        """
        if not isinstance(data, dict):
            raise CheckpointError(f"{where}: 'artifact' is not a mapping")
        required = ("arch", "arch_kwargs", "keypoints", "input", "crop", "codec")
        missing = [k for k in required if k not in data]
        if missing:
            raise CheckpointError(f"{where}: the model artifact lacks {', '.join(missing)}")
        try:
            keypoints = KeypointSet.from_dict(data["keypoints"], where=f"{where}: artifact keypoints")
        except ValueError as e:
            raise CheckpointError(str(e)) from None
        return cls(arch=str(data["arch"]), arch_kwargs=dict(data["arch_kwargs"]), keypoints=keypoints,
                   input=dict(data["input"]), crop=dict(data["crop"]), codec=dict(data["codec"]),
                   eval=dict(data.get("eval") or {"flip_test": True, "scales": None}),
                   trained_on=dict(data.get("trained_on") or {}), extra=dict(data.get("extra") or {}))

    def summary(self) -> str:
        """One line for people: architecture, keypoints and what it was trained on."""
        t = self.trained_on
        parts = [f"{self.arch}", f"{len(self.keypoints)} keypoints ({self.keypoints.name})",
                 f"input {self.input.get('size')} px"]
        if t.get("dataset"):
            parts.append(f"trained on {t['dataset']}")
        if t.get("epochs") is not None:
            parts.append(f"{t['epochs']} epochs")
        if t.get("val_pckh") is not None:
            parts.append(f"val PCKh@0.5 {t['val_pckh']:.1f}")
        return ", ".join(parts)


def make_artifact(spec: dict, keypoints: KeypointSet, input_size: int, heatmap_size: int, sigma: float,
                  crop_mode: str = "center_scale", scale_factor: float = 1.25, flip_test: bool = True,
                  scales: list[float] | None = None, decoding: str = "posekit", trained_on: dict | None = None,
                  extra: dict | None = None, center_shift: float = 15.0) -> ModelArtifact:
    """The artifact of a network built by :func:`posekit.create_model` (``spec`` is its
    ``posekit_spec``): input contract from its ``input_mean`` / ``input_std`` arguments, crop and
    codec from the given sizes (crop px / heat-map px), evaluation defaults. ``scale_factor`` and
    ``center_shift`` default to the MPII crop protocol (x 1.25, centre y + 15 x scale)."""
    kwargs = spec["kwargs"]
    return ModelArtifact(
        arch=spec["arch"], arch_kwargs=kwargs, keypoints=keypoints,
        input={"color": "RGB", "range": [0.0, 1.0], "layout": "NCHW", "size": int(input_size),
               "mean": kwargs.get("input_mean"), "std": kwargs.get("input_std")},
        crop={"mode": crop_mode, "scale_factor": float(scale_factor), "center_shift": float(center_shift),
              "input_size": int(input_size)},
        codec={"input_size": int(input_size), "heatmap_size": int(heatmap_size), "sigma": float(sigma),
               "decoding": decoding},
        eval={"flip_test": bool(flip_test), "scales": scales}, trained_on=dict(trained_on or {}),
        extra=dict(extra or {}))


def save_model(model, artifact: ModelArtifact, path: str | Path) -> None:
    """Write a network and its artifact as a posekit checkpoint (atomically) that
    :func:`posekit.load_model` reads."""
    save_checkpoint({"format_version": FORMAT_VERSION, "artifact": artifact.to_dict(), "model": model.state_dict()},
                    path)


def remove_stale_temporaries(folder: str | Path, name: str | None = None, older_than_s: float = 0.0) -> list[Path]:
    """Delete leftovers of interrupted :func:`save_checkpoint` calls (``NAME.*.tmp``) in ``folder``.

    Args:
        name: only those of this checkpoint file name (default: every ``*.pt.*.tmp``).
        older_than_s: keep files modified less than this many seconds ago (a write in progress).

    Returns:
        The deleted paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = f"{name}.*{_TMP_SUFFIX}" if name else f"*.pt.*{_TMP_SUFFIX}"
    now, removed = time.time(), []
    for p in folder.glob(pattern):
        try:
            if now - p.stat().st_mtime >= older_than_s:
                p.unlink()
                removed.append(p)
        except FileNotFoundError:  # removed concurrently
            pass
    return removed


def atomic_write(path: str | Path, content: bytes | str | Callable[[BinaryIO], Any]) -> Path:
    """Write a file atomically: a temporary file in the same folder, fsync, rename to ``path``.

    ``content`` is the file's bytes, a text (written as UTF-8), or a function that fills the
    temporary file (opened ``"wb"``). Parent folders are created. Readers see the old content or
    the new one, never a partial file; a crash mid-write leaves the previous file intact (and a
    ``NAME.*.tmp`` file that :func:`remove_stale_temporaries` cleans).

    Returns:
        ``path`` (as a :class:`~pathlib.Path`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=_TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content.encode("utf-8") if isinstance(content, str) else content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Write ``state`` to ``path`` atomically (:func:`atomic_write`).

    A crash mid-write leaves the previous checkpoint intact. ``state`` must hold only tensors and
    plain Python containers/numbers/strings so that it loads with ``weights_only=True``.
    """
    atomic_write(path, lambda f: torch.save(state, f))


def resolve_device(name: str | torch.device) -> torch.device:
    """The torch device a ``--device`` / ``train.device`` value names: ``"auto"`` is CUDA when
    available, else the CPU.

    Raises:
        ValueError: an unknown device name, or a CUDA device on a machine without CUDA (or without
            that GPU index).
    """
    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {str(name)!r}; expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(name)!r} was asked for, but CUDA is not available on this machine "
                             "(use --device cpu or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(name)!r} was asked for, but this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    return device


def _device_error(map_location: Any) -> str | None:
    if not isinstance(map_location, (str, torch.device)):
        return None
    try:
        resolve_device(map_location)
    except ValueError as e:
        return str(e)
    return None


#: Readers' explanation of a checkpoint that holds more than tensors and plain data.
_OBJECTS = ("it holds Python objects besides tensors and plain data, which posekit never loads (it is not a "
            "posekit checkpoint, or it was tampered with)")


def _unreadable_reason(path: Path, error: Exception) -> str:
    """Why ``torch.load(path, weights_only=True)`` failed, in words that do not advise unsafe loading."""
    text = str(error)
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK\x03\x04"):          # torch's zip format
        if not zipfile.is_zipfile(path):
            return "the file is truncated or damaged (its zip archive is incomplete: an interrupted copy or download?)"
    elif not head.startswith(b"\x80"):           # neither the zip format nor a pickle
        return "not a PyTorch checkpoint (unknown file format)"
    if isinstance(error, pickle.UnpicklingError) and ("weights_only" in text or "Unsupported global" in text):
        return _OBJECTS
    if isinstance(error, EOFError) or "EOF" in text:
        return "the file is truncated"
    first = text.strip().splitlines()[0] if text.strip() else ""
    if not first or "weights_only" in first:
        return f"the file is damaged ({type(error).__name__})"
    return f"{type(error).__name__}: {first}"


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint (``weights_only=True``).

    Returns:
        The checkpoint dict: ``"model"`` (state dict) plus either ``"artifact"`` (format 2) or the
        format-1 ``"config"`` / ``"joint_ids"`` entries (see :func:`posekit.load_model`).

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: not a posekit checkpoint (truncated, foreign or not a dict), or a CUDA
            ``map_location`` without CUDA; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    problem = _device_error(map_location)
    if problem:
        raise CheckpointError(f"{path}: {problem}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file, not a checkpoint")
    try:
        with warnings.catch_warnings():   # torch's notes about pickle protocols of foreign files
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated, foreign, or holding objects that weights-only loading refuses
        raise CheckpointError(f"{path}: not a readable posekit checkpoint: {_unreadable_reason(path, e)}") from None
    if not isinstance(state, dict) or "model" not in state or not isinstance(state["model"], dict):
        raise CheckpointError(f"{path}: not a posekit checkpoint (no 'model' state dict)")
    if "artifact" not in state and "config" not in state:
        raise CheckpointError(f"{path}: not a posekit checkpoint (no model artifact)")
    version = state.get("format_version", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {version!r} is newer than this posekit reads "
                              f"({FORMAT_VERSION}); upgrade posekit")
    return state
