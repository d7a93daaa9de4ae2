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
from xuframe.ops._scatter import Reduce, ScatterBackend, _check_reduce, scatter
from xuframe.validation import check_array, check_int, check_memory, check_tensor

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


def _numbers(value: object, n: int, what: str) -> list[float]:
    """``value`` as ``n`` finite Python floats (a sequence, array or tensor of real numbers)."""
    return [float(v) for v in check_array(value, what, shape=(n,))]


def _range(point_range: object, what: str) -> list[float]:
    r = _numbers(point_range, 6, f"{what}(point_range) (x_min, y_min, z_min, x_max, y_max, z_max)")
    if not all(r[i + 3] > r[i] for i in range(3)):
        raise InputError(f"{what}(point_range): expected max > min on every axis, got {r}")
    return r


def _grid(
    point_range: list[float], voxel_size: object, points: torch.Tensor, what: str
) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int, int]]:
    size = _numbers(voxel_size, 3, f"{what}(voxel_size) (dx, dy, dz)")
    if min(size) <= 0:
        raise InputError(
            f"{what}: expected max > min and positive voxel sizes, got {point_range}, {size}"
        )
    lo = torch.tensor(point_range[:3], dtype=torch.float64)
    hi = torch.tensor(point_range[3:], dtype=torch.float64)
    ratio = [float(v) for v in (hi - lo) / torch.tensor(size, dtype=torch.float64)]
    # the dense grid of the points' features (a BEV canvas for pillars) must fit; this also
    # keeps the linear cell index far from overflowing int64
    cells = math.prod(float(max(math.ceil(v), 1)) if math.isfinite(v) else math.inf for v in ratio)
    check_memory(
        cells * points.shape[1] * points.element_size(),
        f"{what}: a grid of {ratio[0]:.3g} x {ratio[1]:.3g} x {ratio[2]:.3g} cells "
        f"(voxel size {size}) holding {points.shape[1]} features per cell",
    )
    dims = tuple(max(math.ceil(round(v, 6)), 1) for v in ratio)
    return lo, torch.tensor(size, dtype=torch.float64), (dims[0], dims[1], dims[2])


def _points(points: object, what: str) -> torch.Tensor:
    pts = check_tensor(points, f"{what}(points)", ndim=2, floating=False)
    if pts.shape[1] < 3:
        raise InputError(
            f"{what}(points): expected shape (N, >=3) with x, y, z first, got {tuple(pts.shape)}"
        )
    return pts


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
    points on the range's upper faces are outside).

    ``points`` is a real ``(N, C >= 3)`` tensor (floating or integer) of finite values (drop
    points with NaN or inf first); ``voxel_size`` three positive numbers and ``point_range``
    six finite numbers with max > min (sequences, arrays or tensors). Raises
    :class:`~xuframe.errors.InputError` for anything else, and for a grid whose dense form
    (``nx * ny * nz * C`` values of the points' dtype, e.g. the canvas that
    :func:`scatter_to_bev` makes of pillars) would need more than
    :func:`xuframe.validation.memory_limit`: so fine a grid is a wrong voxel size.
    """
    reduce, backend = _check_reduce(reduce, backend, "voxelize")
    points = _points(points, "voxelize")
    r = _range(point_range, "voxelize")
    lo, size, grid = _grid(r, voxel_size, points, "voxelize")
    return _voxelize(points, lo, size, grid, r, reduce, backend)


def _voxelize(
    points: torch.Tensor,
    lo: torch.Tensor,
    size: torch.Tensor,
    grid: tuple[int, int, int],
    point_range: list[float],
    reduce: Reduce,
    backend: ScatterBackend,
) -> Voxels:
    xyz = points[:, :3].double()
    hi = torch.tensor(point_range[3:], dtype=torch.float64)
    cell = torch.floor((xyz - lo) / size).long()
    # in the range (the last cell may reach past its upper face when the sizes do not divide it)
    inside = ((xyz >= lo) & (xyz < hi) & (cell < torch.tensor(grid))).all(1)
    linear = (cell[:, 2] * grid[1] + cell[:, 1]) * grid[0] + cell[:, 0]
    kept = linear[inside]
    cells = grid[0] * grid[1] * grid[2]
    if cells <= max(4 * len(kept), 1 << 16):
        # a small grid (a BEV pillar grid): rank the occupied cells densely, O(points + cells),
        # instead of sorting the points; the same sorted cells and rows as torch.unique
        hits = torch.bincount(kept, minlength=cells)
        occupied = hits.nonzero()[:, 0]
        rows = (torch.cumsum(hits > 0, 0) - 1)[kept]
        counts = hits[occupied]
    else:
        occupied, rows = torch.unique(kept, return_inverse=True)
        counts = torch.bincount(rows, minlength=len(occupied))
    point_voxel = torch.full((len(points),), -1, dtype=torch.int64)
    point_voxel[inside] = rows
    v = len(occupied)
    features = scatter(points[inside], rows, v, reduce, backend=backend)
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
    (``coords[:, 2]`` is 0). ``pillar_size`` is two positive numbers ``(dx, dy)``; the rest and
    the errors are as for :func:`voxelize` (the grid's dense form is the ``(C, ny, nx)`` BEV
    canvas)."""
    reduce, backend = _check_reduce(reduce, backend, "pillarize")
    points = _points(points, "pillarize")
    r = _range(point_range, "pillarize")
    dx, dy = _numbers(pillar_size, 2, "pillarize(pillar_size) (dx, dy)")
    lo, size, grid = _grid(r, (dx, dy, r[5] - r[2]), points, "pillarize")
    return _voxelize(points, lo, size, grid, r, reduce, backend)


def scatter_to_bev(
    features: torch.Tensor, coords: torch.Tensor, grid: tuple[int, int]
) -> torch.Tensor:
    """Place per-pillar ``features`` ``(V, C)`` at their cells ``coords[:, :2]`` = ``(ix, iy)`` on
    a ``(C, ny, nx)`` bird's-eye-view canvas (zeros elsewhere; row ``iy``, column ``ix``).

    ``features`` is a real tensor (floating or integer) of finite values, ``coords`` an integer
    ``(V, >=2)`` tensor of cells inside the grid, ``grid`` two ints ``(nx, ny) >= 1``. Raises
    :class:`~xuframe.errors.InputError` for anything else, and for a canvas that would need
    more than :func:`xuframe.validation.memory_limit`.
    """
    check_tensor(features, "scatter_to_bev(features) (V, C)", ndim=2, floating=False)
    check_tensor(coords, "scatter_to_bev(coords) (V, >=2)", ndim=2, floating=False)
    if coords.is_floating_point() or coords.shape[1] < 2 or len(coords) != len(features):
        raise InputError(
            f"scatter_to_bev: expected integer coords (V, >=2) for {len(features)} features, "
            f"got {coords.dtype} {tuple(coords.shape)}"
        )
    if not isinstance(grid, (tuple, list)) or len(grid) != 2:
        raise InputError(f"scatter_to_bev(grid): expected two ints (nx, ny), got {grid!r}")
    nx = check_int(grid[0], "scatter_to_bev(grid[0]) (nx)", min=1)
    ny = check_int(grid[1], "scatter_to_bev(grid[1]) (ny)", min=1)
    check_memory(
        float(nx) * ny * features.shape[1] * features.element_size(),
        f"scatter_to_bev: a {features.shape[1]} x {ny} x {nx} canvas",
    )
    ix, iy = coords[:, 0].long(), coords[:, 1].long()
    if len(ix):
        (x_lo, x_hi), (y_lo, y_hi) = torch.aminmax(ix), torch.aminmax(iy)
        if int(x_lo) < 0 or int(x_hi) >= nx or int(y_lo) < 0 or int(y_hi) >= ny:
            raise InputError(f"scatter_to_bev(coords): cells fall outside the {nx} x {ny} grid")
    canvas = features.new_zeros(features.shape[1], ny * nx)
    canvas[:, iy * nx + ix] = features.T
    return canvas.reshape(-1, ny, nx)
