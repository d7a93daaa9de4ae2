"""The single-stage BEV trunk both LiDAR detectors share: a PointPillars-style pillar encoder,
a SECOND-style 2-D conv backbone with multi-scale upsampling, and the BEV grid they work on."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from xuframe.errors import InputError
from xuframe.ops import pillarize, scatter
from xuframe.types import PointCloud

__all__ = ["BevBackbone", "BevGrid", "PillarEncoder"]


@attrs.frozen
class BevGrid:
    """A bird's-eye-view grid: ``nx x ny`` cells of ``dx x dy`` metres from ``(x_min, y_min)``;
    cell ``(ix, iy)`` (column ``ix``, row ``iy`` of a ``(.., ny, nx)`` map) has its centre at
    ``(x_min + (ix + 0.5) dx, y_min + (iy + 0.5) dy)``."""

    x_min: float
    y_min: float
    dx: float
    dy: float
    nx: int
    ny: int

    @classmethod
    def from_range(
        cls, point_range: Sequence[float], cell: Sequence[float], stride: int = 1
    ) -> BevGrid:
        """The grid of ``cell``-sized pillars over ``point_range``, coarsened ``stride`` times."""
        nx = round((point_range[3] - point_range[0]) / cell[0])
        ny = round((point_range[4] - point_range[1]) / cell[1])
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
    pillar's feature, scattered onto a ``(B, channels, ny, nx)`` canvas (zeros where no point)."""

    def __init__(
        self,
        point_range: Sequence[float],
        pillar_size: Sequence[float],
        point_features: int,
        channels: int,
    ) -> None:
        super().__init__()
        self.point_range = tuple(float(v) for v in point_range)
        self.pillar_size = tuple(float(v) for v in pillar_size)
        self.point_features = point_features
        self.grid = BevGrid.from_range(self.point_range, self.pillar_size)
        self.linear = nn.Linear(3 + point_features + 3 + 2, channels, bias=False)
        self.norm = nn.BatchNorm1d(channels, eps=1e-3, momentum=0.1)
        self.channels = channels

    def forward(self, clouds: Sequence[PointCloud]) -> torch.Tensor:
        g = self.grid
        cells = g.nx * g.ny
        rows, index = [], []
        for b, cloud in enumerate(clouds):
            if not isinstance(cloud, PointCloud):
                raise InputError(f"expected a list of PointCloud, got {type(cloud).__name__}")
            if cloud.num_features != self.point_features:
                raise InputError(
                    f"expected point clouds with {self.point_features} feature channel(s) "
                    f"(e.g. reflectance), got {cloud.num_features}"
                )
            pts = torch.cat([cloud.xyz, cloud.features], 1).to(self.linear.weight)
            pil = pillarize(pts, self.pillar_size, self.point_range, "mean")
            inside = pil.point_voxel >= 0
            p, v = pts[inside], pil.point_voxel[inside]
            centre = (pil.coords[v, :2].to(p) + 0.5) * torch.tensor(self.pillar_size).to(p)
            centre = centre + torch.tensor(self.point_range[:2]).to(p)
            rows.append(torch.cat([p, p[:, :3] - pil.features[v, :3], p[:, :2] - centre], 1))
            linear = pil.coords[:, 1] * g.nx + pil.coords[:, 0]
            index.append(b * cells + linear[v])
        canvas = self.linear.weight.new_zeros(len(clouds) * cells, self.channels)
        if rows and sum(len(r) for r in rows) > 1:
            x = F.relu(self.norm(self.linear(torch.cat(rows))))
            idx = torch.cat(index)
            occupied, inverse = torch.unique(idx, return_inverse=True)
            canvas[occupied] = scatter(x, inverse, len(occupied), "max")
        return canvas.reshape(len(clouds), g.ny, g.nx, self.channels).permute(0, 3, 1, 2)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
        nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1),
        nn.ReLU(inplace=True),
    )


class BevBackbone(nn.Module):
    """Three downsampling blocks (strides 2, 4, 8 of the pillar grid; ``layers`` 3x3 convs each)
    whose outputs are upsampled to stride 2 and concatenated: ``(B, 3 * up_channels, ny/2, nx/2)``."""

    def __init__(self, cin: int, widths: Sequence[int], layers: int, up_channels: int) -> None:
        super().__init__()
        if len(widths) != 3:
            raise InputError(f"BevBackbone: expected 3 block widths, got {list(widths)}")
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
        outs, x = [], canvas
        for block, up in zip(self.blocks, self.ups, strict=True):
            x = block(x)
            outs.append(up(x))
        return torch.cat(outs, 1)
