"""Test-time decoding: flip testing and back-projection of keypoints to original image pixels."""

from posekit.decoding.inference import crop_to_original, predict_heatmaps, run_inference

__all__ = ["crop_to_original", "predict_heatmaps", "run_inference"]
