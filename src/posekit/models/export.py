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
