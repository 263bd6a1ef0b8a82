"""Optimisers and learning-rate schedules by name, each a small factory in a registry."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from vidact.config import TrainConfig
from vidact.registry import Registry

ParamGroups = list[dict[str, Any]]

OPTIMIZERS: Registry[Callable[[ParamGroups, TrainConfig], torch.optim.Optimizer]] = Registry(
    "optimizer"
)
OPTIMIZERS.register(
    "sgd",
    lambda groups, c: torch.optim.SGD(
        groups, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov, weight_decay=c.weight_decay
    ),
)
OPTIMIZERS.register(
    "adam", lambda groups, c: torch.optim.Adam(groups, lr=c.lr, weight_decay=c.weight_decay)
)
OPTIMIZERS.register(
    "adamw", lambda groups, c: torch.optim.AdamW(groups, lr=c.lr, weight_decay=c.weight_decay)
)


class DecayedLBFGS(torch.optim.LBFGS):
    """Full-batch L-BFGS with an L2 penalty (``weight_decay`` / 2 * ||W||^2 on the weight
    matrices, not on biases, as a logistic regression's): fits a linear probe to its convex
    optimum in a few steps, where a stochastic optimiser stops short of it. torch's L-BFGS
    takes one parameter group and has no weight decay, hence this wrapper."""

    def __init__(self, params: list[torch.nn.Parameter], lr: float, weight_decay: float) -> None:
        super().__init__(params, lr=lr, max_iter=50, history_size=20, line_search_fn="strong_wolfe")
        self.weight_decay = weight_decay

    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        def regularised() -> Any:
            loss = closure()
            if loss is None:  # a batch with nothing readable: nothing to fit
                return loss
            weights = [p for p in self.param_groups[0]["params"] if p.dim() > 1]
            with torch.no_grad():
                for weight in weights:
                    if weight.grad is not None:
                        weight.grad.add_(weight, alpha=self.weight_decay)
                penalty = sum(float((w * w).sum()) for w in weights)
            return loss + 0.5 * self.weight_decay * penalty

        return super().step(regularised)


@OPTIMIZERS.register("lbfgs")
def _lbfgs(groups: ParamGroups, c: TrainConfig) -> torch.optim.Optimizer:
    return DecayedLBFGS(
        [p for g in groups for p in g["params"] if p.requires_grad], c.lr, c.weight_decay
    )


_lbfgs.full_batch = True  # type: ignore[attr-defined]


def full_batch(name: str) -> bool:
    """Whether the optimiser ``name`` takes the whole training set as one batch."""
    return bool(getattr(OPTIMIZERS.get(name), "full_batch", False))


SCHEDULERS: Registry[Callable[[torch.optim.Optimizer, TrainConfig], dict[str, Any] | None]] = (
    Registry("scheduler")
)


@SCHEDULERS.register("none")
def _constant(optimizer: torch.optim.Optimizer, c: TrainConfig) -> None:
    return None


@SCHEDULERS.register("plateau")
def _plateau(optimizer: torch.optim.Optimizer, c: TrainConfig) -> dict[str, Any]:
    """The seeds' ReduceLROnPlateau on validation loss."""
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=c.plateau_factor, patience=c.plateau_patience, min_lr=1e-7
    )
    return {"scheduler": scheduler, "monitor": "val_loss", "interval": "epoch"}


@SCHEDULERS.register("cosine")
def _cosine(optimizer: torch.optim.Optimizer, c: TrainConfig) -> dict[str, Any]:
    """Linear warm-up over ``warmup_epochs``, then cosine decay to zero at the last epoch."""

    def factor(epoch: int) -> float:
        if epoch < c.warmup_epochs:
            return (epoch + 1) / (c.warmup_epochs + 1)
        progress = (epoch - c.warmup_epochs) / max(1, c.epochs - c.warmup_epochs)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"scheduler": scheduler, "interval": "epoch"}


@SCHEDULERS.register("decay")
def _inverse_time(optimizer: torch.optim.Optimizer, c: TrainConfig) -> dict[str, Any]:
    """Keras' time-based ``decay`` (seed 002): lr / (1 + lr_decay * optimiser step)."""
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 1 / (1 + c.lr_decay * step)
    )
    return {"scheduler": scheduler, "interval": "step"}


def configure(groups: ParamGroups, config: TrainConfig) -> dict[str, Any]:
    """The ``configure_optimizers`` answer for ``config``: optimiser and optional schedule."""
    optimizer = OPTIMIZERS.get(config.optimizer)(groups, config)
    scheduler = SCHEDULERS.get(config.scheduler)(optimizer, config)
    return {"optimizer": optimizer, **({"lr_scheduler": scheduler} if scheduler else {})}
