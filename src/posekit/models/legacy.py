"""Reading checkpoints written before the model artifact existed (format 1).

Format 1 stored the training config (``"config"``, the old schema with one ``model`` section for
every family and a separate ``multitask`` section), the predicted MPII joint ids (``"joint_ids"``)
and, for a KPTransfer composite, ``"s1_joint_ids"``. Networks then took ImageNet-normalised input
(the dataset normalised), and the stack modules sat at the top level of the state dict.
:func:`migrate_v1` turns such a checkpoint into a :class:`~posekit.checkpoint.ModelArtifact` and a
state dict of today's layout; the test ``tests/test_artifact.py`` checks it on format-1 files.

PBN checkpoints with ``groups: "mi:K"`` are migrated with the groups that spec gave at the time
(``posekit/assets/legacy_mi_groups.json``, K = 2..16, computed once with the clustering of that
version), so the migration does not depend on the installed scikit-learn.
"""

from __future__ import annotations

import json
import re
from importlib import resources

from posekit.checkpoint import CheckpointError, ModelArtifact
from posekit.keypoints import MPII
from posekit.models.layers import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["migrate_v1"]

_STACK_PARTS = r"(hourglasses|features|shared|heads|remap_features|remap_heatmaps)"


def _stack_key(key: str, prefix: str, plain_heads: bool) -> str:
    """Old stack-module key (``features.0...``, PBN ``shared.0...``) -> ``{prefix}...`` today."""
    m = re.match(_STACK_PARTS + r"\.(.*)$", key)
    if not m:
        return key
    part, rest = m.groups()
    part = "features" if part == "shared" else part
    if part == "heads" and plain_heads:   # the hourglass's bare 1x1 conv became LinearHead.conv
        index, tail = rest.split(".", 1)
        rest = f"{index}.conv.{tail}"
    return f"{prefix}{part}.{rest}"


def _legacy_groups(spec, where: str) -> list[list[str]]:
    if isinstance(spec, str):
        if spec == "body":
            return [list(g) for g in MPII.groups["body"]]
        if spec.startswith("mi:"):
            table = json.loads(resources.files("posekit").joinpath("assets", "legacy_mi_groups.json").read_text())
            if spec[3:] not in table:
                raise CheckpointError(f"{where}: PBN groups {spec!r} cannot be migrated (known: mi:2 ... mi:16)")
            return table[spec[3:]]
        raise CheckpointError(f"{where}: unknown PBN group spec {spec!r}")
    return [[MPII.names[x] if isinstance(x, int) else MPII.names[MPII.index(x)] for x in g] for g in spec]


def migrate_v1(ckpt: dict, where: str = "checkpoint") -> tuple[ModelArtifact, dict]:
    """A format-1 checkpoint as ``(artifact, state_dict)`` in today's layout.

    Raises:
        CheckpointError: entries missing or a model family that format 1 did not have.
    """
    try:
        cfg, joint_ids, state = ckpt["config"], [int(j) for j in ckpt["joint_ids"]], ckpt["model"]
        data, m, ev = cfg["data"], cfg["model"], cfg.get("eval", {})
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{where}: format-1 checkpoint without {e}") from None
    keypoints = MPII.subset(joint_ids)
    norm = {"input_mean": list(IMAGENET_MEAN), "input_std": list(IMAGENET_STD)}
    name = m.get("name", "hourglass")
    trunk = {"num_features": m["num_features"], "depth": m["depth"], "stem": m["stem"], "stem_width": m["stem_width"]}
    extra: dict = {}
    if name == "hourglass" and "s1_joint_ids" in ckpt:
        s1 = [int(j) for j in ckpt["s1_joint_ids"]]
        arch, kwargs = "kptransfer", {"num_s1": len(s1), "num_s2": len(joint_ids), **trunk,
                                      "stacks_per_subset": m["num_stacks"] // 2, **norm}
        extra = {"s1_joints": [MPII.names[j] for j in s1]}

        def rename(k: str) -> str:
            if k.startswith("s1_net."):
                return "s1_net." + _stack_key(k[len("s1_net."):], "stacks.", True)
            return _stack_key(k, "s2_stacks.", True)
    elif name == "hourglass":
        arch, kwargs = "hourglass", {"num_joints": len(joint_ids), "num_stacks": m["num_stacks"], **trunk, **norm}

        def rename(k: str) -> str:
            return _stack_key(k, "stacks.", True)
    elif name in ("pbn", "pbn_baseline"):
        if name == "pbn":
            arch = "pbn"
            kwargs = {"joint_names": list(keypoints.names), "groups": _legacy_groups(m["groups"], where),
                      "num_stacks": m["num_stacks"], "num_features": m["num_features"], "depth": m["depth"],
                      "branch_width": m["branch_width"], "branch_depth": m["branch_depth"], "stem": m["stem"],
                      "stem_width": m["stem_width"], "next_stack_features": m["next_stack_features"], **norm}
        else:
            arch = "pbn_baseline"
            kwargs = {"kind": m["baseline"], "num_joints": len(joint_ids), "num_stacks": m["num_stacks"], **trunk,
                      **norm}

        def rename(k: str) -> str:
            return _stack_key(k, "stacks.", False)
    elif name == "multitask":
        mt = cfg["multitask"]
        arch = "multitask"
        kwargs = {"num_joints": len(joint_ids), "limbs": [list(limb) for limb in MPII.limbs()],
                  "tasks": list(mt["tasks"]), "num_stages": mt["num_stages"], "num_classes": mt["num_classes"],
                  "trunk_width": mt["trunk_width"], "feature_channels": mt["feature_channels"],
                  "stage_width": mt["stage_width"], "refine_kernel": mt["refine_kernel"],
                  "seg_upsample": mt["seg_upsample"], "seg_head": "stride8", **norm}

        def rename(k: str) -> str:   # format 1 had only the stride-8 head, its deconv at `upsample`
            return k.replace("segmentation.upsample.weight", "segmentation.upsample.deconv.weight")
    else:
        raise CheckpointError(f"{where}: format-1 checkpoint of unknown model {name!r}")
    state = {rename(k): v for k, v in state.items()}
    train_state = ckpt.get("train_state") or {}
    best = train_state.get("best_pckh")
    artifact = ModelArtifact(
        arch=arch, arch_kwargs=kwargs, keypoints=keypoints,
        input={"color": "RGB", "range": [0.0, 1.0], "layout": "NCHW", "size": data["input_size"],
               "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        crop={"mode": data.get("crop", "center_scale"), "scale_factor": data.get("scale_factor", 1.25),
              "center_shift": 0.0, "input_size": data["input_size"]},
        codec={"input_size": data["input_size"], "heatmap_size": data["heatmap_size"], "sigma": data["sigma"],
               "decoding": "posekit"},
        eval={"flip_test": bool(ev.get("flip_test", True)), "scales": None},
        trained_on={"dataset": data.get("dataset"), "keypoint_set": "mpii", "epochs": train_state.get("epoch"),
                    "val_pckh": best if isinstance(best, float) and best > 0 else None, "migrated_from_format": 1},
        extra=extra)
    return artifact, state
