"""Reading and writing pose prediction files for evaluation.

In memory, predictions are always an (N, K, 2) float64 array: N samples, the K keypoints of the
ground truth's keypoint set in its order (K = 16, the MPII joints in official order, unless
``num_joints`` says otherwise), (x, y) in original image pixels, in the pixel convention of the
ground truth they are compared with. Below, 16 stands for K.

On disk:

======  =====================================================================================
.npy    Written as **(16, 2, N)** -- the command-line contract of ``posekit evaluate``
        (the ``pos_pred_src`` layout of the MPII evaluation code). Read as either (16, 2, N) or
        (N, 16, 2).
.mat    Written with key ``preds`` of shape (N, 16, 2), the HRNet / pytorch-pose ``pred.mat``
        layout. Read from ``preds`` if present, else from the only 3-D array in the file; either
        layout.
.json   Written as ``{"preds": [[[x, y] * 16] * N]}``. Read as that object or as a bare list of
        N lists of 16 ``[x, y]``. NaN is written as ``null`` and read back as NaN.
======  =====================================================================================

NaN (or inf) marks a joint without a prediction; ``posekit evaluate`` scores such a joint as
wrong when it is evaluated (the MPII rule) and says how many there are. Anything that is not a
number (a string such as ``"12"``, a boolean) is refused, as is an empty or unreadable file.

How the two layouts are told apart: a 3-D array whose shape is ``(16, 2, N)`` has a second axis
of length 2, one of shape ``(N, 16, 2)`` a second axis of length 16, so the second axis decides
and the choice is never ambiguous (N = 2 or N = 16 included). An ``(N, 16, 3)`` array (a
confidence column after x, y, as some tools save) is accepted and the third column dropped.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from posekit.data.annotations import json_float_array

__all__ = ["load_predictions", "save_predictions", "to_sample_first"]

_SUFFIXES = (".npy", ".mat", ".json")
#: The MPII joint count, the default K.
NUM_MPII_JOINTS = 16


def to_sample_first(arr: np.ndarray, source: str | Path = "predictions",
                    num_joints: int = NUM_MPII_JOINTS) -> np.ndarray:
    """Bring a (K, 2, N), (N, K, 2) or (N, K, 3) array to (N, K, 2) float64 (``K = num_joints``).

    Args:
        arr: the array as read.
        source: file name (or description) used in error messages.
        num_joints: K.

    Raises:
        ValueError: any other shape; the message names ``source`` and the shape.
    """
    arr = np.asarray(arr)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{source}: predictions must be real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    k = int(num_joints)
    if arr.ndim == 3 and arr.shape[:2] == (k, 2):
        return np.ascontiguousarray(arr.transpose(2, 0, 1))
    if arr.ndim == 3 and arr.shape[1] == k and arr.shape[2] in (2, 3):
        return np.ascontiguousarray(arr[:, :, :2])
    raise ValueError(f"{source}: predictions have shape {tuple(arr.shape)}; expected ({k}, 2, N) or (N, {k}, 2)")


def _check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise ValueError(f"{path}: unknown prediction format {suffix!r} (expected {', '.join(_SUFFIXES)})")
    return suffix


def _load_mat(path: Path) -> np.ndarray:
    from posekit.data.ground_truth import read_mat

    data = read_mat(path, "prediction")
    if "preds" in data:
        return np.asarray(data["preds"])
    arrays = {k: v for k, v in data.items()
              if not k.startswith("__") and isinstance(v, np.ndarray) and v.ndim == 3}
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    keys = ", ".join(sorted(k for k in data if not k.startswith("__"))) or "none"
    if not arrays:
        raise ValueError(f"{path}: no 'preds' key and no 3-D array (keys: {keys})")
    raise ValueError(f"{path}: no 'preds' key and several 3-D arrays ({', '.join(sorted(arrays))}); "
                     f"store the predictions under 'preds'")


def _load_json(path: Path, num_joints: int) -> np.ndarray:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid json ({e})") from None
    if isinstance(data, dict):
        if "preds" not in data:
            raise ValueError(f"{path}: json object has no 'preds' key (keys: {', '.join(sorted(data)) or 'none'})")
        data = data["preds"]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of N lists of 16 [x, y] or {{'preds': ...}}")
    try:
        arr = json_float_array(data, allow_null=True)  # null -> nan
    except ValueError as e:
        raise ValueError(f"{path}: predictions are not a regular array of numbers: {e}") from None
    if arr.ndim == 3 and arr.shape[0] == 0:
        return arr.reshape(0, num_joints, 2)
    return arr


def load_predictions(path: str | Path, num_joints: int = NUM_MPII_JOINTS) -> np.ndarray:
    """Read predictions from .npy, .mat or .json (layouts in the module docstring).

    Args:
        path: the prediction file.
        num_joints: K, the keypoints per sample (16: MPII).

    Returns:
        (N, K, 2) float64, (x, y) pixels, in the ground truth's keypoint order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown suffix, an empty or unreadable file, missing key, a value that is not a
            number, or a shape that is neither (16, 2, N) nor (N, 16, 2); the message names the file.
    """
    path = Path(path)
    suffix = _check_suffix(path)
    if not path.is_file():
        raise FileNotFoundError(f"prediction file not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file, not a prediction file")
    if suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, EOFError, OSError) as e:
            raise ValueError(f"{path}: cannot read as a .npy array ({type(e).__name__}: {e})") from None
    elif suffix == ".mat":
        arr = _load_mat(path)
    else:
        arr = _load_json(path, num_joints)
    return to_sample_first(arr, path, num_joints)


def _json_value(x: float) -> Any:
    return None if math.isnan(x) else x


def save_predictions(path: str | Path, preds: np.ndarray) -> Path:
    """Write (N, K, 2) predictions: .npy as (K, 2, N), .mat as ``preds`` (N, K, 2), .json as
    ``{"preds": ...}`` (N, K, 2). Parent folders are created.

    Args:
        path: output file; the suffix picks the format.
        preds: (N, K, 2) pixels.

    Returns:
        The path written.

    Raises:
        ValueError: unknown suffix or ``preds`` not of shape (N, K, 2).
    """
    path = Path(path)
    suffix = _check_suffix(path)
    preds = np.asarray(preds, dtype=np.float64)
    if preds.ndim != 3 or preds.shape[2] != 2:
        raise ValueError(f"predictions to save must have shape (N, K, 2), got {preds.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        np.save(path, np.ascontiguousarray(preds.transpose(1, 2, 0)))
    elif suffix == ".mat":
        from scipy.io import savemat

        savemat(str(path), {"preds": preds})
    else:
        rows = [[[_json_value(float(v)) for v in joint] for joint in sample] for sample in preds]
        path.write_text(json.dumps({"preds": rows}))
    return path
