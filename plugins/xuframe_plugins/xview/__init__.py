"""Built-in plugin ``xview``: "X-view: Non-egocentric Multi-View 3D Object Detector" (Xie, Xu,
Cai et al., 2021): perspective views whose origin is not the sensor, added to existing LiDAR
detectors.
"""

from __future__ import annotations

from xuframe import Registry, hookimpl


@hookimpl
def xuframe_register(registry: Registry) -> None:
    """Register the plugin's detectors."""
