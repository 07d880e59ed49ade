"""Parameters and GFLOPs of packaged configs' networks, the complexity columns of PBN's Fig. 5
(Tang & Wu 2019, Sec. 4.3: parameters in millions and GFLOPs of three-stack PBNs).

Each config's network is built as training builds it (PBN groups resolved to joint names by
:func:`posekit.data.grouping.resolve_groups`; ``mi:K`` from the packaged MPII matrix) and counted
at the config's ``data.input_size`` (256 px for the MPII configs) on one image with
:func:`posekit.models.layers.count_flops`. GFLOPs are reported two ways: ``gflops`` is
``FlopCounterMode``'s total / 1e9 (2 FLOPs per multiply-add) and ``gmacs`` the multiply-adds / 1e9;
the paper does not say which of the two its figure plots.
"""

from __future__ import annotations

from typing import Sequence

from posekit.config import PBNConfig, load_config
from posekit.data.grouping import resolve_groups
from posekit.keypoints import get_keypoint_set
from posekit.models.layers import count_flops, count_parameters
from posekit.models.registry import create_model

__all__ = ["config_complexity", "complexity_table"]


def config_complexity(name: str, overrides: Sequence[str] = (), input_size: int | None = None) -> dict:
    """Parameters and FLOPs of the network of config ``name`` (a packaged name or a YAML path).

    Args:
        overrides: ``key=value`` settings applied to the config first (as ``--set``).
        input_size: side of the square input (px); default the config's ``data.input_size``.

    Returns:
        ``{"config", "params", "flops", "gflops", "gmacs"}``: ``params`` all trainable parameters,
        ``flops`` FLOPs of one forward pass on one image (see :func:`count_flops`), ``gflops`` =
        ``flops / 1e9``, ``gmacs`` = ``flops / 2e9``.

    Raises:
        FileNotFoundError, ConfigError: see :func:`posekit.config.load_config`.
        ValueError: the config's PBN groups do not resolve (see :func:`resolve_groups`).
    """
    cfg = load_config(name, list(overrides))
    dataset_keypoints = get_keypoint_set(cfg.data.keypoints)
    keypoints = dataset_keypoints.subset(dataset_keypoints.resolve(cfg.data.joints))
    if isinstance(cfg.model, PBNConfig) and isinstance(cfg.model.groups, str):
        cfg.model.groups = [list(g) for g in resolve_groups(cfg.model.groups, keypoints)]
    model = create_model(cfg.model.name, **cfg.model.create_kwargs(keypoints))
    flops = count_flops(model, input_size or cfg.data.input_size)
    return {"config": name, "params": count_parameters(model), "flops": flops, "gflops": flops / 1e9,
            "gmacs": flops / 2e9}


def complexity_table(names: Sequence[str], overrides: Sequence[str] = (), input_size: int | None = None) -> str:
    """A Markdown table (config, parameters in millions, GFLOPs, GMACs) of :func:`config_complexity`
    for every config of ``names``; values rounded to two decimals."""
    lines = ["| config | parameters (M) | GFLOPs | GMACs |", "| --- | --- | --- | --- |"]
    for name in names:
        c = config_complexity(name, overrides, input_size)
        lines.append(f"| `{name}` | {c['params'] / 1e6:.2f} | {c['gflops']:.2f} | {c['gmacs']:.2f} |")
    return "\n".join(lines)
