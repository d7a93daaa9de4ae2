"""``pillars-baseline`` (pillars -> 2-D backbone -> dense boundary head) and ``denfi`` (the
same, plus the DENFI conv guided by the first head's boxes and a second head)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import torch
from torch import nn

from xuframe import (
    DemoResult,
    Detector,
    class_names,
    config_field,
    fraction,
    non_negative,
    positive,
)
from xuframe.data import LIDAR_CLASSES
from xuframe.errors import ConfigError
from xuframe.nn import BevBackbone, BevGrid, PillarEncoder
from xuframe.nn._bev import _check_cells, _check_point_range
from xuframe.ops import rotated_nms
from xuframe.types import Boxes3D, Detections, PointCloud
from xuframe.validation import check_int, check_lidar_batch, check_memory, check_tensor
from xuframe_plugins.denfi.layers import DenfiConv
from xuframe_plugins.denfi.targets import (
    REG_FIXED,
    _boundary_losses,
    _decode_boundaries,
    boundary_targets,
)

__all__ = ["DenseBoundaryHead", "Denfi", "PillarsBaseline"]

STRIDE = 2  # the backbone's output stride, in pillars


def _unit(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0 < value <= 1:
        raise ConfigError(f"{attribute.name} must be in (0, 1], got {value}")


def _layer_count(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    # each layer is a 3x3 conv over a full BEV map: PointPillars uses 3 to 5; a bound keeps a
    # typo (10**9) from building modules for minutes before the memory check could refuse it
    check_int(value, attribute.name, min=0, max=64, error=ConfigError)


def _three_widths(_: Any, attribute: attrs.Attribute[Any], value: tuple[int, ...]) -> None:
    if len(value) != 3:
        raise ConfigError(f"{attribute.name}: expected 3 block widths, got {list(value)}")
    for i, w in enumerate(value):
        check_int(w, f"{attribute.name}[{i}]", min=1, error=ConfigError)


class DenseBoundaryHead(nn.Module):
    """One 3x3 conv, then 1x1 convs to class logits ``(B, C, H, W)`` and regression
    ``(B, 4 + 2 num_bins + 4, H, W)`` (see :mod:`xuframe_plugins.denfi.targets`). The four
    sizes are ints >= 1; anything else raises :class:`~xuframe.errors.InputError`."""

    def __init__(self, cin: int, channels: int, num_classes: int, num_bins: int) -> None:
        super().__init__()
        self.cin = check_int(cin, "DenseBoundaryHead: cin", min=1)
        channels = check_int(channels, "DenseBoundaryHead: channels", min=1)
        num_classes = check_int(num_classes, "DenseBoundaryHead: num_classes", min=1)
        num_bins = check_int(num_bins, "DenseBoundaryHead: num_bins", min=1)
        self.shared = nn.Sequential(
            nn.Conv2d(cin, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels, eps=1e-3, momentum=0.1),
            nn.ReLU(inplace=True),
        )
        self.cls, self.reg = _outputs(channels, num_classes, num_bins)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Class logits, regression and the shared features they came from; ``x`` is a finite
        floating ``(B, cin, H, W)`` tensor."""
        check_tensor(x, "DenseBoundaryHead: x", shape=(None, self.cin, None, None))
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
        classes: tuple[str, ...] = config_field(
            LIDAR_CLASSES, doc="class names, in label order", validator=class_names
        )
        point_range: tuple[float, ...] = config_field(
            (0.0, -32.0, -3.0, 51.2, 32.0, 1.0),
            doc="x_min, y_min, z_min, x_max, y_max, z_max of the points used, metres",
        )
        pillar_size: tuple[float, ...] = config_field((0.32, 0.32), doc="pillar dx, dy, metres")
        point_features: int = config_field(
            1, doc="feature channels per point (reflectance)", validator=non_negative
        )
        pillar_channels: int = config_field(32, doc="pillar feature width", validator=positive)
        widths: tuple[int, ...] = config_field(
            (32, 64, 128), doc="backbone block widths", validator=_three_widths
        )
        layers: int = config_field(
            2, doc="extra 3x3 convs per backbone block (at most 64)", validator=_layer_count
        )
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
        score_threshold: float = config_field(
            0.05, doc="detections below this score are dropped", validator=fraction
        )
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
        point_range = _check_point_range(
            cfg.point_range, f"{self.name}: point_range", error=ConfigError
        )
        nx, ny = _check_cells(
            point_range, cfg.pillar_size, f"{self.name}: pillar_size", error=ConfigError
        )
        if nx % 8 or ny % 8:
            raise ConfigError(f"the pillar grid ({nx} x {ny}) must be divisible by 8")
        params = self._parameter_count()
        check_memory(
            4.0 * params,
            f"{self.name}: the weights ({params:.3g} parameters for these channel counts, "
            f"layers and num_bins)",
            error=ConfigError,
        )
        floats = self._floats_per_pillar()
        check_memory(
            4.0 * nx * ny * floats,
            f"{self.name}: one point cloud's largest feature map ({nx} x {ny} pillars: "
            f"point_range / pillar_size, {floats:g} floats each)",
            error=ConfigError,
        )
        self.encoder = PillarEncoder(
            cfg.point_range, cfg.pillar_size, cfg.point_features, cfg.pillar_channels
        )
        self.grid = BevGrid.from_range(cfg.point_range, cfg.pillar_size, STRIDE)
        self.backbone = BevBackbone(cfg.pillar_channels, cfg.widths, cfg.layers, cfg.up_channels)
        self.head = DenseBoundaryHead(
            self.backbone.channels, cfg.head_channels, self.num_classes, cfg.num_bins
        )

    @property
    def num_classes(self) -> int:
        return len(self.config.classes)

    def _parameter_count(self) -> int:
        """The number of weights of this config (convolutions and linear layers; biases and
        batch norms add under 1%), so that weights that cannot fit are refused before they are
        made."""
        cfg = self.config
        outputs = len(cfg.classes) + 2 * cfg.num_bins + REG_FIXED
        count = (8 + cfg.point_features) * cfg.pillar_channels
        prev = cfg.pillar_channels
        for width, factor in zip(cfg.widths, (1, 2, 4), strict=True):
            count += 9 * prev * width + cfg.layers * 9 * width * width
            count += width * cfg.up_channels * factor * factor
            prev = width
        return int(count + 27 * cfg.up_channels * cfg.head_channels + cfg.head_channels * outputs)

    def _floats_per_pillar(self) -> float:
        """Floats per pillar of one cloud's largest feature map: the pillar canvas, or a map at
        stride 2 (a quarter of the cells): backbone, upsampled concat, head, targets."""
        cfg = self.config
        stride_2 = max(
            cfg.widths[0],
            3 * cfg.up_channels,
            cfg.head_channels,
            2 * cfg.num_bins + REG_FIXED,
            len(cfg.classes) + 12,
        )
        return float(max(cfg.pillar_channels, stride_2 / 4))

    def _check_inputs(self, inputs: Any, what: str) -> list[PointCloud]:
        clouds = self.encoder.check_clouds(inputs, what)
        g = self.encoder.grid
        check_memory(
            4.0 * len(clouds) * g.nx * g.ny * self._floats_per_pillar(),
            f"{what}: the largest feature map of {len(clouds)} point clouds on {g.nx} x {g.ny} pillars",
        )
        return clouds

    def _check_batch(
        self, batch: Any, what: str
    ) -> tuple[list[PointCloud], list[Boxes3D], list[torch.Tensor]]:
        """The batch's clouds, boxes and labels, all checked (see :meth:`loss`)."""
        return check_lidar_batch(
            batch, what, num_classes=self.num_classes, check_inputs=self._check_inputs
        )

    def features(self, clouds: Sequence[PointCloud]) -> torch.Tensor:
        """The backbone's ``(B, C, ny, nx)`` BEV features on :attr:`grid`; ``clouds`` as for
        :meth:`predict`."""
        return self.backbone(self.encoder(self._check_inputs(clouds, f"{self.name}: clouds")))

    def forward(self, clouds: Sequence[PointCloud]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(class logits, regression)`` of each head, the one used for detection last."""
        cls, reg, _ = self.head(self.features(clouds))
        return [(cls, reg)]

    def targets(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """The stacked :func:`boundary_targets` of the batch's boxes and labels on :attr:`grid`;
        the batch is checked as in :meth:`loss`."""
        _, boxes, labels = self._check_batch(batch, f"{self.name}.targets")
        return self._targets(boxes, labels)

    def _targets(self, boxes: list[Boxes3D], labels: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        cfg = self.config
        per = [
            boundary_targets(b, lab, self.grid, self.num_classes, cfg.shrink, cfg.num_bins)
            for b, lab in zip(boxes, labels, strict=True)
        ]
        return {k: torch.stack([p[k] for p in per]) for k in per[0]}

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Classification, boundary IoU, heading and box losses of a batch as
        :func:`~xuframe.data.collate_lidar` gives it: ``"inputs"`` a non-empty list of
        :class:`~xuframe.PointCloud` (as for :meth:`predict`), ``"boxes"`` a list of one
        :class:`~xuframe.Boxes3D` per cloud (sizes > 0) and ``"labels"`` a list of one integer
        label sequence per cloud, one label in ``0 .. len(classes) - 1`` per box. Raises
        :class:`~xuframe.errors.InputError` for anything else, before any work."""
        cfg = self.config
        clouds, boxes, labels = self._check_batch(batch, f"{self.name}.loss")
        targets = self._targets(boxes, labels)
        out: dict[str, torch.Tensor] = {}
        heads = self(clouds)
        targets = {k: v.to(heads[0][1].device) for k, v in targets.items()}
        for i, (cls, reg) in enumerate(heads):
            parts = _boundary_losses(cls, reg, targets, self.grid, cfg.num_bins)
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
        ``class_agnostic_nms``), the ``max_detections`` best kept.

        ``inputs`` is a non-empty list of :class:`~xuframe.PointCloud` in the LiDAR frame, each
        with ``point_features`` feature channels; an empty cloud is valid (it gives no
        detections, or few). Raises :class:`~xuframe.errors.InputError` for anything else,
        and for a batch whose feature maps would not fit in memory."""
        cfg = self.config
        clouds = self._check_inputs(inputs, f"{self.name}.predict: inputs")
        cls, reg = self(clouds)[-1]
        scores = torch.sigmoid(cls)
        boxes = _decode_boundaries(reg, self.grid, cfg.num_bins)  # (B, H, W, 7)
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
        from xuframe_plugins.denfi.training import example_lidar_batch

        return example_lidar_batch(batch_size, seed)

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
        proposals = _decode_boundaries(reg1.detach(), self.grid, self.config.num_bins)
        y = torch.cat([shared, self.denfi(x, proposals, self.grid)], 1)
        return [(cls1, reg1), (self.final_cls(y), self.final_reg(y))]

    def _parameter_count(self) -> int:
        cfg = self.config
        outputs = len(cfg.classes) + 2 * cfg.num_bins + REG_FIXED
        dc, hc = cfg.denfi_channels, cfg.head_channels
        own = 3 * cfg.up_channels * dc + 9 * dc + dc * hc + 2 * hc * outputs
        return super()._parameter_count() + int(own)

    def _floats_per_pillar(self) -> float:
        cfg = self.config
        # the DENFI conv's nine samples per narrowed channel, and the two heads' concat
        own = max(9 * cfg.denfi_channels, 2 * cfg.head_channels) / 4
        return float(max(super()._floats_per_pillar(), own))

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        out = super().loss(batch)
        w = self.config.dbpm_weight
        return {k: (w * v if k.startswith("dbpm_") else v) for k, v in out.items()}
