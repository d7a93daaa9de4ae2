"""Built-in plugin ``pircnn``: "PI-RCNN: An Efficient Multi-sensor 3D Object Detector with
Point-based Attentive Cont-conv Fusion Module" (Xie, Xiang, Yu et al., AAAI 2020), and its
baseline ``pointrcnn`` (PointRCNN, Shi, Wang, Li, CVPR 2019).
"""

from __future__ import annotations

from xuframe import Registry, hookimpl
from xuframe_plugins.pircnn.backbone import PointNet2MSG, RowMLP
from xuframe_plugins.pircnn.bins import BinCoder
from xuframe_plugins.pircnn.frames import CameraFrame, camera_frames
from xuframe_plugins.pircnn.model import (
    ABLATIONS,
    PIRCNN,
    PIRCNN_DEMO_CONFIG,
    PIRCNN_DEMO_SCENES,
)
from xuframe_plugins.pircnn.pointrcnn import (
    DEMO_CONFIG,
    DEMO_SCENES,
    KITTI_MEAN_SIZES,
    PointRCNN,
    StageOne,
)
from xuframe_plugins.pircnn.rcnn_targets import (
    box_corners,
    canonical_points,
    corner_loss,
    decode_residuals,
    encode_residuals,
    sample_proposals,
)

__all__ = [
    "ABLATIONS",
    "DEMO_CONFIG",
    "DEMO_SCENES",
    "KITTI_MEAN_SIZES",
    "PIRCNN",
    "PIRCNN_DEMO_CONFIG",
    "PIRCNN_DEMO_SCENES",
    "BinCoder",
    "CameraFrame",
    "PointNet2MSG",
    "PointRCNN",
    "RowMLP",
    "StageOne",
    "box_corners",
    "camera_frames",
    "canonical_points",
    "corner_loss",
    "decode_residuals",
    "encode_residuals",
    "sample_proposals",
]


@hookimpl
def xuframe_register(registry: Registry) -> None:
    """Register the plugin's detectors."""
    registry.add(PointRCNN)
    registry.add(PIRCNN)
