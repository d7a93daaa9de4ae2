"""X-view on a point-based detector: ``xview-pointrcnn`` (on ``pointrcnn``).

The views and their branches are those of the BEV X-view (:class:`~xuframe_plugins.xview.model.
ViewBranch`: the points in the view's coordinates, pillars on its (range, azimuth) grid, a
pillar encoder and 3x3 convs on its canvas). Each view's canvas is gathered at every point of
the detector (:meth:`~xuframe_plugins.xview.views.View.gather`: the point's own 3-D location
taken to the view's coordinates, bilinear) and fused with that point's backbone features
(added, or concatenated), after the PointNet++ backbone and before stage 1's heads: the
segmentation, the proposals and stage 2's pooled features all see the views. The released code
(lilydedbb/XView) meant to fuse there too (its ``PointHeadBox`` adds the views' per-point
features to the backbone's before the stage-1 heads, and its ``PointRCNNHead`` is configured
with the views as well), but reads them under a key nothing writes, so it never fuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
import torch
from torch import nn

from xuframe.types import PointCloud
from xuframe.validation import check_memory
from xuframe_plugins.pircnn.pointrcnn import DEMO_SCENES, PointRCNN, StageOne
from xuframe_plugins.xview.model import (
    DEMO_VIEWS,
    _branch_parameters,
    _grid_views,
    _view_branches,
    _ViewOptions,
    _XView,
)

__all__ = ["XViewPointFusion", "XViewPointRCNN"]


class XViewPointFusion(nn.Module):
    """The view branches of a point-based detector and their fusion into its per-point
    features: each branch's canvas (of the detector's prepared points, in the view's
    coordinates) is read at every point by bilinear interpolation
    (:meth:`~xuframe_plugins.xview.views.View.gather`; 0 outside the view), then the views'
    features are added to the point features (the branches end in the point features' width)
    or concatenated to them (``view_channels`` per view), as ``cfg.fusion`` says.

    ``channels`` is the width of the point features it fuses into; the views are sized over
    ``point_range`` (:func:`~xuframe_plugins.xview.views.view_over_area`). Raises
    :class:`~xuframe.errors.ConfigError` for a view that cannot be gridded."""

    def __init__(self, name: str, cfg: Any, point_range: Sequence[float], channels: int) -> None:
        super().__init__()
        self.name = name
        self.fusion = cfg.fusion
        out = channels if cfg.fusion == "add" else cfg.view_channels
        self.views = _grid_views(name, cfg, point_range, out)
        self.branches = _view_branches(self.views, cfg, out)
        self.out_channels = out * len(self.views) if cfg.fusion == "concat" else 0
        self.cells = sum(v.n_range * v.n_azimuth for v in self.views)
        self.view_channels = int(cfg.view_channels)

    def gathered(self, xyz: torch.Tensor, features: torch.Tensor | None) -> list[torch.Tensor]:
        """Each view's features at the points ``xyz`` ``(B, N, 3)`` (metres) whose own features
        are ``features`` ``(B, C, N)`` (None for none): ``(B, out, N)`` per view."""
        check_memory(
            4.0 * len(xyz) * self.cells * self.view_channels,
            f"{self.name}: the view canvases of {len(xyz)} point clouds",
        )
        clouds = [
            PointCloud(
                xyz[b],
                features[b].T if features is not None else xyz.new_zeros(xyz.shape[1], 0),
            )
            for b in range(len(xyz))
        ]
        out = []
        for branch, view in zip(self.branches, self.views, strict=True):
            canvas = branch(clouds)  # (B, out, n_azimuth, n_range)
            rows = [view.gather(canvas[b : b + 1], xyz[b]) for b in range(len(xyz))]
            out.append(torch.cat(rows))
        return out

    def forward(
        self, xyz: torch.Tensor, features: torch.Tensor | None, point_features: torch.Tensor
    ) -> torch.Tensor:
        """``point_features`` ``(B, channels, N)`` of the points ``xyz`` ``(B, N, 3)`` fused
        with the views' features: ``(B, channels + out_channels, N)``."""
        views = self.gathered(xyz, features)
        if self.fusion == "add":
            return point_features + torch.stack(views).sum(0)
        return torch.cat([point_features, *views], 1)


class XViewPointRCNN(_XView, PointRCNN):
    """X-view (Xie, Xu, Cai et al., 2021) on PointRCNN: ``xview-pointrcnn``.

    ``pointrcnn`` with perspective views whose origins need not be the sensor
    (:attr:`Config.views`, and the other view fields of ``xview-pillars``), fused into every
    point's backbone features before stage 1's heads (see :class:`XViewPointFusion`), so that
    the segmentation, the proposals and stage 2 see them. The view branches take the points the
    detector keeps (after the range crop and subsampling). With ``fusion="concat"`` the
    stage-1 heads and stage 2 take the extra channels. Inputs, batches, outputs and errors are
    ``pointrcnn``'s; :func:`~xuframe_plugins.xview.load_base_weights` puts a trained
    ``pointrcnn`` into the main stream."""

    name: ClassVar[str] = "xview-pointrcnn"
    base_name: ClassVar[str] = "pointrcnn"
    demo_views: ClassVar[tuple[str, ...]] = DEMO_VIEWS[:2]
    demo_scenes: ClassVar[dict[str, Any]] = DEMO_SCENES
    widened_by_concat: ClassVar[tuple[str, ...]] = (
        "head.cls.layers.0.weight",
        "head.box.layers.0.weight",
        "merge_down.layers.0.weight",
    )

    @attrs.frozen
    class Config(PointRCNN.Config, _ViewOptions):
        pass

    def _backbone_channels(self) -> int:
        return int(self.config.fp_mlps[0][-1])

    def _view_width(self) -> int:
        """The channels ``concat`` fusion adds (0 for ``add``)."""
        cfg = self.config
        return int(cfg.view_channels) * len(cfg.views) if cfg.fusion == "concat" else 0

    def _attach_views(self) -> nn.Module:
        cfg = self.config
        xview = XViewPointFusion(self.name, cfg, cfg.point_range, self._backbone_channels())
        if cfg.fusion == "concat":
            self.head = StageOne(
                self._backbone_channels() + xview.out_channels,
                cfg.head_fc,
                self.num_classes,
                self.coder.code_size,
            )
        return xview

    def _view_parameters(self) -> int:
        cfg = self.config
        out = self._backbone_channels() if cfg.fusion == "add" else cfg.view_channels
        firsts = 2 * (cfg.head_fc[0] if cfg.head_fc else 8) + cfg.xyz_up[-1]
        return _branch_parameters(cfg, out) + self._view_width() * int(firsts)

    def fused_channels(self) -> int:
        """The backbone's width, plus ``view_channels`` per view with ``fusion="concat"``."""
        return int(super().fused_channels()) + self._view_width()

    def stage_one(
        self, xyz: torch.Tensor, features: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The backbone's features of the points ``xyz`` ``(B, N, 3)`` fused with the views'
        (``(B, fused_channels(), N)``; what stage 2 pools), and the stage-1 class logits
        ``(B, N, K)`` and box codes ``(B, N, code_size)`` of the fused features."""
        point_features = self.backbone(xyz, features)
        fused = self.xview(xyz, features, point_features)
        cls, box = self.head(fused.transpose(1, 2))
        return fused, cls, box
