"""IoU and generalised IoU of axis-aligned 2-D boxes ``(x1, y1, x2, y2)``.

Pairwise versions return ``(N, M)`` for ``(N, 4)`` and ``(M, 4)`` boxes; aligned versions
return ``(N,)`` for two ``(N, 4)`` sets compared row by row (what a regression loss needs).
Degenerate boxes (zero width or height) have area 0; the IoU of two of them is defined as 0 and
their GIoU as ``-1 + (union area) / (enclosing area)`` with the same convention (0/0 = 0), so
no NaN is ever returned.

Boxes are real-valued tensors, floating or integer, of finite coordinates of magnitude at most
``2**61`` (so that areas cannot overflow). The result has the inputs' promoted floating dtype
(the default dtype for integer boxes); the arithmetic is at least float32, so half-precision
boxes do not overflow either. Anything else raises :class:`~xuframe.errors.InputError` before
any work, and so does a pairwise call whose ``(N, M)`` intermediates would need more than
:func:`xuframe.validation.memory_limit`.
"""

from __future__ import annotations

import torch

from xuframe.validation import check_memory, check_tensor

__all__ = ["box_giou", "box_giou_aligned", "box_iou", "box_iou_aligned"]

# bytes per (a, b) pair of the pairwise intermediates, in units of the element size: the
# corners (two (N, M, 2) pairs), intersection, union, enclosing area and the quotients
_PAIR_ELEMENTS = 12
# the largest coordinate magnitude: areas (and sums of two) stay finite in float32
_MAX_COORD = 2.0**61


def _check(boxes: object, what: str, shape: tuple[int | None, ...] = (None, 4)) -> torch.Tensor:
    """``boxes`` checked as a real tensor of ``shape`` of finite values of magnitude
    ``<= 2**61`` (``x1, y1, x2, y2`` rows)."""
    return check_tensor(boxes, what, shape=shape, floating=False, max_abs=_MAX_COORD)


def _promoted(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.dtype]:
    """``a`` and ``b`` in the dtype the arithmetic uses (at least float32, so that areas of
    half-precision boxes do not overflow) and the dtype of the result (the promoted floating
    dtype of the inputs, the default dtype for integer boxes)."""
    out = torch.promote_types(a.dtype, b.dtype)
    if not out.is_floating_point:
        out = torch.get_default_dtype()
    work = torch.promote_types(out, torch.float32)
    return a.to(work), b.to(work), out


def _check_pairs(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    check_memory(
        float(len(a)) * len(b) * _PAIR_ELEMENTS * a.dtype.itemsize,
        f"{what}: the pairwise IoU of {len(a)} x {len(b)} boxes",
    )


def _area(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(
        min=0
    )


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return torch.where(
        den > 0, num / den.clamp(min=torch.finfo(den.dtype).tiny), torch.zeros_like(num)
    )


def _iou_parts(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Intersection, union and enclosing-box area of ``a`` and ``b`` (broadcast)."""
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    union = _area(a) + _area(b) - inter
    lt_c = torch.minimum(a[..., :2], b[..., :2])
    rb_c = torch.maximum(a[..., 2:], b[..., 2:])
    enclosing = (rb_c - lt_c).clamp(min=0).prod(-1)
    return inter, union, enclosing


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU, ``(N, M)``, of ``a`` ``(N, 4)`` and ``b`` ``(M, 4)``.

    Raises :class:`~xuframe.errors.InputError` for a non-tensor, another shape, a boolean or
    complex dtype, NaN or infinity, or ``N x M`` too large for memory.
    """
    a, b, out = _promoted(_check(a, "box_iou(a)"), _check(b, "box_iou(b)"))
    _check_pairs(a, b, "box_iou")
    inter, union, _ = _iou_parts(a[:, None, :], b[None, :, :])
    return _safe_div(inter, union).to(out)


def box_giou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise generalised IoU (Rezatofighi et al., 2019), ``(N, M)``, in ``[-1, 1]``; inputs
    and errors as for :func:`box_iou`."""
    a, b, out = _promoted(_check(a, "box_giou(a)"), _check(b, "box_giou(b)"))
    _check_pairs(a, b, "box_giou")
    inter, union, enclosing = _iou_parts(a[:, None, :], b[None, :, :])
    return (_safe_div(inter, union) - _safe_div(enclosing - union, enclosing)).to(out)


def box_iou_aligned(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of ``a[i]`` with ``b[i]``, ``(N,)``, for ``a`` and ``b`` both ``(N, 4)``; errors as
    for :func:`box_iou`, and for unequal shapes."""
    a = _check(a, "box_iou_aligned(a)")
    a, b, out = _promoted(a, _check(b, "box_iou_aligned(b)", tuple(a.shape)))
    inter, union, _ = _iou_parts(a, b)
    return _safe_div(inter, union).to(out)


def box_giou_aligned(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Generalised IoU of ``a[i]`` with ``b[i]``, ``(N,)``, in ``[-1, 1]`` (``1 - giou`` is the
    GIoU loss); inputs and errors as for :func:`box_iou_aligned`."""
    a = _check(a, "box_giou_aligned(a)")
    a, b, out = _promoted(a, _check(b, "box_giou_aligned(b)", tuple(a.shape)))
    inter, union, enclosing = _iou_parts(a, b)
    return (_safe_div(inter, union) - _safe_div(enclosing - union, enclosing)).to(out)
