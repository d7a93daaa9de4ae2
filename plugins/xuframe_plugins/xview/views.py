"""X-view's views: an origin anywhere in the scene and a coordinate type, the exact forward and
inverse transforms, the view's (range, azimuth) pillar grid, and bilinear gathering of a view's
canvas at any 3-D location (main-stream BEV cell centres, or points).

Coordinates of a point ``p`` in the view of origin ``o`` and reference yaw ``psi0`` (the
direction of azimuth 0, chosen so that the view's azimuth sector does not cross the seam):

- ``cylindrical``: range ``r = |(p - o)_xy|``, azimuth ``a = atan2(dy, dx) - psi0`` wrapped to
  ``[-pi, pi)``, height ``h = (p - o)_z``;
- ``spherical``: range ``r = |p - o|``, the same azimuth, inclination
  ``t = atan2(|(p - o)_xy|, (p - o)_z)`` in ``[0, pi]`` (0 straight up).

The view's canvas has one row per azimuth cell and one column per range cell (the third
coordinate spans each pillar): a ``(B, C, n_azimuth, n_range)`` map whose cell ``(row, col)``
has its centre at ``r = (col + 0.5) dr``, ``a = a_min + (row + 0.5) da``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Literal

import attrs
import torch
import torch.nn.functional as F

from xuframe.errors import InputError
from xuframe.validation import check_float, check_tensor

__all__ = ["CoordinateType", "View", "parse_view", "view_over_area"]

CoordinateType = Literal["cylindrical", "spherical"]
_SPEC = re.compile(r"^\s*(cylindrical|spherical)\s*@\s*([^,]+),([^,]+),([^,]+)\s*$")


def _wrap(angle: torch.Tensor) -> torch.Tensor:
    """``angle`` (radians) wrapped to ``[-pi, pi)``."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def parse_view(spec: Any, what: str = "view") -> tuple[CoordinateType, tuple[float, float, float]]:
    """``"cylindrical@x,y,z"`` or ``"spherical@x,y,z"`` (origin in metres, LiDAR frame) as
    ``(coordinates, origin)``; :class:`~xuframe.errors.InputError` naming ``what`` otherwise."""
    match = _SPEC.match(spec) if isinstance(spec, str) else None
    if match is None:
        raise InputError(
            f"{what}: expected 'cylindrical@x,y,z' or 'spherical@x,y,z' (origin in metres), "
            f"got {spec!r:.60}"
        )
    try:
        numbers = [float(v) for v in match.groups()[1:]]
    except ValueError:
        raise InputError(f"{what}: the origin must be three numbers, got {spec!r:.60}") from None
    x, y, z = (check_float(v, f"{what}: origin[{i}]") for i, v in enumerate(numbers))
    kind: CoordinateType = "cylindrical" if match.group(1) == "cylindrical" else "spherical"
    return kind, (x, y, z)


@attrs.frozen
class View:
    """One view: ``coordinates`` (``"cylindrical"`` or ``"spherical"``), ``origin`` (metres),
    reference yaw ``yaw`` (radians), the range ``[0, n_range * dr)`` (metres), the azimuth
    sector ``[a_min, a_min + n_azimuth * da)`` (radians, relative to ``yaw``, inside
    ``[-pi, pi)``; the whole circle when :attr:`full_circle`) and the third coordinate's span
    ``[t_min, t_max)`` (height in metres or inclination in radians). Build one with
    :func:`view_over_area`."""

    coordinates: CoordinateType
    origin: tuple[float, float, float]
    yaw: float
    dr: float
    n_range: int
    a_min: float
    da: float
    n_azimuth: int
    t_min: float
    t_max: float

    @property
    def r_max(self) -> float:
        """The range's upper end (exclusive), metres."""
        return self.n_range * self.dr

    @property
    def a_max(self) -> float:
        """The sector's upper azimuth (exclusive), radians."""
        return self.a_min + self.n_azimuth * self.da

    @property
    def full_circle(self) -> bool:
        """Whether the view covers 360 degrees (its azimuth wraps around)."""
        return self.n_azimuth * self.da >= 2 * math.pi - 1e-9

    def point_range(self) -> tuple[float, ...]:
        """The view's box in its own coordinates, as a pillar encoder's ``point_range``:
        ``(0, a_min, t_min, r_max, a_max, t_max)``."""
        return (0.0, self.a_min, self.t_min, self.r_max, self.a_max, self.t_max)

    def to_view(self, xyz: torch.Tensor) -> torch.Tensor:
        """``(N, 3)`` ``(range, azimuth, height or inclination)`` of the ``(N, 3)`` points
        ``xyz`` (metres, LiDAR frame)."""
        d = xyz - torch.tensor(self.origin, dtype=xyz.dtype, device=xyz.device)
        flat = torch.hypot(d[:, 0], d[:, 1])
        azimuth = _wrap(torch.atan2(d[:, 1], d[:, 0]) - self.yaw)
        if self.coordinates == "cylindrical":
            return torch.stack([flat, azimuth, d[:, 2]], 1)
        return torch.stack([torch.hypot(flat, d[:, 2]), azimuth, torch.atan2(flat, d[:, 2])], 1)

    def from_view(self, coords: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`to_view`: ``(N, 3)`` points (metres) of ``(N, 3)`` view
        coordinates."""
        r, azimuth, third = coords[:, 0], coords[:, 1] + self.yaw, coords[:, 2]
        if self.coordinates == "cylindrical":
            flat, z = r, third
        else:
            flat, z = r * torch.sin(third), r * torch.cos(third)
        d = torch.stack([flat * torch.cos(azimuth), flat * torch.sin(azimuth), z], 1)
        return d + torch.tensor(self.origin, dtype=coords.dtype, device=coords.device)

    def inside(self, coords: torch.Tensor) -> torch.Tensor:
        """``(N,)`` bool: which view coordinates lie in the view's range, sector and span (the
        points its grid keeps; the rest are dropped, never wrapped)."""
        r, a, t = coords[:, 0], coords[:, 1], coords[:, 2]
        ok = (r >= 0) & (r < self.r_max) & (t >= self.t_min) & (t < self.t_max)
        if not self.full_circle:
            ok &= (a >= self.a_min) & (a < self.a_max)
        return ok

    def sample_weights(self, xyz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Bilinear sampling of the canvas at the ``(N, 3)`` locations ``xyz``: ``(N, 4)``
        flat cell indices (``row * n_range + col``) and ``(N, 4)`` weights. Cells beyond the
        canvas get weight 0 (zero padding), except across the azimuth seam of a full-circle
        view, where the last row neighbours the first. Computed in float64."""
        coords = self.to_view(xyz.double())
        u = coords[:, 0] / self.dr - 0.5  # column coordinate: cell centres at integers
        v = (coords[:, 1] - self.a_min) / self.da - 0.5
        if self.full_circle:
            v = torch.remainder(v, self.n_azimuth)
        u0, v0 = torch.floor(u), torch.floor(v)
        fu, fv = u - u0, v - v0
        index, weight = [], []
        for dv, wv in ((0, 1 - fv), (1, fv)):
            for du, wu in ((0, 1 - fu), (1, fu)):
                col, row = (u0 + du).long(), (v0 + dv).long()
                ok = (col >= 0) & (col < self.n_range)
                if self.full_circle:
                    row = torch.remainder(row, self.n_azimuth)
                else:
                    ok &= (row >= 0) & (row < self.n_azimuth)
                # a location outside the view's third-coordinate span sees nothing
                ok &= (coords[:, 2] >= self.t_min) & (coords[:, 2] < self.t_max)
                index.append(torch.where(ok, row * self.n_range + col, 0))
                weight.append(torch.where(ok, wu * wv, 0.0))
        return torch.stack(index, 1), torch.stack(weight, 1)

    def sample_grid(self, xyz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The same sampling as :meth:`sample_weights` in the form of
        :func:`torch.nn.functional.grid_sample` (``align_corners=False``, zero padding) on the
        canvas padded by :meth:`pad`: ``(N, 2)`` normalised ``(x, y)`` and an ``(N,)`` float
        mask (0 where the location lies outside the view's third-coordinate span)."""
        coords = self.to_view(xyz.double())
        u = coords[:, 0] / self.dr - 0.5
        v = (coords[:, 1] - self.a_min) / self.da - 0.5
        rows = self.n_azimuth
        if self.full_circle:
            v = torch.remainder(v, self.n_azimuth) + 1  # the padded canvas has one more row on top
            rows += 2
        grid = torch.stack([(2 * u + 1) / self.n_range - 1, (2 * v + 1) / rows - 1], 1)
        mask = (coords[:, 2] >= self.t_min) & (coords[:, 2] < self.t_max)
        return grid, mask.double()

    def pad(self, canvas: torch.Tensor) -> torch.Tensor:
        """``canvas`` ``(B, C, n_azimuth, n_range)`` with its last row repeated above the first
        and its first below the last when the view covers the whole circle (so that bilinear
        sampling wraps around the azimuth seam); unchanged otherwise."""
        if not self.full_circle:
            return canvas
        return torch.cat([canvas[:, :, -1:], canvas, canvas[:, :, :1]], 2)

    def gather(self, canvas: torch.Tensor, xyz: torch.Tensor) -> torch.Tensor:
        """The ``(B, C, N)`` features of ``canvas`` ``(B, C, n_azimuth, n_range)`` at the
        ``(N, 3)`` locations ``xyz`` (metres), bilinearly interpolated (see
        :meth:`sample_weights`); 0 outside the view. Raises
        :class:`~xuframe.errors.InputError` for a canvas of another shape or non-finite
        values."""
        check_tensor(
            canvas, "View.gather: canvas", shape=(None, None, self.n_azimuth, self.n_range)
        )
        check_tensor(xyz, "View.gather: xyz", shape=(None, 3))
        grid, mask = self.sample_grid(xyz)
        return _sample(self.pad(canvas), grid, mask)

    def cell_centres(self) -> torch.Tensor:
        """``(n_azimuth, n_range, 2)`` ``(range, azimuth)`` of every canvas cell's centre."""
        r = (torch.arange(self.n_range, dtype=torch.float64) + 0.5) * self.dr
        a = self.a_min + (torch.arange(self.n_azimuth, dtype=torch.float64) + 0.5) * self.da
        return torch.stack(torch.meshgrid(r, a, indexing="xy"), -1)


def _sample(padded: torch.Tensor, grid: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B, C, N)`` bilinear samples of the padded canvas at ``grid`` ``(N, 2)``, times
    ``mask`` ``(N,)``."""
    where = grid.to(padded)[None, None].expand(len(padded), 1, -1, 2)
    out = F.grid_sample(padded, where, "bilinear", "zeros", align_corners=False)[:, :, 0]
    return out * mask.to(out)


def view_over_area(
    spec: Any,
    point_range: Sequence[float],
    range_cell: float,
    azimuth_cell_degrees: float,
    what: str = "view",
) -> View:
    """The view ``spec`` (see :func:`parse_view`) sized to see the whole main-stream area
    ``point_range`` (6 numbers, metres): range ``[0, r_max)`` reaching its farthest corner
    (rounded up to whole ``range_cell`` metres), the whole circle when the origin lies strictly
    inside the area's BEV rectangle, otherwise the narrowest sector holding it (rounded out to
    whole cells of about ``azimuth_cell_degrees``), height the area's z span (cylindrical) or
    inclination ``[0, pi]`` (spherical). Raises :class:`~xuframe.errors.InputError`."""
    kind, origin = parse_view(spec, what)
    x0, y0, z0, x1, y1, z1 = (float(v) for v in point_range)
    dr = check_float(range_cell, f"{what}: range cell", min=0.0, min_open=True)
    deg = check_float(azimuth_cell_degrees, f"{what}: azimuth cell", min=0.0, min_open=True)
    deg = min(deg, 360.0)
    ox, oy, oz = origin
    corners = [(x, y, z) for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)]
    if kind == "cylindrical":
        far = max(math.hypot(x - ox, y - oy) for x, y, _ in corners)
        t_min, t_max = z0 - oz, z1 - oz
    else:
        far = max(math.dist((x, y, z), origin) for x, y, z in corners)
        t_min, t_max = 0.0, math.pi + 1e-6
    n_range = max(1, math.ceil(far / dr - 1e-9))
    if n_range > 100_000:
        raise InputError(f"{what}: {far:.3g} m in {dr:g} m range cells is too many cells")
    step = math.radians(deg)
    if x0 < ox < x1 and y0 < oy < y1:
        yaw, a_min, n_azimuth = 0.0, -math.pi, max(1, round(360.0 / deg))
        step = 2 * math.pi / n_azimuth
    else:
        # the narrowest sector: azimuths of the corners relative to the area's centre
        yaw = math.atan2((y0 + y1) / 2 - oy, (x0 + x1) / 2 - ox)
        rel = [
            math.remainder(math.atan2(y - oy, x - ox) - yaw, 2 * math.pi)
            for x, y, _ in corners
            if (x, y) != (ox, oy)
        ]
        lo, hi = min(rel), max(rel)
        n_azimuth = max(1, math.ceil((hi - lo) / step - 1e-9))
        # centre the whole cells on the sector, keeping it inside [-pi, pi)
        a_min = max(-math.pi, (lo + hi) / 2 - n_azimuth * step / 2)
        if a_min + n_azimuth * step > math.pi:
            n_azimuth = max(1, math.floor((math.pi - a_min) / step))
    return View(kind, origin, yaw, dr, n_range, a_min, step, n_azimuth, t_min, t_max)
