"""Single-image prediction from a trained checkpoint: person box -> crop -> heat maps -> keypoints."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from posekit.config import config_from_dict
from posekit.data.dataset import normalize_image
from posekit.data.targets import HeatmapCodec
from posekit.data.transforms import SCALE_UNIT, crop_image, get_affine_transform
from posekit.decoding.inference import crop_to_original, predict_heatmaps
from posekit.joints import JOINT_NAMES, NUM_JOINTS
from posekit.models import build_model
from posekit.training.checkpoint import load_checkpoint


@dataclass
class PosePrediction:
    """One person's prediction.

    Attributes:
        keypoints: ``(16, 2)`` x, y in original image pixels (NaN for joints the model does not predict).
        confidence: ``(16,)`` heat-map peak values (NaN for joints the model does not predict).
        center: ``(2,)`` person center used for the crop, original pixels.
        scale: person scale used for the crop (box = scale * 200 px before the enlargement factor).
        heatmaps: ``(J, h, w)`` the model's heat maps in the crop's heat-map frame.
        joint_ids: dataset joint ids of the heat-map channels.
        crop: ``(S, S, 3)`` uint8 RGB crop fed to the network.
        affine: ``(2, 3)`` original -> crop affine.
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    center: np.ndarray
    scale: float
    heatmaps: np.ndarray
    joint_ids: tuple[int, ...]
    crop: np.ndarray
    affine: np.ndarray

    def to_dict(self) -> dict:
        """JSON-ready dict: joint name -> {x, y, confidence} (original pixels), plus center and scale."""
        joints = {}
        for j in self.joint_ids:
            x, y = self.keypoints[j]
            joints[JOINT_NAMES[j]] = {"x": round(float(x), 2), "y": round(float(y), 2),
                                      "confidence": round(float(self.confidence[j]), 4)}
        return {"center": [float(v) for v in self.center], "scale": float(self.scale), "keypoints": joints}


def person_box(image_shape: tuple[int, ...], center=None, scale=None, bbox=None,
               scale_factor: float = 1.25) -> tuple[np.ndarray, float]:
    """Center and scale of the person box from what the user gave.

    Precedence: ``center`` + ``scale`` (MPII convention, box = scale * 200 px); else ``bbox``
    ``(x1, y1, x2, y2)`` in original pixels (scale = longer side / 200); else the whole image. In
    the last two cases the scale is divided by ``scale_factor`` so that, after the usual
    enlargement, the crop covers exactly the box.

    Raises:
        ValueError: only one of center/scale given, or a degenerate box.
    """
    if (center is None) != (scale is None):
        raise ValueError("give both --center and --scale, or neither")
    if center is not None:
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        return np.asarray(center, dtype=np.float64), float(scale)
    if bbox is None:
        h, w = image_shape[:2]
        bbox = (0.0, 0.0, w - 1.0, h - 1.0)
    x1, y1, x2, y2 = (float(v) for v in bbox)
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"degenerate box {bbox}: need x2 > x1 and y2 > y1")
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    return center, max(x2 - x1, y2 - y1) / SCALE_UNIT / scale_factor


class PosePredictor:
    """A trained model ready to predict keypoints on images.

    Args:
        model: network returning ``(B, stacks, J, h, w)`` heat maps.
        codec: the heat-map codec the model was trained with.
        joint_ids: dataset joint ids of the model's channels.
        scale_factor: person-box enlargement used at training time.
        flip: flip testing (average with the mirrored image).
        device: where the model runs.
    """

    def __init__(self, model: torch.nn.Module, codec: HeatmapCodec, joint_ids, scale_factor: float = 1.25,
                 flip: bool = True, device: str | torch.device = "cpu"):
        # channels-last convolutions: 1.39x faster inference for the 2-stack hourglass at 256 px on
        # the 2-core CPU (benchmarks/hourglass_throughput.py), same results
        self.model = model.to(device, memory_format=torch.channels_last).eval()
        self.codec, self.joint_ids = codec, tuple(joint_ids)
        self.scale_factor, self.flip, self.device = scale_factor, flip, torch.device(device)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", flip: bool = True,
                        backend: str = "torch") -> "PosePredictor":
        """Build the model a posekit checkpoint describes and load its weights.

        Args:
            backend: ``"torch"``; ``"onnxruntime"`` (CPU: the network exported once to ONNX and run
                by ONNX Runtime, 1.7x faster than torch at batch 1 for the 2-stack hourglass on the
                2-core CPU, docs/performance.md); ``"auto"``: ONNX Runtime on the CPU when it is
                installed and the export works, else torch.

        Raises:
            FileNotFoundError / ValueError: see :func:`posekit.training.checkpoint.load_checkpoint`;
            ValueError for an unknown backend; ImportError for ``"onnxruntime"`` without onnxruntime.
        """
        if backend not in ("torch", "onnxruntime", "auto"):
            raise ValueError(f"unknown backend {backend!r}; expected torch, onnxruntime or auto")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        ckpt = load_checkpoint(path, map_location=device)
        cfg = config_from_dict(ckpt["config"], where=str(path))
        joint_ids = tuple(ckpt["joint_ids"])
        if "s1_joint_ids" in ckpt:  # a KPTransfer composite: predicts its S2 joints (posekit.training.transfer)
            from posekit.models.composite import SubsetTransferHourglass

            m = cfg.model
            model = SubsetTransferHourglass(len(ckpt["s1_joint_ids"]), len(joint_ids), m.num_features, m.depth,
                                            m.stem, m.stem_width, stacks_per_subset=m.num_stacks // 2)
        else:
            model = build_model(cfg.model, len(joint_ids))
        model.load_state_dict(ckpt["model"])
        codec = HeatmapCodec(cfg.data.input_size, cfg.data.heatmap_size, cfg.data.sigma)
        if backend != "torch" and torch.device(device).type == "cpu":
            from posekit.models.export import OnnxRuntimeNetwork, cached_onnx

            try:
                model = OnnxRuntimeNetwork(cached_onnx(path, model, cfg.data.input_size))
            except Exception as e:  # onnxruntime missing or the export failed
                if backend == "onnxruntime":
                    raise
                logging.getLogger(__name__).warning("onnxruntime backend unavailable (%s); using torch", e)
        return cls(model, codec, joint_ids, cfg.data.scale_factor, flip=flip, device=device)

    @torch.no_grad()
    def predict(self, image: np.ndarray, center=None, scale=None, bbox=None) -> PosePrediction:
        """Keypoints of the person in ``image``.

        Args:
            image: ``(H, W, 3)`` uint8 RGB.
            center, scale, bbox: the person box, see :func:`person_box` (default: the whole image).

        Returns:
            A :class:`PosePrediction` in original image pixels.
        """
        center, scale = person_box(image.shape, center, scale, bbox, self.scale_factor)
        size = self.codec.input_size
        affine = get_affine_transform(center, scale, 0.0, size, self.scale_factor)
        crop = crop_image(image, affine, size)
        x = normalize_image(crop).unsqueeze(0).to(self.device).contiguous(memory_format=torch.channels_last)
        heatmaps = predict_heatmaps(self.model, x, flip=self.flip, joint_ids=list(self.joint_ids))
        coords, conf = self.codec.decode(heatmaps.cpu().numpy())
        kp = np.full((NUM_JOINTS, 2), np.nan)
        confidence = np.full(NUM_JOINTS, np.nan)
        kp[list(self.joint_ids)] = crop_to_original(coords, affine[None])[0]
        confidence[list(self.joint_ids)] = conf[0]
        return PosePrediction(kp, confidence, center, scale, heatmaps[0].cpu().numpy(), self.joint_ids, crop, affine)
