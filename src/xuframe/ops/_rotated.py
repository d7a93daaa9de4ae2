"""Exact IoU of rotated boxes: bird's-eye-view (rotated rectangles) and 3-D (yaw-only boxes).

BEV boxes are ``(N, 5)`` rows ``x, y, l, w, yaw``: centre, length along the heading, width
across it, heading angle counter-clockwise from +x (xuframe's LiDAR frame seen from above). 3-D
boxes are :class:`~xuframe.Boxes3D` rows ``x, y, z, l, w, h, yaw`` (``z`` the centre).

The intersection of two convex quadrilaterals is the convex polygon whose vertices are the
corners of each inside the other plus the crossings of their edges. All 24 candidates (4 + 4
corners, 16 edge pairs) are computed for every pair at once, the valid ones are ordered by
angle around their centroid and the shoelace formula gives the area: exact up to round-off,
vectorised over pairs, and differentiable almost everywhere.
"""

from __future__ import annotations

import torch

from xuframe.errors import InputError

__all__ = ["bev_corners", "bev_iou", "boxes3d_iou", "rotated_nms"]


def _check(boxes: torch.Tensor, width: int, what: str) -> None:
    if boxes.ndim != 2 or boxes.shape[1] != width:
        raise InputError(f"{what}: expected boxes of shape (N, {width}), got {tuple(boxes.shape)}")


def bev_corners(boxes: torch.Tensor) -> torch.Tensor:
    """``(N, 4, 2)`` corners of BEV boxes ``x, y, l, w, yaw``, counter-clockwise."""
    _check(boxes, 5, "bev_corners")
    x, y, length, width, yaw = boxes.unbind(1)
    local = torch.tensor(
        [[0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5], [0.5, -0.5]], dtype=boxes.dtype, device=boxes.device
    )
    dx = local[None, :, 0] * length[:, None]  # along the heading
    dy = local[None, :, 1] * width[:, None]
    c, s = torch.cos(yaw)[:, None], torch.sin(yaw)[:, None]
    return torch.stack([x[:, None] + c * dx - s * dy, y[:, None] + s * dx + c * dy], dim=-1)


def _inside(points: torch.Tensor, quads: torch.Tensor, eps: float) -> torch.Tensor:
    """Whether ``points`` (..., P, 2) lie inside the counter-clockwise ``quads`` (..., 4, 2)."""
    a = quads
    b = quads.roll(-1, dims=-2)
    edge = (b - a).unsqueeze(-3)  # (..., 1, 4, 2)
    rel = points.unsqueeze(-2) - a.unsqueeze(-3)  # (..., P, 4, 2)
    cross = edge[..., 0] * rel[..., 1] - edge[..., 1] * rel[..., 0]
    return (cross >= -eps).all(-1)


def _edge_crossings(
    p: torch.Tensor, q: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crossing points (..., 16, 2) of every edge of ``p`` with every edge of ``q`` and their validity."""
    a, b = p, p.roll(-1, dims=-2)
    c, d = q, q.roll(-1, dims=-2)
    a, b = a.unsqueeze(-2), b.unsqueeze(-2)  # (..., 4, 1, 2)
    c, d = c.unsqueeze(-3), d.unsqueeze(-3)  # (..., 1, 4, 2)
    r, s = b - a, d - c
    denom = r[..., 0] * s[..., 1] - r[..., 1] * s[..., 0]
    ca = c - a
    t = (ca[..., 0] * s[..., 1] - ca[..., 1] * s[..., 0]) / torch.where(
        denom.abs() > eps, denom, torch.ones_like(denom)
    )
    u = (ca[..., 0] * r[..., 1] - ca[..., 1] * r[..., 0]) / torch.where(
        denom.abs() > eps, denom, torch.ones_like(denom)
    )
    valid = (denom.abs() > eps) & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
    points = a + t.unsqueeze(-1) * r
    shape = (*points.shape[:-3], 16, 2)
    return points.reshape(shape), valid.reshape(shape[:-1])


def _intersection_area(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Area of the intersection of convex counter-clockwise quadrilaterals ``p``, ``q`` (..., 4, 2)."""
    scale = torch.maximum(p.abs().amax((-1, -2)), q.abs().amax((-1, -2))).clamp(min=1.0)
    in_q = _inside(p, q, 1e-9 * float(scale.max()))
    in_p = _inside(q, p, 1e-9 * float(scale.max()))
    crossings, valid_x = _edge_crossings(p, q, 1e-12 * float(scale.max()) ** 2)
    points = torch.cat([p, q, crossings], dim=-2)  # (..., 24, 2)
    valid = torch.cat([in_q, in_p, valid_x], dim=-1)
    count = valid.sum(-1)
    weights = valid.to(points.dtype).unsqueeze(-1)
    centre = (points * weights).sum(-2) / count.clamp(min=1).unsqueeze(-1).to(points.dtype)
    rel = points - centre.unsqueeze(-2)
    angle = torch.atan2(rel[..., 1], rel[..., 0])
    angle = torch.where(valid, angle, torch.full_like(angle, 10.0))  # invalid ones sort last
    order = angle.argsort(-1)
    ordered = rel.gather(-2, order.unsqueeze(-1).expand_as(rel))
    ordered_valid = valid.gather(-1, order)
    # invalid tail points repeat the first point: zero-length edges add no area
    ordered = torch.where(ordered_valid.unsqueeze(-1), ordered, ordered[..., :1, :])
    nxt = ordered.roll(-1, dims=-2)
    area = 0.5 * (ordered[..., 0] * nxt[..., 1] - ordered[..., 1] * nxt[..., 0]).sum(-1)
    return torch.where(count >= 3, area.clamp(min=0), torch.zeros_like(area))


def _pair(
    a: torch.Tensor, b: torch.Tensor, aligned: bool, what: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """``a`` and ``b`` shaped for row-by-row (``aligned``) or all-pairs ``(N, M, ...)`` work."""
    if aligned:
        if a.shape != b.shape:
            raise InputError(
                f"{what}(aligned=True): expected equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}"
            )
        return a, b
    n, m = len(a), len(b)
    return a[:, None].expand(n, m, *a.shape[1:]), b[None].expand(n, m, *b.shape[1:])


def _bev_intersection(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection area of broadcast BEV boxes ``(..., 5)``. The inside tests' tolerance can
    admit a sliver, so it is capped by both boxes' areas."""
    inter = _intersection_area(
        bev_corners(a.reshape(-1, 5)).reshape(*a.shape[:-1], 4, 2),
        bev_corners(b.reshape(-1, 5)).reshape(*b.shape[:-1], 4, 2),
    )
    return torch.minimum(inter, torch.minimum(a[..., 2] * a[..., 3], b[..., 2] * b[..., 3]))


def _ratio(inter: torch.Tensor, union: torch.Tensor) -> torch.Tensor:
    return torch.where(
        union > 0, inter / union.clamp(min=torch.finfo(union.dtype).tiny), torch.zeros_like(inter)
    )


def bev_iou(a: torch.Tensor, b: torch.Tensor, *, aligned: bool = False) -> torch.Tensor:
    """IoU of rotated BEV boxes: ``(N, M)`` pairwise, or ``(N,)`` row by row with ``aligned``.
    Boxes of zero area have IoU 0 with everything (no NaN)."""
    _check(a, 5, "bev_iou(a)")
    _check(b, 5, "bev_iou(b)")
    pa, pb = _pair(a, b, aligned, "bev_iou")
    inter = _bev_intersection(pa, pb)
    return _ratio(inter, pa[..., 2] * pa[..., 3] + pb[..., 2] * pb[..., 3] - inter)


def boxes3d_iou(a: torch.Tensor, b: torch.Tensor, *, aligned: bool = False) -> torch.Tensor:
    """3-D IoU of yaw-rotated boxes ``x, y, z, l, w, h, yaw`` (``z`` the centre): the BEV
    intersection times the overlap in height, over the union of the volumes."""
    _check(a, 7, "boxes3d_iou(a)")
    _check(b, 7, "boxes3d_iou(b)")
    pa, pb = _pair(a, b, aligned, "boxes3d_iou")
    area = _bev_intersection(pa[..., [0, 1, 3, 4, 6]], pb[..., [0, 1, 3, 4, 6]])
    top = torch.minimum(pa[..., 2] + pa[..., 5] / 2, pb[..., 2] + pb[..., 5] / 2)
    bottom = torch.maximum(pa[..., 2] - pa[..., 5] / 2, pb[..., 2] - pb[..., 5] / 2)
    inter = area * (top - bottom).clamp(min=0)
    volume_a = pa[..., 3] * pa[..., 4] * pa[..., 5]
    volume_b = pb[..., 3] * pb[..., 4] * pb[..., 5]
    return _ratio(inter, volume_a + volume_b - inter)


def rotated_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS on BEV boxes ``x, y, l, w, yaw``: indices of the kept boxes, best first.

    A box is dropped when its BEV IoU with a higher-scoring kept box exceeds ``iou_threshold``.
    The IoU matrix is computed once (``O(N^2)`` memory; run it on the top few hundred boxes).
    """
    _check(boxes, 5, "rotated_nms")
    if scores.shape != (len(boxes),):
        raise InputError(f"rotated_nms: expected {len(boxes)} scores, got {tuple(scores.shape)}")
    order = scores.argsort(descending=True, stable=True)
    iou = bev_iou(boxes[order], boxes[order])
    keep: list[int] = []
    suppressed = torch.zeros(len(boxes), dtype=torch.bool, device=boxes.device)
    for i in range(len(boxes)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.int64, device=boxes.device)]
