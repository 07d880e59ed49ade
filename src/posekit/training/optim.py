"""Optimisers and learning-rate schedules of the hourglass optimiser study."""

from __future__ import annotations

import math

import torch
from torch import nn

OPTIMIZERS = ("rmsprop", "adam", "adamw", "radam", "sgd")
SCHEDULERS = ("none", "multistep", "plateau", "cosine")


def build_optimizer(params, cfg) -> torch.optim.Optimizer:
    """Optimiser named by ``cfg.optimizer`` with ``cfg.lr``, ``cfg.momentum``, ``cfg.weight_decay``.

    RMSprop is Newell et al.'s choice (lr 2.5e-4); Adam / RAdam / SGD are the optimizer study's
    alternatives; AdamW is Adam with decoupled weight decay (Loshchilov & Hutter 2019).

    Raises:
        ValueError: unknown optimiser name.
    """
    name = cfg.optimizer.lower()
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if name == "radam":
        return torch.optim.RAdam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; expected one of {OPTIMIZERS}")


def build_scheduler(optimizer: torch.optim.Optimizer, cfg):
    """Learning-rate schedule named by ``cfg.scheduler``, stepped once per epoch.

    ``multistep``: multiply by ``cfg.gamma`` at the epochs in ``cfg.milestones``. ``plateau``: multiply
    by ``cfg.plateau_factor`` (0.2 = divide by 5) when validation PCKh has not improved for
    ``cfg.plateau_patience`` epochs. ``cosine``: a linear warm-up over ``cfg.warmup_epochs`` epochs
    (from ``lr / warmup_epochs`` to ``lr``), then cosine annealing to ``cfg.min_lr`` at the last
    epoch (Loshchilov & Hutter 2017, without restarts). ``none``: constant.

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
    if name == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_with_warmup(cfg.lr, cfg.min_lr, cfg.warmup_epochs,
                                                                                cfg.epochs))
    raise ValueError(f"unknown scheduler {cfg.scheduler!r}; expected one of {SCHEDULERS}")


def cosine_with_warmup(lr: float, min_lr: float, warmup: int, epochs: int):
    """The factor on ``lr`` at each epoch (0-based) of :func:`build_scheduler`'s ``cosine`` schedule."""
    floor = min_lr / lr if lr > 0 else 0.0

    def factor(epoch: int) -> float:
        if epoch < warmup:
            return (epoch + 1) / warmup
        span = max(1, epochs - 1 - warmup)
        progress = min(1.0, (epoch - warmup) / span)
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    """Learning rate of the first parameter group."""
    return float(optimizer.param_groups[0]["lr"])


def trainable(model: nn.Module):
    """Parameters that require gradients (frozen parts of a network are left out)."""
    return [p for p in model.parameters() if p.requires_grad]
