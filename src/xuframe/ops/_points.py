"""Which points lie in which oriented 3-D boxes."""

from __future__ import annotations

import torch

from xuframe.errors import InputError
from xuframe.types import Boxes3D
from xuframe.validation import check_float, check_memory, check_tensor

# bytes per (point, box) pair, in units of the element size: offsets (3), the rotated
# coordinates (2), their magnitudes and comparisons
_PAIR_ELEMENTS = 9

__all__ = ["points_in_boxes"]


def points_in_boxes(xyz: torch.Tensor, boxes: Boxes3D, margin: float = 0.0) -> torch.Tensor:
    """``(N, M)`` bool: whether point ``i`` lies in box ``j`` grown by ``margin`` metres on
    every side (faces included).

    Each point is moved into each box's frame (a rotation by ``-yaw`` about ``z``) and compared
    with the half sizes; ``N x M`` work and memory, so call it on the boxes of one scene.

    ``xyz`` is a real ``(N, 3)`` tensor (floating or integer; integer points are compared in
    the default floating dtype) of finite values, ``margin`` a finite number in metres.
    Raises :class:`~xuframe.errors.InputError` for anything else, for ``boxes`` that are not a
    real :class:`~xuframe.Boxes3D`, and for ``N x M`` too large for memory
    (:func:`xuframe.validation.memory_limit`).
    """
    check_tensor(xyz, "points_in_boxes(xyz)", shape=(None, 3), floating=False)
    if not isinstance(boxes, Boxes3D):
        raise InputError(f"points_in_boxes(boxes): expected Boxes3D, got {type(boxes).__name__}")
    check_tensor(boxes.tensor, "points_in_boxes(boxes)", floating=False)
    margin = check_float(margin, "points_in_boxes(margin)")
    if not xyz.is_floating_point():
        xyz = xyz.to(torch.get_default_dtype())
    check_memory(
        float(len(xyz)) * len(boxes) * _PAIR_ELEMENTS * xyz.element_size(),
        f"points_in_boxes: {len(xyz)} points x {len(boxes)} boxes",
    )
    b = boxes.tensor.to(xyz)
    d = xyz[:, None, :] - b[None, :, :3]  # (N, M, 3)
    c, s = torch.cos(b[:, 6]), torch.sin(b[:, 6])
    lx = d[..., 0] * c + d[..., 1] * s
    ly = -d[..., 0] * s + d[..., 1] * c
    half = b[:, 3:6] / 2 + margin
    return (lx.abs() <= half[:, 0]) & (ly.abs() <= half[:, 1]) & (d[..., 2].abs() <= half[:, 2])
