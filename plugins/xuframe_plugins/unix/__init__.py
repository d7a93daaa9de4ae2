"""Built-in plugin ``unix``: computation-efficient KD via uncertainty-aware mixup."""

from __future__ import annotations

from xuframe import Registry, hookimpl
from xuframe_plugins.unix.distiller import (
    UncertaintyMixupKD,
    computation_fraction,
    entropy,
    mixing_weights,
)

__all__ = ["UncertaintyMixupKD", "computation_fraction", "entropy", "mixing_weights"]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    registry.add(UncertaintyMixupKD)
