"""Optimisers and learning-rate schedules of the hourglass optimiser study."""

from __future__ import annotations

import torch
from torch import nn

OPTIMIZERS = ("rmsprop", "adam", "radam", "sgd")
SCHEDULERS = ("none", "multistep", "plateau")


def build_optimizer(params, cfg) -> torch.optim.Optimizer:
    """Optimiser named by ``cfg.optimizer`` with ``cfg.lr``, ``cfg.momentum``, ``cfg.weight_decay``.

    RMSprop is Newell et al.'s choice (lr 2.5e-4); Adam/RAdam/SGD are the study's alternatives.

    Raises:
        ValueError: unknown optimiser name.
    """
    name = cfg.optimizer.lower()
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if name == "radam":
        return torch.optim.RAdam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; expected one of {OPTIMIZERS}")


def build_scheduler(optimizer: torch.optim.Optimizer, cfg):
    """Learning-rate schedule named by ``cfg.scheduler``, stepped once per epoch.

    ``multistep``: multiply by ``cfg.gamma`` at the epochs in ``cfg.milestones``. ``plateau``: multiply
    by ``cfg.plateau_factor`` (0.2 = divide by 5) when validation PCKh has not improved for
    ``cfg.plateau_patience`` epochs. ``none``: constant.

    Raises:
        ValueError: unknown scheduler name.
    """
    name = cfg.scheduler.lower()
    if name == "none":
        return None
    if name == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(cfg.milestones), gamma=cfg.gamma)
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=cfg.plateau_factor,
                                                          patience=cfg.plateau_patience)
    raise ValueError(f"unknown scheduler {cfg.scheduler!r}; expected one of {SCHEDULERS}")


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    """Learning rate of the first parameter group."""
    return float(optimizer.param_groups[0]["lr"])


def trainable(model: nn.Module):
    """Parameters that require gradients (frozen parts of a network are left out)."""
    return [p for p in model.parameters() if p.requires_grad]
