"""The DENFI conv: a deformable, depthwise-separable conv sampling where the boundaries are.

LiDAR points gather on the surfaces of objects the sensor faces, so in a BEV feature map the
information about an object lies along its boundary, not evenly over a 3x3 window. The Dense
Boundary Proposal Module predicts, at every cell, a box (its boundary distances and heading);
the DENFI conv samples the feature map at nine positions on that box: its four corners, the
midpoints of its four faces and its centre, in place of the regular 3x3 window. Sampling is
bilinear (``grid_sample``); the nine samples of each channel are weighted by that channel's own
nine weights (depthwise), then a 1x1 conv mixes channels (pointwise), so the cost is
``C x 9`` multiply-adds per cell plus one ``C x C'`` 1x1 conv: lightweight.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from xuframe.errors import InputError
from xuframe.nn import BevGrid
from xuframe.validation import check_int, check_tensor

__all__ = ["DenfiConv", "boundary_sample_points"]

#: The nine sampling positions in a box's frame, as multiples of (l / 2, w / 2), ordered like a
#: 3x3 kernel read row by row (rows: left to right side, columns: back to front).
_UNIT = torch.tensor([[sx, sy] for sy in (1.0, 0.0, -1.0) for sx in (-1.0, 0.0, 1.0)])


def boundary_sample_points(boxes: torch.Tensor, grid: BevGrid) -> torch.Tensor:
    """``(B, H, W, 9, 2)`` sampling positions, in ``grid_sample``'s normalised ``(x, y)``
    (``align_corners=True``), of the nine boundary points of each cell's box ``(B, H, W, 7)``
    (a finite floating tensor; ``grid`` a :class:`~xuframe.nn.BevGrid`).
    Raises :class:`~xuframe.errors.InputError` otherwise."""
    if not isinstance(grid, BevGrid):
        raise InputError(
            f"boundary_sample_points: grid: expected a BevGrid, got {type(grid).__name__}"
        )
    check_tensor(boxes, "boundary_sample_points: boxes", shape=(None, None, None, 7))
    return _boundary_sample_points(boxes, grid)


def _boundary_sample_points(boxes: torch.Tensor, grid: BevGrid) -> torch.Tensor:
    x, y, length, width, yaw = (
        boxes[..., 0],
        boxes[..., 1],
        boxes[..., 3],
        boxes[..., 4],
        boxes[..., 6],
    )
    unit = _UNIT.to(boxes)
    lx = unit[:, 0] * (length[..., None] / 2)  # (B, H, W, 9)
    ly = unit[:, 1] * (width[..., None] / 2)
    c, s = torch.cos(yaw)[..., None], torch.sin(yaw)[..., None]
    px = x[..., None] + lx * c - ly * s
    py = y[..., None] + lx * s + ly * c
    u = (px - grid.x_min) / grid.dx - 0.5  # cell index coordinates
    v = (py - grid.y_min) / grid.dy - 0.5
    return torch.stack([u / max(grid.nx - 1, 1) * 2 - 1, v / max(grid.ny - 1, 1) * 2 - 1], -1)


class DenfiConv(nn.Module):
    """``(B, C, H, W) -> (B, out_channels, H, W)``: a 1x1 conv narrows the features to
    ``mid_channels`` (batch norm, ReLU); each narrowed channel is sampled at the nine boundary
    points of each cell's box and weighted by its own nine weights (depthwise); a 1x1 conv,
    batch norm and ReLU mix the channels (pointwise).

    Narrowing first keeps bilinear sampling, the costly part on a CPU, to ``mid_channels``
    maps. The three channel counts are ints >= 1; anything else raises
    :class:`~xuframe.errors.InputError`."""

    def __init__(self, channels: int, mid_channels: int, out_channels: int) -> None:
        super().__init__()
        channels = check_int(channels, "DenfiConv: channels", min=1)
        mid_channels = check_int(mid_channels, "DenfiConv: mid_channels", min=1)
        out_channels = check_int(out_channels, "DenfiConv: out_channels", min=1)
        self.channels = channels
        self.reduce = nn.Sequential(
            nn.Conv2d(channels, mid_channels, 1, bias=False),
            nn.BatchNorm2d(mid_channels, eps=1e-3, momentum=0.1),
            nn.ReLU(inplace=True),
        )
        self.depthwise = nn.Parameter(torch.empty(mid_channels, 9))
        nn.init.kaiming_uniform_(self.depthwise, a=5**0.5)
        self.pointwise = nn.Conv2d(mid_channels, out_channels, 1, bias=False)
        self.norm = nn.BatchNorm2d(out_channels, eps=1e-3, momentum=0.1)

    def forward(self, features: torch.Tensor, boxes: torch.Tensor, grid: BevGrid) -> torch.Tensor:
        """``features`` ``(B, channels, H, W)`` on ``grid`` (``grid.ny = H``, ``grid.nx = W``)
        and each cell's box ``(B, H, W, 7)`` in metres, both finite floating tensors."""
        check_tensor(features, "DenfiConv: features", shape=(None, self.channels, None, None))
        b, _, h, w = features.shape
        if not isinstance(boxes, torch.Tensor) or boxes.shape != (b, h, w, 7):
            shape = tuple(boxes.shape) if isinstance(boxes, torch.Tensor) else type(boxes).__name__
            raise InputError(
                f"DenfiConv: expected boxes (B, H, W, 7) = {(b, h, w, 7)}, got {shape}"
            )
        check_tensor(boxes, "DenfiConv: boxes")
        if not isinstance(grid, BevGrid) or (grid.ny, grid.nx) != (h, w):
            shown = f"{grid.ny} x {grid.nx}" if isinstance(grid, BevGrid) else type(grid).__name__
            raise InputError(f"DenfiConv: grid: expected a BevGrid of {h} x {w} cells, got {shown}")
        x = self.reduce(features)
        c = x.shape[1]
        # tap-major layout (B, 9 * H, W, 2): the sampled taps come out as (B, C, 9, H, W)
        where = _boundary_sample_points(boxes, grid).permute(0, 3, 1, 2, 4).reshape(b, 9 * h, w, 2)
        sampled = F.grid_sample(x, where, mode="bilinear", padding_mode="zeros", align_corners=True)
        out = (sampled.reshape(b, c, 9, h, w) * self.depthwise[None, :, :, None, None]).sum(2)
        return F.relu(self.norm(self.pointwise(out)))
