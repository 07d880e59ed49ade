"""MATLAB ``.mat`` files (MPII ``gt_valid.mat``, LSP ``joints.mat``, ``pred.mat``), read with SciPy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["read_mat"]


def read_mat(path: str | Path, what: str = "MATLAB") -> dict[str, Any]:
    """The variables of a MATLAB ``.mat`` file (``scipy.io.loadmat``).

    Raises:
        FileNotFoundError: no such file (the message says which kind of file, ``what``).
        ValueError: the file is not a readable ``.mat`` file.
    """
    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    try:
        return loadmat(str(path))
    except Exception as e:  # scipy raises several types for corrupt / non-mat files
        raise ValueError(f"{path}: cannot read as a MATLAB .mat file ({e})") from None
