"""Export a posekit network to ONNX and run or check it with ONNX Runtime.

The exported graph takes ``image``: ``(B, 3, S, S)`` float32 RGB in [0, 1] (the network normalises
inside, like the PyTorch model) with a dynamic batch axis, and returns the network's outputs under
their names: ``heatmaps`` ``(B, stacks, K, h, w)``, plus ``pafs`` and ``segmentation`` for the
multi-task network.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["output_names", "export_onnx", "check_onnx", "output_convolutions", "batchnorms_as_convolutions",
           "quantize_int8", "OnnxRuntimeNetwork", "cached_onnx"]


class _NamedOutputs(nn.Module):
    """Wraps a network whose forward returns a dict, returning its values as a tuple (for export)."""

    def __init__(self, model: nn.Module, names: list[str]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(x)
        return tuple(out[n] for n in self.names)


def _probe(model: nn.Module, input_size: int):
    with torch.no_grad():
        return model.eval()(torch.zeros(1, 3, input_size, input_size))


def output_names(model: nn.Module, input_size: int) -> list[str]:
    """Names of the network's outputs (``["heatmaps"]``, or the keys of its output dict)."""
    out = _probe(model, input_size)
    return list(out) if isinstance(out, dict) else ["heatmaps"]


def _exportable(model: nn.Module, input_size: int) -> tuple[nn.Module, list[str]]:
    """The module to export (a dict output becomes a tuple) and its output names."""
    out = _probe(model, input_size)
    return (_NamedOutputs(model, list(out)).eval(), list(out)) if isinstance(out, dict) else (model, ["heatmaps"])


def export_onnx(model: nn.Module, path: str | Path, input_size: int, opset: int = 18) -> Path:
    """Write ``model`` as an ONNX graph with a dynamic batch axis (the ``torch.export``-based exporter).

    Raises:
        RuntimeError: the exporter cannot translate the model.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval().to("cpu", memory_format=torch.contiguous_format)
    module, names = _exportable(model, input_size)
    example = torch.rand(2, 3, input_size, input_size)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():  # deprecation notices from inside the exporter, not about the model
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(module, (example,), str(path), input_names=["image"], output_names=names,
                          dynamic_shapes={"x": {0: torch.export.Dim("batch")}}, dynamo=True, opset_version=opset,
                          verbose=False)
    return path


def _as_dict(out, names: list[str]) -> dict[str, np.ndarray]:
    if isinstance(out, dict):
        return {k: v.detach().numpy() for k, v in out.items()}
    return {names[0]: out.detach().numpy()}


def check_onnx(model: nn.Module, path: str | Path, input_size: int, batch_sizes=(1, 3),
               atol: float = 1e-4) -> float:
    """Largest absolute difference between ONNX Runtime and PyTorch outputs on random inputs.

    Raises:
        ImportError: onnxruntime is not installed (``pip install posekit[onnx]``).
        AssertionError: a difference above ``atol`` or a wrong output shape.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    model = model.eval()
    worst = 0.0
    for b in batch_sizes:
        x = torch.rand(b, 3, input_size, input_size)
        got = dict(zip(names, session.run(None, {"image": x.numpy()})))
        with torch.no_grad():
            want = _as_dict(model(x), names)
        assert set(got) == set(want), f"ONNX outputs {sorted(got)} != torch outputs {sorted(want)}"
        for k in want:
            assert got[k].shape == want[k].shape, f"ONNX {k} {got[k].shape} != torch {want[k].shape} at batch {b}"
            worst = max(worst, float(np.abs(got[k] - want[k]).max()))
    assert worst <= atol, f"ONNX Runtime differs from torch by {worst:.3g} (> {atol})"
    return worst


def output_convolutions(graph) -> list[str]:
    """Names of the ``Conv`` nodes of an ONNX ``graph`` that write its outputs, directly or through
    operators other than convolutions (reshapes, concatenations, activations).

    For a stacked hourglass these are the 1x1 heat-map heads of every stack (intermediate outputs
    included, since they are concatenated into ``heatmaps``).
    """
    return sorted(name for name, op in _output_path(graph).items() if op == "Conv")


def _output_path(graph) -> dict[str, str]:
    """``{node name: op type}`` of the nodes between the graph's outputs and the last convolution
    on each path to them, those convolutions included."""
    producer = {name: node for node in graph.node for name in node.output}
    found, seen, todo = {}, set(), [o.name for o in graph.output]
    while todo:
        tensor = todo.pop()
        if tensor in seen or tensor not in producer:
            continue
        seen.add(tensor)
        node = producer[tensor]
        found[node.name] = node.op_type
        if node.op_type != "Conv":
            todo.extend(node.input)
    return found


def batchnorms_as_convolutions(model) -> int:
    """Rewrite, in place, every inference-mode ``BatchNormalization`` node of an ONNX ``model``
    (an ``onnx.ModelProto``) on a 4-D tensor as the equivalent 1x1 depthwise ``Conv``.

    Eval-mode batch norm is a per-channel affine map ``y = k * x + (beta - mean * k)`` with
    ``k = gamma / sqrt(var + eps)`` (Ioffe & Szegedy 2015, Alg. 2), i.e. a ``Conv`` with
    ``group = C``, one weight ``k_c`` per channel (shape ``(C, 1, 1, 1)``) and that bias. The
    exporter already folds every batch norm that follows a convolution into it; the ones left are
    those that follow a sum, like the first BN-ReLU of each pre-activation residual block of the
    hourglass (Newell 2016, Fig. 4). ONNX Runtime has no int8 batch norm, so left as they are each
    costs a dequantize, a float batch norm, a quantize and two layout transposes in the int8 graph;
    as depthwise convolutions they quantise exactly (one weight per channel: per-channel weight
    quantisation represents it without error) and stay in the int8 NHWC kernels.

    Nodes whose statistics are not constant initializers, whose input is not 4-D, or that run in
    training mode (extra outputs) are left unchanged. Initializers that only those batch norms
    used are removed. Returns the number of nodes rewritten.
    """
    from onnx import helper, numpy_helper, shape_inference

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    inferred = shape_inference.infer_shapes(model).graph
    rank = {v.name: len(v.type.tensor_type.shape.dim) for v in [*inferred.value_info, *inferred.input]}
    nodes, dropped, count = [], set(), 0
    for node in graph.node:
        stats = list(node.input[1:5])
        if (node.op_type != "BatchNormalization" or len(node.output) != 1 or rank.get(node.input[0]) != 4
                or len(stats) != 4 or not all(t in inits for t in stats)):
            nodes.append(node)
            continue
        eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
        gamma, beta, mean, var = (numpy_helper.to_array(inits[t]).astype(np.float64) for t in stats)
        k = gamma / np.sqrt(var + eps)
        weight = numpy_helper.from_array(k.reshape(-1, 1, 1, 1).astype(np.float32), f"{node.name}.depthwise.weight")
        bias = numpy_helper.from_array((beta - mean * k).astype(np.float32), f"{node.name}.depthwise.bias")
        graph.initializer.extend([weight, bias])
        nodes.append(helper.make_node("Conv", [node.input[0], weight.name, bias.name], list(node.output),
                                      name=f"{node.name}.depthwise", group=int(k.size), kernel_shape=[1, 1]))
        dropped.update(stats)
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    used = {t for n in graph.node for t in n.input}
    keep = [t for t in graph.initializer if t.name not in dropped or t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    return count


#: Bumped when :func:`quantize_int8` changes what its defaults produce (part of the ONNX cache key).
_INT8_SCHEME_REVISION = 2


def quantize_int8(fp32_path: str | Path, out_path: str | Path, calibration, activations: str = "uint8",
                  reduce_range: bool = True, float_heads: bool = True, method: str = "percentile",
                  batchnorm_as_conv: bool = True) -> Path:
    """Write an int8 copy of the fp32 ONNX graph at ``fp32_path`` (ONNX Runtime static quantization).

    QDQ format (QuantizeLinear/DequantizeLinear pairs around each quantised operator), signed int8
    weights quantised per output channel, 8-bit activations whose ranges come from running
    ``calibration`` through the fp32 graph (``onnxruntime.quantization.quantize_static``). Input and
    outputs stay float32, so the quantised graph is a drop-in replacement (same ``image`` input,
    same output names). The defaults are the combination measured best on the quickstart model
    (docs/performance.md, "int8"):

    - ``activations="uint8"``: ONNX Runtime's x86 convolution kernels multiply uint8 activations
      by int8 weights natively; int8 x int8 (and uint8 x uint8) take slower paths on CPUs without
      AVX-VNNI.
    - ``reduce_range=True``: 7-bit weights. Without VNNI the uint8 x int8 kernels add pairs of
      products in 16 bits, which can saturate; ONNX Runtime's quantization guide names 7-bit
      weights as the remedy. A one-epoch test network on a real photo moved its heat maps by
      6.6 % of their range with 8-bit weights, under 5 % with 7-bit ones.
    - ``float_heads=True``: the convolutions that write the graph's outputs (the 1x1 heat-map
      heads of every stack, :func:`output_convolutions`) and the operators between them and the
      outputs (the stacking of the per-stack heat maps) stay float32 in the QDQ graph, so the
      last stack's heat maps, which the decoder reads to sub-pixel precision, are not rounded to
      8 bits; these operators are a negligible share of the work. (A head whose output also feeds
      a quantised layer, like an intermediate stack's, may still be run by ONNX Runtime in int8
      kernels: its input and output are quantised anyway.)
    - ``method="percentile"``: each activation range covers the 0.001-99.999 percentiles of the
      calibration values instead of their min / max, so a few outliers do not coarsen the steps.
    - ``batchnorm_as_conv=True``: the batch norms the exporter could not fold into a convolution
      become 1x1 depthwise convolutions first (:func:`batchnorms_as_convolutions`), so that the
      whole network runs in int8 kernels (on the 2-stack hourglass about 1.13x faster; docs/performance.md).

    Args:
        fp32_path: an fp32 export (:func:`export_onnx`; its weights may sit in an external data file).
        out_path: where the int8 graph goes (written in place: stage it in a temporary folder).
        calibration: an ``onnxruntime.quantization.CalibrationDataReader`` yielding
            ``{"image": (B, 3, S, S) float32}`` crops (e.g.
            :class:`posekit.decoding.quantize.CropCalibrationReader`).
        activations: ``"uint8"`` (default) or ``"int8"``.
        reduce_range: 7-bit weights (default True).
        float_heads: leave the output convolutions unquantised (default True).
        method: ``"percentile"`` (default) or ``"minmax"`` calibration.
        batchnorm_as_conv: rewrite the remaining batch norms as depthwise convolutions (default True).

    Raises:
        ImportError: onnxruntime is not installed.
        ValueError: the calibration reader yields nothing; unknown ``activations`` or ``method``.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if activations not in ("uint8", "int8"):
        raise ValueError(f"activations must be 'uint8' or 'int8', got {activations!r}")
    methods = {"percentile": CalibrationMethod.Percentile, "minmax": CalibrationMethod.MinMax}
    if method not in methods:
        raise ValueError(f"method must be one of {sorted(methods)}, got {method!r}")
    out_path = Path(out_path)
    prepared = out_path.with_name(out_path.stem + ".fp32.onnx")
    # one self-contained file (weights inline, wherever the exporter put them): the calibration
    # sessions ONNX Runtime opens cannot follow external weight files of a temporary copy
    graph = onnx.load(str(fp32_path))
    if batchnorm_as_conv:
        batchnorms_as_convolutions(graph)
    onnx.save_model(graph, str(prepared), save_as_external_data=False)
    quiet = _DropQuantizerNoise()
    logging.getLogger().addFilter(quiet)
    try:
        # the histogram calibrators print their progress (bins, percentiles) to stdout: keep it out of posekit's output
        with contextlib.redirect_stdout(io.StringIO()):
            quantize_static(str(prepared), str(out_path), calibration, quant_format=QuantFormat.QDQ, per_channel=True,
                            reduce_range=reduce_range, weight_type=QuantType.QInt8,
                            nodes_to_exclude=list(_output_path(graph.graph)) if float_heads else [],
                            calibrate_method=methods[method],
                            activation_type=QuantType.QUInt8 if activations == "uint8" else QuantType.QInt8)
    except (IndexError, ValueError, KeyError) as e:   # an empty reader ends in an empty min/max table
        raise ValueError(f"int8 calibration failed ({type(e).__name__}: {e}); does the calibration data hold "
                         "any usable crop?") from None
    finally:
        logging.getLogger().removeFilter(quiet)
        prepared.unlink(missing_ok=True)
    return out_path


class _DropQuantizerNoise(logging.Filter):
    """Drops two messages ONNX Runtime's quantizer logs on the root logger for posekit graphs: one
    per BatchNormalization weight when batch norms stay in the graph (``batchnorm_as_conv=False``;
    "Axis 1 is out-of-range", its per-channel axis does not apply to a 1-D tensor, which stays
    per-tensor) and the general advice to pre-process the model (the exported graph already has its
    convolutions and BatchNorms folded where possible)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not (msg.startswith("Axis 1 is out-of-range") or msg.startswith("Please consider"))


class OnnxRuntimeNetwork(nn.Module):
    """An exported network run by ONNX Runtime (CPU) behind the usual ``module(x)`` call.

    ``forward``: ``(B, 3, S, S)`` float32 tensor -> the ``heatmaps`` output as a CPU tensor, or a
    dict of tensors when the graph has several outputs. It has no parameters; ``.to()`` /
    ``.eval()`` are no-ops.

    ``spinning=False`` stops ONNX Runtime's worker threads from busy-waiting for more work after
    each call (their default, good for one session's latency). Use it when several sessions run
    in turn on the same cores, as in a benchmark: the spinning threads of the idle sessions
    otherwise compete with the one that runs (on a 2-core CPU, an fp32 2-stack hourglass timed
    beside four other sessions took 133 ms per call instead of 96 ms).

    Raises:
        ImportError: onnxruntime is not installed.
        onnxruntime's errors: the file is not a loadable model.
    """

    def __init__(self, path: str | Path, spinning: bool = True):
        super().__init__()
        import onnxruntime as ort

        self.path = Path(path)
        options = ort.SessionOptions()
        if not spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = [o.name for o in self.session.get_outputs()]

    def forward(self, x: torch.Tensor):
        image = x.detach().to("cpu", torch.float32).contiguous().numpy()
        outs = [torch.from_numpy(o) for o in self.session.run(None, {"image": image})]
        return outs[0] if len(outs) == 1 else dict(zip(self.names, outs))


#: Largest export kept as one ``.onnx`` file (protobuf files are limited to 2 GiB).
_SINGLE_FILE_BYTES = 1_800_000_000


def _as_single_file(staged: Path, target: Path) -> bool:
    """Rewrite an export whose weights sit in external data files as one self-contained ``.onnx``
    file at ``target``; False (nothing written) when it is too large for one file."""
    import onnx

    if sum(f.stat().st_size for f in staged.parent.iterdir()) > _SINGLE_FILE_BYTES:
        return False
    onnx.save_model(onnx.load(str(staged)), str(target), save_as_external_data=False)
    return True


def cached_onnx(checkpoint: str | Path, model: nn.Module, input_size: int, int8_calibration=None) -> Path:
    """The ONNX export of a checkpoint's network, made once and cached.

    With ``int8_calibration`` (a zero-argument callable returning a calibration reader, called
    only when the cache has no entry) the cached graph is the int8 one of :func:`quantize_int8`,
    kept beside the fp32 entry under its own name; it is refused (ValueError) for a network too
    large for one ``.onnx`` file.

    The cache file lives in ``$XDG_CACHE_HOME/posekit/onnx`` (default ``~/.cache``) under a name
    derived from the checkpoint's absolute path, size and modification time, so a retrained
    checkpoint is exported again. The export is one self-contained ``.onnx`` file (weights
    included), written into a temporary folder and renamed into place, so that the cache never
    holds a partial entry; only an export above about 1.8 GB keeps its weights in an external
    ``.onnx.data`` file, written under its final name before the graph. A cached file that ONNX
    Runtime cannot load (damaged, or its data file gone) is exported again, with a warning.
    """
    ckpt = Path(checkpoint).resolve()
    stat = ckpt.stat()
    variant = "" if int8_calibration is None else "-int8"
    # the int8 scheme (quantize_int8's keyword defaults and what they mean) is part of the key: a new
    # scheme gets a new entry
    scheme = "" if int8_calibration is None else f"|{quantize_int8.__defaults__}|{_INT8_SCHEME_REVISION}"
    key = hashlib.sha1(f"{ckpt}|{stat.st_size}|{stat.st_mtime_ns}|{input_size}{variant}{scheme}".encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "posekit" / "onnx"
    path = cache / f"{ckpt.stem}{variant}-{key}.onnx"
    if path.is_file():
        try:
            OnnxRuntimeNetwork(path)
            return path
        except ImportError:
            raise
        except Exception as e:  # a damaged cache entry (e.g. its external data file went missing)
            logging.getLogger(__name__).warning("cached ONNX export %s is unusable (%s); exporting again", path,
                                                str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        staged = export_onnx(model, Path(tmp) / "export" / path.name, input_size)
        single = Path(tmp) / path.name
        if _as_single_file(staged, single):
            if int8_calibration is not None:
                single = quantize_int8(single, Path(tmp) / f"int8-{path.name}", int8_calibration())
            Path(f"{path}.data").unlink(missing_ok=True)   # left by an older multi-file entry
            os.replace(single, path)
        elif int8_calibration is not None:
            raise ValueError(f"{checkpoint}: the network is too large for a single-file int8 export")
        else:
            for extra in sorted(staged.parent.iterdir()):
                if extra != staged:
                    os.replace(extra, cache / extra.name)
            os.replace(staged, path)
    return path
