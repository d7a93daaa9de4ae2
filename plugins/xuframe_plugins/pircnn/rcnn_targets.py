"""PointRCNN's stage 2 in the proposal's canonical frame: the transform, the residual box
coding of a ground truth relative to its proposal, the proposal-target sampling by 3-D IoU
and the corner loss.

The canonical frame of a proposal ``(x, y, z, l, w, h, yaw)`` has its centre at the origin and
its heading along ``+x``: a point ``p`` goes to ``R(-yaw) (p - centre)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from xuframe.errors import InputError
from xuframe.ops import boxes3d_iou
from xuframe.validation import check_int, check_tensor

__all__ = [
    "box_corners",
    "canonical_points",
    "corner_loss",
    "decode_residuals",
    "encode_residuals",
    "pool_indices",
    "sample_proposals",
]


def _rotate_z(xy: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """``xy`` ``(..., 2)`` rotated by ``angle`` (broadcast over the last axis) about ``z``."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    x, y = xy[..., 0], xy[..., 1]
    return torch.stack([x * cos - y * sin, x * sin + y * cos], -1)


def canonical_points(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """``points`` ``(R, P, 3)`` moved into the canonical frame of their box ``boxes``
    ``(R, 7)``: ``R(-yaw) (p - centre)``. Raises :class:`~xuframe.errors.InputError` for
    other shapes or non-finite values."""
    check_tensor(points, "canonical_points: points", shape=(None, None, 3))
    check_tensor(boxes, "canonical_points: boxes", shape=(len(points), 7))
    d = points - boxes[:, None, :3]
    xy = _rotate_z(d[..., :2], -boxes[:, None, 6])
    return torch.cat([xy, d[..., 2:]], -1)


def pool_indices(inside: torch.Tensor, count: int) -> torch.Tensor:
    """``(R, count)`` ``int64``: for each row of ``inside`` ``(R, N)`` bool (which of ``N``
    points lie in each of ``R`` proposals), the indices of its points, in index order and
    repeated cyclically up to ``count`` (the first ``count`` when it has more); zeros for a
    row without any. The pooling order of PointRCNN's stage 2 (what a stable sort of the
    points, those inside first, gives), in ``O(R N)``. Raises
    :class:`~xuframe.errors.InputError` for a non-bool or non-2-D ``inside`` or ``count`` not
    an int ``>= 1``."""
    if not isinstance(inside, torch.Tensor) or inside.dtype != torch.bool or inside.ndim != 2:
        raise InputError(
            f"pool_indices: inside: expected an (R, N) bool tensor, got {inside!r:.60}"
        )
    count = check_int(count, "pool_indices: count", min=1)
    rows, n = inside.shape
    first = torch.zeros((rows, count), dtype=torch.int64, device=inside.device)
    if n == 0 or rows == 0:
        return first
    rank = inside.cumsum(1, dtype=torch.int32)  # 1-based rank of each point inside its row
    found = rank[:, -1].to(torch.int64)
    r, c = (inside & (rank <= count)).nonzero(as_tuple=True)  # row-major: index order
    first[r, rank[r, c].to(torch.int64) - 1] = c
    slots = torch.arange(count, device=inside.device)[None] % found.clamp(min=1)[:, None]
    return first.gather(1, slots)


def _wrap(angle: torch.Tensor) -> torch.Tensor:
    """``angle`` in ``[-pi, pi)``."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def encode_residuals(gt: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
    """``(R, 7)`` regression targets of ground truths ``gt`` ``(R, 7)`` relative to their
    proposals ``rois`` ``(R, 7)`` (sizes > 0), in the proposal's canonical frame
    (OpenPCDet's ``ResidualCoder`` on the canonical boxes, as PointRCNN's stage 2):
    ``dx / d, dy / d, dz / h, log(l' / l), log(w' / w), log(h' / h), dyaw`` where ``dx, dy,
    dz`` is the ground truth's centre in the canonical frame, ``d = sqrt(l^2 + w^2)`` the
    proposal's diagonal, and ``dyaw`` the heading difference taken modulo ``pi`` into
    ``[-pi/2, pi/2]`` (a box and its reverse are the same box; the flip also keeps the
    target small). A proposal equal to its ground truth gives zeros."""
    check_tensor(gt, "encode_residuals: gt", shape=(None, 7))
    check_tensor(rois, "encode_residuals: rois", shape=(len(gt), 7))
    if len(gt) and (bool((gt[:, 3:6] <= 0).any()) or bool((rois[:, 3:6] <= 0).any())):
        raise InputError("encode_residuals: expected boxes with sizes > 0")
    centre = canonical_points(gt[:, None, :3], rois)[:, 0]
    diagonal = torch.sqrt(rois[:, 3] ** 2 + rois[:, 4] ** 2)
    dyaw = _wrap(gt[:, 6] - rois[:, 6])
    dyaw = torch.where(dyaw > math.pi / 2, dyaw - math.pi, dyaw)
    dyaw = torch.where(dyaw < -math.pi / 2, dyaw + math.pi, dyaw)
    return torch.stack(
        [
            centre[:, 0] / diagonal,
            centre[:, 1] / diagonal,
            centre[:, 2] / rois[:, 5],
            torch.log(gt[:, 3] / rois[:, 3]),
            torch.log(gt[:, 4] / rois[:, 4]),
            torch.log(gt[:, 5] / rois[:, 5]),
            dyaw,
        ],
        -1,
    )


def decode_residuals(reg: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
    """The boxes ``(R, 7)`` that regression ``reg`` ``(R, 7)`` (the code of
    :func:`encode_residuals`) gives for proposals ``rois`` ``(R, 7)``, back in the frame of the
    proposals; yaw in ``[-pi, pi)``. Differentiable in ``reg``. The log-size terms are clamped
    at 10 (a factor of 22,000) so that an untrained head cannot overflow."""
    diagonal = torch.sqrt(rois[:, 3] ** 2 + rois[:, 4] ** 2)
    local = torch.stack([reg[:, 0] * diagonal, reg[:, 1] * diagonal, reg[:, 2] * rois[:, 5]], -1)
    xy = _rotate_z(local[:, :2], rois[:, 6]) + rois[:, :2]
    z = local[:, 2] + rois[:, 2]
    sizes = rois[:, 3:6] * torch.exp(reg[:, 3:6].clamp(max=10.0))
    yaw = _wrap(rois[:, 6] + reg[:, 6])
    return torch.cat([xy, z[:, None], sizes, yaw[:, None]], -1)


def box_corners(boxes: torch.Tensor) -> torch.Tensor:
    """``(N, 8, 3)`` corners of ``boxes`` ``(N, 7)`` in the order of
    :meth:`xuframe.Boxes3D.corners`; differentiable."""
    signs = boxes.new_tensor([[1, 1], [-1, 1], [-1, -1], [1, -1]])
    local = signs[None] * boxes[:, None, 3:5] / 2  # (N, 4, 2)
    xy = _rotate_z(local, boxes[:, None, 6]) + boxes[:, None, :2]
    half = boxes[:, 5:6] / 2
    bottom = torch.cat([xy, (boxes[:, None, 2] - half)[..., None].expand(-1, 4, 1)], -1)
    top = torch.cat([xy, (boxes[:, None, 2] + half)[..., None].expand(-1, 4, 1)], -1)
    return torch.cat([bottom, top], 1)


def corner_loss(pred: torch.Tensor, gt: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """``(N,)`` PointRCNN / OpenPCDet's corner loss: the Huber loss (``delta`` metres) of the
    eight corner distances of ``pred`` ``(N, 7)`` to ``gt`` ``(N, 7)`` or to ``gt`` turned by
    ``pi`` (whichever is smaller per corner), averaged over the corners."""
    a = box_corners(pred)
    b = box_corners(gt)
    flipped = gt.clone()
    flipped[:, 6] = flipped[:, 6] + math.pi
    c = box_corners(flipped)
    distance = torch.minimum((a - b).norm(dim=2), (a - c).norm(dim=2))
    return F.huber_loss(distance, torch.zeros_like(distance), delta=delta, reduction="none").mean(1)


def _class_iou(
    rois: torch.Tensor, roi_labels: torch.Tensor, gt: torch.Tensor, gt_labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each proposal's best 3-D IoU with a ground truth of its own class and that ground
    truth's index (IoU 0 and index 0 when its class has none)."""
    best = rois.new_zeros(len(rois))
    index = torch.zeros(len(rois), dtype=torch.int64, device=rois.device)
    if len(gt) == 0 or len(rois) == 0:
        return best, index
    iou = boxes3d_iou(rois.detach(), gt).to(rois.dtype)  # (R, G)
    iou = torch.where(roi_labels[:, None] == gt_labels[None, :], iou, iou.new_zeros(()))
    best, index = iou.max(1)
    return best, index


def sample_proposals(
    rois: torch.Tensor,
    roi_labels: torch.Tensor,
    gt: torch.Tensor,
    gt_labels: torch.Tensor,
    *,
    count: int,
    fg_fraction: float = 0.5,
    fg_iou: float = 0.55,
    bg_iou_low: float = 0.1,
    hard_bg_fraction: float = 0.8,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """OpenPCDet's ``ProposalTargetLayer.sample_rois_for_rcnn`` for one scene: each proposal
    ``rois`` ``(R, 7)`` of class ``roi_labels`` ``(R,)`` gets its best 3-D IoU with a ground
    truth ``gt`` ``(G, 7)`` of the same class (``gt_labels`` ``(G,)``); ``count`` proposals are
    drawn: up to ``fg_fraction`` of them foreground (IoU >= ``fg_iou``), the rest background,
    ``hard_bg_fraction`` of those hard (IoU in ``[bg_iou_low, fg_iou)``) and the others easy
    (below ``bg_iou_low``), drawn with replacement where a kind has too few. ``R >= 1``.

    Returns ``(indices (count,) int64 into rois, ious (count,), gt_index (count,) int64)``."""
    if len(rois) == 0:
        raise InputError("sample_proposals: expected at least one proposal, got none")
    ious, assigned = _class_iou(rois, roi_labels, gt, gt_labels)
    device = rois.device

    def draw(pool: torch.Tensor, n: int, replace: bool) -> torch.Tensor:
        if n <= 0 or len(pool) == 0:
            return pool[:0]
        if replace:
            return pool[torch.randint(len(pool), (n,), generator=generator).to(device)]
        return pool[torch.randperm(len(pool), generator=generator)[:n].to(device)]

    fg = (ious >= fg_iou).nonzero()[:, 0]
    easy = (ious < bg_iou_low).nonzero()[:, 0]
    hard = ((ious < fg_iou) & (ious >= bg_iou_low)).nonzero()[:, 0]
    n_bg = len(easy) + len(hard)
    if n_bg == 0:
        chosen = draw(fg, count, True)
    else:
        n_fg = min(round(fg_fraction * count), len(fg))
        fg_pick = draw(fg, n_fg, False)
        rest = count - len(fg_pick)
        if len(hard) and len(easy):
            n_hard = min(int(rest * hard_bg_fraction), len(hard))
            bg_pick = torch.cat([draw(hard, n_hard, True), draw(easy, rest - n_hard, True)])
        else:
            bg_pick = draw(hard if len(hard) else easy, rest, True)
        chosen = torch.cat([fg_pick, bg_pick])
    return chosen, ious[chosen], assigned[chosen]
