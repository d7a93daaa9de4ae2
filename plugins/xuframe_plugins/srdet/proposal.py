"""VoteNet's vote aggregation and proposal head, its targets, losses and decoding.

Shared by ``votenet`` and SRDet: :class:`ProposalModule` (votes -> proposals),
:func:`proposal_targets` (objectness labels and the ground-truth box of each proposal),
:func:`proposal_losses` and :func:`decode_proposals`, and :func:`~xuframe.ops.nms_3d` (re-exported here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from xuframe.errors import ConfigError
from xuframe.nn import PointNetSetAbstraction
from xuframe.ops import nms_3d
from xuframe.types import Boxes3D
from xuframe.validation import check_float, check_int
from xuframe_plugins.srdet.coder import axis_aligned_sizes, encode_heading

__all__ = [
    "ProposalModule",
    "ProposalTargets",
    "Proposals",
    "decode_proposals",
    "nms_3d",
    "proposal_losses",
    "proposal_targets",
]

#: VoteNet's weights of the negative and positive objectness classes.
OBJECTNESS_WEIGHTS = (0.2, 0.8)


class Proposals(NamedTuple):
    """A batch's proposals (``B`` scenes, ``P`` proposals each; ``H`` heading bins, ``C``
    classes, one size cluster per class):

    - ``xyz`` ``(B, P, 3)``: the aggregated vote each proposal was grouped around (metres);
    - ``features`` ``(B, F, P)``: its features after the shared head layers;
    - ``objectness`` ``(B, P, 2)``: logits of not-an-object / an-object;
    - ``centres`` ``(B, P, 3)``: the box centres (``xyz`` plus the predicted offset);
    - ``heading_scores``, ``heading_residuals`` ``(B, P, H)``: bin logits and the residual of
      each bin, normalised by ``pi / H`` (empty when ``H`` is 0);
    - ``size_scores`` ``(B, P, C)``, ``size_residuals`` ``(B, P, C, 3)``: size cluster logits
      and each cluster's residual, normalised by its mean size;
    - ``class_scores`` ``(B, P, C)``: semantic class logits.
    """

    xyz: torch.Tensor
    features: torch.Tensor
    objectness: torch.Tensor
    centres: torch.Tensor
    heading_scores: torch.Tensor
    heading_residuals: torch.Tensor
    size_scores: torch.Tensor
    size_residuals: torch.Tensor
    class_scores: torch.Tensor


class ProposalModule(nn.Module):
    """VoteNet's proposal module: ``num_proposals`` votes picked by furthest point sampling,
    each grouped with the votes within ``radius`` metres (``k`` of them; a set abstraction with
    the ``mlp`` widths, relative xyz divided by the radius), then two shared layers of
    ``head_channels`` (1x1 conv, batch norm, ReLU) and a 1x1 conv to ``2 + 3 + 2 H + 4 C +
    C`` outputs (objectness, centre offset, heading bins and residuals, size clusters and
    residuals, classes).

    Arguments are ints >= 1 (``num_heading_bins`` >= 0) and ``radius`` > 0; anything else
    raises :class:`~xuframe.errors.ConfigError`."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        num_heading_bins: int,
        *,
        num_proposals: int = 256,
        radius: float = 0.3,
        k: int = 16,
        mlp: Sequence[int] = (128, 128, 128),
        head_channels: int = 128,
    ) -> None:
        super().__init__()
        w = "ProposalModule"
        self.num_classes = check_int(num_classes, f"{w}: num_classes", min=1, error=ConfigError)
        self.num_heading_bins = check_int(
            num_heading_bins, f"{w}: num_heading_bins", min=0, error=ConfigError
        )
        head = check_int(head_channels, f"{w}: head_channels", min=1, error=ConfigError)
        check_float(radius, f"{w}: radius", min=0.0, min_open=True, error=ConfigError)
        self.aggregation = PointNetSetAbstraction(
            num_proposals, [(radius, k, mlp)], in_channels, normalize_xyz=True
        )
        c, h = self.num_classes, self.num_heading_bins
        self.outputs = 2 + 3 + 2 * h + 4 * c + c
        self.head = nn.Sequential(
            nn.Conv1d(self.aggregation.out_channels, head, 1), nn.BatchNorm1d(head), nn.ReLU(inplace=True),
            nn.Conv1d(head, head, 1), nn.BatchNorm1d(head), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.predict = nn.Conv1d(head, self.outputs, 1)

    def forward(self, vote_xyz: torch.Tensor, vote_features: torch.Tensor) -> Proposals:
        """:class:`Proposals` from votes ``vote_xyz`` ``(B, V, 3)`` with features
        ``vote_features`` ``(B, in_channels, V)``. Raises :class:`~xuframe.errors.InputError`
        as :class:`~xuframe.nn.PointNetSetAbstraction` does."""
        agg = self.aggregation(vote_xyz, vote_features)
        feats = self.head(agg.features)
        out = self.predict(feats).transpose(1, 2)  # (B, P, outputs)
        b, p = out.shape[:2]
        c, h = self.num_classes, self.num_heading_bins
        parts = torch.split(out, [2, 3, h, h, c, 3 * c, c], dim=2)
        return Proposals(
            xyz=agg.xyz,
            features=feats,
            objectness=parts[0],
            centres=agg.xyz + parts[1],
            heading_scores=parts[2],
            heading_residuals=parts[3],
            size_scores=parts[4],
            size_residuals=parts[5].reshape(b, p, c, 3),
            class_scores=parts[6],
        )


class ProposalTargets(NamedTuple):
    """Per proposal of a batch: ``positive`` ``(B, P)`` bool (its aggregated vote lies within
    the near threshold of a ground-truth centre), ``counted`` ``(B, P)`` bool (positive, or
    beyond the far threshold: the proposals the objectness loss sees) and ``assigned``
    ``(B, P)`` ``int64``, the index of the nearest ground-truth box in its scene (0 in a
    scene without boxes)."""

    positive: torch.Tensor
    counted: torch.Tensor
    assigned: torch.Tensor


def proposal_targets(
    proposal_xyz: torch.Tensor, boxes: Sequence[Boxes3D], near: float = 0.3, far: float = 0.6
) -> ProposalTargets:
    """VoteNet's objectness assignment: each proposal (its aggregated vote ``proposal_xyz``
    ``(B, P, 3)``) is matched to the nearest ground-truth centre of its scene (``boxes``, one
    :class:`~xuframe.Boxes3D` per scene); positive when nearer than ``near`` metres, negative
    when farther than ``far`` (or the scene has no boxes), ignored in between."""
    b, p = int(proposal_xyz.shape[0]), int(proposal_xyz.shape[1])
    dev = proposal_xyz.device
    positive = torch.zeros(b, p, dtype=torch.bool, device=dev)
    counted = torch.ones(b, p, dtype=torch.bool, device=dev)
    assigned = torch.zeros(b, p, dtype=torch.int64, device=dev)
    for i in range(b):
        if len(boxes[i]) == 0:
            continue
        centres = boxes[i].tensor[:, :3].to(proposal_xyz)
        d, j = torch.cdist(proposal_xyz[i].detach(), centres).min(1)
        positive[i] = d < near
        counted[i] = (d < near) | (d > far)
        assigned[i] = j
    return ProposalTargets(positive, counted, assigned)


def _huber(x: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    a = x.abs()
    quad = a.clamp(max=delta)
    return 0.5 * quad**2 + delta * (a - quad)


def proposal_losses(
    proposals: Proposals,
    boxes: Sequence[Boxes3D],
    labels: Sequence[torch.Tensor],
    mean_sizes: torch.Tensor,
    targets: ProposalTargets,
) -> dict[str, torch.Tensor]:
    """VoteNet's proposal losses, unweighted: ``objectness`` (cross-entropy with class weights
    0.2 / 0.8 over the counted proposals), ``center`` (the two-way squared-distance Chamfer
    term: positive proposals to their nearest centre, every centre to its nearest proposal),
    ``heading_cls`` / ``heading_reg`` (bin cross-entropy; Huber loss of the normalised residual
    in the true bin), ``size_cls`` / ``size_reg`` (likewise with the class-wise mean sizes; the
    Huber loss averaged over ``l, w, h``, as VoteNet's ``torch.mean(..., -1)`` and
    mmdetection3d's weight ``10 / 3`` on a sum),
    ``sem_cls`` (class cross-entropy); all but ``objectness`` and the centre's second term over
    the positive proposals, each with the ground-truth box it is assigned to. With no heading
    bins the targets are the boxes' axis-aligned extents and there are no heading terms."""
    b, p = proposals.objectness.shape[:2]
    dev = proposals.objectness.device
    c = proposals.class_scores.shape[2]
    h = proposals.heading_scores.shape[2]
    pos = targets.positive.float()
    n_pos = pos.sum().clamp_min(1e-6)
    weight = torch.tensor(OBJECTNESS_WEIGHTS, device=dev, dtype=proposals.objectness.dtype)
    obj = F.cross_entropy(
        proposals.objectness.reshape(-1, 2), targets.positive.long().reshape(-1),
        weight=weight, reduction="none",
    ).reshape(b, p)  # fmt: skip
    counted = targets.counted.float()
    out = {"objectness": (obj * counted).sum() / counted.sum().clamp_min(1e-6)}

    # ground truth of the assigned box of every proposal: (B, P, ...)
    zero = proposals.centres.sum() * 0.0
    gt_box = torch.zeros(b, p, 7, device=dev, dtype=proposals.centres.dtype)
    gt_label = torch.zeros(b, p, dtype=torch.int64, device=dev)
    centre_back = zero
    n_boxes = 0
    for i in range(b):
        if len(boxes[i]) == 0:
            continue
        t = boxes[i].tensor.to(gt_box)
        gt_box[i] = t[targets.assigned[i]]
        gt_label[i] = labels[i].to(dev)[targets.assigned[i]]
        d2 = ((t[:, None, :3] - proposals.centres[i][None]) ** 2).sum(-1)  # (M, P)
        centre_back = centre_back + d2.min(1).values.sum()
        n_boxes += len(t)
    d_fwd = ((proposals.centres - gt_box[..., :3]) ** 2).sum(-1)
    out["center"] = (d_fwd * pos).sum() / n_pos + centre_back / max(n_boxes, 1)

    if h > 0:
        bins, residual = encode_heading(gt_box[..., 6], h)
        ce = F.cross_entropy(
            proposals.heading_scores.reshape(-1, h), bins.reshape(-1), reduction="none"
        )
        out["heading_cls"] = (ce.reshape(b, p) * pos).sum() / n_pos
        pred = proposals.heading_residuals.gather(2, bins[..., None])[..., 0]
        out["heading_reg"] = (_huber(pred - residual / (math.pi / h)) * pos).sum() / n_pos
        sizes = gt_box[..., 3:6]
    else:
        sizes = axis_aligned_sizes(gt_box.reshape(-1, 7)).reshape(b, p, 3)
    table = mean_sizes.to(gt_box)
    ce = F.cross_entropy(
        proposals.size_scores.reshape(-1, c), gt_label.reshape(-1), reduction="none"
    )
    out["size_cls"] = (ce.reshape(b, p) * pos).sum() / n_pos
    index = gt_label[..., None, None].expand(b, p, 1, 3)
    pred_size = proposals.size_residuals.gather(2, index)[:, :, 0]
    mean = table[gt_label]
    size_err = _huber(pred_size - (sizes - mean) / mean).mean(-1)
    out["size_reg"] = (size_err * pos).sum() / n_pos
    ce = F.cross_entropy(
        proposals.class_scores.reshape(-1, c), gt_label.reshape(-1), reduction="none"
    )
    out["sem_cls"] = (ce.reshape(b, p) * pos).sum() / n_pos
    return out


def decode_proposals(
    proposals: Proposals, mean_sizes: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(boxes, objectness, class_probabilities)``: the ``(B, P, 7)`` boxes (the best heading
    bin and size cluster with their residuals; ``yaw = 0`` without heading bins), the ``(B,
    P)`` probability of being an object and the ``(B, P, C)`` class probabilities."""
    b, p = proposals.objectness.shape[:2]
    h = proposals.heading_scores.shape[2]
    if h > 0:
        bins = proposals.heading_scores.argmax(2)
        res = proposals.heading_residuals.gather(2, bins[..., None])[..., 0] * (math.pi / h)
        width = 2 * math.pi / h
        yaw = torch.remainder(bins.to(res.dtype) * width + res + math.pi, 2 * math.pi) - math.pi
    else:
        yaw = torch.zeros(b, p, dtype=proposals.centres.dtype, device=proposals.centres.device)
    cluster = proposals.size_scores.argmax(2)
    index = cluster[..., None, None].expand(b, p, 1, 3)
    mean = mean_sizes.to(proposals.centres)[cluster]
    size = (proposals.size_residuals.gather(2, index)[:, :, 0] * mean + mean).clamp_min(1e-3)
    boxes = torch.cat([proposals.centres, size, yaw[..., None]], 2)
    objectness = proposals.objectness.softmax(2)[..., 1]
    return boxes, objectness, proposals.class_scores.softmax(2)
