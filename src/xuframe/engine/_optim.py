"""Optimisers and learning-rate schedules built from a TrainerConfig, on torch.optim."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from xuframe.engine._config import TrainerConfig

__all__ = ["build_optimizer", "build_scheduler", "lr_factor"]


def build_optimizer(
    params: Iterable[torch.nn.Parameter], config: TrainerConfig
) -> torch.optim.Optimizer:
    """SGD with momentum or AdamW, from ``config``."""
    params = list(params)
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    return torch.optim.AdamW(
        params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
    )


def lr_factor(step: int, config: TrainerConfig, total_steps: int) -> float:
    """The multiplier of ``config.lr`` at optimiser step ``step`` (0-based) for the non-one-cycle schedules."""
    warmup = config.warmup_steps
    if step < warmup:
        return (step + 1) / warmup
    if config.schedule == "step":
        return float(config.gamma ** ((step - warmup) // config.step_size))
    if config.schedule == "cosine":
        span = max(1, total_steps - warmup)
        progress = min(1.0, (step - warmup) / span)
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (
            1 + math.cos(math.pi * progress)
        )
    return 1.0


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainerConfig, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The schedule of ``config``, stepped once per optimiser step.

    ``one-cycle`` is torch's OneCycleLR (rising for ``warmup_steps``, or 30% of the run when
    that is 0); the others are a LambdaLR of :func:`lr_factor`.
    """
    if config.schedule == "one-cycle":
        pct = config.warmup_steps / total_steps if config.warmup_steps else 0.3
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config.lr,
            total_steps=max(total_steps, 2),
            pct_start=min(max(pct, 1e-3), 0.999),
            cycle_momentum=config.optimizer == "sgd",
        )
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, config, total_steps)
    )
