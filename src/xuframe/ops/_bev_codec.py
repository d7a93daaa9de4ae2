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
from xuframe.validation import check_array, check_tensor

__all__ = ["decode_bev_boxes", "encode_bev_boxes"]


def _grid(
    cells: object, n: int | None, origin: object, cell_size: object, what: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The checked ``cells`` (``n`` of them when given) and the float64 centres and cell size."""
    c = check_tensor(cells, f"{what}(cells) (K, 2) as ix, iy", shape=(n, 2), floating=False)
    if c.is_floating_point():
        raise InputError(f"{what}(cells): expected integer cells (ix, iy), got dtype {c.dtype}")
    o = check_array(origin, f"{what}(origin) (x_min, y_min)", shape=(2,))
    d = check_array(cell_size, f"{what}(cell_size) (dx, dy)", shape=(2,))
    if (d <= 0).any():
        raise InputError(f"{what}(cell_size): expected positive sizes (dx, dy), got {d.tolist()}")
    size = torch.from_numpy(d)
    return c, torch.from_numpy(o) + (c.double() + 0.5) * size, size


def encode_bev_boxes(
    boxes: Boxes3D, cells: torch.Tensor, origin: Sequence[float], cell_size: Sequence[float]
) -> torch.Tensor:
    """``(K, 8)`` regression targets of ``boxes`` (K of them) at ``cells`` ``(K, 2)``. Sizes
    must be positive (a zero size has no logarithm).

    ``cells`` is an integer tensor, one row per box; ``origin`` two finite numbers and
    ``cell_size`` two positive ones (metres; sequences, arrays or tensors). Raises
    :class:`~xuframe.errors.InputError` for anything else or for ``boxes`` that are not a
    :class:`~xuframe.Boxes3D`.
    """
    if not isinstance(boxes, Boxes3D):
        raise InputError(f"encode_bev_boxes(boxes): expected Boxes3D, got {type(boxes).__name__}")
    t = check_tensor(boxes.tensor, "encode_bev_boxes(boxes)", floating=False).double()
    if bool((t[:, 3:6] <= 0).any()):
        raise InputError(
            "encode_bev_boxes(boxes): expected sizes > 0 to encode their logarithms, got one <= 0"
        )
    _, centre, d = _grid(cells, len(t), origin, cell_size, "encode_bev_boxes")
    out = torch.cat(
        [
            (t[:, :2] - centre) / d,
            t[:, 2:3],
            t[:, 3:6].log(),
            torch.sin(t[:, 6:7]),
            torch.cos(t[:, 6:7]),
        ],
        dim=1,
    ).to(boxes.tensor.dtype if boxes.tensor.is_floating_point() else torch.float64)
    if not bool(torch.isfinite(out).all()):
        raise InputError(
            f"encode_bev_boxes: the offsets overflow {out.dtype}: cell_size "
            f"{d.tolist()} is too small for boxes this far from their cells"
        )
    return out


def decode_bev_boxes(
    codes: torch.Tensor, cells: torch.Tensor, origin: Sequence[float], cell_size: Sequence[float]
) -> Boxes3D:
    """:class:`Boxes3D` from ``(K, 8)`` codes predicted at ``cells`` ``(K, 2)``, in the codes'
    dtype.

    ``codes`` is a floating tensor of finite values; ``cells``, ``origin`` and ``cell_size``
    as for :func:`encode_bev_boxes`. Raises :class:`~xuframe.errors.InputError` for anything
    else, and for codes whose boxes overflow the codes' dtype (log sizes beyond its range).
    """
    check_tensor(codes, "decode_bev_boxes(codes)", shape=(None, 8))
    _, centre, d = _grid(cells, len(codes), origin, cell_size, "decode_bev_boxes")
    c = codes.double()
    xy = centre + c[:, :2] * d
    yaw = torch.atan2(c[:, 6], c[:, 7])
    rows = torch.cat([xy, c[:, 2:3], c[:, 3:6].exp(), yaw[:, None]], dim=1).to(codes.dtype)
    if not bool(torch.isfinite(rows).all()):
        raise InputError(
            f"decode_bev_boxes(codes): the decoded boxes overflow {codes.dtype} "
            "(log sizes or offsets too large)"
        )
    return Boxes3D(rows)
