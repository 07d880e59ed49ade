"""ONNX export of a trained checkpoint, checked against PyTorch with ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install -e '.[onnx]')")


def test_export_checkpoint_to_onnx_matches_torch(tiny_run, tmp_path, capsys):
    import onnxruntime as ort

    from posekit.cli.main import main
    from posekit.decoding.predictor import PosePredictor

    out = tmp_path / "model.onnx"
    assert main(["export", "--checkpoint", str(tiny_run / "best.pt"), "--out", str(out)]) == 0
    assert "max abs difference" in capsys.readouterr().out
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[0] not in (1, 2)  # a symbolic (dynamic) batch axis
    model = PosePredictor.from_checkpoint(tiny_run / "best.pt", device="cpu").model
    x = torch.randn(5, 3, 64, 64)
    got = session.run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        want = model(x).numpy()
    assert got.shape == (5, 2, 16, 16, 16)
    np.testing.assert_allclose(got, want, atol=1e-4)
