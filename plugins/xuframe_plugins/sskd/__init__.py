"""Built-in plugin ``sskd``: "Knowledge Distillation Meets Self-Supervision" (ECCV 2020)."""

from __future__ import annotations

from xuframe import Registry, hookimpl
from xuframe_plugins.sskd.distiller import (
    ProjectionHead,
    SelfSupervisedKD,
    rotations,
    selective_rows,
    similarity_matrix,
)

__all__ = [
    "ProjectionHead",
    "SelfSupervisedKD",
    "rotations",
    "selective_rows",
    "similarity_matrix",
]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    registry.add(SelfSupervisedKD)
