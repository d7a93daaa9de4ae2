"""The trainer's configuration: optimisation, schedule, data loading, evaluation and output."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from xuframe._config import config_field, non_negative
from xuframe.errors import ConfigError

__all__ = ["TrainerConfig"]


def _positive(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value <= 0:
        raise ConfigError(f"{attribute.name} must be > 0, got {value}")


@attrs.frozen
class TrainerConfig:
    """How :class:`~xuframe.engine.Trainer` trains. Every field has a default; ``xuframe info`` style docs below."""

    max_steps: int | None = config_field(
        None,
        doc="stop after this many optimiser steps (None: run `epochs` epochs)",
        validator=_positive,
    )
    epochs: int = config_field(
        1, doc="passes over the training data when max_steps is None", validator=_positive
    )
    batch_size: int = config_field(
        32, doc="global batch size, split evenly over the processes", validator=_positive
    )
    optimizer: Literal["sgd", "adamw"] = config_field("adamw", doc="sgd (with momentum) or adamw")
    lr: float = config_field(1e-3, doc="peak learning rate", validator=_positive)
    momentum: float = config_field(0.9, doc="SGD momentum", validator=non_negative)
    weight_decay: float = config_field(
        0.0, doc="weight decay (decoupled for adamw)", validator=non_negative
    )
    betas: tuple[float, float] = config_field((0.9, 0.999), doc="AdamW betas")
    schedule: Literal["constant", "step", "cosine", "one-cycle"] = config_field(
        "constant", doc="learning-rate schedule over the optimiser steps"
    )
    warmup_steps: int = config_field(
        0, doc="linear warm-up steps (one-cycle: its rising phase)", validator=non_negative
    )
    step_size: int = config_field(
        1000, doc="step schedule: multiply lr by gamma every step_size steps", validator=_positive
    )
    gamma: float = config_field(0.1, doc="step schedule: the factor", validator=_positive)
    min_lr_ratio: float = config_field(
        0.0, doc="cosine: the final lr as a fraction of lr", validator=non_negative
    )
    grad_clip: float | None = config_field(
        None,
        doc="clip the global gradient norm to this value (None: no clipping)",
        validator=_positive,
    )
    eval_every: int | None = config_field(
        None, doc="evaluate every N steps, and at the end (needs eval data)", validator=_positive
    )
    checkpoint_every: int | None = config_field(
        None, doc="checkpoint every N steps, and at the end (needs a run_dir)", validator=_positive
    )
    log_every: int = config_field(1, doc="write metrics every N steps", validator=_positive)
    seed: int = config_field(0, doc="seeds python, numpy, torch and the data order")
    shuffle: bool = config_field(True, doc="shuffle the training data every epoch")
    drop_last: bool = config_field(True, doc="drop the last incomplete batch of an epoch")
    num_workers: int = config_field(0, doc="DataLoader worker processes", validator=non_negative)
    device: str = config_field("auto", doc="cpu, cuda, cuda:N or auto (cuda when available)")
    progress: bool = config_field(True, doc="show a progress bar (only on a terminal)")
    plot: bool = config_field(
        True, doc="write metric curves to run_dir/plots at the end (needs matplotlib)"
    )
    find_unused_parameters: bool = config_field(
        False, doc="DistributedDataParallel: allow parameters that get no gradient"
    )
