"""VoteNet's box coding: bin-based heading and class-wise mean-size residuals.

Shared by ``votenet`` and SRDet. A heading ``yaw`` (radians, from ``+x`` towards ``+y``) is
coded as a bin of ``2 pi / num_bins`` centred on ``k 2 pi / num_bins`` and the residual from
that centre (VoteNet's ``angle2class``); a size ``(l, w, h)`` of class ``c`` as its difference
from the class's mean size. ``num_bins = 0`` means no heading at all (axis-aligned data such
as ScanNet): every box decodes with ``yaw = 0`` and is coded by its axis-aligned extents.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from xuframe.errors import InputError
from xuframe.validation import check_int, check_labels, check_tensor

__all__ = [
    "axis_aligned_sizes",
    "decode_heading",
    "decode_size",
    "encode_heading",
    "encode_size",
]


def _bins(num_bins: Any, what: str) -> int:
    return check_int(num_bins, f"{what}: num_bins", min=1)


def encode_heading(yaw: torch.Tensor, num_bins: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(bin, residual)`` of each heading in ``yaw`` (any shape, finite, radians).

    The bin ``k`` in ``0 .. num_bins - 1`` is the one whose centre ``k 2 pi / num_bins`` is
    nearest (modulo ``2 pi``), as ``int64``; the residual, in ``[-pi / num_bins, pi /
    num_bins)``, is what :func:`decode_heading` adds back to that centre. Raises
    :class:`~xuframe.errors.InputError` for a non-finite or non-floating ``yaw`` or
    ``num_bins`` < 1."""
    yaw = check_tensor(yaw, "encode_heading: yaw")
    num_bins = _bins(num_bins, "encode_heading")
    width = 2 * math.pi / num_bins
    shifted = torch.remainder(yaw.double() + width / 2, 2 * math.pi)
    bins = torch.div(shifted, width, rounding_mode="floor").long().clamp_(0, num_bins - 1)
    residual = shifted - (bins.double() * width + width / 2)
    return bins, residual.to(yaw.dtype)


def decode_heading(bins: torch.Tensor, residual: torch.Tensor, num_bins: int) -> torch.Tensor:
    """The heading ``bin centre + residual`` wrapped into ``[-pi, pi)``, of ``residual``'s
    dtype and the broadcast shape. ``bins`` are integers in ``0 .. num_bins - 1``. Raises
    :class:`~xuframe.errors.InputError` for anything else."""
    num_bins = _bins(num_bins, "decode_heading")
    bins = check_tensor(bins, "decode_heading: bins", floating=False)
    residual = check_tensor(residual, "decode_heading: residual")
    if bins.is_floating_point():
        bins = check_tensor(bins, "decode_heading: bins", dtype=torch.int64)
    width = 2 * math.pi / num_bins
    angle = bins.to(residual.dtype) * width + residual
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def _mean_table(mean_sizes: torch.Tensor, what: str) -> torch.Tensor:
    table = check_tensor(mean_sizes, f"{what}: mean_sizes", shape=(None, 3), non_empty=True)
    if bool((table <= 0).any()):
        raise InputError(f"{what}: mean_sizes: expected sizes > 0, got {table.tolist()}")
    return table


def _classes(classes: torch.Tensor, n: int, what: str) -> torch.Tensor:
    return check_labels(classes, f"{what}: classes", n_classes=n)


def encode_size(
    sizes: torch.Tensor, classes: torch.Tensor, mean_sizes: torch.Tensor
) -> torch.Tensor:
    """``(N, 3)`` residuals ``sizes - mean_sizes[classes]`` of the ``(N, 3)`` box sizes
    ``l, w, h`` (metres) of classes ``classes`` (``N`` integers indexing the ``(C, 3)``
    ``mean_sizes``, all > 0). Raises :class:`~xuframe.errors.InputError` for anything else."""
    table = _mean_table(mean_sizes, "encode_size")
    sizes = check_tensor(sizes, "encode_size: sizes", shape=(None, 3))
    labels = _classes(classes, len(table), "encode_size")
    if len(labels) != len(sizes):
        raise InputError(
            f"encode_size: classes: expected {len(sizes)} (one per size), got {len(labels)}"
        )
    return sizes - table.to(sizes)[labels]


def decode_size(
    classes: torch.Tensor, residual: torch.Tensor, mean_sizes: torch.Tensor
) -> torch.Tensor:
    """``(N, 3)`` sizes ``mean_sizes[classes] + residual``: the inverse of
    :func:`encode_size` (arguments as there)."""
    table = _mean_table(mean_sizes, "decode_size")
    residual = check_tensor(residual, "decode_size: residual", shape=(None, 3))
    labels = _classes(classes, len(table), "decode_size")
    if len(labels) != len(residual):
        raise InputError(
            f"decode_size: classes: expected {len(residual)} (one per residual), got {len(labels)}"
        )
    return table.to(residual)[labels] + residual


def axis_aligned_sizes(boxes: torch.Tensor) -> torch.Tensor:
    """``(N, 3)`` extents along ``x``, ``y``, ``z`` of the ``(N, 7)`` boxes (rows ``x, y, z,
    l, w, h, yaw``): the sizes of their axis-aligned bounds, as ScanNet's boxes are given."""
    boxes = check_tensor(boxes, "axis_aligned_sizes: boxes", shape=(None, 7))
    c, s = torch.cos(boxes[:, 6]).abs(), torch.sin(boxes[:, 6]).abs()
    dx = boxes[:, 3] * c + boxes[:, 4] * s
    dy = boxes[:, 3] * s + boxes[:, 4] * c
    return torch.stack([dx, dy, boxes[:, 5]], 1)
