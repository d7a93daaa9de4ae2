"""SRDet's RoI-aware max pooling: the points in a proposal box, max-pooled per cell of a grid.

"Suppress-and-Refine Framework for End-to-End 3D Object Detection" (Liu, Xu, Yang et al.,
2021), its refinement stage: the (suppressed) points and seeds that fall in each proposal are
pooled into ``G x G x G`` cells of the box, for ``G`` in 1, 3 and 5 (the official
``MultiRoIPool3d(out_size=[1, 3, 5])`` built on mmdetection3d's CUDA ``RoIAwarePool3d``, after
PartA2). This module is a pure-torch CPU/GPU replacement of that kernel:

1. membership: :func:`xuframe.ops.points_in_boxes` (faces included);
2. each member point is moved into its box's frame (a rotation by ``-yaw`` about ``z`` around
   the centre), where the box is ``[-l/2, l/2] x [-w/2, w/2] x [-h/2, h/2]``;
3. its cell is ``i = floor((x + l/2) G / l)`` along the length (the heading), ``j`` likewise
   along the width and ``k`` along the height, each clamped to ``0 .. G - 1`` (a point on the
   far face belongs to the last cell);
4. every feature channel of a cell is the maximum over the points in the cell
   (``scatter_reduce(amax)``); a cell without points is 0, as in the kernel.

Differences from the CUDA kernel, all deliberate: the kernel keeps at most
``max_pts_per_voxel - 1`` (95) points per cell, the first by index, a memory bound of its
fixed-size buffers: here every point counts. The kernel takes points strictly inside in
``x, y`` and on the faces in ``z``; here faces count on every side (the rule of
:func:`~xuframe.ops.points_in_boxes`, so membership agrees with the rest of xuframe). The
kernel's boxes are mmdetection3d LiDAR boxes (bottom centre, ``w, l`` swapped, the yaw turned by
``pi / 2``); here they are :class:`~xuframe.Boxes3D` rows, the same frame as every other xuframe
box.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from xuframe.errors import InputError
from xuframe.ops import points_in_boxes
from xuframe.types import Boxes3D
from xuframe.validation import check_int, check_memory, check_tensor

__all__ = ["roi_aware_max_pool"]

#: the largest grid size accepted (a 32^3 grid already has 32,768 cells per box)
MAX_GRID = 32
# (point, box) pairs per membership test: bounds points_in_boxes' temporaries
_PAIRS = 1 << 21
# gathered feature values per scatter: bounds the (pairs, C) copy of the members' features
_VALUES = 1 << 23
_MAX_VALUE = 1e100


def _grid_sizes(grid_sizes: Any) -> tuple[int, ...]:
    if isinstance(grid_sizes, np.ndarray) and grid_sizes.ndim == 1:
        grid_sizes = list(grid_sizes)
    if isinstance(grid_sizes, (str, bytes)) or not isinstance(grid_sizes, Sequence):
        raise InputError(
            "roi_aware_max_pool(grid_sizes): expected a sequence of ints, "
            f"got {type(grid_sizes).__name__}"
        )
    if len(grid_sizes) == 0:
        raise InputError("roi_aware_max_pool(grid_sizes): expected at least one grid size, got ()")
    return tuple(
        check_int(g, f"roi_aware_max_pool(grid_sizes[{i}])", min=1, max=MAX_GRID)
        for i, g in enumerate(grid_sizes)
    )


def roi_aware_max_pool(
    xyz: torch.Tensor,
    features: torch.Tensor,
    boxes: torch.Tensor,
    grid_sizes: Sequence[int] = (1, 3, 5),
) -> list[torch.Tensor]:
    """Max-pool the features of the points in each box into ``G x G x G`` cells of the box, for
    each ``G`` of ``grid_sizes`` (SRDet's RoI-aware pooling; see the module docstring).

    ``xyz`` ``(B, N, 3)`` are the points (metres), ``features`` ``(B, C, N)`` their features
    (the channels-first layout of the point networks), ``boxes`` ``(B, M, 7)`` each scene's
    boxes ``x, y, z, l, w, h, yaw`` (``z`` the centre; the boxes are read without gradient, as
    the refinement detaches them), all floating and finite. ``grid_sizes`` are ints in ``1 ..
    32`` (a sequence or a 1-D numpy array). A box with a size that is not positive holds no points.

    Returns one tensor per grid size, ``(B, M, G, G, G, C)`` in ``features``' dtype: cell
    ``[b, m, i, j, k]`` holds, channel by channel, the maximum of the features of scene ``b``'s
    points in box ``m`` whose box-frame position lies in cell ``i`` along the length, ``j``
    along the width and ``k`` along the height, counted from the box's ``-l/2, -w/2, -h/2``
    corner, and 0 where no point lies. Gradients flow to ``features`` (to the points that
    give each maximum, shared equally on ties), not to ``xyz`` or ``boxes``.

    Work is ``O(B N M)`` for membership plus the pairs found, done in pieces of bounded
    memory. Raises :class:`~xuframe.errors.InputError` for a non-tensor, a wrong shape or
    dtype, NaN or infinity, box values above 1e100, bad ``grid_sizes``, or outputs larger than
    :func:`xuframe.validation.memory_limit`.
    """
    what = "roi_aware_max_pool"
    grids = _grid_sizes(grid_sizes)
    xyz = check_tensor(xyz, f"{what}(xyz)", shape=(None, None, 3))
    b, n = int(xyz.shape[0]), int(xyz.shape[1])
    features = check_tensor(features, f"{what}(features)", shape=(b, None, n))
    c = int(features.shape[1])
    boxes = check_tensor(boxes, f"{what}(boxes)", shape=(b, None, 7), max_abs=_MAX_VALUE)
    m = int(boxes.shape[1])
    cells = sum(g**3 for g in grids)
    check_memory(
        float(b) * m * cells * max(c, 1) * features.element_size() * 2,
        f"{what}: {b} x {m} boxes pooled into {cells} cells of {c} channels",
    )
    out = [features.new_zeros((b, m, g, g, g, c)) for g in grids]
    if b == 0 or n == 0 or m == 0 or c == 0:
        return out
    per_scene = [_pool_scene(xyz[i], features[i], boxes[i], grids) for i in range(b)]
    return [torch.stack([scene[t] for scene in per_scene]) for t in range(len(grids))]


def _pool_scene(
    xyz: torch.Tensor, features: torch.Tensor, boxes: torch.Tensor, grids: tuple[int, ...]
) -> list[torch.Tensor]:
    """One scene: ``xyz`` ``(N, 3)``, ``features`` ``(C, N)``, ``boxes`` ``(M, 7)`` (checked)
    -> per grid size ``(M, G, G, G, C)``."""
    n, c, m = int(xyz.shape[0]), int(features.shape[0]), int(boxes.shape[0])
    points = xyz.detach()
    rows = features.transpose(0, 1)  # (N, C), a view: gathered rows keep the gradient
    box = boxes.detach().to(points.dtype)
    positive = (box[:, 3:6] > 0).all(1)
    sized = torch.cat([box[:, :3], box[:, 3:6].clamp(min=0.0), box[:, 6:]], 1)
    step = max(1, _PAIRS // max(n, 1))
    pieces: list[list[torch.Tensor]] = [[] for _ in grids]
    for start in range(0, m, step):
        chunk = sized[start : start + step]
        k = int(chunk.shape[0])
        inside = points_in_boxes(points, Boxes3D(chunk)) & positive[start : start + step]
        # pairs ordered by box, then point
        bx, pt = inside.transpose(0, 1).nonzero(as_tuple=True)
        cells = _cells(points[pt], chunk[bx], grids)
        results = [
            rows.new_full((k * g**3, c), -math.inf) if len(pt) else rows.new_zeros((k * g**3, c))
            for g in grids
        ]
        occupied = [torch.zeros(k * g**3, dtype=torch.bool, device=rows.device) for g in grids]
        span = max(1, _VALUES // max(c, 1))
        for lo in range(0, len(pt), span):
            src = rows[pt[lo : lo + span]]  # (pairs, C)
            for t, g in enumerate(grids):
                flat = bx[lo : lo + span] * g**3 + cells[t][lo : lo + span]
                index = flat[:, None].expand(-1, c)
                results[t] = results[t].scatter_reduce(0, index, src, "amax", include_self=True)
                occupied[t][flat] = True
        for t, g in enumerate(grids):
            pooled = torch.where(occupied[t][:, None], results[t], results[t].new_zeros(()))
            pieces[t].append(pooled.reshape(k, g, g, g, c))
    return [torch.cat(p) for p in pieces]


def _cells(points: torch.Tensor, boxes: torch.Tensor, grids: tuple[int, ...]) -> list[torch.Tensor]:
    """The flat cell index ``i G^2 + j G + k`` of each point ``(P, 3)`` in its box ``(P, 7)``
    (positive sizes, or a point on a degenerate box's centre plane), per grid size."""
    d = points - boxes[:, :3]
    cos, sin = torch.cos(boxes[:, 6]), torch.sin(boxes[:, 6])
    local = torch.stack([d[:, 0] * cos + d[:, 1] * sin, -d[:, 0] * sin + d[:, 1] * cos, d[:, 2]], 1)
    size = boxes[:, 3:6]
    # position in [0, 1] along each axis of the box (0 for a zero size: such boxes hold nothing)
    unit = torch.where(size > 0, local / torch.where(size > 0, size, 1.0) + 0.5, 0.0)
    out = []
    for g in grids:
        ijk = torch.floor(unit * g).long().clamp_(0, g - 1)
        out.append(ijk[:, 0] * g * g + ijk[:, 1] * g + ijk[:, 2])
    return out
