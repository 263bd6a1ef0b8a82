"""Optimisers and learning-rate schedules by name, each a small factory in a registry."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from vidact.config import TrainConfig

ParamGroups = list[dict[str, Any]]

_OPTIMIZERS: dict[str, Callable[[ParamGroups, TrainConfig], torch.optim.Optimizer]] = {
    "sgd": lambda groups, c: torch.optim.SGD(
        groups, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov, weight_decay=c.weight_decay
    ),
    "adam": lambda groups, c: torch.optim.Adam(groups, lr=c.lr, weight_decay=c.weight_decay),
    "adamw": lambda groups, c: torch.optim.AdamW(groups, lr=c.lr, weight_decay=c.weight_decay),
}


def _plateau(optimizer: torch.optim.Optimizer, c: TrainConfig) -> dict[str, Any]:
    """The seeds' ReduceLROnPlateau on validation loss."""
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=c.plateau_factor, patience=c.plateau_patience, min_lr=1e-7
    )
    return {"scheduler": scheduler, "monitor": "val_loss", "interval": "epoch"}


def _cosine(optimizer: torch.optim.Optimizer, c: TrainConfig) -> dict[str, Any]:
    """Linear warm-up over ``warmup_epochs``, then cosine decay to zero at the last epoch."""

    def factor(epoch: int) -> float:
        if epoch < c.warmup_epochs:
            return (epoch + 1) / (c.warmup_epochs + 1)
        progress = (epoch - c.warmup_epochs) / max(1, c.epochs - c.warmup_epochs)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"scheduler": scheduler, "interval": "epoch"}


_SCHEDULERS: dict[str, Callable[[torch.optim.Optimizer, TrainConfig], dict[str, Any] | None]] = {
    "plateau": _plateau,
    "cosine": _cosine,
    "none": lambda optimizer, c: None,
}


def configure(groups: ParamGroups, config: TrainConfig) -> dict[str, Any]:
    """The ``configure_optimizers`` answer for ``config``: optimiser and optional schedule."""
    try:
        make_optimizer = _OPTIMIZERS[config.optimizer]
    except KeyError:
        known = ", ".join(sorted(_OPTIMIZERS))
        raise ValueError(f"unknown optimizer {config.optimizer!r}; known: {known}") from None
    try:
        make_scheduler = _SCHEDULERS[config.scheduler]
    except KeyError:
        known = ", ".join(sorted(_SCHEDULERS))
        raise ValueError(f"unknown scheduler {config.scheduler!r}; known: {known}") from None
    optimizer = make_optimizer(groups, config)
    scheduler = make_scheduler(optimizer, config)
    return {"optimizer": optimizer, **({"lr_scheduler": scheduler} if scheduler else {})}
