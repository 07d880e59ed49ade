"""Pose networks. ``build_model`` maps a :class:`posekit.config.ModelConfig` onto a network."""

from __future__ import annotations

from torch import nn

from posekit.models.hourglass import StackedHourglass, count_conv_parameters, stacked_hourglass

__all__ = ["StackedHourglass", "build_model", "count_conv_parameters", "stacked_hourglass"]


def build_model(cfg, num_joints: int) -> nn.Module:
    """Build the network named by ``cfg.name`` for ``num_joints`` output heat maps.

    Args:
        cfg: a :class:`posekit.config.ModelConfig`.
        num_joints: number of heat maps the network predicts per stack.

    Raises:
        ValueError: unknown model name.
    """
    if cfg.name == "hourglass":
        return stacked_hourglass(cfg.num_stacks, num_joints, cfg.num_features, cfg.depth, cfg.stem, cfg.stem_width)
    raise ValueError(f"unknown model {cfg.name!r}; expected 'hourglass'")
