"""Exact IoU of rotated boxes: bird's-eye-view (rotated rectangles) and 3-D (yaw-only boxes).

BEV boxes are ``(N, 5)`` rows ``x, y, l, w, yaw``: centre, length along the heading, width
across it, heading angle counter-clockwise from +x (xuframe's LiDAR frame seen from above). 3-D
boxes are :class:`~xuframe.Boxes3D` rows ``x, y, z, l, w, h, yaw`` (``z`` the centre).

Each pair is computed on its own, in float64, in the frame of its first box ``A``: ``A``'s
centre is the origin and its heading the x axis, so ``A`` is exactly the rectangle
``[-l/2, l/2] x [-w/2, w/2]`` and only the pair's own offset and relative turn are rounded.
Nothing depends on where the pair is or on the other boxes in the batch, and there is no
tolerance. The area comes from Green's theorem: clamp every point of ``B``'s boundary into
``A`` (x to ``[-l/2, l/2]``, y to ``[-w/2, w/2]``); the closed path this gives encloses,
by the shoelace sum ``1/2 sum(x_i y_i+1 - x_i+1 y_i)``, exactly the area of ``A`` and ``B``'s
intersection, because the parts of ``B`` outside ``A`` fold onto ``A``'s edges and add none.
The path is a polygon once each edge of ``B`` is split where it crosses ``x = +-l/2`` (12
points) and each piece where it crosses ``y = +-w/2`` (36 points). No sorting, no case
analysis: fixed-size, vectorised over pairs, and differentiable almost everywhere. Boxes that
a separating axis parts get exactly 0, and pairs whose circumscribed circles (or height
ranges) do not overlap are never computed, so a sparse scene costs little more than its
``N x M`` centre distances.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from xuframe.errors import InputError
from xuframe.validation import check_float, check_memory, check_tensor

__all__ = ["bev_corners", "bev_iou", "boxes3d_iou", "nms_3d", "rotated_nms"]

# candidate pairs per vectorised step: bounds the memory of the (P, 36) float64 paths
_CHUNK = 4096
# bytes per pair of the pairwise (N, M) intermediates: float64 radii sums, centre gaps and the
# result, boolean masks, int64 indices of the candidate pairs
_PAIR_BYTES = 64
# the largest magnitude of a box value: products of two coordinates and volumes stay finite
_MAX_VALUE = 1e100


def _check(boxes: object, width: int, what: str) -> torch.Tensor:
    """``boxes`` checked as an ``(N, width)`` real tensor (floating or integer) of finite
    values of magnitude ``<= 1e100``."""
    return check_tensor(boxes, what, shape=(None, width), floating=False, max_abs=_MAX_VALUE)


def _check_pairs(n: int, m: int, what: str) -> None:
    """Refuse ``n x m`` pairwise IoUs whose float64 intermediates cannot fit in memory."""
    check_memory(
        float(n) * m * _PAIR_BYTES, f"{what}: the pairwise IoU of {n} x {m} boxes (O(N M) memory)"
    )


def bev_corners(boxes: torch.Tensor) -> torch.Tensor:
    """``(N, 4, 2)`` corners of BEV boxes ``x, y, l, w, yaw``, counter-clockwise, in the boxes'
    floating dtype (the default dtype for integer boxes). Raises
    :class:`~xuframe.errors.InputError` as :func:`bev_iou` does."""
    boxes = _check(boxes, 5, "bev_corners")
    if not boxes.is_floating_point():
        boxes = boxes.to(torch.get_default_dtype())
    x, y, length, width, yaw = boxes.unbind(1)
    local = torch.tensor(
        [[0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5], [0.5, -0.5]], dtype=boxes.dtype, device=boxes.device
    )
    dx = local[None, :, 0] * length[:, None]  # along the heading
    dy = local[None, :, 1] * width[:, None]
    c, s = torch.cos(yaw)[:, None], torch.sin(yaw)[:, None]
    return torch.stack([x[:, None] + c * dx - s * dy, y[:, None] + s * dx + c * dy], dim=-1)


def _fold(
    along: torch.Tensor, other: torch.Tensor, half: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clamp the coordinate ``along`` of the closed polygonal paths ``(P, K)`` (the other
    coordinate ``other``) to ``[-half, half]`` (``half`` ``(P, 1)``), with a vertex wherever an
    edge crosses ``±half``: ``(P, 3K)`` each."""
    to_along, to_other = along.roll(-1, dims=1), other.roll(-1, dims=1)
    run = to_along - along
    # the crossings' parameters along each edge, clamped to it; an edge with a constant
    # coordinate gets points somewhere on itself, which leaves the path unchanged
    inv = 1.0 / torch.where(run == 0, torch.ones_like(run), run)
    t1 = (-half - along) * inv
    t2 = (half - along) * inv
    zero = torch.zeros_like(run)
    t = torch.stack(
        [zero, torch.minimum(t1, t2).clamp(0.0, 1.0), torch.maximum(t1, t2).clamp(0.0, 1.0)], dim=-1
    )  # (P, K, 3), non-decreasing along each edge
    # lerp is exact at both ends of the edge
    new_along = torch.lerp(along.unsqueeze(-1), to_along.unsqueeze(-1), t)
    new_other = torch.lerp(other.unsqueeze(-1), to_other.unsqueeze(-1), t)
    # a crossing inside the edge lies exactly on the bound it crosses (a path along a long
    # edge of A must not tilt by round-off); the rest is clamped onto A
    up = run > 0
    bound = torch.stack([zero, torch.where(up, -half, half), torch.where(up, half, -half)], dim=-1)
    crossing = (t > 0) & (t < 1) & (run != 0).unsqueeze(-1)
    hh = half.unsqueeze(-1)
    new_along = torch.where(crossing, bound, torch.clamp(new_along, -hh, hh))
    return new_along.flatten(1), new_other.flatten(1)


def _intersection(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """BEV intersection areas ``(P,)`` of float64 box rows ``a``, ``b`` ``(P, 5)``, pair by pair."""
    xa, ya, la, wa, yaw_a = a.unbind(1)
    xb, yb, lb, wb, yaw_b = b.unbind(1)
    dx, dy = xb - xa, yb - ya
    ca, sa = torch.cos(yaw_a), torch.sin(yaw_a)
    cx = ca * dx + sa * dy  # B's centre in A's frame
    cy = ca * dy - sa * dx
    turn = yaw_b - yaw_a
    c, s = torch.cos(turn), torch.sin(turn)
    hla, hwa, hlb, hwb = la / 2, wa / 2, lb / 2, wb / 2
    # separating axes (A's two, B's two): disjoint or touching boxes get exactly 0, not round-off
    ac, as_ = c.abs(), s.abs()
    apart = (
        (cx.abs() >= hla + ac * hlb + as_ * hwb)
        | (cy.abs() >= hwa + as_ * hlb + ac * hwb)
        | ((c * cx + s * cy).abs() >= hlb + ac * hla + as_ * hwa)
        | ((c * cy - s * cx).abs() >= hwb + as_ * hla + ac * hwa)
    )
    u = torch.tensor([0.5, -0.5, -0.5, 0.5], dtype=a.dtype, device=a.device) * lb[:, None]
    v = torch.tensor([0.5, 0.5, -0.5, -0.5], dtype=a.dtype, device=a.device) * wb[:, None]
    c, s = c[:, None], s[:, None]
    x = cx[:, None] + c * u - s * v  # B's corners in A's frame, counter-clockwise
    y = cy[:, None] + s * u + c * v
    x, y = _fold(x, y, hla[:, None])  # (P, 12)
    y, x = _fold(y, x, hwa[:, None])  # (P, 36): B's boundary projected onto A
    x = x - x[:, :1]
    y = y - y[:, :1]
    area = 0.5 * (x * y.roll(-1, dims=1) - y * x.roll(-1, dims=1)).sum(1)
    # round-off only: the exact value lies in [0, min(area A, area B)]
    area = torch.minimum(area.clamp(min=0.0), torch.minimum(la * wa, lb * wb))
    return torch.where(apart, torch.zeros_like(area), area)


def _iou(
    a: torch.Tensor, b: torch.Tensor, aligned: bool, what: str, upper: bool = False
) -> torch.Tensor:
    """IoU of box rows ``a``, ``b`` (``(N, 5)`` BEV or ``(N, 7)`` 3-D) in their promoted dtype;
    with ``upper`` (pairwise only) just the pairs ``i < j``, the others left 0 (what greedy NMS
    reads)."""
    three_d = a.shape[1] == 7
    if aligned and a.shape != b.shape:
        raise InputError(
            f"{what}(aligned=True): expected equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if not aligned:
        _check_pairs(len(a), len(b), what)
    dtype = torch.promote_types(a.dtype, b.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    a64, b64 = a.to(torch.float64), b.to(torch.float64)
    bev = [0, 1, 3, 4, 6] if three_d else [0, 1, 2, 3, 4]
    ba, bb = a64[:, bev], b64[:, bev]
    # the pairs that can overlap: positive sizes, circumscribed circles (and heights) overlapping
    ra = torch.where((ba[:, 2] > 0) & (ba[:, 3] > 0), torch.hypot(ba[:, 2], ba[:, 3]) / 2, -1.0)
    rb = torch.where((bb[:, 2] > 0) & (bb[:, 3] > 0), torch.hypot(bb[:, 2], bb[:, 3]) / 2, -1.0)
    if three_d:
        ra = torch.where(a64[:, 5] > 0, ra, -1.0)
        rb = torch.where(b64[:, 5] > 0, rb, -1.0)
    if aligned:
        shape: tuple[int, ...] = (len(a),)
        reach = ra + rb
        near = (ra > 0) & (rb > 0) & (torch.hypot(bb[:, 0] - ba[:, 0], bb[:, 1] - ba[:, 1]) < reach)
        if three_d:
            near &= (b64[:, 2] - a64[:, 2]).abs() < (a64[:, 5] + b64[:, 5]) / 2
        (ia,) = near.nonzero(as_tuple=True)
        ib = ia
        flat = ia
    else:
        shape = (len(a), len(b))
        reach = ra[:, None] + rb[None, :]
        gap = torch.hypot(bb[None, :, 0] - ba[:, None, 0], bb[None, :, 1] - ba[:, None, 1])
        near = (ra[:, None] > 0) & (rb[None, :] > 0) & (gap < reach)
        if upper:
            near = near.triu_(1)
        if three_d:
            near &= (b64[None, :, 2] - a64[:, None, 2]).abs() < (
                a64[:, None, 5] + b64[None, :, 5]
            ) / 2
        ia, ib = near.nonzero(as_tuple=True)
        flat = ia * len(b) + ib
    parts = [
        _intersection(ba[ia[i : i + _CHUNK]], bb[ib[i : i + _CHUNK]])
        for i in range(0, len(ia), _CHUNK)
    ]
    inter = torch.cat(parts) if parts else ba.new_zeros(0)
    pa, pb = a64[ia], b64[ib]
    size_a = pa[:, 3] * pa[:, 4] if three_d else pa[:, 2] * pa[:, 3]
    size_b = pb[:, 3] * pb[:, 4] if three_d else pb[:, 2] * pb[:, 3]
    if three_d:
        dz = pb[:, 2] - pa[:, 2]  # heights in the pair's own frame too
        top = torch.minimum(pa[:, 5] / 2, dz + pb[:, 5] / 2)
        bottom = torch.maximum(-pa[:, 5] / 2, dz - pb[:, 5] / 2)
        inter = inter * (top - bottom).clamp(min=0.0)
        size_a = size_a * pa[:, 5]
        size_b = size_b * pb[:, 5]
    iou = (inter / (size_a + size_b - inter)).clamp(0.0, 1.0)
    out = a64.new_zeros(math.prod(shape)).index_put((flat,), iou)
    return out.reshape(shape).to(dtype)


def bev_iou(a: torch.Tensor, b: torch.Tensor, *, aligned: bool = False) -> torch.Tensor:
    """IoU of rotated BEV boxes.

    ``a`` ``(N, 5)`` and ``b`` ``(M, 5)`` are rows ``x, y, l, w, yaw`` (metres, radians).
    Returns ``(N, M)`` pairwise IoUs, or ``(N,)`` row by row with ``aligned`` (``N == M``), in
    the promoted floating dtype of the inputs.

    Each pair's value is its own: it does not depend on the other boxes in the batch, nor on
    where the pair is beyond the rounding of its coordinates (a common translation of a
    float64 pair by up to 1e6 m changes it by at most 1e-9 when the moved coordinates are
    exact). The arithmetic is float64 whatever the input: float32 input gives the IoU of the
    boxes exactly as its float32 values describe them, rounded once to float32 (within 2**-25
    of the float64 IoU of the same values). It cannot undo the rounding of the input itself:
    at 1e6 m from the origin float32 coordinates are 0.0625 m apart, so keep float32 boxes in
    a local frame. Sizes from 1e-4 m to 1e4 m agree with shapely. Boxes with a length or width
    that is not positive have IoU 0 with everything (no NaN).

    Raises :class:`~xuframe.errors.InputError` on a non-tensor, a wrong shape, a non-real
    dtype, NaN or infinity, a value of magnitude above 1e100, unequal shapes with ``aligned``
    or ``N x M`` pairs too many for memory (:func:`xuframe.validation.memory_limit`).

    Source: the exact area of the two rectangles' intersection (Green's theorem, see the
    module docstring); the reference values are shapely's (GEOS) polygon overlay.
    """
    a, b = _check(a, 5, "bev_iou(a)"), _check(b, 5, "bev_iou(b)")
    return _iou(a, b, aligned, "bev_iou")


def boxes3d_iou(a: torch.Tensor, b: torch.Tensor, *, aligned: bool = False) -> torch.Tensor:
    """3-D IoU of yaw-rotated boxes: the BEV intersection times the overlap in height, over the
    union of the volumes.

    ``a`` ``(N, 7)`` and ``b`` ``(M, 7)`` are rows ``x, y, z, l, w, h, yaw`` (``z`` the centre;
    metres, radians). Returns ``(N, M)``, or ``(N,)`` with ``aligned``, in the promoted
    floating dtype of the inputs. Precision, float32 input, degenerate boxes (a size that is
    not positive, height included) and errors are as in :func:`bev_iou`; the height overlap
    is also taken relative to the pair, so it does not depend on the batch or on a common
    translation either.
    """
    a, b = _check(a, 7, "boxes3d_iou(a)"), _check(b, 7, "boxes3d_iou(b)")
    return _iou(a, b, aligned, "boxes3d_iou")


def rotated_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS on BEV boxes ``x, y, l, w, yaw`` ``(N, 5)`` with ``scores`` ``(N,)``: ``int64``
    indices of the kept boxes, best first.

    A box is dropped when its :func:`bev_iou` with a higher-scoring kept box exceeds
    ``iou_threshold``; each of those IoUs is the pair's own (see :func:`bev_iou`), so a box
    elsewhere in the batch changes nothing. The IoU matrix is computed once (``O(N^2)``
    memory; run it on the top few hundred boxes). ``scores`` are real (floating or integer)
    and finite; ``iou_threshold`` is any number but NaN (at 1 or more nothing is dropped).
    Raises :class:`~xuframe.errors.InputError` on boxes as :func:`bev_iou` refuses them, on
    other scores or threshold, or on ``N x N`` IoUs too many for memory.
    """
    boxes = _check(boxes, 5, "rotated_nms(boxes)")
    scores = check_tensor(scores, "rotated_nms(scores)", shape=(len(boxes),), floating=False)
    iou_threshold = check_float(iou_threshold, "rotated_nms(iou_threshold)", finite=False)
    order = scores.argsort(descending=True, stable=True)
    ordered = boxes[order]
    return order[_greedy(_iou(ordered, ordered, False, "rotated_nms", upper=True), iou_threshold)]


def nms_3d(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS on 3-D boxes ``x, y, z, l, w, h, yaw`` ``(N, 7)`` with ``scores`` ``(N,)``:
    ``int64`` indices of the kept boxes, best first (VoteNet's 3-D NMS, with the exact IoU of
    yawed boxes where VoteNet's code takes axis-aligned ones).

    As :func:`rotated_nms`, with :func:`boxes3d_iou` as the overlap. Raises
    :class:`~xuframe.errors.InputError` on boxes as :func:`boxes3d_iou` refuses them, on other
    scores or threshold, or on ``N x N`` IoUs too many for memory.
    """
    boxes = _check(boxes, 7, "nms_3d(boxes)")
    scores = check_tensor(scores, "nms_3d(scores)", shape=(len(boxes),), floating=False)
    iou_threshold = check_float(iou_threshold, "nms_3d(iou_threshold)", finite=False)
    order = scores.argsort(descending=True, stable=True)
    ordered = boxes[order].double()
    return order[_greedy(_iou(ordered, ordered, False, "nms_3d", upper=True), iou_threshold)]


def _greedy(iou: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """The greedy pass of NMS over boxes sorted best first, given their IoUs ``(N, N)`` (only
    the pairs ``i < j`` are read: a box only suppresses later ones): the kept positions, in
    order."""
    over = (iou > iou_threshold).triu_(1).cpu().numpy()
    suppressed = np.zeros(len(over), dtype=bool)
    keep: list[int] = []
    for i in range(len(over)):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= over[i]
    return torch.tensor(keep, dtype=torch.int64, device=iou.device)
