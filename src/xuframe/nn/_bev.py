"""The single-stage bird's-eye-view trunk of the LiDAR detectors (``pillars-baseline``,
``denfi`` and their X-view variants): a PointPillars-style pillar encoder, a SECOND-style 2-D
conv backbone with multi-scale upsampling, and the BEV grid they work on."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from xuframe.errors import InputError, XuframeError
from xuframe.ops import pillarize, scatter
from xuframe.types import PointCloud
from xuframe.validation import (
    check_float,
    check_int,
    check_memory,
    check_point_clouds,
    check_tensor,
)

__all__ = ["BevBackbone", "BevGrid", "PillarEncoder"]


def _check_point_range(
    value: Any, what: str = "point_range", *, error: type[XuframeError] = InputError
) -> tuple[float, ...]:
    """``value`` as the 6 finite numbers ``x_min, y_min, z_min, x_max, y_max, z_max`` (metres)
    with every max above its min; otherwise ``error`` naming ``what``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 6:
        raise error(
            f"{what}: expected 6 numbers (x_min, y_min, z_min, x_max, y_max, z_max), got {value!r:.60}"
        )
    out = tuple(check_float(v, f"{what}[{i}]", error=error) for i, v in enumerate(value))
    for axis, (lo, hi) in zip("xyz", zip(out[:3], out[3:], strict=True), strict=True):
        if not hi > lo:
            raise error(
                f"{what}: expected {axis}_max > {axis}_min, got {axis} from {lo:g} to {hi:g}"
            )
    return out


def _check_cells(
    point_range: Sequence[float],
    cell: Any,
    what: str = "pillar_size",
    *,
    error: type[XuframeError] = InputError,
) -> tuple[int, int]:
    """The ``(nx, ny)`` cells of size ``cell`` (``dx, dy`` > 0, metres) that tile the x and y
    extent of a checked ``point_range`` exactly (to 1e-7 of a cell): a range that is not a
    whole number of cells would leave points beyond the last cell. Raises ``error``."""
    if isinstance(cell, (str, bytes)) or not isinstance(cell, Sequence) or len(cell) != 2:
        raise error(f"{what}: expected 2 numbers (dx, dy), got {cell!r:.60}")
    sizes = [
        check_float(v, f"{what}[{i}]", min=0.0, min_open=True, error=error)
        for i, v in enumerate(cell)
    ]
    counts = []
    for axis, extent, size in zip(
        "xy", (point_range[3] - point_range[0], point_range[4] - point_range[1]), sizes, strict=True
    ):
        n = extent / size
        if not math.isfinite(n) or n > 2**40:
            raise error(
                f"{what}: {extent:g} m of {axis} in {size:g} m cells is too many cells ({n:g})"
            )
        if round(n) < 1 or abs(n - round(n)) > 1e-7:
            raise error(
                f"{what}: expected a whole number of {size:g} m cells along {axis}, "
                f"got {n:g} over point_range's {extent:g} m"
            )
        counts.append(round(n))
    return counts[0], counts[1]


@attrs.frozen
class BevGrid:
    """A bird's-eye-view grid: ``nx x ny`` cells of ``dx x dy`` metres from ``(x_min, y_min)``;
    cell ``(ix, iy)`` (column ``ix``, row ``iy`` of a ``(.., ny, nx)`` map) has its centre at
    ``(x_min + (ix + 0.5) dx, y_min + (iy + 0.5) dy)``.

    ``x_min``, ``y_min`` are finite numbers, ``dx``, ``dy`` finite and > 0, ``nx``, ``ny`` ints
    >= 1; anything else raises :class:`~xuframe.errors.InputError`."""

    x_min: float
    y_min: float
    dx: float
    dy: float
    nx: int
    ny: int

    def __attrs_post_init__(self) -> None:
        for name in ("x_min", "y_min"):
            object.__setattr__(self, name, check_float(getattr(self, name), f"BevGrid.{name}"))
        for name in ("dx", "dy"):
            value = check_float(getattr(self, name), f"BevGrid.{name}", min=0.0, min_open=True)
            object.__setattr__(self, name, value)
        for name in ("nx", "ny"):
            object.__setattr__(self, name, check_int(getattr(self, name), f"BevGrid.{name}", min=1))

    @classmethod
    def from_range(
        cls, point_range: Sequence[float], cell: Sequence[float], stride: int = 1
    ) -> BevGrid:
        """The grid of ``cell``-sized pillars over ``point_range`` (6 numbers, see
        :func:`_check_point_range`; its x and y extent a whole number of cells), coarsened
        ``stride`` times (an int >= 1 dividing both cell counts). Raises
        :class:`~xuframe.errors.InputError` otherwise."""
        point_range = _check_point_range(point_range, "BevGrid.from_range: point_range")
        nx, ny = _check_cells(point_range, cell, "BevGrid.from_range: cell")
        stride = check_int(stride, "BevGrid.from_range: stride", min=1)
        if nx % stride or ny % stride:
            raise InputError(
                f"BevGrid: a {nx} x {ny} pillar grid is not divisible by the stride {stride}"
            )
        return cls(
            float(point_range[0]),
            float(point_range[1]),
            float(cell[0]) * stride,
            float(cell[1]) * stride,
            nx // stride,
            ny // stride,
        )

    def centres(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ny, nx)`` x and y of every cell's centre."""
        xs = self.x_min + (torch.arange(self.nx, dtype=torch.float32) + 0.5) * self.dx
        ys = self.y_min + (torch.arange(self.ny, dtype=torch.float32) + 0.5) * self.dy
        return xs[None, :].expand(self.ny, -1), ys[:, None].expand(-1, self.nx)


class PillarEncoder(nn.Module):
    """PointPillars' pillar feature net: each point in range gets ``x, y, z``, its features,
    its offset from its pillar's point mean and from the pillar's centre; a linear layer,
    batch norm and ReLU lift it to ``channels``; a max over each pillar's points gives the
    pillar's feature, scattered onto a ``(B, channels, ny, nx)`` canvas (zeros where no point).

    ``point_range`` is 6 numbers (``x_min, y_min, z_min, x_max, y_max, z_max``, metres, each
    max above its min), ``pillar_size`` 2 numbers > 0 tiling its x and y extent exactly,
    ``point_features`` an int >= 0 and ``channels`` an int >= 1; anything else raises
    :class:`~xuframe.errors.InputError`."""

    def __init__(
        self,
        point_range: Sequence[float],
        pillar_size: Sequence[float],
        point_features: int,
        channels: int,
    ) -> None:
        super().__init__()
        self.point_range = _check_point_range(point_range, "PillarEncoder: point_range")
        _check_cells(self.point_range, pillar_size, "PillarEncoder: pillar_size")
        self.pillar_size = (float(pillar_size[0]), float(pillar_size[1]))
        self.point_features = check_int(point_features, "PillarEncoder: point_features", min=0)
        channels = check_int(channels, "PillarEncoder: channels", min=1)
        self.grid = BevGrid.from_range(self.point_range, self.pillar_size)
        self.linear = nn.Linear(3 + point_features + 3 + 2, channels, bias=False)
        self.norm = nn.BatchNorm1d(channels, eps=1e-3, momentum=0.1)
        self.channels = channels

    def check_clouds(self, clouds: Any, what: str) -> list[PointCloud]:
        """``clouds`` checked as this encoder's input: a non-empty list (or tuple) of
        :class:`~xuframe.PointCloud` with finite points and ``point_features`` feature channels
        each (an empty cloud is fine), whose canvases fit in memory
        (:func:`~xuframe.validation.check_memory`). Raises :class:`~xuframe.errors.InputError`
        naming ``what``."""
        checked = check_point_clouds(clouds, what, num_features=self.point_features)
        g = self.grid
        check_memory(
            4.0 * len(checked) * g.nx * g.ny * self.channels,
            f"{what}: the {len(checked)} pillar canvases of {g.nx} x {g.ny} cells",
        )
        return checked

    def forward(self, clouds: Sequence[PointCloud]) -> torch.Tensor:
        """The ``(B, channels, ny, nx)`` canvas of the clouds (see :meth:`check_clouds`)."""
        clouds = self.check_clouds(clouds, "PillarEncoder")
        g = self.grid
        cells = g.nx * g.ny
        rows, index, occupied = [], [], []
        pillars = 0
        size, low = torch.tensor(self.pillar_size), torch.tensor(self.point_range[:2])
        for b, cloud in enumerate(clouds):
            pts = torch.cat([cloud.xyz, cloud.features], 1).to(self.linear.weight)
            pil = pillarize(pts, self.pillar_size, self.point_range, "mean")
            inside = pil.point_voxel >= 0
            if bool(inside.all()):
                p, v = pts, pil.point_voxel
            else:
                p, v = pts[inside], pil.point_voxel[inside]
            # per pillar (then gathered per point): its point mean and its centre
            centre = (pil.coords[:, :2].to(p) + 0.5) * size.to(p) + low.to(p)
            table = torch.cat([pil.features[:, :3], centre], 1)[v]
            rows.append(torch.cat([p, p[:, [0, 1, 2, 0, 1]] - table], 1))
            # pillarize's voxels are sorted by this same linear index: no second unique needed
            occupied.append(b * cells + pil.coords[:, 1] * g.nx + pil.coords[:, 0])
            index.append(v + pillars)
            pillars += len(pil.coords)
        canvas = self.linear.weight.new_zeros(len(clouds) * cells, self.channels)
        points = sum(len(r) for r in rows)
        # batch norm cannot normalise one point in training (it needs two); eval uses its statistics
        if points > 1 or (points == 1 and not self.training):
            x = F.relu(self.norm(self.linear(torch.cat(rows))))
            canvas[torch.cat(occupied)] = scatter(x, torch.cat(index), pillars, "max")
        return canvas.reshape(len(clouds), g.ny, g.nx, self.channels).permute(0, 3, 1, 2)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
        nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1),
        nn.ReLU(inplace=True),
    )


class BevBackbone(nn.Module):
    """Three downsampling blocks (strides 2, 4, 8 of the pillar grid; ``layers`` 3x3 convs each)
    whose outputs are upsampled to stride 2 and concatenated: ``(B, 3 * up_channels, ny/2, nx/2)``.

    ``cin``, the 3 ``widths`` and ``up_channels`` are ints >= 1, ``layers`` an int >= 0;
    anything else raises :class:`~xuframe.errors.InputError`."""

    def __init__(self, cin: int, widths: Sequence[int], layers: int, up_channels: int) -> None:
        super().__init__()
        cin = check_int(cin, "BevBackbone: cin", min=1)
        if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or len(widths) != 3:
            raise InputError(f"BevBackbone: expected 3 block widths, got {widths!r:.60}")
        widths = [check_int(w, f"BevBackbone: widths[{i}]", min=1) for i, w in enumerate(widths)]
        layers = check_int(layers, "BevBackbone: layers", min=0)
        up_channels = check_int(up_channels, "BevBackbone: up_channels", min=1)
        self.cin = cin
        self.blocks = nn.ModuleList()
        prev = cin
        for w in widths:
            mods = [_conv(prev, w, 2)] + [_conv(w, w) for _ in range(layers)]
            self.blocks.append(nn.Sequential(*mods))
            prev = w
        self.ups = nn.ModuleList(
            [
                nn.Sequential(
                    nn.ConvTranspose2d(w, up_channels, f, f, bias=False)
                    if f > 1
                    else nn.Conv2d(w, up_channels, 1, bias=False),
                    nn.BatchNorm2d(up_channels, eps=1e-3, momentum=0.1),
                    nn.ReLU(inplace=True),
                )
                for w, f in zip(widths, (1, 2, 4), strict=True)
            ]
        )
        self.channels = 3 * up_channels

    def forward(self, canvas: torch.Tensor) -> torch.Tensor:
        """``canvas`` ``(B, cin, H, W)``, finite, ``H`` and ``W`` positive multiples of 8."""
        check_tensor(canvas, "BevBackbone: canvas", shape=(None, self.cin, None, None))
        h, w = canvas.shape[2:]
        if canvas.shape[0] == 0 or h == 0 or w == 0 or h % 8 or w % 8:
            raise InputError(
                f"BevBackbone: canvas: expected B >= 1 and H, W positive multiples of 8, "
                f"got shape {tuple(canvas.shape)}"
            )
        outs, x = [], canvas
        for block, up in zip(self.blocks, self.ups, strict=True):
            x = block(x)
            outs.append(up(x))
        return torch.cat(outs, 1)
