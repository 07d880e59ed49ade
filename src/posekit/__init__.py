"""posekit: 2D single-person human pose estimation (stacked hourglass, PBN, KPTransfer, multi-task).

The model API (timm-style)::

    import posekit
    posekit.list_models()                                  # registered architectures
    net = posekit.create_model("hourglass_8stack", num_joints=16)
    net = posekit.load_model("runs/quickstart/best.pt")    # eval mode; RGB in [0, 1], NCHW
    heatmaps = net(images)                                 # (B, stacks, K, H/4, W/4)
    net.artifact.keypoints.names                           # what the K channels are

    for result in posekit.PoseInferencer("runs/quickstart/best.pt")(["photos/", "clip.mp4"]):
        print(result.source, [person.keypoints for person in result.people])
"""

__version__ = "0.2.0"

__all__ = ["__version__", "create_model", "list_models", "load_model", "PoseInferencer"]


def __getattr__(name: str):
    # imported on first use, so that `import posekit` (and the command line's start) stays light
    if name in ("create_model", "list_models", "load_model"):
        from posekit.models import registry

        return getattr(registry, name)
    if name == "PoseInferencer":
        from posekit.pipelines.predict import PoseInferencer

        return PoseInferencer
    raise AttributeError(f"module 'posekit' has no attribute {name!r}")
