"""Test-time decoding: flip testing and back-projection of keypoints to original image pixels."""

from posekit.decoding.inference import crop_to_original, predict_heatmaps, run_inference
from posekit.decoding.multiscale import predict_heatmaps_multiscale

__all__ = ["crop_to_original", "predict_heatmaps", "predict_heatmaps_multiscale", "run_inference"]
