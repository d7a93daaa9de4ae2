"""Built-in plugin ``xview``: "X-view: Non-egocentric Multi-View 3D Object Detector" (Xie, Xu,
Cai et al., 2021): perspective views whose origin is not the sensor, added to existing LiDAR
detectors.

Detectors ``xview-pillars`` (on ``pillars-baseline``), ``xview-denfi`` (on ``denfi``) and
``xview-pointrcnn`` (on ``pointrcnn``, views gathered per point); the views and their
transforms in :mod:`xuframe_plugins.xview.views`.
"""

from __future__ import annotations

from xuframe import Registry, hookimpl
from xuframe_plugins.xview.evaluation import DISTANCE_BINS, distance_evaluator
from xuframe_plugins.xview.model import (
    DEMO_CONFIG,
    DEMO_VIEWS,
    VIEWS,
    ViewBranch,
    XViewDenfi,
    XViewFusion,
    XViewPillars,
    load_base_weights,
)
from xuframe_plugins.xview.points import XViewPointFusion, XViewPointRCNN
from xuframe_plugins.xview.views import CoordinateType, View, parse_view, view_over_area

__all__ = [
    "DEMO_CONFIG",
    "DEMO_VIEWS",
    "DISTANCE_BINS",
    "VIEWS",
    "CoordinateType",
    "View",
    "ViewBranch",
    "XViewDenfi",
    "XViewFusion",
    "XViewPillars",
    "XViewPointFusion",
    "XViewPointRCNN",
    "distance_evaluator",
    "load_base_weights",
    "parse_view",
    "view_over_area",
]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    """Register the plugin's detectors."""
    registry.add(XViewPillars)
    registry.add(XViewDenfi)
    registry.add(XViewPointRCNN)
