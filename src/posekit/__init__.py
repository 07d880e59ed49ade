"""posekit: 2D single-person human pose estimation (stacked hourglass, PBN, KPTransfer, multi-task)."""

__version__ = "0.1.0"
