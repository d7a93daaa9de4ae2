"""SRDet's refinement stage: RoI-aware pooling, gating, self-attention, class and box deltas.

"Suppress-and-Refine Framework for End-to-End 3D Object Detection" (Liu, Xu, Yang et al.,
2021), its refinement (the official ``SRRoIHead`` / ``RCNNHead``). One :class:`RefineStage`
is applied ``S`` times with the same weights; between applications the boxes are detached, so
each stage learns to correct the boxes it is given. One application:

1. **RoI-aware max pooling** (:func:`~xuframe_plugins.srdet.roi_pool.roi_aware_max_pool`) of
   the points (the suppressed votes and the seeds, with their features projected to
   ``pool_channels``) inside each proposal box into ``G^3`` cells for each ``G`` of
   ``grid_sizes`` (1, 3, 5: 153 cells); each grid is flattened with ``.flatten(2, 4)`` and
   the cells are concatenated.
2. **Gating**: every cell's features are projected to ``cell_channels`` and multiplied by a
   gate ``sigmoid(W e)`` computed from the proposal's own embedding ``e``, so the proposal
   decides which pooled channels matter to it (our light-weight stand-in for the official
   dynamic instance interaction, itself Sparse R-CNN's ``DynamicConv``); then ReLU, the cells
   flattened and a linear layer to ``embed_dim``, added to ``e`` (residual, layer norm).
3. **Self-attention** across the scene's proposals (``torch.nn.MultiheadAttention``), so a
   proposal learns that a better-placed one covers its object (what NMS did by hand), then a
   feed-forward layer; both residual with layer norm.
4. **Heads**: per-class sigmoid logits and box deltas: ``x, y, z`` moved by ``d / 2`` times the
   box's ``l, w, h``, sizes multiplied by ``exp(d)`` (clamped), and, with ``heading``, the yaw
   turned by a residual.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from xuframe.errors import ConfigError
from xuframe.validation import check_float, check_int
from xuframe_plugins.srdet.roi_pool import roi_aware_max_pool

__all__ = ["RefineStage", "StageOutput", "apply_deltas"]

#: deltas divided by these before they move a box (the official ``bbox_weights``)
_DELTA_SCALE = (2.0, 2.0, 2.0, 1.0, 1.0, 1.0)
#: largest log-scale of a size per stage
_MAX_LOG_SCALE = math.log(100.0)


class StageOutput(NamedTuple):
    """One stage's predictions for ``B`` scenes of ``P`` proposals: ``logits`` ``(B, P, C)``
    per-class sigmoid logits, ``boxes`` ``(B, P, 7)`` the refined boxes (``x, y, z, l, w, h,
    yaw``; differentiable in the stage's weights) and ``embedding`` ``(B, P, D)``."""

    logits: torch.Tensor
    boxes: torch.Tensor
    embedding: torch.Tensor


def apply_deltas(boxes: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """``(..., 7)`` boxes moved by ``(..., 6)`` or ``(..., 7)`` deltas: centre ``+ d / 2 *
    size`` per axis, size ``* exp(d)`` (log-scale clamped at ``log 100``), yaw ``+ d`` when a
    seventh delta is given (else unchanged)."""
    scale = deltas.new_tensor(_DELTA_SCALE)
    d = deltas[..., :6] / scale
    size = boxes[..., 3:6]
    centre = boxes[..., :3] + d[..., :3] * size
    new_size = size * torch.exp(d[..., 3:6].clamp(max=_MAX_LOG_SCALE))
    yaw = boxes[..., 6:7] + deltas[..., 6:7] if deltas.shape[-1] > 6 else boxes[..., 6:7]
    return torch.cat([centre, new_size, yaw], -1)


def _mlp_head(dim: int, out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(dim, dim, bias=False), nn.LayerNorm(dim), nn.ReLU(inplace=True),
        nn.Linear(dim, out),
    )  # fmt: skip


class RefineStage(nn.Module):
    """One refinement stage (see the module docstring), applied with shared weights.

    ``point_channels`` is the width of the pooled points' features, ``embed_dim`` the
    proposals' embedding width, ``num_classes`` the classes; ``grid_sizes`` the pooling grids,
    ``cell_channels`` each cell's width after its projection, ``heads`` the attention heads
    (dividing ``embed_dim``), ``ffn_channels`` the feed-forward width, ``dropout`` in ``[0,
    1)``; ``gating`` and ``attention`` switch steps 2's gate and 3's attention off (the
    ablations); ``heading`` adds a yaw residual. Raises :class:`~xuframe.errors.ConfigError`
    for bad values."""

    def __init__(
        self,
        point_channels: int,
        embed_dim: int,
        num_classes: int,
        *,
        grid_sizes: Sequence[int] = (1, 3, 5),
        cell_channels: int = 32,
        heads: int = 8,
        ffn_channels: int = 2048,
        dropout: float = 0.1,
        gating: bool = True,
        attention: bool = True,
        heading: bool = True,
    ) -> None:
        super().__init__()
        w = "RefineStage"
        c = check_int(point_channels, f"{w}: point_channels", min=1, error=ConfigError)
        d = check_int(embed_dim, f"{w}: embed_dim", min=1, error=ConfigError)
        k = check_int(num_classes, f"{w}: num_classes", min=1, error=ConfigError)
        cell = check_int(cell_channels, f"{w}: cell_channels", min=1, error=ConfigError)
        h = check_int(heads, f"{w}: heads", min=1, error=ConfigError)
        ffn = check_int(ffn_channels, f"{w}: ffn_channels", min=1, error=ConfigError)
        p = check_float(dropout, f"{w}: dropout", min=0.0, max=0.99, error=ConfigError)
        if d % h:
            raise ConfigError(f"{w}: embed_dim ({d}) must be divisible by heads ({h})")
        self.grid_sizes = tuple(
            check_int(g, f"{w}: grid_sizes[{i}]", min=1, max=32, error=ConfigError)
            for i, g in enumerate(grid_sizes)
        )
        if not self.grid_sizes:
            raise ConfigError(f"{w}: grid_sizes: expected at least one grid size, got ()")
        self.gating, self.attention, self.heading = bool(gating), bool(attention), bool(heading)
        cells = sum(g**3 for g in self.grid_sizes)
        self.cell = nn.Linear(c, cell)
        self.gate = nn.Linear(d, cell) if self.gating else None
        self.roi = nn.Linear(cells * cell, d)
        self.norm_roi = nn.LayerNorm(d)
        if self.attention:
            self.self_attn: nn.MultiheadAttention | None = nn.MultiheadAttention(
                d, h, dropout=p, batch_first=True
            )
            self.norm_attn: nn.Module = nn.LayerNorm(d)
        else:
            self.self_attn, self.norm_attn = None, nn.Identity()
        self.ffn = nn.Sequential(
            nn.Linear(d, ffn), nn.ReLU(inplace=True), nn.Dropout(p), nn.Linear(ffn, d)
        )
        self.norm_ffn = nn.LayerNorm(d)
        self.dropout = nn.Dropout(p)
        self.classify = _mlp_head(d, k)
        self.regress = _mlp_head(d, 7 if self.heading else 6)
        # focal-loss prior (RetinaNet): every class starts at probability 0.01; the box branch
        # starts at zero deltas, so the first stage begins from the initial proposals
        last = self.classify[-1]
        assert isinstance(last, nn.Linear)
        nn.init.constant_(last.bias, -math.log(99.0))
        reg = self.regress[-1]
        assert isinstance(reg, nn.Linear)
        nn.init.zeros_(reg.weight)
        nn.init.zeros_(reg.bias)

    def forward(
        self,
        points_xyz: torch.Tensor,
        point_features: torch.Tensor,
        boxes: torch.Tensor,
        embedding: torch.Tensor,
    ) -> StageOutput:
        """Refine ``boxes`` ``(B, P, 7)`` (read without gradient) with embeddings
        ``embedding`` ``(B, P, embed_dim)``, pooling the points ``points_xyz`` ``(B, N, 3)``
        with features ``point_features`` ``(B, point_channels, N)``."""
        b, p = int(boxes.shape[0]), int(boxes.shape[1])
        boxes = boxes.detach()
        grids = roi_aware_max_pool(points_xyz, point_features, boxes, self.grid_sizes)
        pooled = torch.cat([g.flatten(2, 4) for g in grids], 2)  # (B, P, cells, C)
        cells = self.cell(pooled)  # (B, P, cells, cell_channels)
        if self.gate is not None:
            cells = cells * torch.sigmoid(self.gate(embedding))[:, :, None, :]
        roi = self.roi(torch.relu(cells).reshape(b, p, -1))
        x = self.norm_roi(embedding + self.dropout(roi))
        if self.self_attn is not None:
            attended = self.self_attn(x, x, x, need_weights=False)[0]
            x = self.norm_attn(x + self.dropout(attended))
        x = self.norm_ffn(x + self.dropout(self.ffn(x)))
        return StageOutput(self.classify(x), apply_deltas(boxes, self.regress(x)), x)
