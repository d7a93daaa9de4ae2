"""SRDet's set prediction: one-to-one Hungarian matching of a stage's proposals to the objects.

"Suppress-and-Refine Framework for End-to-End 3D Object Detection" (Liu, Xu, Yang et al.,
2021), its set prediction (the paper's one-to-one label assignment, which replaces NMS):
every refinement stage assigns each ground-truth
box to exactly one proposal, the assignment of least total cost (DETR's bipartite matching,
``scipy.optimize.linear_sum_assignment``), so that the unmatched proposals learn to say
"nothing" and no NMS is needed. The cost of proposal ``i`` for object ``j`` is

``class_weight * focal(i, label_j) + center_weight * |c_i - c_j|_1
+ size_weight * sum_k |s_ik - s_jk| / size_scale_k - iou_weight * IoU3D(i, j)``

with DETR's (Deformable DETR's) sigmoid focal classification cost
``focal = alpha (1 - p)^gamma (-log p) - (1 - alpha) p^gamma (-log(1 - p))`` of the proposal's
probability ``p = sigmoid(logit)`` of the object's class, and the exact 3-D IoU of yawed boxes
(:func:`xuframe.ops.boxes3d_iou`). The official code (``roi_head_matchv2``) computes the same
cost; its weights ``match_cost_class = 3``, ``match_cost_bbox = 0.9``, ``match_center_weight = 3``
and ``match_iou_weight = 4`` give this module's defaults 3, 2.7, 0.9 and 3.6, and its size term
is the L1 distance of sizes normalised by the mean of the classes' mean sizes (``size_scale``).
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped, unused-ignore]

from xuframe import config_field
from xuframe.errors import ConfigError, InputError
from xuframe.ops import boxes3d_iou
from xuframe.validation import check_float, check_labels, check_memory, check_tensor

__all__ = ["MatchCosts", "hungarian_match", "match_cost"]

# boxes' values are refused above this magnitude (as xuframe.ops.boxes3d_iou does)
_MAX_BOX = 1e100
# bytes per (proposal, object) pair of the cost's float64 intermediates: three coordinate
# differences for the centres and the sizes, the IoU's pairwise terms and the sums
_PAIR_BYTES = 160


def _non_negative_float(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_float(value, f"MatchCosts.{attribute.name}", min=0.0, error=ConfigError)


def _alpha(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_float(value, f"MatchCosts.{attribute.name}", min=0.0, max=1.0, error=ConfigError)


@attrs.frozen
class MatchCosts:
    """The weights of the matching cost (defaults: the official ScanNet configuration,
    ``configs/sr/scannet_baseline.py``). Every weight is a finite number >= 0, ``focal_alpha`` in ``[0, 1]``;
    anything else raises :class:`~xuframe.errors.ConfigError`. A weight of 0 removes its term
    (e.g. ``iou_weight=0`` for the ablation without the IoU cost)."""

    class_weight: float = config_field(
        3.0, doc="weight of the sigmoid focal classification cost", validator=_non_negative_float
    )
    center_weight: float = config_field(
        2.7,
        doc="weight of the L1 distance of the centres (per metre)",
        validator=_non_negative_float,
    )
    size_weight: float = config_field(
        0.9,
        doc="weight of the L1 distance of the sizes, each divided by its size_scale",
        validator=_non_negative_float,
    )
    iou_weight: float = config_field(
        3.6, doc="weight of minus the 3-D IoU (yawed boxes)", validator=_non_negative_float
    )
    focal_alpha: float = config_field(
        0.25, doc="focal cost's weight of the positive term (1 - alpha: negative)", validator=_alpha
    )
    focal_gamma: float = config_field(
        2.0, doc="focal cost's focusing exponent", validator=_non_negative_float
    )


def _inputs(
    logits: Any,
    boxes: Any,
    gt_labels: Any,
    gt_boxes: Any,
    size_scale: Any,
    costs: Any,
    what: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    if not isinstance(costs, MatchCosts):
        raise InputError(f"{what}(costs): expected MatchCosts, got {type(costs).__name__}")
    logits = check_tensor(logits, f"{what}(logits)", shape=(None, None), max_abs=_MAX_BOX)
    p, c = int(logits.shape[0]), int(logits.shape[1])
    if c == 0:
        raise InputError(f"{what}(logits): expected one column per class (C >= 1), got (P, 0)")
    boxes = check_tensor(boxes, f"{what}(boxes)", shape=(p, 7), max_abs=_MAX_BOX)
    gt_boxes = check_tensor(gt_boxes, f"{what}(gt_boxes)", shape=(None, 7), max_abs=_MAX_BOX)
    labels = check_labels(gt_labels, f"{what}(gt_labels)", n=len(gt_boxes), n_classes=c)
    if bool((gt_boxes[:, 3:6] <= 0).any()):
        raise InputError(f"{what}(gt_boxes): expected sizes l, w, h > 0")
    scale = None
    if size_scale is not None:
        scale = check_tensor(size_scale, f"{what}(size_scale)", shape=(3,), max_abs=_MAX_BOX)
        if bool((scale <= 0).any()):
            raise InputError(f"{what}(size_scale): expected sizes > 0, got {scale.tolist()}")
    check_memory(
        float(p) * len(gt_boxes) * _PAIR_BYTES,
        f"{what}: the matching cost of {p} proposals x {len(gt_boxes)} objects",
    )
    return logits, boxes, labels, gt_boxes, scale


def _cost(
    logits: torch.Tensor,
    boxes: torch.Tensor,
    labels: torch.Tensor,
    gt_boxes: torch.Tensor,
    scale: torch.Tensor | None,
    costs: MatchCosts,
) -> torch.Tensor:
    """The ``(P, M)`` float64 cost of checked inputs (no gradient)."""
    x = logits.detach().double()[:, labels]  # (P, M): the logit of each object's class
    b, g = boxes.detach().double(), gt_boxes.detach().double()
    prob = torch.sigmoid(x)
    # -log p and -log(1 - p) as softplus, exact for any logit (the official adds 1e-8 inside
    # the logarithms, which caps them at 18.4)
    a, gamma = costs.focal_alpha, costs.focal_gamma
    positive = a * (1 - prob) ** gamma * F.softplus(-x)
    negative = (1 - a) * prob**gamma * F.softplus(x)
    cost = costs.class_weight * (positive - negative)
    if costs.center_weight:
        centre = (b[:, None, :3] - g[None, :, :3]).abs().sum(-1)
        cost = cost + costs.center_weight * centre
    if costs.size_weight:
        size = (b[:, None, 3:6] - g[None, :, 3:6]).abs()
        if scale is not None:
            size = size / scale.detach().double()
        cost = cost + costs.size_weight * size.sum(-1)
    if costs.iou_weight:
        pred = torch.cat([b[:, :6].clone(), b[:, 6:]], 1)
        pred[:, 3:6] = pred[:, 3:6].clamp(min=0.0)  # as the official: a negative size is 0
        cost = cost - costs.iou_weight * boxes3d_iou(pred, g)
    return cost


def match_cost(
    logits: torch.Tensor,
    boxes: torch.Tensor,
    gt_labels: torch.Tensor,
    gt_boxes: torch.Tensor,
    costs: MatchCosts | None = None,
    *,
    size_scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """The ``(P, M)`` matching cost (see the module docstring) of one
    scene's ``P`` proposals for its ``M`` objects, float64, without gradient.

    ``logits`` ``(P, C)`` are the proposals' per-class sigmoid logits, ``boxes`` ``(P, 7)``
    their boxes ``x, y, z, l, w, h, yaw`` (metres, radians; ``z`` the centre; a negative size
    counts as 0 in the IoU), ``gt_labels`` ``(M,)`` integer classes in ``[0, C)`` and
    ``gt_boxes`` ``(M, 7)`` the objects' boxes (sizes > 0). ``costs`` are the weights
    (:class:`MatchCosts`, its defaults when ``None``); ``size_scale`` ``(3,)`` (> 0, metres)
    divides the size differences (the official: the mean of the classes' mean sizes), ``None``
    leaves them in metres.

    Raises :class:`~xuframe.errors.InputError` for a non-tensor, a wrong shape, a non-floating
    dtype, NaN or infinity or a magnitude above 1e100, labels out of range, sizes that are not
    positive, or ``P x M`` too large for memory (:func:`xuframe.validation.memory_limit`).
    """
    costs = MatchCosts() if costs is None else costs
    args = _inputs(logits, boxes, gt_labels, gt_boxes, size_scale, costs, "match_cost")
    return _cost(*args, costs)


def hungarian_match(
    logits: torch.Tensor,
    boxes: torch.Tensor,
    gt_labels: torch.Tensor,
    gt_boxes: torch.Tensor,
    costs: MatchCosts | None = None,
    *,
    size_scale: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The one-to-one assignment of least total :func:`match_cost` of one
    scene's proposals to its objects: ``(proposal_index, object_index)``, two ``int64``
    tensors of ``min(P, M)`` indices on the proposals' device, ordered by proposal index, such
    that proposal ``proposal_index[k]`` is matched to object ``object_index[k]``. Every object
    is matched when ``P >= M``; every proposal is matched when ``P < M``. No objects (or no
    proposals) give two empty tensors.

    Arguments and errors as :func:`match_cost`; the matching runs in float64 with
    ``scipy.optimize.linear_sum_assignment`` (the Jonker-Volgenant algorithm, exact).
    Call it once per scene and per refinement stage, with that stage's predictions.
    """
    costs = MatchCosts() if costs is None else costs
    args = _inputs(logits, boxes, gt_labels, gt_boxes, size_scale, costs, "hungarian_match")
    device = args[1].device
    if args[0].shape[0] == 0 or args[3].shape[0] == 0:
        empty = torch.zeros(0, dtype=torch.int64, device=device)
        return empty, empty.clone()
    cost = _cost(*args, costs).cpu().numpy()
    if not np.isfinite(cost).all():
        raise InputError(
            "hungarian_match: the cost overflowed (logits or boxes too large to compare); "
            "expected values of moderate magnitude"
        )
    rows, cols = linear_sum_assignment(cost)
    return (
        torch.as_tensor(rows, dtype=torch.int64, device=device),
        torch.as_tensor(cols, dtype=torch.int64, device=device),
    )
