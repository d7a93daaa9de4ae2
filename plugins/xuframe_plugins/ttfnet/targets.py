"""TTFNet's training targets, losses and box decoding, as its released code does them.

Boxes here are continuous pixel coordinates: a ``w x h`` box at ``(x, y)`` is
``[x, y, x + w, y + h]`` (COCO's convention, and xuframe's everywhere). The released code
(mmdetection v1) stores the same annotation as pixel indices ``[x, y, x + w - 1, y + h - 1]``
and adds the 1 back wherever it measures a size (``bbox_areas``, its GIoU loss, its COCO
export). The targets below are the released head's targets (``TTFHead.target_single_image``)
for the box its loader makes from the same annotation, so the numbers agree with the released
code object by object. For one image (feature map ``H x W`` at stride ``s``, image
``s H x s W``), with ``[x1, y1, x2, y2]`` a box and ``X2 = x2 - 1``, ``Y2 = y2 - 1`` its
pixel-index corner:

1. Boxes are clipped to the image, as the released data pipeline clips every box before the
   head sees it (``Resize``); a box then narrower or lower than 1 px is dropped, as its COCO
   loader drops one (``w < 1 or h < 1``). A box cut by the image border is therefore encoded
   as its visible part: centre, size, weight and regression target.
2. Boxes are drawn in decreasing order of area ``w h`` (the released ``(X2 - x1 + 1)
   (Y2 - y1 + 1)``), equal areas in input order, so a smaller box overwrites a larger one where
   their regions meet; the released ``torch.topk`` leaves the order of equal areas unspecified.
3. Heatmap: for box ``k`` of class ``c``, an elliptical Gaussian on the cell
   ``(int((y1 + Y2) / 2 / s), int((x1 + X2) / 2 / s))`` (always inside the map after step 1),
   radii ``int(h_k / 2 alpha)``, ``int(w_k / 2 alpha)`` with ``h_k, w_k`` the size of
   ``[x1, y1, X2, Y2] / s`` clamped to ``[0, W - 1] x [0, H - 1]``, sigma = diameter / 6 per
   axis, cut at the map's border; the class channel keeps the maximum over boxes.
4. Regression samples: every cell where the beta-Gaussian (same construction with ``beta``) is
   positive. Each sample's target is the box itself; its weight is
   ``G_k(cell) log(w h) / sum(G_k)`` (the released "log" area process), so every box has
   total weight ``log(w h)`` however large it is; a 1 x 1 px box has weight 0, as in the
   released code. ``beta -> 0`` leaves only the centre cell: the CenterNet-style encoding the
   paper compares against. The released code refuses ``beta != alpha`` with Gaussian samples;
   here it follows the paper (the sample region is the beta-Gaussian, the heatmap the alpha one).

Losses: the CenterNet focal loss on the sigmoid heatmap (alpha 2, beta 4, normalised by the
number of peaks) and the GIoU loss of the decoded box at every sample, weighted as above and
normalised by the total weight. A box at cell ``(y, x)`` decodes from the 4 predicted distances
``(l, t, r, b)`` as ``(x s - l, y s - t, x s + r, y s + b)``.
"""

from __future__ import annotations

from typing import Any

import attrs
import torch

from xuframe.errors import InputError
from xuframe.ops import box_giou_aligned, draw_gaussian
from xuframe.validation import check_float, check_int, check_labels, check_memory, check_tensor

__all__ = [
    "Targets",
    "decode_boxes",
    "encode_targets",
    "focal_loss",
    "giou_loss",
]


@attrs.frozen(eq=False)
class Targets:
    """One batch's targets: ``heatmap`` (B, C, H, W), ``boxes`` (B, 4, H, W) in input pixels
    (-1 where a cell is no sample), ``weight`` (B, H, W)."""

    heatmap: torch.Tensor
    boxes: torch.Tensor
    weight: torch.Tensor


def _feature_size(value: Any, what: str) -> tuple[int, int]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise InputError(f"{what}: expected a pair (H, W) of ints, got {value!r:.60}")
    return check_int(value[0], f"{what}[0]", min=1), check_int(value[1], f"{what}[1]", min=1)


def encode_targets(
    boxes: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    feature_size: tuple[int, int],
    stride: int,
    alpha: float = 0.54,
    beta: float = 0.54,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Targets of one image, as the module docstring describes.

    ``boxes`` are an ``(N, 4)`` real tensor of ``x1, y1, x2, y2`` in input pixels, finite,
    with ``x2 >= x1`` and ``y2 >= y1``; ``labels`` ``(N,)`` integer class indices in
    ``0 .. num_classes - 1`` (floats are refused); the image is ``feature_size`` ``(H, W)``
    cells (ints >= 1) times ``stride`` (an int >= 1) pixels; ``alpha`` and ``beta`` lie in
    ``[0, 1]``. Returns ``(heatmap (C, H, W), boxes (4, H, W), weight (H, W))``, float32: the
    boxes are -1 where a cell is no sample. Raises :class:`~xuframe.errors.InputError` for
    anything else, and for maps that would not fit in memory (:func:`~xuframe.validation.check_memory`).
    """
    num_classes = check_int(num_classes, "encode_targets: num_classes", min=1)
    h, w = _feature_size(feature_size, "encode_targets: feature_size")
    stride = check_int(stride, "encode_targets: stride", min=1)
    alpha = check_float(alpha, "encode_targets: alpha", min=0.0, max=1.0)
    beta = check_float(beta, "encode_targets: beta", min=0.0, max=1.0)
    boxes = check_tensor(boxes, "encode_targets: boxes", shape=(None, 4), floating=False)
    labels = check_labels(
        labels, "encode_targets: labels", n=len(boxes), n_classes=num_classes
    ).cpu()
    boxes = boxes.detach().cpu()
    reversed_ = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if bool(reversed_.any()):
        i = int(reversed_.nonzero()[0, 0])
        raise InputError(
            f"encode_targets: boxes: expected x2 >= x1 and y2 >= y1, box {i} is {boxes[i].tolist()}"
        )
    check_memory((num_classes + 7) * h * w * 4.0, f"encode_targets: the targets of a {h} x {w} map")
    heatmap = torch.zeros(num_classes, h, w)
    box_target = torch.full((4, h, w), -1.0)
    weight = torch.zeros(h, w)
    if boxes.numel() == 0:
        return heatmap, box_target, weight
    # the released pipeline clips every box to the image; its loader drops boxes under 1 px
    boxes = torch.stack(
        [
            boxes[:, 0].clamp(0, w * stride),
            boxes[:, 1].clamp(0, h * stride),
            boxes[:, 2].clamp(0, w * stride),
            boxes[:, 3].clamp(0, h * stride),
        ],
        dim=1,
    ).to(torch.float32)  # clipped in the given dtype: float64 beyond float32's range is fine
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
    boxes, labels, areas = boxes[keep], labels[keep], areas[keep]
    order = torch.argsort(areas, descending=True, stable=True)
    boxes, labels, log_areas = boxes[order], labels[order], areas[order].log()
    # the released loader's pixel-index box [x1, y1, x2 - 1, y2 - 1]
    index_boxes = boxes - torch.tensor([0.0, 0.0, 1.0, 1.0])
    feat = index_boxes / stride
    feat[:, 0::2] = feat[:, 0::2].clamp(0, w - 1)
    feat[:, 1::2] = feat[:, 1::2].clamp(0, h - 1)
    feat_h, feat_w = feat[:, 3] - feat[:, 1], feat[:, 2] - feat[:, 0]
    # non-negative after the clip, so int() (the released truncation) is the floor
    centres = (
        torch.stack(
            [
                (index_boxes[:, 0] + index_boxes[:, 2]) / 2,
                (index_boxes[:, 1] + index_boxes[:, 3]) / 2,
            ],
            dim=1,
        )
        / stride
    ).long()
    h_alpha, w_alpha = (feat_h / 2 * alpha).int(), (feat_w / 2 * alpha).int()
    h_beta, w_beta = (feat_h / 2 * beta).int(), (feat_w / 2 * beta).int()
    scratch = torch.zeros(h, w)
    for k in range(len(boxes)):
        cx, cy = int(centres[k, 0]), int(centres[k, 1])
        scratch.zero_()
        draw_gaussian(scratch, cx, cy, int(w_alpha[k]), int(h_alpha[k]))
        torch.maximum(heatmap[labels[k]], scratch, out=heatmap[labels[k]])
        if beta != alpha:
            scratch.zero_()
            draw_gaussian(scratch, cx, cy, int(w_beta[k]), int(h_beta[k]))
        inside = scratch > 0
        box_target[:, inside] = boxes[k][:, None]
        local = scratch[inside]
        weight[inside] = local * log_areas[k] / local.sum()
    return heatmap, box_target, weight


def decode_boxes(distances: torch.Tensor, stride: int) -> torch.Tensor:
    """``(B, 4, H, W)`` distances ``(l, t, r, b)`` in pixels (a finite floating tensor) to
    ``(B, 4, H, W)`` boxes ``x1, y1, x2, y2`` around each cell's corner ``(x s, y s)``, ``s``
    the ``stride`` (an int >= 1). Raises :class:`~xuframe.errors.InputError` otherwise."""
    check_tensor(distances, "decode_boxes: distances", shape=(None, 4, None, None))
    return _decode_boxes(distances, check_int(stride, "decode_boxes: stride", min=1))


def _decode_boxes(distances: torch.Tensor, stride: int) -> torch.Tensor:
    _, _, h, w = distances.shape
    ys = torch.arange(h, dtype=distances.dtype, device=distances.device).view(1, h, 1) * stride
    xs = torch.arange(w, dtype=distances.dtype, device=distances.device).view(1, 1, w) * stride
    return torch.stack(
        [
            xs - distances[:, 0],
            ys - distances[:, 1],
            xs + distances[:, 2],
            ys + distances[:, 3],
        ],
        dim=1,
    )


def focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss on ``sigmoid(logits)`` (clamped to [1e-4, 1 - 1e-4])
    against a Gaussian ``target``; summed and divided by the number of peaks (cells equal to 1).

    ``logits`` and ``target`` are finite floating tensors of one shape, ``(B, C, H, W)``, the
    target in ``[0, 1]``. Raises :class:`~xuframe.errors.InputError` otherwise."""
    check_tensor(logits, "focal_loss: logits", ndim=4)
    check_tensor(target, "focal_loss: target", shape=tuple(logits.shape))
    if target.numel() and not (float(target.min()) >= 0 and float(target.max()) <= 1):
        raise InputError(
            f"focal_loss: target: expected values in [0, 1], got values in "
            f"[{float(target.min()):g}, {float(target.max()):g}]"
        )
    return _focal_loss(logits, target)


def _focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    neg = 1 - pos
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p**2 * (1 - target) ** 4 * neg
    num_pos = pos.sum()
    return -(pos_loss.sum() + neg_loss.sum()) / num_pos.clamp(min=1.0)


def giou_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean of ``1 - GIoU`` over the samples with ``weight > 0``; ``pred``/``target``
    are ``(B, 4, H, W)`` boxes, ``weight`` ``(B, H, W)``, all finite floating tensors, the
    weights ``>= 0``. Zero (with a gradient) when there are no samples, so an image without
    boxes never gives NaN. Raises :class:`~xuframe.errors.InputError` otherwise."""
    check_tensor(pred, "giou_loss: pred", shape=(None, 4, None, None))
    b, _, h, w = pred.shape
    check_tensor(target, "giou_loss: target", shape=(b, 4, h, w))
    check_tensor(weight, "giou_loss: weight", shape=(b, h, w))
    if weight.numel() and float(weight.min()) < 0:
        raise InputError(f"giou_loss: weight: expected values >= 0, got {float(weight.min()):g}")
    return _giou_loss(pred, target, weight)


def _giou_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    mask = weight > 0
    if not bool(mask.any()):
        return pred.sum() * 0.0
    p = pred.permute(0, 2, 3, 1)[mask]
    t = target.permute(0, 2, 3, 1)[mask]
    wts = weight[mask]
    return ((1 - box_giou_aligned(p, t)) * wts).sum() / (wts.sum() + 1e-4)
