"""Evaluation: the official MPII PCKh metric and prediction-file I/O."""

from posekit.evaluation.pckh import (
    MEAN_EXCLUDED_JOINTS,
    SC_BIAS,
    TABLE_ROWS,
    MPIIGroundTruth,
    PCKhResult,
    format_table,
    head_sizes_from_headboxes,
    load_ground_truth,
    load_h5_ground_truth,
    load_json_ground_truth,
    load_mpii_ground_truth,
    missing_from_zero_joints,
    pckh,
    pckh_curve,
    pckh_from_normalize,
)
from posekit.evaluation.predictions import load_predictions, save_predictions, to_sample_first

__all__ = [
    "MEAN_EXCLUDED_JOINTS",
    "SC_BIAS",
    "TABLE_ROWS",
    "MPIIGroundTruth",
    "PCKhResult",
    "format_table",
    "head_sizes_from_headboxes",
    "load_ground_truth",
    "load_h5_ground_truth",
    "load_json_ground_truth",
    "load_mpii_ground_truth",
    "missing_from_zero_joints",
    "pckh",
    "pckh_curve",
    "pckh_from_normalize",
    "load_predictions",
    "save_predictions",
    "to_sample_first",
]
