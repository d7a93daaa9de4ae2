"""Built-in plugin ``pircnn``: "PI-RCNN: An Efficient Multi-sensor 3D Object Detector with
Point-based Attentive Cont-conv Fusion Module" (Xie, Xiang, Yu et al., AAAI 2020), and its
baseline ``pointrcnn`` (PointRCNN, Shi, Wang, Li, CVPR 2019).
"""

from __future__ import annotations

from xuframe import Registry, hookimpl


@hookimpl
def xuframe_register(registry: Registry) -> None:
    """Register the plugin's detectors."""
