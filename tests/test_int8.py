"""int8 ONNX export (ONNX Runtime static quantization) and the predictor's onnx-int8 backend."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install -e '.[onnx]')")


def test_calibration_reader_yields_training_crops(tiny_run):
    from posekit.decoding.quantize import CropCalibrationReader, calibration_dataset

    ds = calibration_dataset(tiny_run / "best.pt")
    assert len(ds) == 24 and not ds.train                       # the tiny run's training split, no augmentation
    reader = CropCalibrationReader(ds, num_samples=10, batch_size=4)
    batches = []
    while (b := reader.get_next()) is not None:
        batches.append(b["image"])
    assert [x.shape for x in batches] == [(4, 3, 64, 64), (4, 3, 64, 64), (2, 3, 64, 64)]
    assert all(x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1 for x in batches)
    reader.rewind()
    np.testing.assert_array_equal(reader.get_next()["image"], batches[0])   # deterministic: same crops again
    np.testing.assert_array_equal(batches[0][0], ds[0]["image"].numpy())    # the dataset's crop, unchanged
    with pytest.raises(ValueError, match="must be >= 1"):
        CropCalibrationReader(ds, num_samples=0)


def _peaks(heatmaps: np.ndarray) -> np.ndarray:
    """(B, J, h, w) -> (B, J, 2) x, y of each map's maximum."""
    flat = heatmaps.reshape(*heatmaps.shape[:2], -1).argmax(-1)
    return np.stack([flat % heatmaps.shape[-1], flat // heatmaps.shape[-1]], -1).astype(float)


def test_int8_export_keypoints_within_tolerance_of_fp32(tiny_run, synthetic_root, tmp_path, capsys):
    import onnx

    from posekit.cli.main import main
    from posekit.data.dataset import PoseDataset
    from posekit.models.export import OnnxRuntimeNetwork
    from posekit.models.registry import load_model

    out = tmp_path / "int8.onnx"
    assert main(["export", "--checkpoint", str(tiny_run / "best.pt"), "--quantize", "int8", "--out", str(out),
                 "--calibration-samples", "16"]) == 0
    printed = capsys.readouterr().out
    assert "int8, calibrated on 16 crops" in printed and "heat-map peaks" in printed
    assert "histogram" not in printed                                         # the calibrator's progress stays out
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops               # QDQ format

    model = load_model(tiny_run / "best.pt")
    val = PoseDataset(str(synthetic_root / "val" / "annotations.json"), str(synthetic_root / "val" / "images"),
                      model_cfg_data(tiny_run), train=False)
    x = torch.stack([val[i]["image"] for i in range(len(val))])               # crops the model never calibrated on
    with torch.no_grad():
        fp32 = model(x)[:, -1].numpy()
    int8 = OnnxRuntimeNetwork(out)(x)[:, -1].numpy()
    assert int8.shape == fp32.shape == (8, 16, 16, 16)
    # Tolerance: int8 activations carry 1/255 of each tensor's calibrated range, and this tiny
    # network (16 channels, trained one epoch on 24 images) has wide ranges and flat heat maps, the
    # worst case for quantization: heat-map values move by a few percent of their range on average,
    # and a peak moves where the fp32 map has near-equal maxima (a test run measured 2.5% and 3.0 px).
    # Hence: mean heat-map change under 5% of the range, and peaks on average within 4 heat-map pixels
    # of fp32's: half the 8.3 px that two unrelated peaks on a 16x16 map lie apart on average.
    change = np.abs(int8 - fp32).mean() / (fp32.max() - fp32.min())
    shift = np.linalg.norm(_peaks(int8) - _peaks(fp32), axis=-1).mean()
    assert change <= 0.05 and shift <= 4.0, (change, shift)


def test_int8_activation_formats(tiny_run, tmp_path):
    import onnx
    from onnx import TensorProto

    from posekit.decoding.quantize import CropCalibrationReader, calibration_dataset
    from posekit.models.export import OnnxRuntimeNetwork, export_onnx, output_convolutions, quantize_int8
    from posekit.models.registry import load_model

    fp32 = export_onnx(load_model(tiny_run / "best.pt").eval(), tmp_path / "fp32.onnx", 64)
    crops = calibration_dataset(tiny_run / "best.pt")

    def activation_types(path):
        """Element types of the zero points of the activation QuantizeLinear nodes."""
        graph = onnx.load(str(path)).graph
        inits = {t.name: t.data_type for t in graph.initializer}
        return {inits[n.input[2]] for n in graph.node if n.op_type == "QuantizeLinear" and n.input[2] in inits}

    heads = output_convolutions(onnx.load(str(fp32)).graph)
    assert len(heads) == 2                                         # the heat-map head of each of the 2 stacks
    default = quantize_int8(fp32, tmp_path / "u8.onnx", CropCalibrationReader(crops, 8))
    for path, float_heads in ((default, True), (quantize_int8(fp32, tmp_path / "all.onnx", CropCalibrationReader(
            crops, 8), float_heads=False), False)):
        graph = onnx.load(str(path)).graph
        producer = {o: n.op_type for n in graph.node for o in n.output}
        weight_sources = {producer.get(n.input[1], "float initializer") for n in graph.node if n.name in heads}
        assert weight_sources == ({"float initializer"} if float_heads else {"DequantizeLinear"}), weight_sources
        # with float heads the stacking of the per-stack heat maps stays float too: the output is not rounded to 8 bits
        assert (producer[graph.output[0].name] == "DequantizeLinear") == (not float_heads)
    signed = quantize_int8(fp32, tmp_path / "s8.onnx", CropCalibrationReader(crops, 8), activations="int8")
    assert activation_types(default) == {TensorProto.UINT8}       # uint8 x int8: the fast x86 kernels
    assert "BatchNormalization" not in {n.op_type for n in onnx.load(str(default)).graph.node}
    kept = quantize_int8(fp32, tmp_path / "bn.onnx", CropCalibrationReader(crops, 8), batchnorm_as_conv=False)
    assert "BatchNormalization" in {n.op_type for n in onnx.load(str(kept)).graph.node}
    assert activation_types(signed) == {TensorProto.INT8}
    x = torch.stack([crops[i]["image"] for i in range(4)])
    a, b = OnnxRuntimeNetwork(default)(x).numpy(), OnnxRuntimeNetwork(signed)(x).numpy()
    assert a.shape == b.shape and np.abs(a - b).mean() <= 0.05 * (a.max() - a.min())   # same graph, both close
    with pytest.raises(ValueError, match="activations must be .uint8. or .int8."):
        quantize_int8(fp32, tmp_path / "x.onnx", CropCalibrationReader(crops, 8), activations="fp16")
    with pytest.raises(ValueError, match="method must be one of"):
        quantize_int8(fp32, tmp_path / "x.onnx", CropCalibrationReader(crops, 8), method="entropy")

    class Empty:
        def get_next(self):
            return None

    for method in ("percentile", "minmax"):
        with pytest.raises(ValueError, match="int8 calibration failed"):
            quantize_int8(fp32, tmp_path / "x.onnx", Empty(), method=method)


def test_batchnorms_as_convolutions_keeps_the_outputs(tmp_path):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from posekit.models import create_model
    from posekit.models.export import batchnorms_as_convolutions, export_onnx

    torch.manual_seed(0)
    net = create_model("hourglass", num_joints=4, num_stacks=1, num_features=16, depth=2, stem_width=8).eval()
    for m in net.modules():                         # statistics far from identity, so the rewrite is not trivially exact
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.2, 3), m.weight.data.uniform_(0.5, 2)
            m.bias.data.uniform_(-0.5, 0.5)
    path = export_onnx(net, tmp_path / "fp32.onnx", 32)
    model = onnx.load(str(path))
    left = [n for n in model.graph.node if n.op_type == "BatchNormalization"]
    assert left                                     # the BNs after residual sums are not folded by the exporter
    channels = {n.name: numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == n.input[1])).size
                for n in left}
    assert batchnorms_as_convolutions(model) == len(left)
    ops = {n.name: n for n in model.graph.node}
    assert not any(n.op_type == "BatchNormalization" for n in model.graph.node)
    for name, c in channels.items():
        conv = ops[f"{name}.depthwise"]
        attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
        assert conv.op_type == "Conv" and attrs["group"] == c and attrs["kernel_shape"] == [1, 1]
    names = {t.name for t in model.graph.initializer}
    assert not any(n.input[3] in names for n in left)           # running means no longer stored
    x = torch.rand(2, 3, 32, 32).numpy()
    before = ort.InferenceSession(str(path)).run(None, {"image": x})[0]
    after = ort.InferenceSession(model.SerializeToString()).run(None, {"image": x})[0]
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-5)

    # a batch norm on a 3-D tensor has no depthwise 1x1 equivalent and stays
    stats = [numpy_helper.from_array(np.full(3, v, np.float32), n) for v, n in ((1, "g"), (0, "b"), (0, "m"), (1, "v"))]
    bn = helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["y"], name="bn")
    g = helper.make_graph([bn], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 5])], stats)
    small = helper.make_model(g)
    assert batchnorms_as_convolutions(small) == 0 and [n.op_type for n in small.graph.node] == ["BatchNormalization"]


def model_cfg_data(run):
    from posekit.config import load_config

    return load_config(run / "config.yaml").data


def test_predictor_onnx_int8_backend_is_cached_and_close_to_torch(tiny_run, shared, tmp_path, monkeypatch):
    from posekit.data.dataset import load_image
    from posekit.decoding.predictor import PosePredictor

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    image = load_image(shared / "coco" / "000000000785.jpg")
    int8 = PosePredictor.from_checkpoint(tiny_run / "best.pt", device="cpu", backend="onnx-int8")
    cached = list((tmp_path / "posekit" / "onnx").glob("*.onnx"))
    assert len(cached) == 1 and "-int8-" in cached[0].name
    assert PosePredictor.from_checkpoint(tiny_run / "best.pt", device="cpu", backend="onnx-int8").model.path == cached[0]
    fp32 = PosePredictor.from_checkpoint(tiny_run / "best.pt", device="cpu", backend="onnxruntime")
    assert fp32.model.path != cached[0]                                          # the fp32 entry is separate
    a, b = fp32.predict(image, bbox=(280, 44, 499, 391)), int8.predict(image, bbox=(280, 44, 499, 391))
    assert b.keypoints.shape == a.keypoints.shape == (16, 2)
    assert np.abs(b.heatmaps - a.heatmaps).mean() <= 0.05 * (a.heatmaps.max() - a.heatmaps.min())  # as above
    with pytest.raises(ValueError, match="CPU only|CUDA is not available"):
        PosePredictor.from_checkpoint(tiny_run / "best.pt", device="cuda", backend="onnx-int8")


def test_int8_export_cli_errors(tiny_run, tmp_path, capsys):
    from posekit.cli.main import main

    ckpt = str(tiny_run / "best.pt")
    cases = [
        (["--quantize", "int8", "--calibration-images", str(tmp_path)], "both the calibration annotations"),
        (["--calibration-annotations", "a.json", "--calibration-images", "."], "only go with --quantize int8"),
        (["--quantize", "int8", "--calibration-samples", "0"], "--calibration-samples must be >= 1"),
        (["--quantize", "int8", "--calibration-annotations", str(tmp_path / "missing.json"),
          "--calibration-images", str(tmp_path)], "missing.json"),
    ]
    for extra, message in cases:
        assert main(["export", "--checkpoint", ckpt, "--out", str(tmp_path / "x.onnx"), *extra]) == 2, extra
        err = capsys.readouterr().err
        assert err.startswith("posekit export: error: ") and message in err, err
    assert not (tmp_path / "x.onnx").exists()
