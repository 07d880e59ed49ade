"""Pose networks and the model registry (:mod:`posekit.models.registry`).

Importing this package registers every model family: ``hourglass`` (and its 2- / 8-stack and
reduced-stem variants), ``pbn`` / ``pbn_baseline`` (and the paper's 8-stack models), ``kptransfer``
(the KPTransfer composite) and ``multitask`` (pose + part segmentation).
"""

from posekit.models import composite, hourglass, multitask, pbn  # noqa: F401  (registers the builders)
from posekit.models.layers import IMAGENET_MEAN, IMAGENET_STD, count_conv_parameters, count_flops, count_parameters
from posekit.models.registry import create_model, is_model, list_models, load_model, register_model

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "count_conv_parameters", "count_flops", "count_parameters", "create_model",
           "is_model", "list_models", "load_model", "register_model"]
