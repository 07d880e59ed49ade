"""Test-time decoding: flip and multi-scale testing, back-projection of keypoints to original
image pixels, and the single-image predictor."""

from posekit.decoding.heatmaps import output_heatmaps, predict_heatmaps, predict_heatmaps_multiscale
from posekit.decoding.inference import crop_to_original, heatmaps_to_original, run_inference

__all__ = ["crop_to_original", "heatmaps_to_original", "output_heatmaps", "predict_heatmaps",
           "predict_heatmaps_multiscale", "run_inference"]
