"""``pillars-baseline`` (pillars -> 2-D backbone -> dense boundary head) and ``denfi`` (the
same, plus the DENFI conv guided by the first head's boxes and a second head)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import torch
from torch import nn

from xuframe import DemoResult, Detector, config_field, positive
from xuframe.data import LIDAR_CLASSES, LidarScenes
from xuframe.errors import ConfigError, InputError
from xuframe.ops import rotated_nms
from xuframe.types import Boxes3D, Detections, PointCloud
from xuframe_plugins.denfi.layers import DenfiConv
from xuframe_plugins.denfi.pillars import BevBackbone, BevGrid, PillarEncoder
from xuframe_plugins.denfi.targets import (
    REG_FIXED,
    boundary_losses,
    boundary_targets,
    decode_boundaries,
)

__all__ = ["DenseBoundaryHead", "Denfi", "PillarsBaseline"]

STRIDE = 2  # the backbone's output stride, in pillars


def _unit(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0 < value <= 1:
        raise ConfigError(f"{attribute.name} must be in (0, 1], got {value}")


class DenseBoundaryHead(nn.Module):
    """One 3x3 conv, then 1x1 convs to class logits ``(B, C, H, W)`` and regression
    ``(B, 4 + 2 num_bins + 4, H, W)`` (see :mod:`xuframe_plugins.denfi.targets`)."""

    def __init__(self, cin: int, channels: int, num_classes: int, num_bins: int) -> None:
        super().__init__()
        self.shared = nn.Sequential(
            nn.Conv2d(cin, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels, eps=1e-3, momentum=0.1),
            nn.ReLU(inplace=True),
        )
        self.cls, self.reg = _outputs(channels, num_classes, num_bins)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Class logits, regression and the shared features they came from."""
        y = self.shared(x)
        return self.cls(y), self.reg(y), y


def _outputs(channels: int, num_classes: int, num_bins: int) -> tuple[nn.Conv2d, nn.Conv2d]:
    cls = nn.Conv2d(channels, num_classes, 1)
    reg = nn.Conv2d(channels, 2 * num_bins + REG_FIXED, 1)
    nn.init.constant_(cls.bias, -math.log((1 - 0.01) / 0.01))
    nn.init.normal_(reg.weight, std=0.01)
    nn.init.zeros_(reg.bias)
    return cls, reg


class PillarsBaseline(Detector):
    """A PointPillars-style single-stage detector with DENFI's dense boundary head:
    ``pillars-baseline``.

    Inputs are lists of :class:`~xuframe.PointCloud` (LiDAR frame, one feature channel:
    reflectance); a training batch is what :func:`~xuframe.data.collate_lidar` returns
    (``"inputs"``, ``"boxes"``, ``"labels"`` with class indices into ``classes``). Points outside
    ``point_range`` are dropped; an empty cloud is valid (it gives a blank BEV map)."""

    name: ClassVar[str] = "pillars-baseline"
    geometry: ClassVar[type[Boxes3D]] = Boxes3D

    @attrs.frozen
    class Config:
        classes: tuple[str, ...] = config_field(LIDAR_CLASSES, doc="class names, in label order")
        point_range: tuple[float, ...] = config_field(
            (0.0, -32.0, -3.0, 51.2, 32.0, 1.0),
            doc="x_min, y_min, z_min, x_max, y_max, z_max of the points used, metres",
        )
        pillar_size: tuple[float, ...] = config_field((0.32, 0.32), doc="pillar dx, dy, metres")
        point_features: int = config_field(1, doc="feature channels per point (reflectance)")
        pillar_channels: int = config_field(32, doc="pillar feature width", validator=positive)
        widths: tuple[int, ...] = config_field((32, 64, 128), doc="backbone block widths")
        layers: int = config_field(2, doc="extra 3x3 convs per backbone block")
        up_channels: int = config_field(
            32, doc="channels of each upsampled block output", validator=positive
        )
        head_channels: int = config_field(64, doc="head conv width", validator=positive)
        num_bins: int = config_field(6, doc="heading bins over [0, pi)", validator=positive)
        shrink: float = config_field(
            0.4, doc="positive region: the box shrunk to this fraction per side", validator=_unit
        )
        cls_weight: float = config_field(1.0, doc="focal loss weight", validator=positive)
        iou_weight: float = config_field(2.0, doc="boundary IoU loss weight", validator=positive)
        angle_weight: float = config_field(
            0.5, doc="heading bin/residual/direction loss weight", validator=positive
        )
        box_weight: float = config_field(
            1.0, doc="z and log-height loss weight", validator=positive
        )
        score_threshold: float = config_field(0.05, doc="detections below this score are dropped")
        pre_nms: int = config_field(
            500, doc="highest-scoring cells decoded per sample", validator=positive
        )
        nms_iou: float = config_field(
            0.1, doc="rotated BEV NMS threshold, per class", validator=_unit
        )
        class_agnostic_nms: bool = config_field(
            False, doc="one NMS over all classes (a spot keeps only its best class)"
        )
        max_detections: int = config_field(50, doc="detections kept per sample", validator=positive)

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        cfg = self.config
        if len(cfg.point_range) != 6 or len(cfg.pillar_size) != 2:
            raise ConfigError("point_range needs 6 numbers and pillar_size 2")
        self.encoder = PillarEncoder(
            cfg.point_range, cfg.pillar_size, cfg.point_features, cfg.pillar_channels
        )
        if self.encoder.grid.nx % 8 or self.encoder.grid.ny % 8:
            raise ConfigError(
                f"the pillar grid ({self.encoder.grid.nx} x {self.encoder.grid.ny}) must be divisible by 8"
            )
        self.grid = BevGrid.from_range(cfg.point_range, cfg.pillar_size, STRIDE)
        self.backbone = BevBackbone(cfg.pillar_channels, cfg.widths, cfg.layers, cfg.up_channels)
        self.head = DenseBoundaryHead(
            self.backbone.channels, cfg.head_channels, self.num_classes, cfg.num_bins
        )

    @property
    def num_classes(self) -> int:
        return len(self.config.classes)

    def _check_inputs(self, inputs: Any) -> Sequence[PointCloud]:
        if not isinstance(inputs, (list, tuple)) or not all(
            isinstance(c, PointCloud) for c in inputs
        ):
            raise InputError(
                f"{self.name}: expected a list of PointCloud, got {type(inputs).__name__}"
            )
        if not inputs:
            raise InputError(f"{self.name}: expected at least one point cloud")
        return inputs

    def features(self, clouds: Sequence[PointCloud]) -> torch.Tensor:
        """The backbone's ``(B, C, ny, nx)`` BEV features on :attr:`grid`."""
        return self.backbone(self.encoder(self._check_inputs(clouds)))

    def forward(self, clouds: Sequence[PointCloud]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(class logits, regression)`` of each head, the one used for detection last."""
        cls, reg, _ = self.head(self.features(clouds))
        return [(cls, reg)]

    def targets(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        cfg = self.config
        for key in ("inputs", "boxes", "labels"):
            if key not in batch:
                raise InputError(
                    f"{self.name}.loss: expected batch key {key!r} (use collate_lidar)"
                )
        per = [
            boundary_targets(b, lab, self.grid, self.num_classes, cfg.shrink, cfg.num_bins)
            for b, lab in zip(batch["boxes"], batch["labels"], strict=True)
        ]
        return {k: torch.stack([p[k] for p in per]) for k in per[0]}

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        cfg = self.config
        targets = self.targets(batch)  # checks the batch keys first
        out: dict[str, torch.Tensor] = {}
        heads = self(batch["inputs"])
        targets = {k: v.to(heads[0][1].device) for k, v in targets.items()}
        for i, (cls, reg) in enumerate(heads):
            parts = boundary_losses(cls, reg, targets, self.grid, cfg.num_bins)
            prefix = "" if i == len(heads) - 1 else "dbpm_"
            out[prefix + "cls"] = cfg.cls_weight * parts["cls"]
            out[prefix + "iou"] = cfg.iou_weight * parts["iou"]
            out[prefix + "angle"] = cfg.angle_weight * parts["angle"]
            out[prefix + "box"] = cfg.box_weight * parts["box"]
        return out

    @torch.no_grad()
    def predict(self, inputs: Any) -> list[Detections]:
        """Per cloud: the ``pre_nms`` best cells over all classes above ``score_threshold``,
        decoded to boxes, rotated BEV NMS (per class, or over all classes with
        ``class_agnostic_nms``), the ``max_detections`` best kept."""
        cfg = self.config
        cls, reg = self(inputs)[-1]
        scores = torch.sigmoid(cls)
        boxes = decode_boundaries(reg, self.grid, cfg.num_bins)  # (B, H, W, 7)
        out = []
        b, _, h, w = scores.shape
        for i in range(b):
            flat = scores[i].reshape(-1)
            top, index = flat.topk(min(cfg.pre_nms, flat.numel()))
            keep = top >= cfg.score_threshold
            top, index = top[keep], index[keep]
            label = torch.div(index, h * w, rounding_mode="floor")
            cand = boxes[i].reshape(-1, 7)[index % (h * w)]
            ok = (cand[:, 3:6] > 0).all(1) & torch.isfinite(cand).all(1)
            cand, top, label = cand[ok], top[ok], label[ok]
            chosen = []
            groups = (
                [label >= 0] if cfg.class_agnostic_nms else [label == k for k in label.unique()]
            )
            for group in groups:
                sel = group.nonzero()[:, 0]
                kept = rotated_nms(cand[sel][:, [0, 1, 3, 4, 6]], top[sel], cfg.nms_iou)
                chosen.append(sel[kept])
            idx = torch.cat(chosen) if chosen else torch.zeros(0, dtype=torch.int64)
            dets = Detections(Boxes3D(cand[idx].float()), top[idx], label[idx])
            out.append(dets.top(cfg.max_detections))
        return out

    @classmethod
    def example_batch(cls, batch_size: int = 2, seed: int = 0) -> dict[str, Any]:
        from xuframe.data import collate_lidar

        scenes = LidarScenes(batch_size, seed=seed, azimuth_step=0.5, max_objects=6)
        return collate_lidar(
            [{"points": s.points, "boxes": s.boxes, "labels": s.labels, "frame_id": str(i)}
             for i, s in enumerate(scenes[j] for j in range(batch_size))]
        )  # fmt: skip

    @classmethod
    def demo(cls, seed: int = 0, kitti: str | None = None) -> DemoResult:
        """The shipped ``synthetic`` weights on 32 held-out synthetic scenes: KITTI AP (R40);
        with ``kitti`` (a KITTI-layout folder: ``xuframe demo denfi --kitti DIR``), the
        labelled objects they find in its real frames (see :mod:`xuframe_plugins.denfi.demo`)."""
        from xuframe_plugins.denfi.demo import demo

        return demo(cls, seed, kitti)


#: Scenes for the demo model: objects within 25 m and a 60-degree field of view.
DEMO_SCENES: dict[str, Any] = {"max_range": 30.0, "field_of_view": 60.0, "max_objects": 8}
#: A smaller model for demos and tests: 25.6 x 25.6 m in front of the sensor.
DEMO_CONFIG: dict[str, Any] = {
    "point_range": [0.0, -12.8, -3.0, 25.6, 12.8, 1.0],
    "widths": [16, 32, 64],
    "layers": 1,
    "up_channels": 16,
    "head_channels": 32,
    "pillar_channels": 16,
}


class Denfi(PillarsBaseline):
    """DENFI (Xu, Wang, Liu et al., 2020) on the pillars baseline: ``denfi``.

    The first head is the Dense Boundary Proposal Module; the box it predicts at each cell
    guides the DENFI conv (:class:`~xuframe_plugins.denfi.layers.DenfiConv`) over the backbone
    features; its output, next to the first head's own features, feeds the 1x1 convs that
    predict the detections (the DENFI conv stands in for the detection head's 3x3 conv).
    Both heads are trained with the same targets (the first head's losses are logged with a
    ``dbpm_`` prefix); the proposals are detached before they steer the sampling."""

    name: ClassVar[str] = "denfi"

    @attrs.frozen
    class Config(PillarsBaseline.Config):
        dbpm_weight: float = config_field(
            1.0, doc="weight of the first head's losses", validator=positive
        )
        denfi_channels: int = config_field(
            16, doc="channels the DENFI conv samples at the boundary points", validator=positive
        )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        cfg = self.config
        self.denfi = DenfiConv(self.backbone.channels, cfg.denfi_channels, cfg.head_channels)
        self.final_cls, self.final_reg = _outputs(
            2 * cfg.head_channels, self.num_classes, cfg.num_bins
        )

    def forward(self, clouds: Sequence[PointCloud]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        x = self.features(clouds)
        cls1, reg1, shared = self.head(x)
        proposals = decode_boundaries(reg1.detach(), self.grid, self.config.num_bins)
        y = torch.cat([shared, self.denfi(x, proposals, self.grid)], 1)
        return [(cls1, reg1), (self.final_cls(y), self.final_reg(y))]

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        out = super().loss(batch)
        w = self.config.dbpm_weight
        return {k: (w * v if k.startswith("dbpm_") else v) for k, v in out.items()}
