"""TTFNet's training targets, losses and box decoding, as its released code does them.

Targets for one image (feature map ``H x W`` at stride ``s``, boxes in input pixels):

1. Boxes are drawn largest area first, so a smaller box overwrites a larger one where their
   regions meet.
2. Heatmap: for box ``k`` of class ``c``, an elliptical Gaussian centred on the cell
   ``floor(centre / s)``, radii ``(int(h_k / 2 alpha), int(w_k / 2 alpha))`` on the feature map
   (``h_k, w_k`` the box size on the feature map after clipping), sigma = diameter / 6; the
   class channel keeps the maximum over boxes.
3. Regression samples: every cell where the beta-Gaussian (same construction with ``beta``) is
   positive. Each sample's target is the box itself; its weight is
   ``log(area_k) * G_k(cell) / sum(G_k)`` (TTFNet's "log" area process), so every box has total
   weight ``log(area_k)`` however large it is. Areas below 2 px^2 count as 2, so that a
   one-pixel box still gets a positive weight (the released code gives it 0). ``beta -> 0`` leaves only the centre cell: the
   CenterNet-style encoding the paper compares against.

Losses: the CenterNet focal loss on the sigmoid heatmap (alpha 2, beta 4, normalised by the
number of peaks) and the GIoU loss of the decoded box at every sample, weighted as above and
normalised by the total weight. A box at cell ``(y, x)`` decodes from the 4 predicted distances
``(l, t, r, b)`` as ``(x s - l, y s - t, x s + r, y s + b)``.
"""

from __future__ import annotations

import attrs
import torch

from xuframe.ops import box_giou_aligned, draw_gaussian

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


def encode_targets(
    boxes: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    feature_size: tuple[int, int],
    stride: int,
    alpha: float = 0.54,
    beta: float = 0.54,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Targets of one image: ``(heatmap (C, H, W), boxes (4, H, W), weight (H, W))``."""
    h, w = feature_size
    heatmap = torch.zeros(num_classes, h, w)
    box_target = torch.full((4, h, w), -1.0)
    weight = torch.zeros(h, w)
    if boxes.numel() == 0:
        return heatmap, box_target, weight
    boxes = boxes.float()
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = areas > 0  # degenerate boxes cannot be regressed: skipped (documented)
    boxes, labels, areas = boxes[keep], labels[keep], areas[keep]
    order = torch.argsort(areas, descending=True, stable=True)
    boxes, labels, log_areas = boxes[order], labels[order], areas[order].clamp(min=2.0).log()
    feat = boxes / stride
    feat[:, 0::2] = feat[:, 0::2].clamp(0, w - 1)
    feat[:, 1::2] = feat[:, 1::2].clamp(0, h - 1)
    feat_h, feat_w = feat[:, 3] - feat[:, 1], feat[:, 2] - feat[:, 0]
    centres = ((boxes[:, :2] + boxes[:, 2:]) / 2 / stride).floor().long()
    centres[:, 0] = centres[:, 0].clamp(0, w - 1)
    centres[:, 1] = centres[:, 1].clamp(0, h - 1)
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
        weight[inside] = local / local.sum() * log_areas[k]
    return heatmap, box_target, weight


def decode_boxes(distances: torch.Tensor, stride: int) -> torch.Tensor:
    """``(B, 4, H, W)`` distances ``(l, t, r, b)`` to ``(B, 4, H, W)`` boxes ``x1, y1, x2, y2``
    around each cell's corner ``(x s, y s)``."""
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
    against a Gaussian ``target``; summed and divided by the number of peaks (cells equal to 1)."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    neg = 1 - pos
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p**2 * (1 - target) ** 4 * neg
    num_pos = pos.sum()
    return -(pos_loss.sum() + neg_loss.sum()) / num_pos.clamp(min=1.0)


def giou_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean of ``1 - GIoU`` over the samples with ``weight > 0``; ``pred``/``target``
    are ``(B, 4, H, W)`` boxes, ``weight`` ``(B, H, W)``. Zero (with a gradient) when there are
    no samples, so an image without boxes never gives NaN."""
    mask = weight > 0
    if not bool(mask.any()):
        return pred.sum() * 0.0
    p = pred.permute(0, 2, 3, 1)[mask]
    t = target.permute(0, 2, 3, 1)[mask]
    wts = weight[mask]
    return ((1 - box_giou_aligned(p, t)) * wts).sum() / (wts.sum() + 1e-4)
