"""Evaluation metrics on arrays: PCKh (official MPII, and the protocols of the public hourglass
implementations), torso-normalised PCK (LSP), segmentation scores and PCK_dist. File formats
(ground truth, prediction files) are read by :mod:`posekit.data`; running a model on a dataset is
:mod:`posekit.pipelines.evaluate`."""

from posekit.evaluation.pck import pck, pck_torso, torso_sizes
from posekit.evaluation.pckh import (
    TABLE_ROWS,
    VISIBILITY_CHOICES,
    PCKhResult,
    format_table,
    missing_from_zero_joints,
    pckh,
    pckh_curve,
    pckh_from_normalize,
    visibility_mask,
)
from posekit.evaluation.protocols import PROTOCOLS, PCKhProtocol, get_protocol

__all__ = ["TABLE_ROWS", "VISIBILITY_CHOICES", "PCKhResult", "format_table", "missing_from_zero_joints", "pckh",
           "pckh_curve", "pckh_from_normalize", "visibility_mask", "PROTOCOLS", "PCKhProtocol", "get_protocol",
           "pck", "pck_torso", "torso_sizes"]
