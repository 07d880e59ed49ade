"""Export a pose network to ONNX and check it against PyTorch with ONNX Runtime."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn


def export_onnx(model: nn.Module, path: str | Path, input_size: int, opset: int = 18) -> Path:
    """Write ``model`` as an ONNX graph with a dynamic batch axis.

    The graph takes ``image``: ``(B, 3, S, S)`` float32 normalised crops (see
    :func:`posekit.data.dataset.normalize_image`) and returns ``heatmaps``: ``(B, stacks, J, S/4, S/4)``
    for the hourglass family. Uses the ``torch.export``-based exporter (``dynamo=True``).

    Raises:
        RuntimeError: the exporter cannot translate the model.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval().to("cpu", memory_format=torch.contiguous_format)
    example = torch.randn(2, 3, input_size, input_size)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    torch.onnx.export(model, (example,), str(path), input_names=["image"], output_names=["heatmaps"],
                      dynamic_shapes={"x": {0: torch.export.Dim("batch")}}, dynamo=True, opset_version=opset,
                      verbose=False)
    return path


def check_onnx(model: nn.Module, path: str | Path, input_size: int, batch_sizes=(1, 3),
               atol: float = 1e-4) -> float:
    """Largest absolute difference between ONNX Runtime and PyTorch outputs on random inputs.

    Raises:
        ImportError: onnxruntime is not installed (``pip install posekit[onnx]``).
        AssertionError: a difference above ``atol`` or a wrong output shape.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model = model.eval()
    worst = 0.0
    for b in batch_sizes:
        x = torch.randn(b, 3, input_size, input_size)
        got = session.run(None, {"image": x.numpy()})[0]
        with torch.no_grad():
            want = model(x).numpy()
        assert got.shape == want.shape, f"ONNX output {got.shape} != torch {want.shape} at batch {b}"
        worst = max(worst, float(np.abs(got - want).max()))
    assert worst <= atol, f"ONNX Runtime differs from torch by {worst:.3g} (> {atol})"
    return worst


class OnnxRuntimeNetwork(nn.Module):
    """An exported network run by ONNX Runtime (CPU) behind the usual ``module(x)`` call.

    ``forward``: ``(B, 3, S, S)`` float32 tensor -> the graph's ``heatmaps`` output as a CPU tensor
    ``(B, stacks, J, S/4, S/4)``. It has no parameters; ``.to()``/``.eval()`` are no-ops.

    Raises:
        ImportError: onnxruntime is not installed.
    """

    def __init__(self, path: str | Path):
        super().__init__()
        import onnxruntime as ort

        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image = x.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(self.session.run(None, {"image": image})[0])


def cached_onnx(checkpoint: str | Path, model: nn.Module, input_size: int) -> Path:
    """The ONNX export of a checkpoint's network, made once and cached.

    The cache file lives in ``$XDG_CACHE_HOME/posekit/onnx`` (default ``~/.cache``) under a name
    derived from the checkpoint's absolute path, size and modification time, so a retrained
    checkpoint is exported again. Written to a temporary name first, then renamed.
    """
    import hashlib
    import os

    ckpt = Path(checkpoint).resolve()
    stat = ckpt.stat()
    key = hashlib.sha1(f"{ckpt}|{stat.st_size}|{stat.st_mtime_ns}|{input_size}".encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "posekit" / "onnx"
    path = cache / f"{ckpt.stem}-{key}.onnx"
    if not path.is_file():
        tmp = path.with_suffix(f".{os.getpid()}.tmp.onnx")
        export_onnx(model, tmp, input_size)
        tmp.replace(path)
    return path
