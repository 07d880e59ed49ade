"""Training speed levers keep the numbers: in-place residual sums, channels-last, train.compile."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import pytest
import torch

from conftest import tiny_config

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _tiny_hourglass():
    from posekit.models import create_model

    return create_model("hourglass", num_joints=4, num_stacks=2, num_features=16, depth=2, stem_width=8)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_in_place_residual_sums_equal_the_plain_version(memory_format):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from train_step import with_plain_adds   # the out-of-place forwards the benchmark times
    finally:
        sys.path.remove(str(BENCHMARKS))
    torch.manual_seed(0)
    shipped = _tiny_hourglass().to(memory_format=memory_format).train()
    plain = with_plain_adds(_tiny_hourglass()).to(memory_format=memory_format).train()
    plain.load_state_dict(shipped.state_dict())
    x = torch.rand(3, 3, 32, 32).contiguous(memory_format=memory_format)
    a, b = shipped(x), plain(x)
    torch.testing.assert_close(a, b, rtol=0, atol=0)                 # the same sums, bit for bit
    g = torch.randn(a.shape)
    (a * g).sum().backward()
    (b * g).sum().backward()
    # gradients: the same terms, but autograd may sum a tensor's gradient contributions in another
    # order, so they agree to float32 rounding, not bit for bit. The absolute tolerance is relative
    # to the largest gradient: a conv bias followed by BatchNorm has a true gradient of 0, and what
    # is computed for it is rounding noise of large cancelling sums.
    scale = max(p.grad.abs().max().item() for p in shipped.parameters())
    for (name, p), q in zip(shipped.named_parameters(), plain.parameters()):
        err = (p.grad - q.grad).abs().max().item()
        assert err <= 1e-5 * scale, f"{name}: gradients differ by {err:.3g} (largest gradient {scale:.3g})"
    for (name, r), s in zip(shipped.named_buffers(), plain.buffers()):   # BatchNorm running statistics
        torch.testing.assert_close(r, s, rtol=0, atol=0, msg=name)


def _losses(run: Path) -> list[float]:
    with open(run / "metrics.csv") as f:
        return [float(v) for row in csv.DictReader(f) for v in (row["train_loss"], row["val_loss"])]


@pytest.mark.skipif(not any(shutil.which(c) for c in ("g++", "c++", "clang++")),
                    reason="torch.compile on the CPU builds C++ code and no C++ compiler is installed")
def test_compiled_training_gives_the_eager_losses(tmp_path, synthetic_root):
    from posekit.training.run import train

    for name, compile in (("eager", "false"), ("compiled", "true")):
        train(tiny_config(tmp_path / name, synthetic_root, epochs=1, iters_per_epoch=2, compile=compile), progress=False)
    eager, compiled = _losses(tmp_path / "eager"), _losses(tmp_path / "compiled")
    # Inductor fuses and reorders float32 arithmetic, so the sums round differently (relative
    # differences near 1e-6 per operation); after two Adam steps a test run measured 0.04% on the
    # training loss and 0.4% and 1.01% on the validation loss in two runs (it sees the two steps'
    # changes to the weights, so the rounding differences are amplified there).
    assert compiled[0] == pytest.approx(eager[0], rel=1e-3)
    assert compiled[1] == pytest.approx(eager[1], rel=3e-2)


def test_compile_without_a_cxx_compiler_is_a_clear_error(monkeypatch):
    from posekit.training.trainer import compile_model

    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ValueError, match="needs a C\\+\\+ compiler.*train.compile=false"):
        compile_model(_tiny_hourglass(), torch.device("cpu"))


def test_performance_page_decides_the_goals_from_the_measured_figures(tmp_path):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import run_all
    finally:
        sys.path.remove(str(BENCHMARKS))
    posekit = {"posekit 2-stack, ONNX Runtime fp32": 300.0, "posekit 2-stack, ONNX Runtime int8": 150.0,
               "posekit 2-stack, ONNX Runtime int8, batch norms left in float": 200.0,
               "posekit 2-stack, ONNX Runtime int8, signed activations": 250.0,
               "posekit 2-stack reduced stem, ONNX Runtime fp32": 280.0,
               "posekit 2-stack reduced stem, ONNX Runtime int8": 140.0}
    res = {"machine": "test CPU", "date": "2026-01-01", "load_before": 0.1, "load_after": 0.2, "command": "x",
           "train_step": [{"size": 256, "batch": 8, "steps": 3, "trained_parameters": 10,
                           "reference_registered_parameters": 12,
                           "rows": [{"variant": "reference", "img_s": 1.0, "vs_reference": 1.0},
                                    {"variant": "posekit NCHW", "img_s": 0.8, "vs_reference": 0.8},
                                    {"variant": "posekit channels-last", "img_s": 1.25, "vs_reference": 1.25}],
                           "time_shares": {"variant": "posekit channels-last", "convolutions, forward": 20.0,
                                           "convolutions, backward": 60.0, "batch norm, forward + backward": 10.0,
                                           "ReLU, forward + backward": 4.0, "everything else": 6.0}}],
           "blazepose": {"crops": 5, "posekit": posekit, "blazepose": {"BlazePose full (mediapipe 0.10.14)": 120.0}},
           "int8_accuracy": {"checkpoint": "c.pt", "pckh_onnxruntime": 82.5, "pckh_onnx-int8": 82.2, "photos": 9,
                             "mean_keypoint_distance_px": 3.0, "median_keypoint_distance_px": 1.0}}
    page = run_all.render(res, tmp_path)
    assert "Training step >= 1.2x the reference: met; best posekit variant 'posekit channels-last' at 1.25x" in page
    assert "Each lever against the row above it: 'posekit channels-last' 1.56x." in page     # 1.25 / 0.8
    assert "| convolutions, backward | 60.0 |" in page and "Convolutions, forward and backward, take 80%" in page
    # 300 / 150 = 2.00x for 0.30 PCKh: met; the other schemes' 300 / 200 and 300 / 250 are reported beside it
    assert "int8 >= 1.8x fp32 ONNX latency for <= 0.5 PCKh: met; int8 is 2.00x fp32 at batch 1, PCKh loss 0.30" in page
    assert "quantize nodes the graph is 1.50x fp32" in page and "signed int8 activations (and float batch norms) it is " \
        "1.20x fp32" in page
    assert "BlazePose-full: not met; 150.0 ms vs 120.0 ms per crop" in page
    assert "No other job ran beside the benchmarks" in page and "Not measured in these results" in page
    assert "Reaching 1.2x" not in page
    res["train_step"][0]["rows"][2]["vs_reference"] = 1.02             # 1.2x needs 1 - 1.02 / 1.2 = 15% of the step
    assert "removing 15% of the step's time, which is 75% of all the work outside convolutions (20%)" in \
        run_all.render(res, tmp_path)
    res["int8_accuracy"]["pckh_onnx-int8"] = 81.9                      # 0.60 PCKh lost: the goal fails
    res["load_before"] = 9.0
    page = run_all.render(res, tmp_path)
    assert "<= 0.5 PCKh: not met; int8 is 2.00x fp32 at batch 1, PCKh loss 0.60" in page
    assert "Other jobs shared the machine (1-minute load average 9.0 before" in page


def test_gpu_benchmark_runs_end_to_end_on_the_cpu(tmp_path, synthetic_root):
    # benchmarks/gpu.py is meant for a CUDA machine; --device cpu runs the same code (bf16 autocast,
    # both networks, the batch search, the one-process torchrun run over gloo) on a tiny setting.
    from posekit.config import save_config

    sys.path.insert(0, str(BENCHMARKS))
    try:
        import gpu
        import run_all
    finally:
        sys.path.remove(str(BENCHMARKS))
    cfg = tiny_config(tmp_path / "unused", synthetic_root, batch_size=2, num_threads=1)
    save_config(cfg, tmp_path / "tiny.yaml")
    res = gpu.run(stacks=(1,), batch=2, steps=1, features=16, size=64, compile=False, max_batch=4, device="cpu",
                  ddp_config=str(tmp_path / "tiny.yaml"))
    assert [(r["network"], r["compile"], r["batch"]) for r in res["rows"]] == [(gpu.POSEKIT, False, 2),
                                                                             (gpu.REFERENCE, False, 2)]
    assert all(r["img_s"] > 0 and r["peak_mb"] is None for r in res["rows"])
    assert res["largest_batch"] == [{"stacks": 1, "batch": 4, "img_s": res["largest_batch"][0]["img_s"],
                                     "peak_mb": None, "capped": True}]     # 2 and 4 trained, 8 is past the cap
    ddp = res["ddp"]
    assert ddp["returncode"] == 0, ddp["error"]
    assert ddp["data_parallel"].startswith("data-parallel: 1 process(es), backend gloo")
    page = "\n".join(run_all.gpu_lines({"gpu": res}))
    ratio = res["rows"][0]["img_s"] / res["rows"][1]["img_s"]
    assert f"| 1 | posekit | no | 2 | {res['rows'][0]['img_s']} | {ratio:.2f}x | None |" in page
    assert "| 1 | 4 (search capped) |" in page and "backend gloo" in page
    assert "Not measured: no GPU" in "\n".join(run_all.gpu_lines({}))
