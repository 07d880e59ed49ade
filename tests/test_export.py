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


def test_predictor_onnxruntime_backend_matches_torch(tiny_run, shared, tmp_path, monkeypatch):
    from posekit.data.dataset import load_image
    from posekit.decoding.predictor import PosePredictor
    from posekit.models.export import OnnxRuntimeNetwork

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    image = load_image(shared / "coco" / "000000000785.jpg")
    torch_pred = PosePredictor.from_checkpoint(tiny_run / "best.pt", device="cpu", backend="torch")
    ort_pred = PosePredictor.from_checkpoint(tiny_run / "best.pt", device="cpu", backend="onnxruntime")
    assert isinstance(ort_pred.model, OnnxRuntimeNetwork)
    assert len(list((tmp_path / "posekit" / "onnx").glob("*.onnx"))) == 1  # exported once, cached
    a = torch_pred.predict(image, bbox=(280, 44, 499, 391))
    b = ort_pred.predict(image, bbox=(280, 44, 499, 391))
    np.testing.assert_allclose(b.heatmaps, a.heatmaps, atol=1e-4)
    again = PosePredictor.from_checkpoint(tiny_run / "best.pt", device="cpu", backend="auto")
    assert again.model.path == ort_pred.model.path  # the cache is reused
    with pytest.raises(ValueError, match="unknown backend"):
        PosePredictor.from_checkpoint(tiny_run / "best.pt", backend="tensorrt")
