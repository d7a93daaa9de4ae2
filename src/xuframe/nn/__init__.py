"""Network blocks shared by two or more plugins, so that a detector plugin can use them
without importing another plugin.

PointNet++'s set abstraction (single- and multi-scale grouping), feature propagation and
VoteNet's backbone, built on the point ops of :mod:`xuframe.ops` (pure PyTorch, CPU or GPU).
Point clouds are ``(B, N, 3)`` tensors in metres; features are channels first, ``(B, C, N)``.
The bird's-eye-view trunk of the LiDAR detectors: ``BevGrid``, ``PillarEncoder``, ``BevBackbone``.
"""

from xuframe.nn._bev import BevBackbone, BevGrid, PillarEncoder
from xuframe.nn._pointnet2 import (
    PointFeatures,
    PointNet2Backbone,
    PointNetFeaturePropagation,
    PointNetSetAbstraction,
)

__all__ = [
    "BevBackbone",
    "BevGrid",
    "PillarEncoder",
    "PointFeatures",
    "PointNet2Backbone",
    "PointNetFeaturePropagation",
    "PointNetSetAbstraction",
]
