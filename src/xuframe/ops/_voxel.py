"""Voxelization, pillarization and scattering pillar features to a bird's-eye-view grid.

Points are ``(N, C)`` rows whose first three columns are ``x, y, z`` (xuframe's LiDAR frame);
the rest (intensity, ...) are carried along. A grid is a point range
``(x_min, y_min, z_min, x_max, y_max, z_max)`` cut into voxels of ``(dx, dy, dz)``; a pillar is a
voxel spanning the whole z range. Reductions use :func:`xuframe.ops.scatter`, so torch-scatter
is used when installed and torch's native ``scatter_reduce`` otherwise, with equal results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import torch

from xuframe.errors import InputError
from xuframe.ops._scatter import Reduce, ScatterBackend, scatter

__all__ = ["Voxels", "pillarize", "scatter_to_bev", "voxelize"]


@attrs.frozen(eq=False)
class Voxels:
    """The occupied voxels of a point cloud.

    ``coords`` ``(V, 3)`` integer ``(ix, iy, iz)`` cells, sorted by their linear index;
    ``features`` ``(V, C)`` the reduced point features; ``counts`` ``(V,)`` points per voxel;
    ``point_voxel`` ``(N,)`` each input point's voxel row, ``-1`` for points outside the range;
    ``grid`` ``(nx, ny, nz)`` the number of cells along each axis.
    """

    coords: torch.Tensor
    features: torch.Tensor
    counts: torch.Tensor
    point_voxel: torch.Tensor
    grid: tuple[int, int, int]


def _grid(
    point_range: Sequence[float], voxel_size: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int, int]]:
    if len(point_range) != 6 or len(voxel_size) != 3:
        raise InputError(
            f"voxelize: expected point_range (x_min, y_min, z_min, x_max, y_max, z_max) and voxel_size (dx, dy, dz), got {len(point_range)} and {len(voxel_size)} values"
        )
    lo = torch.tensor(point_range[:3], dtype=torch.float64)
    hi = torch.tensor(point_range[3:], dtype=torch.float64)
    size = torch.tensor(voxel_size, dtype=torch.float64)
    if not bool((hi > lo).all()) or not bool((size > 0).all()):
        raise InputError(
            f"voxelize: expected max > min and positive voxel sizes, got {list(point_range)}, {list(voxel_size)}"
        )
    dims = tuple(math.ceil(round(float(v), 6)) for v in (hi - lo) / size)
    return lo, size, (dims[0], dims[1], dims[2])


def voxelize(
    points: torch.Tensor,
    voxel_size: Sequence[float],
    point_range: Sequence[float],
    reduce: Reduce = "mean",
    *,
    backend: ScatterBackend = "auto",
) -> Voxels:
    """Group the points inside ``point_range`` into voxels and reduce their features.

    Every in-range point belongs to exactly one voxel (cells are half-open ``[lo, lo + d)``;
    points on the range's upper faces are outside); points with NaN or inf coordinates raise.
    """
    if points.ndim != 2 or points.shape[1] < 3:
        raise InputError(
            f"voxelize: expected points of shape (N, >=3) with x, y, z first, got {tuple(points.shape)}"
        )
    if not bool(torch.isfinite(points[:, :3]).all()):
        raise InputError("voxelize: points have NaN or inf coordinates; drop them first")
    lo, size, grid = _grid(point_range, voxel_size)
    xyz = points[:, :3].double()
    hi = torch.tensor([float(v) for v in point_range[3:]], dtype=torch.float64)
    cell = torch.floor((xyz - lo) / size).long()
    # in the range (the last cell may reach past its upper face when the sizes do not divide it)
    inside = ((xyz >= lo) & (xyz < hi)).all(1) & (cell < torch.tensor(grid)).all(1)
    linear = (cell[:, 2] * grid[1] + cell[:, 1]) * grid[0] + cell[:, 0]
    occupied, rows = torch.unique(linear[inside], return_inverse=True)
    point_voxel = torch.full((len(points),), -1, dtype=torch.int64)
    point_voxel[inside] = rows
    v = len(occupied)
    features = scatter(points[inside], rows, v, reduce, backend=backend)
    counts = torch.bincount(rows, minlength=v)
    coords = torch.stack(
        [occupied % grid[0], (occupied // grid[0]) % grid[1], occupied // (grid[0] * grid[1])], 1
    )
    return Voxels(coords, features, counts, point_voxel, grid)


def pillarize(
    points: torch.Tensor,
    pillar_size: Sequence[float],
    point_range: Sequence[float],
    reduce: Reduce = "mean",
    *,
    backend: ScatterBackend = "auto",
) -> Voxels:
    """:func:`voxelize` with one voxel over the whole z range: PointPillars' pillars
    (``coords[:, 2]`` is 0)."""
    if len(pillar_size) != 2:
        raise InputError(f"pillarize: expected pillar_size (dx, dy), got {list(pillar_size)}")
    height = float(point_range[5]) - float(point_range[2]) if len(point_range) == 6 else 1.0
    return voxelize(
        points, (pillar_size[0], pillar_size[1], height), point_range, reduce, backend=backend
    )


def scatter_to_bev(
    features: torch.Tensor, coords: torch.Tensor, grid: tuple[int, int]
) -> torch.Tensor:
    """Place per-pillar ``features`` ``(V, C)`` at their cells ``coords[:, :2]`` = ``(ix, iy)`` on
    a ``(C, ny, nx)`` bird's-eye-view canvas (zeros elsewhere; row ``iy``, column ``ix``)."""
    nx, ny = grid
    if features.ndim != 2 or coords.ndim != 2 or len(coords) != len(features):
        raise InputError(
            f"scatter_to_bev: expected features (V, C) and coords (V, >=2), got {tuple(features.shape)}, {tuple(coords.shape)}"
        )
    ix, iy = coords[:, 0].long(), coords[:, 1].long()
    if len(ix) and (
        int(ix.min()) < 0 or int(ix.max()) >= nx or int(iy.min()) < 0 or int(iy.max()) >= ny
    ):
        raise InputError(f"scatter_to_bev: coords fall outside the {nx} x {ny} grid")
    canvas = features.new_zeros(features.shape[1], ny * nx)
    canvas[:, iy * nx + ix] = features.T
    return canvas.reshape(-1, ny, nx)
