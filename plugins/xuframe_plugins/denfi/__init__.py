"""Built-in plugin ``denfi``: "Boundary-Aware Dense Feature Indicator for Single-Stage 3D Object
Detection from Point Clouds" (Guodong Xu, Wenxiao Wang, Zili Liu et al., 2020).

Detectors ``pillars-baseline`` (a PointPillars-style pillar encoder, a 2-D conv backbone and the
dense boundary head) and ``denfi`` (the same with the DENFI conv and a second head), on the
core's 3-D detection base.
"""

from __future__ import annotations

from xuframe import Registry, hookimpl
from xuframe.nn import BevBackbone, BevGrid, PillarEncoder
from xuframe_plugins.denfi.layers import DenfiConv, boundary_sample_points
from xuframe_plugins.denfi.model import DEMO_CONFIG, Denfi, DenseBoundaryHead, PillarsBaseline
from xuframe_plugins.denfi.targets import (
    boundary_losses,
    boundary_targets,
    decode_boundaries,
    distance_offset,
    sigmoid_focal_loss,
)

__all__ = [
    "DEMO_CONFIG",
    "BevBackbone",
    "BevGrid",
    "Denfi",
    "DenfiConv",
    "DenseBoundaryHead",
    "PillarEncoder",
    "PillarsBaseline",
    "boundary_losses",
    "boundary_sample_points",
    "boundary_targets",
    "decode_boundaries",
    "distance_offset",
    "sigmoid_focal_loss",
]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    registry.add(PillarsBaseline)
    registry.add(Denfi)
