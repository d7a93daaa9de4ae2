"""Which points lie in which oriented 3-D boxes."""

from __future__ import annotations

import torch

from xuframe.errors import InputError
from xuframe.types import Boxes3D

__all__ = ["points_in_boxes"]


def points_in_boxes(xyz: torch.Tensor, boxes: Boxes3D, margin: float = 0.0) -> torch.Tensor:
    """``(N, M)`` bool: whether point ``i`` lies in box ``j`` grown by ``margin`` metres on
    every side (faces included).

    Each point is moved into each box's frame (a rotation by ``-yaw`` about ``z``) and compared
    with the half sizes; ``N x M`` work and memory, so call it on the boxes of one scene.
    """
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise InputError(f"points_in_boxes: expected xyz of shape (N, 3), got {tuple(xyz.shape)}")
    if not isinstance(boxes, Boxes3D):
        raise InputError(f"points_in_boxes: expected Boxes3D, got {type(boxes).__name__}")
    b = boxes.tensor.to(xyz)
    d = xyz[:, None, :] - b[None, :, :3]  # (N, M, 3)
    c, s = torch.cos(b[:, 6]), torch.sin(b[:, 6])
    lx = d[..., 0] * c + d[..., 1] * s
    ly = -d[..., 0] * s + d[..., 1] * c
    half = b[:, 3:6] / 2 + margin
    return (lx.abs() <= half[:, 0]) & (ly.abs() <= half[:, 1]) & (d[..., 2].abs() <= half[:, 2])
