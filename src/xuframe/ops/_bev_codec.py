"""Box encoding for anchor-free bird's-eye-view heads (CenterPoint / DENFI style).

A BEV grid has origin ``(x_min, y_min)`` and cells of ``(dx, dy)`` metres; cell ``(ix, iy)``
has its centre at ``(x_min + (ix + 0.5) dx, y_min + (iy + 0.5) dy)``. A box predicted at a
cell is encoded as 8 numbers::

    (x - cx) / dx, (y - cy) / dy, z, log l, log w, log h, sin yaw, cos yaw

so the offsets are in cells, the sizes are scale-free and the heading has no wrap-around.
:func:`decode_bev_boxes` inverts it exactly (up to round-off); ``atan2`` recovers the yaw
from any (sin, cos) pair, normalised or not.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from xuframe.errors import InputError
from xuframe.types import Boxes3D

__all__ = ["decode_bev_boxes", "encode_bev_boxes"]


def _centres(
    cells: torch.Tensor, origin: Sequence[float], cell_size: Sequence[float]
) -> torch.Tensor:
    if cells.ndim != 2 or cells.shape[1] != 2:
        raise InputError(
            f"BEV codec: expected cells of shape (K, 2) as ix, iy, got {tuple(cells.shape)}"
        )
    if len(origin) != 2 or len(cell_size) != 2 or min(cell_size) <= 0:
        raise InputError(
            f"BEV codec: expected origin (x_min, y_min) and positive cell_size (dx, dy), got {origin}, {cell_size}"
        )
    o = torch.tensor(origin, dtype=torch.float64)
    d = torch.tensor(cell_size, dtype=torch.float64)
    return o + (cells.double() + 0.5) * d


def encode_bev_boxes(
    boxes: Boxes3D, cells: torch.Tensor, origin: Sequence[float], cell_size: Sequence[float]
) -> torch.Tensor:
    """``(K, 8)`` regression targets of ``boxes`` (K of them) at ``cells`` ``(K, 2)``. Sizes
    must be positive (a zero size has no logarithm)."""
    t = boxes.tensor.double()
    if len(t) != len(cells):
        raise InputError(f"encode_bev_boxes: {len(t)} boxes for {len(cells)} cells")
    if bool((t[:, 3:6] <= 0).any()):
        raise InputError("encode_bev_boxes: box sizes must be > 0 to encode their logarithms")
    centre = _centres(cells, origin, cell_size)
    d = torch.tensor(cell_size, dtype=torch.float64)
    out = torch.cat(
        [
            (t[:, :2] - centre) / d,
            t[:, 2:3],
            t[:, 3:6].log(),
            torch.sin(t[:, 6:7]),
            torch.cos(t[:, 6:7]),
        ],
        dim=1,
    )
    return out.to(boxes.tensor.dtype)


def decode_bev_boxes(
    codes: torch.Tensor, cells: torch.Tensor, origin: Sequence[float], cell_size: Sequence[float]
) -> Boxes3D:
    """:class:`Boxes3D` from ``(K, 8)`` codes predicted at ``cells`` ``(K, 2)``."""
    if codes.ndim != 2 or codes.shape[1] != 8 or len(codes) != len(cells):
        raise InputError(
            f"decode_bev_boxes: expected codes (K, 8) for {len(cells)} cells, got {tuple(codes.shape)}"
        )
    c = codes.double()
    centre = _centres(cells, origin, cell_size)
    d = torch.tensor(cell_size, dtype=torch.float64)
    xy = centre + c[:, :2] * d
    yaw = torch.atan2(c[:, 6], c[:, 7])
    rows = torch.cat([xy, c[:, 2:3], c[:, 3:6].exp(), yaw[:, None]], dim=1)
    return Boxes3D(rows.to(codes.dtype))
