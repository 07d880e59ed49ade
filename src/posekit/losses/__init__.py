"""Training losses."""

from posekit.losses.heatmap import HeatmapMSELoss

__all__ = ["HeatmapMSELoss"]
