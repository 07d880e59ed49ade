"""Pose networks. ``build_model`` maps a :class:`posekit.config.ModelConfig` onto a network."""

from __future__ import annotations

from torch import nn

from posekit.models.hourglass import StackedHourglass, count_conv_parameters, stacked_hourglass
from posekit.models.multitask import MultiTaskPoseSegNet, multitask_pose_seg

__all__ = ["MultiTaskPoseSegNet", "StackedHourglass", "build_model", "count_conv_parameters", "multitask_pose_seg",
           "stacked_hourglass"]


def build_model(cfg, num_joints: int) -> nn.Module:
    """Build the network named by ``cfg.name`` for ``num_joints`` output heat maps.

    Args:
        cfg: a :class:`posekit.config.ModelConfig`.
        num_joints: number of heat maps the network predicts per stack.

    Raises:
        ValueError: unknown model name; for ``"pbn"``, a bad group spec or ``num_joints != 16``.
    """
    if cfg.name == "hourglass":
        return stacked_hourglass(cfg.num_stacks, num_joints, cfg.num_features, cfg.depth, cfg.stem, cfg.stem_width)
    if cfg.name in ("pbn", "pbn_baseline"):
        from posekit.models.pbn import pbn, pbn_baseline

        if cfg.name == "pbn_baseline":
            return pbn_baseline(cfg.baseline, cfg.num_stacks, num_joints, cfg.num_features, cfg.depth, cfg.stem,
                                cfg.stem_width)
        from posekit.analysis.grouping import resolve_groups
        from posekit.joints import NUM_JOINTS

        if num_joints != NUM_JOINTS:
            raise ValueError(f"PBN groups name the {NUM_JOINTS} MPII joints; train it on all joints "
                             f"(data.joints: all), got {num_joints} heat maps")
        return pbn(resolve_groups(cfg.groups, num_joints), cfg.num_stacks, num_joints, cfg.num_features, cfg.depth,
                   cfg.branch_width, cfg.branch_depth, cfg.stem, cfg.stem_width, cfg.next_stack_features)
    if cfg.name == "multitask":
        raise ValueError("model 'multitask' is built from the config's multitask section: train it with "
                         "`posekit train` (posekit.training.multitask); it predicts heat maps, PAFs and part "
                         "labels, not a heat-map tensor")
    raise ValueError(f"unknown model {cfg.name!r}; expected 'hourglass', 'pbn' or 'pbn_baseline'")
