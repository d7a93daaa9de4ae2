"""SRDet's losses of a refinement stage, on the proposals matched to objects.

"Suppress-and-Refine Framework for End-to-End 3D Object Detection" (Liu, Xu, Yang et al.,
2021), its set-to-set loss: after the one-to-one matching
(:func:`~xuframe_plugins.srdet.matching.hungarian_match`) every stage is trained with a sigmoid
focal classification loss over all proposals (unmatched ones learn "no object") and, on the
matched pairs, the L1 distance of the centres and of the sizes, an IoU loss and a corner loss.
The official code (``SRRoIHead.get_losses_single_head``) weights them, for ScanNet, as focal
``1.5``, centre ``0.45 * 3``, size ``0.45`` (sizes divided by the mean of the classes' mean
sizes), IoU ``0.45 * 2`` and corner ``0.45 * 0.25``, each summed and divided by the number of
objects in the batch; those weights belong to the model's configuration, not to these
functions.

Each function returns one value per element or per box pair (``reduction="none"``) or their
sum or mean, so the caller chooses the normalisation.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F

from xuframe.errors import InputError
from xuframe.ops import boxes3d_iou
from xuframe.validation import check_choice, check_float, check_tensor

__all__ = [
    "IoUMode",
    "Reduction",
    "box_corners",
    "center_size_l1",
    "corner_loss",
    "iou_loss_3d",
    "sigmoid_focal_loss",
]

Reduction = Literal["none", "sum", "mean"]
IoUMode = Literal["rotated", "axis_aligned"]
_REDUCTIONS = ["none", "sum", "mean"]
_MAX_BOX = 1e100


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "sum":
        return values.sum()
    if reduction == "mean":
        return values.mean() if values.numel() else values.sum()
    return values


def _pairs(pred: Any, target: Any, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``pred`` and ``target`` checked as ``(K, 7)`` floating box rows of one shape."""
    pred = check_tensor(pred, f"{what}(pred)", shape=(None, 7), max_abs=_MAX_BOX)
    target = check_tensor(target, f"{what}(target)", shape=(len(pred), 7), max_abs=_MAX_BOX)
    return pred, target


def sigmoid_focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    alpha: float | None = 0.25,
    gamma: float = 2.0,
    reduction: Reduction = "sum",
) -> torch.Tensor:
    """RetinaNet's sigmoid focal loss (Lin et al., 2017, eq. 5), as SRDet's classification loss:
    ``-alpha_t (1 - p_t)^gamma log(p_t)`` with ``p = sigmoid(logits)``, ``p_t = p`` where the
    target is 1 and ``1 - p`` where it is 0, ``alpha_t = alpha`` and ``1 - alpha`` likewise.

    ``logits`` is any floating tensor (per proposal and class, e.g. ``(B P, C)``) and
    ``targets`` a tensor of its shape with values in ``[0, 1]`` (1 for a proposal's matched
    class, 0 elsewhere; soft targets interpolate). ``alpha`` in ``[0, 1]`` weights the positive
    term (``None``: no weighting), ``gamma >= 0`` is the focusing exponent (0 gives binary
    cross-entropy). The log-likelihood is ``binary_cross_entropy_with_logits`` (stable for any
    logit). Returns the elementwise losses or their sum or mean (``reduction``). Raises
    :class:`~xuframe.errors.InputError` for anything else.
    """
    what = "sigmoid_focal_loss"
    reduction = check_choice(reduction, f"{what}(reduction)", _REDUCTIONS)
    logits = check_tensor(logits, f"{what}(logits)")
    targets = check_tensor(targets, f"{what}(targets)", shape=tuple(logits.shape))
    if targets.numel() and bool(((targets < 0) | (targets > 1)).any()):
        raise InputError(f"{what}(targets): expected values in [0, 1]")
    gamma = check_float(gamma, f"{what}(gamma)", min=0.0)
    if alpha is not None:
        alpha = check_float(alpha, f"{what}(alpha)", min=0.0, max=1.0)
    targets = targets.to(logits.dtype)
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _reduce(loss, reduction)


def center_size_l1(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    size_scale: torch.Tensor | None = None,
    reduction: Reduction = "none",
) -> tuple[torch.Tensor, torch.Tensor]:
    """SRDet's box regression losses of matched pairs: ``(centre, size)``, the L1 distance of
    the centres (metres, summed over ``x, y, z``) and of the sizes (summed over ``l, w, h``,
    each divided by ``size_scale``), per pair ``(K,)`` or reduced.

    ``pred`` and ``target`` are ``(K, 7)`` boxes ``x, y, z, l, w, h, yaw`` in pair order;
    ``size_scale`` ``(3,)`` (> 0) is the official normalisation (the mean of the classes' mean
    sizes; the official takes the L1 of ``(size - scale) / scale``, the same thing), ``None``
    keeps metres. Raises :class:`~xuframe.errors.InputError` for anything else.
    """
    what = "center_size_l1"
    reduction = check_choice(reduction, f"{what}(reduction)", _REDUCTIONS)
    pred, target = _pairs(pred, target, what)
    size = (pred[:, 3:6] - target[:, 3:6].to(pred.dtype)).abs()
    if size_scale is not None:
        scale = check_tensor(size_scale, f"{what}(size_scale)", shape=(3,), max_abs=_MAX_BOX)
        if bool((scale <= 0).any()):
            raise InputError(f"{what}(size_scale): expected sizes > 0, got {scale.tolist()}")
        size = size / scale.to(pred.dtype)
    centre = (pred[:, :3] - target[:, :3].to(pred.dtype)).abs().sum(1)
    return _reduce(centre, reduction), _reduce(size.sum(1), reduction)


def _axis_aligned_iou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of ``(K, 7)`` box pairs with their yaw ignored: ``l, w, h`` along ``x, y, z``."""
    half_p, half_t = pred[:, 3:6] / 2, target[:, 3:6] / 2
    low = torch.maximum(pred[:, :3] - half_p, target[:, :3] - half_t)
    high = torch.minimum(pred[:, :3] + half_p, target[:, :3] + half_t)
    inter = (high - low).clamp(min=0.0).prod(1)
    union = pred[:, 3:6].prod(1) + target[:, 3:6].prod(1) - inter
    return torch.where(union > 0, inter / torch.where(union > 0, union, 1.0), 0.0)


def iou_loss_3d(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    mode: IoUMode = "rotated",
    reduction: Reduction = "none",
) -> torch.Tensor:
    """``1 - IoU`` of matched box pairs, differentiable in ``pred``: ``(K,)`` or reduced.

    ``pred`` and ``target`` are ``(K, 7)`` boxes ``x, y, z, l, w, h, yaw``; a negative
    predicted size counts as 0 (as the official clamps it), and such a box has IoU 0.

    ``mode="rotated"`` (the default) is the exact IoU of the yawed boxes
    (:func:`xuframe.ops.boxes3d_iou` with ``aligned=True``, float64 inside), whose gradient
    reaches the centre, the sizes and the yaw. ``mode="axis_aligned"`` is the official
    ``AxisAlignedIoULoss``: the yaw of both boxes is ignored (sizes ``l, w, h`` taken along
    ``x, y, z``), exact when both yaws are 0 (ScanNet) and when they agree modulo ``pi``
    with ``l, w`` meant along the same axes, and an approximation otherwise (SUN RGB-D, where
    the official leaves the heading to the corner loss). Disjoint pairs give loss 1 and no
    gradient in both modes. Raises :class:`~xuframe.errors.InputError` for anything else.
    """
    what = "iou_loss_3d"
    reduction = check_choice(reduction, f"{what}(reduction)", _REDUCTIONS)
    mode = check_choice(mode, f"{what}(mode)", ["rotated", "axis_aligned"])
    pred, target = _pairs(pred, target, what)
    target = target.to(pred.dtype)
    sized = torch.cat([pred[:, :3], pred[:, 3:6].clamp(min=0.0), pred[:, 6:]], 1)
    if mode == "rotated":
        iou = boxes3d_iou(sized, target, aligned=True).to(pred.dtype)
    else:
        iou = _axis_aligned_iou(sized, target)
    return _reduce(1.0 - iou, reduction)


def box_corners(boxes: torch.Tensor) -> torch.Tensor:
    """``(K, 8, 3)`` corners of ``(K, 7)`` boxes ``x, y, z, l, w, h, yaw`` in
    :meth:`xuframe.Boxes3D.corners`' order (the bottom face counter-clockwise from the
    box-frame corner ``(+l/2, +w/2)``, then the top face), differentiable in ``boxes`` and
    defined for any size (a predicted box may have a negative size; ``Boxes3D`` refuses one).
    Raises :class:`~xuframe.errors.InputError` for a non-tensor, a wrong shape or dtype, NaN
    or infinity."""
    boxes = check_tensor(boxes, "box_corners(boxes)", shape=(None, 7), max_abs=_MAX_BOX)
    return _corners(boxes)


def _corners(boxes: torch.Tensor) -> torch.Tensor:
    signs = boxes.new_tensor([[1, 1], [-1, 1], [-1, -1], [1, -1]])
    half = boxes[:, 3:6] / 2
    lx, ly = signs[None, :, 0] * half[:, None, 0], signs[None, :, 1] * half[:, None, 1]
    cos, sin = torch.cos(boxes[:, 6:7]), torch.sin(boxes[:, 6:7])
    x = boxes[:, 0:1] + lx * cos - ly * sin
    y = boxes[:, 1:2] + lx * sin + ly * cos
    face = torch.stack([x, y], -1)  # (K, 4, 2)
    z = boxes[:, 2:3, None]
    bottom = torch.cat([face, (z - half[:, 2:3, None]).expand(-1, 4, 1)], -1)
    top = torch.cat([face, (z + half[:, 2:3, None]).expand(-1, 4, 1)], -1)
    return torch.cat([bottom, top], 1)


def corner_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    delta: float = 1.0,
    heading_flip: bool = True,
    reduction: Reduction = "none",
) -> torch.Tensor:
    """Corner loss of matched box pairs (Frustum PointNets, Qi et al., 2018; VoteNet's
    ``compute_box_and_sem_cls_loss``): the mean over the 8 corners of the Huber loss (``0.5
    d^2`` up to ``delta`` metres, then linear) of ``d``, the Euclidean distance of each
    predicted corner to the same corner of the target; with ``heading_flip``, ``d`` is the
    smaller of that and the distance to the same corner of the target turned by ``pi`` (its
    heading flipped), corner by corner as in VoteNet (so one corner may be measured against the
    target and another against the flipped target), and a box predicted backwards is not
    penalised. ``(K,)`` or reduced; differentiable in ``pred`` (centre, sizes and yaw).

    ``pred`` and ``target`` are ``(K, 7)`` boxes ``x, y, z, l, w, h, yaw``; ``delta`` > 0.
    (The official SRDet uses a smooth-L1 on the corner coordinates without the flip; the flip
    is what VoteNet and Frustum PointNets do.) Raises :class:`~xuframe.errors.InputError` for
    anything else.
    """
    what = "corner_loss"
    reduction = check_choice(reduction, f"{what}(reduction)", _REDUCTIONS)
    delta = check_float(delta, f"{what}(delta)", min=0.0, min_open=True)
    if not isinstance(heading_flip, bool):
        raise InputError(f"{what}(heading_flip): expected a bool, got {heading_flip!r}")
    pred, target = _pairs(pred, target, what)
    target = target.detach().to(pred.dtype)
    pc = _corners(pred)
    dist = torch.linalg.vector_norm(pc - _corners(target), dim=-1)  # (K, 8)
    if heading_flip:
        flipped = torch.cat([target[:, :6], target[:, 6:] + torch.pi], 1)
        dist = torch.minimum(dist, torch.linalg.vector_norm(pc - _corners(flipped), dim=-1))
    quadratic = dist.clamp(max=delta)
    huber = 0.5 * quadratic**2 + delta * (dist - quadratic)
    return _reduce(huber.mean(1), reduction)
