"""IoU and generalised IoU of axis-aligned 2-D boxes ``(x1, y1, x2, y2)``.

Pairwise versions return ``(N, M)`` for ``(N, 4)`` and ``(M, 4)`` boxes; aligned versions
return ``(N,)`` for two ``(N, 4)`` sets compared row by row (what a regression loss needs).
Degenerate boxes (zero width or height) have area 0; the IoU of two of them is defined as 0 and
their GIoU as ``-1 + (union area) / (enclosing area)`` with the same convention (0/0 = 0), so
no NaN is ever returned.
"""

from __future__ import annotations

import torch

from xuframe.errors import InputError

__all__ = ["box_giou", "box_giou_aligned", "box_iou", "box_iou_aligned"]


def _check(boxes: torch.Tensor, what: str) -> None:
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise InputError(
            f"{what}: expected boxes of shape (N, 4) as x1, y1, x2, y2, got {tuple(boxes.shape)}"
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
    """Pairwise IoU, ``(N, M)``."""
    _check(a, "box_iou(a)")
    _check(b, "box_iou(b)")
    inter, union, _ = _iou_parts(a[:, None, :], b[None, :, :])
    return _safe_div(inter, union)


def box_giou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise generalised IoU (Rezatofighi et al., 2019), ``(N, M)``, in ``[-1, 1]``."""
    _check(a, "box_giou(a)")
    _check(b, "box_giou(b)")
    inter, union, enclosing = _iou_parts(a[:, None, :], b[None, :, :])
    return _safe_div(inter, union) - _safe_div(enclosing - union, enclosing)


def box_iou_aligned(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of ``a[i]`` with ``b[i]``, ``(N,)``."""
    _check(a, "box_iou_aligned(a)")
    if b.shape != a.shape:
        raise InputError(
            f"box_iou_aligned: expected b of shape {tuple(a.shape)}, got {tuple(b.shape)}"
        )
    inter, union, _ = _iou_parts(a, b)
    return _safe_div(inter, union)


def box_giou_aligned(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Generalised IoU of ``a[i]`` with ``b[i]``, ``(N,)``, in ``[-1, 1]`` (``1 - giou`` is the
    GIoU loss)."""
    _check(a, "box_giou_aligned(a)")
    if b.shape != a.shape:
        raise InputError(
            f"box_giou_aligned: expected b of shape {tuple(a.shape)}, got {tuple(b.shape)}"
        )
    inter, union, enclosing = _iou_parts(a, b)
    return _safe_div(inter, union) - _safe_div(enclosing - union, enclosing)
