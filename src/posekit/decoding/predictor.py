"""Single-image prediction with a posekit model: person box -> crop -> heat maps -> keypoints.

Everything the predictor needs comes from the model artifact (:class:`posekit.checkpoint.ModelArtifact`):
the keypoint set and its flip pairs, the crop convention, the heat-map codec and the evaluation
defaults (flip testing, test scales). A caller may override flip testing; nothing else has to be
known about the checkpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from posekit.checkpoint import ModelArtifact, resolve_device
from posekit.data.dataset import image_to_tensor
from posekit.data.targets import HeatmapCodec
from posekit.data.transforms import SCALE_UNIT, crop_image, person_crop
from posekit.decoding.heatmaps import output_heatmaps, predict_heatmaps, predict_heatmaps_multiscale
from posekit.decoding.inference import heatmaps_to_original
from posekit.keypoints import KeypointSet
from posekit.models.registry import load_model

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnxruntime", "onnx-int8", "auto")


@dataclass
class PosePrediction:
    """One person's prediction.

    Attributes:
        keypoints: ``(K, 2)`` x, y in original image pixels, in the order of ``keypoint_set``.
        confidence: ``(K,)`` heat-map peak values.
        keypoint_set: the model's keypoints.
        center: ``(2,)`` raw person center (before the crop protocol's shift), original pixels.
        scale: raw person scale (box = scale * 200 px before the enlargement factor).
        heatmaps: ``(K, h, w)`` the model's heat maps in the crop's heat-map frame.
        crop: ``(S, S, 3)`` uint8 RGB crop fed to the network.
        affine: ``(2, 3)`` original -> crop affine.
        flip_test: whether the heat maps are flip-averaged.
        extra: other outputs of the network for this crop (multi-task: ``"segmentation"`` ``(S, S)``
            class ids in crop pixels, ``"pafs"`` ``(2L, h, w)``).
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    keypoint_set: KeypointSet
    center: np.ndarray
    scale: float
    heatmaps: np.ndarray
    crop: np.ndarray
    affine: np.ndarray
    flip_test: bool = False
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict: joint name -> {x, y, confidence} (original pixels), plus center, scale
        and whether flip testing was used."""
        joints = {}
        for name, (x, y), c in zip(self.keypoint_set.names, self.keypoints, self.confidence):
            joints[name] = {"x": round(float(x), 2), "y": round(float(y), 2), "confidence": round(float(c), 4)}
        return {"center": [float(v) for v in self.center], "scale": float(self.scale), "flip_test": self.flip_test,
                "keypoints": joints}


def person_box(image_shape: tuple[int, ...], center=None, scale=None, bbox=None,
               scale_factor: float = 1.25, center_shift: float = 0.0) -> tuple[np.ndarray, float]:
    """The raw MPII person box (center, scale) from what the user gave.

    Precedence: ``center`` + ``scale`` (the raw MPII convention of the annotation release: box =
    scale * 200 px, the crop protocol is applied on top); else ``bbox`` ``(x1, y1, x2, y2)`` in
    original pixels (scale = longer side / 200); else the whole image. In the last two cases the
    scale is divided by ``scale_factor`` and the centre moved up by ``center_shift * scale`` so that,
    after the crop protocol, the crop is the square around the box's centre that just covers it.
    Whether the box fits the image is checked when it is cropped
    (:func:`posekit.data.transforms.check_crop_box`).

    Raises:
        ValueError: only one of center/scale given, a non-finite value, a non-positive scale, a
            degenerate box, or an image under 2x2 pixels without a box.
    """
    if (center is None) != (scale is None):
        raise ValueError("give both --center and --scale, or neither")
    given = [v for v in (center, scale, bbox) if v is not None]
    if not all(np.isfinite(np.asarray(v, dtype=np.float64)).all() for v in given):
        raise ValueError(f"the person box must be finite numbers, got {', '.join(str(np.asarray(v).tolist()) for v in given)}")
    if center is not None:
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        return np.asarray(center, dtype=np.float64), float(scale)
    if bbox is None:
        h, w = image_shape[:2]
        if w < 2 or h < 2:
            raise ValueError(f"the image is only {w}x{h} pixels: too small to hold a person")
        bbox = (0.0, 0.0, w - 1.0, h - 1.0)
    x1, y1, x2, y2 = (float(v) for v in bbox)
    if not x2 > x1 or not y2 > y1:
        raise ValueError(f"degenerate box {list(bbox)}: need x2 > x1 and y2 > y1")
    scale = max(x2 - x1, y2 - y1) / SCALE_UNIT / scale_factor
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2 - center_shift * scale]), scale


class PosePredictor:
    """A posekit model ready to predict keypoints on images.

    Args:
        model: a network from :func:`posekit.load_model` (``model.artifact`` set), or any module
            with the same contract together with ``artifact``.
        artifact: the model artifact (default: ``model.artifact``).
        flip: flip testing; None: the artifact's default (``artifact.eval["flip_test"]``).
        scales: multi-scale test zooms; None: the artifact's default (usually single scale).
        device: where the model runs.

    Raises:
        ValueError: no artifact, or flip testing asked for a keypoint set without flip pairs.
    """

    def __init__(self, model: nn.Module, artifact: ModelArtifact | None = None, flip: bool | None = None,
                 scales: list[float] | None = None, device: str | torch.device = "cpu"):
        artifact = artifact if artifact is not None else getattr(model, "artifact", None)
        if artifact is None:
            raise ValueError("PosePredictor needs the model artifact (use posekit.load_model)")
        self.artifact = artifact
        self.keypoints = artifact.keypoints
        self.flip = bool(artifact.eval.get("flip_test", True)) if flip is None else bool(flip)
        self.scales = scales if scales is not None else artifact.eval.get("scales")
        if self.flip:
            self.keypoints.flip_permutation()   # raises for a set that cannot be flipped
        c = artifact.codec
        self.codec = HeatmapCodec(c["input_size"], c["heatmap_size"], c["sigma"], c.get("decoding", "posekit"))
        self.crop_mode = artifact.crop.get("mode", "center_scale")
        self.scale_factor = float(artifact.crop.get("scale_factor", 1.25))
        # artifacts written before the shift existed were trained without one
        self.center_shift = float(artifact.crop.get("center_shift", 0.0))
        self.input_size = int(artifact.crop.get("input_size", c["input_size"]))
        self.device = torch.device(device)
        # channels-last convolutions: faster CPU inference for the hourglass family (docs/performance.md)
        self.model = model.to(self.device, memory_format=torch.channels_last).eval()

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", flip: bool | None = None,
                        backend: str = "torch", scales: list[float] | None = None) -> "PosePredictor":
        """Load a checkpoint with :func:`posekit.load_model` and wrap it.

        Args:
            flip: flip testing (None: the checkpoint's default).
            backend: ``"torch"``; ``"onnxruntime"`` (CPU: the network exported once to ONNX and run
                by ONNX Runtime, docs/performance.md); ``"onnx-int8"`` (CPU: the int8 graph of
                :func:`posekit.decoding.quantize.int8_onnx`, calibrated on the checkpoint's training
                data the first time and cached); ``"auto"``: ONNX Runtime (fp32) on the CPU when it
                is installed and the export works, else torch.

        Raises:
            FileNotFoundError / posekit.checkpoint.CheckpointError: see :func:`posekit.load_model`;
            ValueError: an unknown backend or device, CUDA asked for without CUDA, or
            ``"onnxruntime"`` / ``"onnx-int8"`` that cannot run (onnxruntime not installed, the
            export or the calibration failed, ``"onnx-int8"`` on a CUDA device).
        """
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
        device = resolve_device(device)
        if backend == "onnx-int8" and device.type != "cpu":
            raise ValueError(f"the onnx-int8 backend runs on the CPU only, not on {device}")
        model = load_model(path, device=device)
        artifact = model.artifact
        if backend != "torch" and device.type == "cpu":
            from posekit.models.export import OnnxRuntimeNetwork, cached_onnx

            try:
                if backend == "onnx-int8":
                    from posekit.decoding.quantize import int8_onnx

                    graph = int8_onnx(path, model, artifact.input["size"])
                else:
                    graph = cached_onnx(path, model, artifact.input["size"])
                model = OnnxRuntimeNetwork(graph)
            except Exception as e:  # noqa: BLE001 - onnxruntime missing, or any export / runtime failure
                if backend != "auto":
                    hint = " (pip install posekit[onnx])" if isinstance(e, ImportError) else ""
                    raise ValueError(f"{path}: the {backend} backend cannot run: {type(e).__name__}: "
                                     f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}{hint}") from None
                log.warning("onnxruntime backend unavailable (%s); using torch", e)
        return cls(model, artifact, flip=flip, scales=scales, device=device)

    def crop(self, image: np.ndarray, center=None, scale=None, bbox=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """The network input crop of a person: ``(crop (S, S, 3) uint8, affine (2, 3), center, scale)``.

        Raises:
            ValueError: an invalid box (see :func:`person_box`), or one that is not a usable view of
                the image (:func:`posekit.data.transforms.check_crop_box`: outside it, under 4 px, or
                over 10 x its longer side).
        """
        given = (f"center {list(center)} and scale {scale}" if center is not None else
                 f"box {list(bbox)}" if bbox is not None else "the whole image as the box")
        center, scale = person_box(image.shape, center, scale, bbox, self.scale_factor, self.center_shift)
        try:
            affine, keep_box, _, _ = person_crop(center, scale, self.input_size, self.crop_mode, self.scale_factor,
                                                 center_shift=self.center_shift, image_shape=image.shape)
        except ValueError as e:
            raise ValueError(f"{given}: {e}") from None
        return crop_image(image, affine, self.input_size, keep_box=keep_box), affine, center, scale

    @torch.no_grad()
    def predict(self, image: np.ndarray, center=None, scale=None, bbox=None, flip: bool | None = None) -> PosePrediction:
        """Keypoints of the person in ``image``.

        Args:
            image: ``(H, W, 3)`` uint8 RGB.
            center, scale, bbox: the person box, see :func:`person_box` (default: the whole image).
            flip: flip testing for this call (None: the predictor's setting).

        Returns:
            A :class:`PosePrediction` in original image pixels.

        Raises:
            ValueError: an invalid box. A model without heat maps (segmentation only) gives NaN
            keypoints and its other outputs in ``extra``.
        """
        flip = self.flip if flip is None else bool(flip)
        crop, affine, center, scale = self.crop(image, center, scale, bbox)
        x = image_to_tensor(crop).unsqueeze(0).to(self.device).contiguous(memory_format=torch.channels_last)
        out = self.model(x)
        extra = self._extra_outputs(out)
        k, h = len(self.keypoints), self.codec.heatmap_size
        if isinstance(out, dict) and "heatmaps" not in out:   # a segmentation-only multi-task model
            nan = np.full((k, 2), np.nan)
            return PosePrediction(nan, np.full(k, np.nan), self.keypoints, center, scale, np.zeros((k, h, h), np.float32),
                                  crop, affine, False, extra)
        if self.scales:
            heatmaps = predict_heatmaps_multiscale(self.model, x, self.scales, flip=flip, keypoints=self.keypoints)
        elif flip:
            heatmaps = predict_heatmaps(self.model, x, flip=True, keypoints=self.keypoints)
        else:
            heatmaps = output_heatmaps(out).float()
        coords, conf = heatmaps_to_original(self.codec, heatmaps.cpu().numpy(), affine[None])
        keypoints = coords[0]
        return PosePrediction(keypoints, conf[0], self.keypoints, center, scale, heatmaps[0].cpu().numpy(), crop,
                              affine, flip, extra)

    @staticmethod
    def _extra_outputs(out) -> dict:
        """Non-heat-map outputs of one crop: segmentation class ids (crop px) and the last stage's PAFs."""
        if not isinstance(out, dict):
            return {}
        extra = {}
        if "segmentation" in out:
            extra["segmentation"] = out["segmentation"][0].argmax(0).to(torch.uint8).cpu().numpy()
        if "pafs" in out:
            extra["pafs"] = out["pafs"][0, -1].float().cpu().numpy()
        return extra
