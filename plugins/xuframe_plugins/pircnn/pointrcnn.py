"""``pointrcnn``: PointRCNN (Shi, Wang, Li, CVPR 2019), the two-stage point-based LiDAR
detector that PI-RCNN builds on.

Stage 1: a PointNet++ backbone with multi-scale grouping gives every point a feature
(:class:`~xuframe_plugins.pircnn.backbone.PointNet2MSG`); per point, class scores (focal loss;
foreground = inside a ground-truth box, points in a thin band around the boxes ignored) and a
box coded by bins relative to the point (:class:`~xuframe_plugins.pircnn.bins.BinCoder`); the
best-scoring points' boxes, after rotated BEV NMS, are the proposals (RoIs).

Between the stages, :meth:`PointRCNN.fuse_point_features` (the identity here) may change the
point features; PI-RCNN inserts its image fusion there. Before the backbone,
:meth:`PointRCNN.point_inputs` (the identity here) may change the input point features (PI-RCNN's
early-fusion ablation).

Stage 2: for each proposal, enlarged by ``pool_margin``, up to ``roi_points`` of the points
inside with their features, stage-1 score and depth, in the proposal's canonical frame
(:mod:`~xuframe_plugins.pircnn.rcnn_targets`); a small PointNet++ ending in a group-all set
abstraction; a confidence and a residual box refinement in that frame.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import torch
import torch.nn.functional as F

from xuframe import (
    DemoResult,
    Detector,
    class_names,
    config_field,
    fraction,
    int_between,
    non_negative,
    positive,
)
from xuframe.data import LIDAR_CLASSES
from xuframe.errors import ConfigError, InputError
from xuframe.nn import PointNetSetAbstraction
from xuframe.ops import points_in_boxes, rotated_nms
from xuframe.types import Boxes3D, Detections, PointCloud
from xuframe.validation import check_int, check_lidar_batch, check_memory, check_point_clouds
from xuframe_plugins.pircnn.backbone import PointNet2MSG, RowMLP
from xuframe_plugins.pircnn.bins import BinCoder
from xuframe_plugins.pircnn.rcnn_targets import (
    canonical_points,
    corner_loss,
    decode_residuals,
    encode_residuals,
    pool_indices,
    sample_proposals,
)

__all__ = ["DEMO_CONFIG", "DEMO_SCENES", "KITTI_MEAN_SIZES", "PointRCNN", "StageOne"]

#: The mean ``l, w, h`` (metres) of KITTI's Car, Pedestrian and Cyclist (OpenPCDet's
#: ``mean_size``), the size anchors of stage 1.
KITTI_MEAN_SIZES: tuple[tuple[float, float, float], ...] = (
    (3.9, 1.6, 1.56),
    (0.8, 0.6, 1.73),
    (1.76, 0.6, 1.73),
)

_MAX_WIDTH = 1 << 14


# ------------------------------------------------------------------------- validators


def _widths(value: Any, what: str, *, empty: bool = False) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ConfigError(f"{what}: expected a sequence of layer widths, got {value!r:.60}")
    if not value and not empty:
        raise ConfigError(f"{what}: expected at least one layer width, got none")
    return tuple(
        check_int(w, f"{what}[{i}]", min=1, max=_MAX_WIDTH, error=ConfigError)
        for i, w in enumerate(value)
    )


def _width_list(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    _widths(value, attribute.name)


def _width_list_or_empty(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    _widths(value, attribute.name, empty=True)


def _nested(value: Any, what: str, depth: int) -> None:
    """``value`` a non-empty sequence nested ``depth`` deep (ragged allowed)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ConfigError(f"{what}: expected a non-empty sequence, got {value!r:.60}")
    if depth > 1:
        for i, item in enumerate(value):
            _nested(item, f"{what}[{i}]", depth - 1)


def _point_range(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 6:
        raise ConfigError(f"{attribute.name}: expected 6 numbers, got {value!r:.60}")
    for i, v in enumerate(value):
        if not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > 1e5:
            raise ConfigError(f"{attribute.name}[{i}]: expected a finite number, got {v!r}")
    for axis in range(3):
        if not value[axis + 3] > value[axis]:
            raise ConfigError(
                f"{attribute.name}: expected {'xyz'[axis]}_max > {'xyz'[axis]}_min, got {value}"
            )


# ----------------------------------------------------------------------------- model


class StageOne(torch.nn.Module):
    """The two per-point heads of stage 1 (OpenPCDet's ``PointHeadBox``): class logits
    ``(..., num_classes)`` and the bin-coded box ``(..., code_size)``, each an MLP of
    ``fc`` widths (linear + batch norm + ReLU) and a final linear layer."""

    def __init__(self, channels: int, fc: Sequence[int], num_classes: int, code_size: int):
        super().__init__()
        self.cls = RowMLP(channels, fc, num_classes)
        self.box = RowMLP(channels, fc, code_size)
        assert self.cls.last is not None
        torch.nn.init.constant_(self.cls.last.bias, -math.log((1 - 0.01) / 0.01))

    def forward(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``rows`` ``(..., channels)`` -> ``(class logits, box code)``."""
        return self.cls(rows), self.box(rows)


class PointRCNN(Detector):
    """PointRCNN (Shi, Wang, Li, CVPR 2019; OpenPCDet's ``pointrcnn.yaml`` sizes by default):
    ``pointrcnn``.

    Inputs are lists of :class:`~xuframe.PointCloud` in the LiDAR frame (``x`` forward, ``y``
    left, ``z`` up; metres) with ``point_features`` feature channels (reflectance). Points
    outside ``point_range`` are dropped; each cloud is then subsampled to ``num_points`` (at
    predict with a fixed seed) or padded by repeating its points. A cloud with no point in
    range gives no detections. A training batch is what :func:`~xuframe.data.collate_lidar`
    returns (``"inputs"``, ``"boxes"`` :class:`~xuframe.Boxes3D`, ``"labels"`` indices into
    ``classes``), e.g. from :func:`xuframe_plugins.denfi.training.lidar_train_loader`.

    Losses: ``point_cls`` (focal), ``point_loc``, ``point_heading``, ``point_size`` (bins,
    stage 1), ``rcnn_cls`` (binary cross entropy, or of the IoU-guided target with
    ``rcnn_score="iou"``), ``rcnn_reg`` (smooth L1) and ``rcnn_corner`` (stage 2), trained
    jointly. Predict: the stage-2 boxes of the proposals with their stage-2 confidence and
    stage-1 class, above ``score_threshold``, rotated BEV NMS over all classes.

    Subclasses (PI-RCNN) change the point features between the stages by overriding
    :meth:`fuse_point_features` and :meth:`fused_channels`, and the backbone's input features
    by overriding :meth:`point_inputs` and :meth:`input_channels`; they may accept other
    inputs by overriding ``_check_clouds`` (returning the point clouds), and the hooks then get
    those inputs in ``batch["inputs"]``."""

    name: ClassVar[str] = "pointrcnn"
    geometry: ClassVar[type[Boxes3D]] = Boxes3D

    @attrs.frozen
    class Config:
        classes: tuple[str, ...] = config_field(
            LIDAR_CLASSES, doc="class names, in label order", validator=class_names
        )
        mean_sizes: tuple[tuple[float, ...], ...] = config_field(
            KITTI_MEAN_SIZES, doc="mean l, w, h of each class (metres), stage 1's size anchors"
        )
        point_range: tuple[float, ...] = config_field(
            (0.0, -40.0, -3.0, 70.4, 40.0, 1.0),
            doc="x_min, y_min, z_min, x_max, y_max, z_max of the points used, metres",
            validator=_point_range,
        )
        point_features: int = config_field(
            1, doc="feature channels per point (reflectance)", validator=int_between(0, 64)
        )
        num_points: int = config_field(
            16384, doc="points per cloud (more are subsampled, fewer repeated)",
            validator=int_between(1, 10**6),
        )  # fmt: skip
        npoints: tuple[int, ...] = config_field(
            (4096, 1024, 256, 64), doc="centres of each set abstraction level"
        )
        radii: tuple[tuple[float, ...], ...] = config_field(
            ((0.1, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 4.0)),
            doc="ball radii of each level's scales, metres",
        )
        ks: tuple[tuple[int, ...], ...] = config_field(
            ((16, 32), (16, 32), (16, 32), (16, 32)), doc="group sizes of each level's scales"
        )
        sa_mlps: tuple[tuple[tuple[int, ...], ...], ...] = config_field(
            (
                ((16, 16, 32), (32, 32, 64)),
                ((64, 64, 128), (64, 96, 128)),
                ((128, 196, 256), (128, 196, 256)),
                ((256, 256, 512), (256, 384, 512)),
            ),
            doc="MLP widths of each level's scales",
        )
        fp_mlps: tuple[tuple[int, ...], ...] = config_field(
            ((128, 128), (256, 256), (512, 512), (512, 512)),
            doc="feature propagation widths making level i (0: the input points)",
        )
        head_fc: tuple[int, ...] = config_field(
            (256, 256),
            doc="stage-1 head widths (classes and boxes)",
            validator=_width_list_or_empty,
        )
        loc_scope: float = config_field(
            3.0, doc="centre bins cover +-loc_scope metres", validator=positive
        )
        loc_bin_size: float = config_field(0.5, doc="centre bin size, metres", validator=positive)
        heading_bins: int = config_field(12, doc="heading bins", validator=int_between(1, 360))
        ignore_margin: float = config_field(
            0.1, doc="points this close outside a box (metres) are ignored by the segmentation",
            validator=non_negative,
        )  # fmt: skip
        focal_alpha: float = config_field(0.25, doc="focal loss alpha", validator=fraction)
        focal_gamma: float = config_field(2.0, doc="focal loss gamma", validator=non_negative)
        pre_nms: int = config_field(
            1024, doc="best-scoring points whose boxes enter the proposal NMS",
            validator=int_between(1, 8192),
        )  # fmt: skip
        train_rois: int = config_field(
            512, doc="proposals kept after NMS in training", validator=int_between(1, 8192)
        )
        test_rois: int = config_field(
            100, doc="proposals kept after NMS at predict", validator=int_between(1, 8192)
        )
        train_nms_iou: float = config_field(
            0.8, doc="proposal NMS BEV IoU threshold in training", validator=fraction
        )
        test_nms_iou: float = config_field(
            0.85, doc="proposal NMS BEV IoU threshold at predict", validator=fraction
        )
        roi_per_image: int = config_field(
            128, doc="proposals sampled per scene for stage 2 in training",
            validator=int_between(1, 8192),
        )  # fmt: skip
        fg_fraction: float = config_field(
            0.5, doc="at most this share of the sampled proposals foreground", validator=fraction
        )
        reg_fg_iou: float = config_field(
            0.55, doc="3-D IoU from which a proposal is regressed (foreground)", validator=fraction
        )
        cls_fg_iou: float = config_field(
            0.6, doc="3-D IoU above which a proposal's confidence target is 1", validator=fraction
        )
        cls_bg_iou: float = config_field(
            0.45, doc="3-D IoU below which it is 0 (ignored between)", validator=fraction
        )
        bg_iou_low: float = config_field(
            0.1, doc="below this IoU a background proposal is easy", validator=fraction
        )
        hard_bg_fraction: float = config_field(
            0.8, doc="share of hard background proposals", validator=fraction
        )
        roi_augment: int = config_field(
            2, doc="jittered copies of each ground-truth box added to the proposals in training",
            validator=int_between(0, 64),
        )  # fmt: skip
        pool_margin: float = config_field(
            1.0, doc="proposals grow by this many metres per side for pooling",
            validator=non_negative,
        )  # fmt: skip
        roi_points: int = config_field(
            512, doc="points pooled per proposal", validator=int_between(1, 8192)
        )
        depth_normalizer: float = config_field(
            70.0, doc="a point's depth feature is its range / this - 0.5", validator=positive
        )
        xyz_up: tuple[int, ...] = config_field(
            (128, 128), doc="widths lifting the pooled xyz, score, depth", validator=_width_list
        )
        rcnn_npoints: tuple[int, ...] = config_field(
            (128, 32), doc="stage-2 set abstraction centres (a group-all level follows)"
        )
        rcnn_radii: tuple[float, ...] = config_field(
            (0.2, 0.4), doc="stage-2 ball radii, metres (canonical frame)"
        )
        rcnn_ks: tuple[int, ...] = config_field((16, 16), doc="stage-2 group sizes")
        rcnn_mlps: tuple[tuple[int, ...], ...] = config_field(
            ((128, 128, 128), (128, 128, 256), (256, 256, 512)),
            doc="stage-2 set abstraction widths, the group-all level last",
        )
        rcnn_fc: tuple[int, ...] = config_field(
            (256, 256), doc="stage-2 head widths", validator=_width_list_or_empty
        )
        rcnn_score: str = config_field(
            "cls", doc="stage-2 confidence target: 'cls' (binary) or 'iou' (IoU-guided)"
        )
        point_cls_weight: float = config_field(1.0, doc="focal loss weight", validator=positive)
        point_box_weight: float = config_field(
            1.0, doc="stage-1 bin loss weight", validator=positive
        )
        rcnn_cls_weight: float = config_field(
            1.0, doc="stage-2 confidence loss weight", validator=positive
        )
        rcnn_reg_weight: float = config_field(
            1.0, doc="stage-2 box loss weight", validator=positive
        )
        rcnn_corner_weight: float = config_field(
            1.0, doc="stage-2 corner loss weight", validator=non_negative
        )
        score_threshold: float = config_field(
            0.1, doc="detections below this score are dropped", validator=fraction
        )
        nms_iou: float = config_field(0.1, doc="final BEV NMS threshold", validator=fraction)
        max_detections: int = config_field(
            100, doc="detections kept per cloud", validator=int_between(1, 8192)
        )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._check_config()
        self.coder = BinCoder(
            cfg.loc_scope,
            cfg.loc_bin_size,
            cfg.heading_bins,
            tuple((float(a), float(b), float(c)) for a, b, c in cfg.mean_sizes),
        )
        self.backbone = PointNet2MSG(
            self.input_channels(), cfg.npoints, cfg.radii, cfg.ks, cfg.sa_mlps, cfg.fp_mlps
        )
        self.head = StageOne(
            self.backbone.out_channels, cfg.head_fc, self.num_classes, self.coder.code_size
        )
        fused = self.fused_channels()
        # stage 2: pooled [canonical xyz, score, depth] lifted, merged with the point features
        self.xyz_up = RowMLP(5, cfg.xyz_up)
        self.merge_down = RowMLP(cfg.xyz_up[-1] + fused, (cfg.xyz_up[-1],))
        self.rcnn_sa = torch.nn.ModuleList()
        channels = cfg.xyz_up[-1]
        levels = len(cfg.rcnn_npoints)
        for i in range(levels + 1):
            last = i == levels
            block = PointNetSetAbstraction(
                1 if last else cfg.rcnn_npoints[i],
                [(1.0 if last else cfg.rcnn_radii[i], 1 if last else cfg.rcnn_ks[i],
                  cfg.rcnn_mlps[i])],
                channels,
                group_all=last,
            )  # fmt: skip
            self.rcnn_sa.append(block)
            channels = block.out_channels
        self.rcnn_cls = RowMLP(channels, cfg.rcnn_fc, 1)
        self.rcnn_reg = RowMLP(channels, cfg.rcnn_fc, 7)
        assert self.rcnn_reg.last is not None
        torch.nn.init.normal_(self.rcnn_reg.last.weight, std=0.001)
        torch.nn.init.zeros_(self.rcnn_reg.last.bias)

    # ------------------------------------------------------------------ config

    def _check_config(self) -> None:
        cfg = self.config
        name = self.name
        if len(cfg.mean_sizes) != len(cfg.classes):
            raise ConfigError(
                f"{name}: mean_sizes: expected one (l, w, h) per class ({len(cfg.classes)}), "
                f"got {len(cfg.mean_sizes)}"
            )
        for i, row in enumerate(cfg.mean_sizes):
            if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or len(row) != 3:
                raise ConfigError(f"{name}: mean_sizes[{i}]: expected (l, w, h), got {row!r}")
            for v in row:
                if not isinstance(v, (int, float)) or not 0 < v < 1e3:
                    raise ConfigError(
                        f"{name}: mean_sizes[{i}]: expected sizes in (0, 1000) m, got {row!r}"
                    )
        levels = len(cfg.npoints) if isinstance(cfg.npoints, Sequence) else 0
        if not 1 <= levels <= 8:
            raise ConfigError(f"{name}: npoints: expected 1 to 8 levels, got {cfg.npoints!r:.60}")
        for i, n in enumerate(cfg.npoints):
            check_int(n, f"{name}: npoints[{i}]", min=1, max=10**6, error=ConfigError)
        _nested(cfg.radii, f"{name}: radii", 2)
        _nested(cfg.ks, f"{name}: ks", 2)
        _nested(cfg.sa_mlps, f"{name}: sa_mlps", 3)
        _nested(cfg.fp_mlps, f"{name}: fp_mlps", 2)
        for key in ("radii", "ks", "sa_mlps", "fp_mlps"):
            if len(getattr(cfg, key)) != levels:
                raise ConfigError(
                    f"{name}: {key}: expected {levels} entries (one per level of npoints), got "
                    f"{len(getattr(cfg, key))}"
                )
        for i in range(levels):
            for s, mlp in enumerate(cfg.sa_mlps[i]):
                _widths(mlp, f"{name}: sa_mlps[{i}][{s}]")
            _widths(cfg.fp_mlps[i], f"{name}: fp_mlps[{i}]")
        r = len(cfg.rcnn_npoints) if isinstance(cfg.rcnn_npoints, Sequence) else -1
        if not 0 <= r <= 8:
            raise ConfigError(f"{name}: rcnn_npoints: expected 0 to 8 levels, got {r}")
        for key, want in (("rcnn_radii", r), ("rcnn_ks", r), ("rcnn_mlps", r + 1)):
            value = getattr(cfg, key)
            if not isinstance(value, Sequence) or len(value) != want:
                raise ConfigError(
                    f"{name}: {key}: expected {want} entries (rcnn_mlps: one per stage-2 level "
                    f"and the group-all level), got {value!r:.60}"
                )
        for i in range(r):
            check_int(cfg.rcnn_npoints[i], f"{name}: rcnn_npoints[{i}]", min=1, max=8192,
                      error=ConfigError)  # fmt: skip
            check_int(cfg.rcnn_ks[i], f"{name}: rcnn_ks[{i}]", min=1, max=1024, error=ConfigError)
        for i, mlp in enumerate(cfg.rcnn_mlps):
            _widths(mlp, f"{name}: rcnn_mlps[{i}]")
        if cfg.rcnn_score not in ("cls", "iou"):
            raise ConfigError(
                f"{name}: rcnn_score: expected 'cls' or 'iou', got {cfg.rcnn_score!r}"
            )
        if cfg.cls_bg_iou > cfg.cls_fg_iou:
            raise ConfigError(
                f"{name}: cls_bg_iou ({cfg.cls_bg_iou}) must be <= cls_fg_iou ({cfg.cls_fg_iou})"
            )
        params = self._parameter_count()
        check_memory(4.0 * params, f"{name}: the weights ({params:.3g})", error=ConfigError)
        rows = max(cfg.train_rois + cfg.roi_augment * 64, cfg.test_rois, cfg.roi_per_image)
        widest = max(max(m) for m in cfg.rcnn_mlps)
        check_memory(
            4.0 * rows * cfg.roi_points * max(widest, cfg.xyz_up[-1] + self.fused_channels()),
            f"{name}: the pooled points of one cloud's proposals ({rows} x {cfg.roi_points})",
            error=ConfigError,
        )

    def _parameter_count(self) -> int:
        """An estimate of the weights (their widths squared), refused before they are made."""
        cfg = self.config
        rows = [w for level in cfg.sa_mlps for mlp in level for w in mlp]
        rows += [w for mlp in cfg.fp_mlps for w in mlp]
        rows += [*cfg.head_fc, *cfg.xyz_up, *cfg.rcnn_fc]
        rows += [w for mlp in cfg.rcnn_mlps for w in mlp]
        widest = max(rows)
        return int(sum(w * w for w in rows) + 8 * widest * widest)

    @property
    def num_classes(self) -> int:
        return len(self.config.classes)

    def fused_channels(self) -> int:
        """The width of the point features that reach stage 2 (what
        :meth:`fuse_point_features` returns): the backbone's, ``fp_mlps[0][-1]``. A subclass
        that widens them overrides this (it is called in ``__init__``, from the config)."""
        return int(self.config.fp_mlps[0][-1])

    def fuse_point_features(
        self,
        batch: Mapping[str, Any],
        xyz: torch.Tensor,
        features: torch.Tensor,
        index: torch.Tensor,
    ) -> torch.Tensor:
        """The hook between the stages: the point features ``(B, fused_channels(), N)``
        stage 2 pools, from the backbone's ``features`` ``(B, fp_mlps[0][-1], N)`` of the
        points ``xyz`` ``(B, N, 3)`` (metres, the frame of the batch's clouds: after the
        range crop and subsampling, so row ``b`` holds points of ``batch["inputs"][b]``;
        ``index`` ``(B, N)`` int64 gives each one's row in that cloud). ``batch`` is the
        training batch in :meth:`loss` and ``{"inputs": inputs}`` (the inputs with points in
        range) in :meth:`predict`. PointRCNN returns ``features`` unchanged; PI-RCNN fuses
        the image here."""
        return features

    def input_channels(self) -> int:
        """The width of the point features the backbone takes (what :meth:`point_inputs`
        returns): ``point_features``. A subclass that widens them overrides this (it is called
        in ``__init__``, from the config)."""
        return int(self.config.point_features)

    def point_inputs(
        self,
        batch: Mapping[str, Any],
        xyz: torch.Tensor,
        features: torch.Tensor | None,
        index: torch.Tensor,
    ) -> torch.Tensor | None:
        """The hook before the backbone: the input point features ``(B, input_channels(),
        N)`` (None for 0 channels) of the points ``xyz`` ``(B, N, 3)`` whose own features
        (reflectance) are ``features`` ``(B, point_features, N)`` (None for 0 channels);
        ``batch`` and ``index`` as for :meth:`fuse_point_features`. PointRCNN returns
        ``features`` unchanged; PI-RCNN's early-fusion ablation appends image features."""
        return features

    # ------------------------------------------------------------------ inputs

    def _check_clouds(self, inputs: Any, what: str) -> list[PointCloud]:
        return check_point_clouds(
            inputs, what, num_features=self.config.point_features, max_abs=1e6
        )

    def _check_batch(
        self, batch: Any, what: str
    ) -> tuple[list[PointCloud], list[Boxes3D], list[torch.Tensor]]:
        return check_lidar_batch(
            batch, what, num_classes=self.num_classes, check_inputs=self._check_clouds
        )

    def _in_range(self, cloud: PointCloud) -> torch.Tensor:
        r = torch.tensor(self.config.point_range, dtype=cloud.xyz.dtype)
        xyz = cloud.xyz
        return ((xyz >= r[:3]) & (xyz < r[3:])).all(1)

    def _prepare(
        self, clouds: Sequence[PointCloud], generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """``(B, num_points, 3)`` points, ``(B, C, num_points)`` features (None for 0
        channels) and ``(B, num_points)`` int64 rows in their clouds, of clouds with points in
        range: subsampled without repeats or padded by repeating, in random order."""
        n = self.config.num_points
        ref = self._reference()
        rows, feats, picks = [], [], []
        for cloud in clouds:
            keep = self._in_range(cloud).nonzero()[:, 0]
            m = len(keep)
            if m >= n:
                pick = keep[torch.randperm(m, generator=generator)[:n]]
            else:
                extra = keep[torch.randint(m, (n - m,), generator=generator)]
                pick = torch.cat([keep, extra])[torch.randperm(n, generator=generator)]
            rows.append(cloud.xyz[pick].to(ref))
            feats.append(cloud.features[pick].to(ref))
            picks.append(pick)
        xyz = torch.stack(rows)
        features = None
        if self.config.point_features:
            features = torch.stack(feats).transpose(1, 2).contiguous()
        return xyz, features, torch.stack(picks).to(xyz.device)

    def _reference(self) -> torch.Tensor:
        return next(self.parameters())

    # ------------------------------------------------------------------ stage 1

    def stage_one(
        self, xyz: torch.Tensor, features: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Backbone features ``(B, C, N)``, class logits ``(B, N, K)`` and box codes
        ``(B, N, code_size)`` of prepared points ``xyz`` ``(B, N, 3)``."""
        point_features = self.backbone(xyz, features)
        cls, box = self.head(point_features.transpose(1, 2))
        return point_features, cls, box

    @torch.no_grad()
    def proposals(
        self, xyz: torch.Tensor, cls: torch.Tensor, box: torch.Tensor, *, training: bool
    ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per cloud ``(boxes (R, 7), scores (R,), labels (R,))``: each point's decoded box
        with its best class, the ``pre_nms`` best-scoring points, rotated BEV NMS, at most
        ``train_rois`` / ``test_rois`` kept (``R >= 1``)."""
        cfg = self.config
        count = cfg.train_rois if training else cfg.test_rois
        threshold = cfg.train_nms_iou if training else cfg.test_nms_iou
        out = []
        for b in range(len(xyz)):
            scores, labels = torch.sigmoid(cls[b]).max(1)
            top = scores.topk(min(cfg.pre_nms, len(scores))).indices
            boxes = self.coder.decode(xyz[b, top], box[b, top], labels[top])
            kept = rotated_nms(boxes[:, [0, 1, 3, 4, 6]], scores[top], threshold)[:count]
            out.append((boxes[kept], scores[top][kept], labels[top][kept]))
        return out

    def point_targets(
        self, xyz: torch.Tensor, boxes: Boxes3D, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per point of ``xyz`` ``(N, 3)``: its class label (``0`` background, ``k + 1`` class
        ``k``, ``-1`` ignored: within ``ignore_margin`` outside a box) and the index of its
        box (``-1`` for none)."""
        n = len(xyz)
        label = torch.zeros(n, dtype=torch.int64, device=xyz.device)
        index = torch.full((n,), -1, dtype=torch.int64, device=xyz.device)
        if len(boxes) == 0:
            return label, index
        b = Boxes3D(boxes.tensor.to(xyz))
        inside = points_in_boxes(xyz, b)
        near = points_in_boxes(xyz, b, margin=self.config.ignore_margin)
        fg = inside.any(1)
        index[fg] = inside[fg].to(torch.int8).argmax(1)
        label[fg] = labels.to(xyz.device)[index[fg]] + 1
        label[near.any(1) & ~fg] = -1
        return label, index

    # ------------------------------------------------------------------ stage 2

    def pool(
        self,
        xyz: torch.Tensor,
        features: torch.Tensor,
        scores: torch.Tensor,
        rois: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """RoI point pooling of one cloud: for each proposal of ``rois`` ``(R, 7)`` grown by
        ``pool_margin`` per side, ``roi_points`` of the points ``xyz`` ``(N, 3)`` inside
        (in index order, repeated cyclically when fewer), each as ``[canonical x, y, z,
        stage-1 score, depth / depth_normalizer - 0.5, features (C)]``: ``(R, roi_points, 5 +
        C)``, zeros for a proposal with no point; and ``(R,)`` bool, whether it had any.
        ``features`` is ``(C, N)``, ``scores`` ``(N,)``. With ``generator``, the points of a
        proposal holding more than ``roi_points`` are drawn at random instead."""
        cfg = self.config
        p = cfg.roi_points
        n = len(xyz)
        inside = points_in_boxes(xyz, Boxes3D(rois.detach()), margin=cfg.pool_margin).T  # (R, N)
        count = inside.sum(1)
        if generator is None:
            idx = pool_indices(inside, p)  # (R, P)
        else:
            key = (~inside).to(torch.float32)
            key = key + torch.rand(key.shape, generator=generator).to(key) * 0.5
            order = torch.argsort(key, dim=1, stable=True)  # the points inside first
            slots = torch.arange(p, device=xyz.device)[None] % count.clamp(min=1)[:, None]
            idx = order.gather(1, slots.clamp(max=n - 1))  # (R, P)
        depth = xyz.norm(dim=1) / cfg.depth_normalizer - 0.5
        extra = torch.stack([scores.detach(), depth], 1)  # (N, 2)
        local = canonical_points(xyz[idx].detach(), rois.detach())
        pooled = torch.cat([local, extra[idx], features.T[idx]], -1)
        has = count > 0
        pooled = pooled * has[:, None, None].to(pooled)
        return pooled, has

    def stage_two(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Confidence logits ``(R,)`` and box residuals ``(R, 7)`` of pooled points
        ``(R, P, 5 + fused_channels())`` (see :meth:`pool`)."""
        xyz = pooled[..., :3].contiguous()
        lifted = self.xyz_up(pooled[..., :5])
        merged = self.merge_down(torch.cat([lifted, pooled[..., 5:]], -1))  # (R, P, C)
        feats = merged.transpose(1, 2).contiguous()
        for block in self.rcnn_sa:
            out = block(xyz, feats)
            xyz, feats = out.xyz, out.features
        shared = feats[:, :, 0]  # (R, C)
        return self.rcnn_cls(shared)[:, 0], self.rcnn_reg(shared)

    def _augment_rois(
        self, gt: torch.Tensor, gt_labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``roi_augment`` jittered copies of each ground-truth box (centre moved by up to a
        tenth of each size, sizes scaled by up to 10%, yaw turned by up to 0.2 rad)."""
        k = self.config.roi_augment
        if k == 0 or len(gt) == 0:
            return gt[:0], gt_labels[:0]
        rows = gt.repeat(k, 1)
        noise = torch.rand(rows.shape, device=gt.device, dtype=gt.dtype) * 2 - 1
        out = rows.clone()
        out[:, :3] = rows[:, :3] + noise[:, :3] * 0.1 * rows[:, 3:6]
        out[:, 3:6] = rows[:, 3:6] * (1 + 0.1 * noise[:, 3:6])
        out[:, 6] = rows[:, 6] + 0.2 * noise[:, 6]
        return out, gt_labels.repeat(k)

    # ------------------------------------------------------------------ loss / predict

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Stage-1 and stage-2 losses of a batch as :func:`~xuframe.data.collate_lidar` gives
        it: ``"inputs"`` a non-empty list of :class:`~xuframe.PointCloud` (as for
        :meth:`predict`, each with at least one point in ``point_range``), ``"boxes"`` one
        :class:`~xuframe.Boxes3D` per cloud (sizes > 0), ``"labels"`` one integer label in
        ``0 .. len(classes) - 1`` per box. Returns ``point_cls``, ``point_loc``,
        ``point_heading``, ``point_size``, ``rcnn_cls``, ``rcnn_reg``, ``rcnn_corner`` (scalars,
        weighted). Raises :class:`~xuframe.errors.InputError` for anything else, before any
        work."""
        cfg = self.config
        what = f"{self.name}.loss"
        clouds, boxes, labels = self._check_batch(batch, what)
        for i, cloud in enumerate(clouds):
            if not bool(self._in_range(cloud).any()):
                raise InputError(
                    f"{what}: batch['inputs'][{i}]: expected points in point_range "
                    f"{list(cfg.point_range)} to train on, got none"
                )
        xyz, features, point_index = self._prepare(clouds, None)
        features = self.point_inputs(batch, xyz, features, point_index)
        point_features, cls, box = self.stage_one(xyz, features)
        ref = cls
        # stage 1 targets and losses
        cls_targets, weights, fg_rows, fg_boxes, fg_labels = [], [], [], [], []
        for b in range(len(clouds)):
            label, index = self.point_targets(xyz[b], boxes[b], labels[b])
            one_hot = F.one_hot(label.clamp(min=0), self.num_classes + 1)[:, 1:].to(ref)
            cls_targets.append(one_hot)
            weights.append((label >= 0).to(ref))
            fg = label > 0
            fg_rows.append(b * xyz.shape[1] + fg.nonzero()[:, 0])
            fg_boxes.append(boxes[b].tensor.to(ref)[index[fg]])
            fg_labels.append(label[fg] - 1)
        target = torch.stack(cls_targets)
        weight = torch.stack(weights)
        positives = float((target.sum(-1) > 0).sum())
        prob = torch.sigmoid(cls)
        ce = F.binary_cross_entropy_with_logits(cls, target, reduction="none")
        p_t = prob * target + (1 - prob) * (1 - target)
        alpha = cfg.focal_alpha * target + (1 - cfg.focal_alpha) * (1 - target)
        focal = alpha * (1 - p_t) ** cfg.focal_gamma * ce
        out: dict[str, torch.Tensor] = {
            "point_cls": cfg.point_cls_weight
            * (focal * weight[..., None]).sum()
            / max(positives, 1.0)
        }
        rows = torch.cat(fg_rows)
        flat_xyz = xyz.reshape(-1, 3)[rows]
        flat_box = box.reshape(-1, box.shape[-1])[rows]
        gt_rows = torch.cat(fg_boxes)
        parts = self.coder.loss(
            flat_box, self.coder.encode(flat_xyz, gt_rows, torch.cat(fg_labels))
        )
        out["point_loc"] = cfg.point_box_weight * parts["loc"]
        out["point_heading"] = cfg.point_box_weight * parts["heading"]
        out["point_size"] = cfg.point_box_weight * 3.0 * parts["size"]
        # proposals and their targets
        props = self.proposals(xyz, cls.detach(), box.detach(), training=True)
        fused = self.fuse_point_features(batch, xyz, point_features, point_index)
        scores = torch.sigmoid(cls.detach()).amax(-1)
        pooled, roi_list, gt_list, iou_list = [], [], [], []
        for b, (rois, _, roi_labels) in enumerate(props):
            gt = boxes[b].tensor.to(ref)
            gt_labels = labels[b].to(roi_labels.device)
            extra, extra_labels = self._augment_rois(gt, gt_labels)
            rois = torch.cat([rois, extra])
            roi_labels = torch.cat([roi_labels, extra_labels])
            chosen, ious, assigned = sample_proposals(
                rois,
                roi_labels,
                gt,
                gt_labels,
                count=cfg.roi_per_image,
                fg_fraction=cfg.fg_fraction,
                fg_iou=min(cfg.reg_fg_iou, cfg.cls_fg_iou),
                bg_iou_low=cfg.bg_iou_low,
                hard_bg_fraction=cfg.hard_bg_fraction,
            )
            picked = rois[chosen]
            pooled.append(self.pool(xyz[b], fused[b], scores[b], picked)[0])
            roi_list.append(picked)
            gt_list.append(gt[assigned] if len(gt) else torch.zeros_like(picked))
            iou_list.append(ious)
        logits, reg = self.stage_two(torch.cat(pooled))
        rois = torch.cat(roi_list)
        gt_of_rois = torch.cat(gt_list)
        ious = torch.cat(iou_list)
        if cfg.rcnn_score == "cls":
            target_cls = (ious > cfg.cls_fg_iou).to(ref)
            valid = ((ious > cfg.cls_fg_iou) | (ious < cfg.cls_bg_iou)).to(ref)
        else:
            span = max(cfg.cls_fg_iou - cfg.cls_bg_iou, 1e-6)
            target_cls = ((ious - cfg.cls_bg_iou) / span).clamp(0, 1).to(ref)
            valid = torch.ones_like(target_cls)
        bce = F.binary_cross_entropy_with_logits(logits, target_cls, reduction="none")
        out["rcnn_cls"] = cfg.rcnn_cls_weight * (bce * valid).sum() / valid.sum().clamp(min=1)
        fg = ious > cfg.reg_fg_iou
        if bool(fg.any()):
            targets = encode_residuals(gt_of_rois[fg], rois[fg])
            reg_loss = F.smooth_l1_loss(reg[fg], targets, reduction="none").sum(1).mean()
            decoded = decode_residuals(reg[fg], rois[fg])
            corner = corner_loss(decoded, gt_of_rois[fg]).mean()
        else:
            reg_loss = corner = reg.sum() * 0.0
        out["rcnn_reg"] = cfg.rcnn_reg_weight * reg_loss
        out["rcnn_corner"] = cfg.rcnn_corner_weight * corner
        return out

    @torch.no_grad()
    def predict(self, inputs: Any) -> list[Detections]:
        """Per cloud: the proposals (stage 1, ``test_rois`` after NMS), refined by stage 2,
        scored by the stage-2 confidence and labelled with the stage-1 class; those above
        ``score_threshold``, rotated BEV NMS over all classes (``nms_iou``), at most
        ``max_detections``.

        ``inputs`` is a non-empty list of :class:`~xuframe.PointCloud` in the LiDAR frame,
        each with ``point_features`` finite feature channels; a cloud without points in
        ``point_range`` (an empty one) gives no detections. Raises
        :class:`~xuframe.errors.InputError` for anything else. Repeatable: the subsampling
        uses a fixed seed."""
        cfg = self.config
        clouds = self._check_clouds(inputs, f"{self.name}.predict: inputs")
        empty = Detections(
            Boxes3D(torch.zeros(0, 7)),
            torch.zeros(0),
            torch.zeros(0, dtype=torch.int64),
        )
        out: list[Detections] = [empty] * len(clouds)
        live = [i for i, c in enumerate(clouds) if bool(self._in_range(c).any())]
        if not live:
            return out
        check_memory(
            4.0 * len(live) * cfg.num_points * (self.backbone.out_channels + 64),
            f"{self.name}.predict: the point features of {len(live)} clouds",
        )
        generator = torch.Generator().manual_seed(0)
        xyz, features, index = self._prepare([clouds[i] for i in live], generator)
        hook_batch = {"inputs": [inputs[i] for i in live]}
        features = self.point_inputs(hook_batch, xyz, features, index)
        point_features, cls, box = self.stage_one(xyz, features)
        props = self.proposals(xyz, cls, box, training=False)
        fused = self.fuse_point_features(hook_batch, xyz, point_features, index)
        scores = torch.sigmoid(cls).amax(-1)
        for b, (rois, _, roi_labels) in enumerate(props):
            pooled, has = self.pool(xyz[b], fused[b], scores[b], rois)
            logits, reg = self.stage_two(pooled)
            refined = decode_residuals(reg, rois)
            score = torch.sigmoid(logits)
            ok = (score >= cfg.score_threshold) & has & torch.isfinite(refined).all(1)
            ok &= (refined[:, 3:6] > 0).all(1)
            refined, score, label = refined[ok], score[ok], roi_labels[ok]
            kept = rotated_nms(refined[:, [0, 1, 3, 4, 6]], score, cfg.nms_iou)
            dets = Detections(
                Boxes3D(refined[kept].float().cpu()),
                score[kept].float().cpu(),
                label[kept].cpu(),
            )
            out[live[b]] = dets.top(cfg.max_detections)
        return out

    @classmethod
    def example_batch(cls, batch_size: int = 2, seed: int = 0) -> dict[str, Any]:
        from xuframe_plugins.denfi.training import example_lidar_batch

        return example_lidar_batch(batch_size, seed)

    @classmethod
    def demo(cls, seed: int = 0, kitti: str | None = None) -> DemoResult:
        """The shipped ``synthetic`` weights (the demo-size config) on 40 held-out synthetic
        scenes: KITTI AP (R40) and a bird's-eye picture; with ``kitti`` (a KITTI-layout folder:
        ``xuframe demo pointrcnn --kitti DIR``), the labelled objects they find in its real
        frames (see :mod:`xuframe_plugins.pircnn.demo`)."""
        from xuframe_plugins.pircnn.demo import demo

        return demo(cls, seed, kitti)


#: Scenes for the demo model: objects within 30 m and a 60-degree field of view.
DEMO_SCENES: dict[str, Any] = {"max_range": 30.0, "field_of_view": 60.0, "max_objects": 8}

#: A small PointRCNN for demos and tests: 30 x 30 m in front of the sensor, 2,048 points, a
#: quarter of the centres per level and narrow layers, 64 proposals of 64 points.
DEMO_CONFIG: dict[str, Any] = {
    "point_range": [0.0, -15.0, -3.0, 30.0, 15.0, 1.0],
    "num_points": 2048,
    "npoints": [512, 128, 32, 16],
    "radii": [[0.5, 1.0], [1.0, 2.0], [2.0, 4.0], [4.0, 8.0]],
    "ks": [[8, 16], [8, 16], [8, 16], [8, 16]],
    "sa_mlps": [
        [[16, 32], [16, 32]],
        [[32, 64], [32, 64]],
        [[64, 64], [64, 64]],
        [[64, 128], [64, 128]],
    ],
    "fp_mlps": [[64, 64], [64, 64], [128, 128], [128, 128]],
    "head_fc": [64],
    "pre_nms": 128,
    "train_rois": 64,
    "test_rois": 32,
    "roi_per_image": 32,
    "roi_points": 64,
    "xyz_up": [32],
    "rcnn_npoints": [16],
    "rcnn_radii": [0.8],
    "rcnn_ks": [16],
    "rcnn_mlps": [[32, 64], [64, 128]],
    "rcnn_fc": [64],
}
