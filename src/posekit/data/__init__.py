"""Data: annotation files, ground truth and prediction files, crop geometry and augmentation,
heat-map targets, the PyTorch datasets and the built-in synthetic people."""

from posekit.data.annotations import (
    AnnotationError,
    PoseAnnotations,
    check_num_joints,
    load_annotations,
    read_mpii_h5,
    read_mpii_json,
    unannotated_mask,
    write_json_annotations,
)
from posekit.data.dataset import DataError, PoseDataset, image_to_tensor, load_image, tensor_to_image
from posekit.data.ground_truth import GroundTruth, load_ground_truth, load_mpii_ground_truth
from posekit.data.predictions import load_predictions, save_predictions
from posekit.data.targets import HeatmapCodec, decode_heatmaps

__all__ = [
    "AnnotationError", "PoseAnnotations", "check_num_joints", "load_annotations", "read_mpii_h5",
    "read_mpii_json", "unannotated_mask", "write_json_annotations",
    "DataError", "PoseDataset", "image_to_tensor", "load_image", "tensor_to_image",
    "GroundTruth", "load_ground_truth", "load_mpii_ground_truth", "load_predictions", "save_predictions",
    "HeatmapCodec", "decode_heatmaps",
]
