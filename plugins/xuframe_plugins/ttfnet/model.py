"""The TTFNet detector: ResNet-18, a 32x -> 4x upsampling neck, heatmap and box heads."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from xuframe import DemoResult, Detector, config_field, fraction, positive
from xuframe.data import ShapesDataset, collate_detection
from xuframe.errors import ConfigError, InputError
from xuframe.ops import heatmap_peaks
from xuframe.types import Boxes2D, Detections
from xuframe.validation import check_memory, check_targets, check_tensor
from xuframe_plugins.ttfnet.layers import ModulatedDeformConv2d, ResNet18
from xuframe_plugins.ttfnet.targets import _decode_boxes, _focal_loss, _giou_loss, encode_targets

__all__ = ["TTFNet", "TTFNetTiny"]

STRIDE = 4


def _conv_bn_relu(cin: int, cout: int, deform: bool) -> nn.Sequential:
    conv: nn.Module = (
        ModulatedDeformConv2d(cin, cout, 3, 1, bias=False)
        if deform
        else nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
    )
    return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _shortcut(cin: int, cout: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(layers):
        mods.append(nn.Conv2d(cin if i == 0 else cout, cout, 3, 1, 1))
        if i < layers - 1:
            mods.append(nn.ReLU(inplace=True))
    return nn.Sequential(*mods)


def _head(cin: int, mid: int, cout: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Conv2d(cin if i == 0 else mid, mid, 3, 1, 1), nn.ReLU(inplace=True)]
    mods.append(nn.Conv2d(mid if layers else cin, cout, 1))
    return nn.Sequential(*mods)


def _parameter_count(cfg: Any) -> int:
    """The number of weights of a TTFNet of ``cfg`` (convolutions; biases and batch norms add
    under 1%), so that a config whose weights cannot fit is refused before they are made."""
    w, hc, wc = cfg.width, cfg.head_conv, cfg.wh_conv
    channels, inputs = (w, 2 * w, 4 * w, 8 * w), (w, w, 2 * w, 4 * w)
    backbone = 147 * w + sum(
        9 * a * b + 27 * b * b + a * b for a, b in zip(inputs, channels, strict=True)
    )
    pairs = ((8 * w, 4 * w), (4 * w, 2 * w), (2 * w, w))
    offsets = sum(243 * a for a, _ in pairs) if cfg.deform else 0
    neck = sum(9 * a * b for a, b in pairs) + offsets + 9 * 27 * w * w
    heads = 9 * w * hc + 9 * hc * hc + hc * cfg.num_classes + 9 * w * wc + 4 * wc
    return int(backbone + neck + heads)


class TTFNet(Detector):
    """TTFNet (Liu, Zheng, Xu et al., AAAI 2020) with a ResNet-18 backbone: ``ttfnet-r18``.

    Inputs are ``(B, 3, H, W)`` normalised images with ``H, W`` multiples of 32; boxes come back
    in input pixels. A training batch is what :func:`xuframe.data.collate_detection` returns.
    """

    name: ClassVar[str] = "ttfnet-r18"
    geometry: ClassVar[type[Boxes2D]] = Boxes2D

    @attrs.frozen
    class Config:
        num_classes: int = config_field(
            4, doc="object classes (the shapes set has 4)", validator=positive
        )
        width: int = config_field(64, doc="backbone width (64: ResNet-18)", validator=positive)
        head_conv: int = config_field(128, doc="heatmap head channels", validator=positive)
        wh_conv: int = config_field(64, doc="box head channels", validator=positive)
        deform: bool = config_field(
            True, doc="modulated deformable convs in the neck (False: plain 3x3)"
        )
        alpha: float = config_field(0.54, doc="heatmap Gaussian radius factor", validator=fraction)
        beta: float = config_field(
            0.54,
            doc="regression-sample Gaussian radius factor (0: centre only)",
            validator=fraction,
        )
        wh_offset_base: float = config_field(
            16.0, doc="box head scale: distances are relu(x) * this", validator=positive
        )
        hm_weight: float = config_field(1.0, doc="heatmap (focal) loss weight", validator=positive)
        wh_weight: float = config_field(5.0, doc="GIoU loss weight", validator=positive)
        topk: int = config_field(100, doc="detections kept per image", validator=positive)
        score_threshold: float = config_field(
            0.01, doc="detections below this score are dropped", validator=fraction
        )
        input_size: int = config_field(
            512, doc="training / demo input side (a multiple of 32)", validator=positive
        )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        cfg = self.config
        if cfg.input_size % 32:
            raise ConfigError(f"input_size must be a multiple of 32, got {cfg.input_size}")
        params = _parameter_count(cfg)
        check_memory(
            4.0 * params,
            f"{self.name}: the weights ({params:.3g} parameters for width {cfg.width}, "
            f"head_conv {cfg.head_conv}, wh_conv {cfg.wh_conv}, num_classes {cfg.num_classes})",
            error=ConfigError,
        )
        self.backbone = ResNet18(cfg.width)
        c2, c3, c4, c5 = self.backbone.channels
        planes = (4 * cfg.width, 2 * cfg.width, cfg.width)
        self.up = nn.ModuleList(
            [
                _conv_bn_relu(c5, planes[0], cfg.deform),
                _conv_bn_relu(planes[0], planes[1], cfg.deform),
                _conv_bn_relu(planes[1], planes[2], cfg.deform),
            ]
        )
        self.shortcuts = nn.ModuleList(
            [_shortcut(c4, planes[0], 1), _shortcut(c3, planes[1], 2), _shortcut(c2, planes[2], 3)]
        )
        self.hm_head = _head(planes[2], cfg.head_conv, cfg.num_classes, 2)
        self.wh_head = _head(planes[2], cfg.wh_conv, 4, 1)
        nn.init.constant_(self.hm_head[-1].bias, -math.log((1 - 0.01) / 0.01))  # -4.595
        for head in (self.hm_head, self.wh_head):
            for m in head[:-1]:
                if isinstance(m, nn.Conv2d):
                    nn.init.normal_(m.weight, std=0.01)
                    nn.init.zeros_(m.bias)
        nn.init.normal_(self.wh_head[-1].weight, std=0.001)
        # The released code starts this bias at 0, so relu(x) starts at the kink and a distance
        # whose outputs all start negative never gets a gradient (we saw left/top distances
        # stuck at 0 on the shapes set). Starting at 1 (distances of wh_offset_base pixels)
        # keeps every distance alive.
        nn.init.constant_(self.wh_head[-1].bias, 1.0)

    def _check_inputs(self, inputs: Any, what: str) -> torch.Tensor:
        """``inputs`` checked as a batch of images and cast to the model's device and dtype.

        Any floating dtype is accepted (float64 images from numpy, half precision) and cast,
        as the LiDAR detectors cast point clouds; integer images are refused, since they are
        not normalised."""
        images = check_tensor(inputs, what, floating=False, finite=False)
        if images.ndim != 4 or images.shape[1] != 3:
            raise InputError(
                f"{what}: expected images of shape (B, 3, H, W), got {tuple(images.shape)}"
            )
        if images.shape[0] == 0:
            raise InputError(
                f"{what}: expected at least one image, got shape {tuple(images.shape)}"
            )
        h, w = images.shape[2:]
        if h < 32 or w < 32 or h % 32 or w % 32:
            raise InputError(f"{what}: expected H and W positive multiples of 32, got {(h, w)}")
        check_tensor(images, what, finite=True)  # floating (normalised) and finite
        cfg = self.config
        per_pixel = max(cfg.width / 4, cfg.head_conv / 16, 18 * cfg.width / 16 if cfg.deform else 0)
        check_memory(
            4.0 * images.shape[0] * h * w * per_pixel,
            f"{what}: the largest feature map of {images.shape[0]} images of {h} x {w}",
        )
        param = next(self.parameters())
        return images.to(device=param.device, dtype=param.dtype)

    def _check_batch(
        self, batch: Any, what: str
    ) -> tuple[torch.Tensor, list[Boxes2D], list[torch.Tensor]]:
        """The batch's images, boxes and labels, all checked (see :meth:`loss`)."""
        if not isinstance(batch, Mapping):
            raise InputError(
                f"{what}: expected a batch mapping (use collate_detection), got {type(batch).__name__}"
            )
        for key in ("inputs", "boxes", "labels"):
            if key not in batch:
                raise InputError(f"{what}: expected batch key {key!r} (use collate_detection)")
        images = self._check_inputs(batch["inputs"], f"{what}: batch['inputs']")
        boxes, labels = check_targets(
            batch["boxes"],
            batch["labels"],
            f"{what}: batch",
            geometry=Boxes2D,
            n=images.shape[0],
            n_classes=self.config.num_classes,
        )
        b = images.shape[0]
        # not used by the losses, but an evaluation of the same batch reads them
        # a key that is present is checked (None too); an absent one is not needed
        if "crowd" in batch:
            crowd = batch["crowd"]
            if not isinstance(crowd, (list, tuple)) or len(crowd) != b:
                raise InputError(
                    f"{what}: batch['crowd']: expected a list of {b} flag tensors, got "
                    f"{type(crowd).__name__}"
                )
            for i, flags in enumerate(crowd):
                if not isinstance(flags, torch.Tensor) or flags.shape != (len(boxes[i]),):
                    raise InputError(
                        f"{what}: batch['crowd'][{i}]: expected a tensor of {len(boxes[i])} "
                        f"flags (one per box), got {getattr(flags, 'shape', type(flags).__name__)}"
                    )
        ids = batch.get("image_ids")
        if "image_ids" in batch and (
            (isinstance(ids, torch.Tensor) and ids.shape != (b,))
            or (
                not isinstance(ids, torch.Tensor)
                and (not isinstance(ids, (list, tuple)) or len(ids) != b)
            )
        ):
            shown = tuple(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise InputError(
                f"{what}: batch['image_ids']: expected {b} ids (one per image, a tensor or a "
                f"list), got {shown}"
            )
        return images, boxes, labels

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Heatmap logits ``(B, C, H/4, W/4)`` and distances ``(B, 4, H/4, W/4)`` in pixels.

        ``images`` as for :meth:`predict`; raises :class:`~xuframe.errors.InputError` otherwise."""
        c2, c3, c4, c5 = self.backbone(self._check_inputs(images, f"{self.name}: images"))
        x = c5
        for up, shortcut, skip in zip(self.up, self.shortcuts, (c4, c3, c2), strict=True):
            x = F.interpolate(up(x), scale_factor=2, mode="bilinear", align_corners=False)
            x = x + shortcut(skip)
        return self.hm_head(x), F.relu(self.wh_head(x)) * self.config.wh_offset_base

    def targets(
        self, batch: Mapping[str, Any], feature_size: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stacked :func:`encode_targets` of the batch's boxes and labels, each image's map
        ``feature_size`` (H, W) cells of ``STRIDE`` pixels; the batch is checked as in
        :meth:`loss`."""
        _, boxes, labels = self._check_batch(batch, f"{self.name}.targets")
        return self._targets(boxes, labels, feature_size)

    def _targets(
        self, boxes: list[Boxes2D], labels: list[torch.Tensor], feature_size: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cfg = self.config
        out = [
            encode_targets(
                b.tensor, lab, cfg.num_classes, feature_size, STRIDE, cfg.alpha, cfg.beta
            )
            for b, lab in zip(boxes, labels, strict=True)
        ]
        return tuple(torch.stack(t) for t in zip(*out, strict=True))  # type: ignore[return-value]

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Heatmap (focal) and GIoU losses of a batch as :func:`~xuframe.data.collate_detection`
        gives it: ``"inputs"`` ``(B, 3, H, W)`` finite floating images (H, W positive multiples
        of 32), ``"boxes"`` a list of B :class:`~xuframe.Boxes2D` in input pixels and
        ``"labels"`` a list of B integer label sequences, one label in ``0 .. num_classes - 1``
        per box. Raises :class:`~xuframe.errors.InputError` for anything else, before any work."""
        images, boxes, labels = self._check_batch(batch, f"{self.name}.loss")
        logits, distances = self(images)
        heat, box_t, weight = self._targets(boxes, labels, (logits.shape[2], logits.shape[3]))
        heat, box_t, weight = heat.to(logits), box_t.to(logits), weight.to(logits)
        pred = _decode_boxes(distances, STRIDE)
        return {
            "heatmap": self.config.hm_weight * _focal_loss(logits, heat),
            "giou": self.config.wh_weight * _giou_loss(pred, box_t, weight),
        }

    @torch.no_grad()
    def predict(self, inputs: Any) -> list[Detections]:
        """Detections per image: 3x3 max-pool peaks, top-k, score threshold; no NMS.

        ``inputs`` are ``(B, 3, H, W)`` normalised images, ``B >= 1``, H and W positive
        multiples of 32, finite, of any floating dtype (cast to the model's). Boxes come back
        in input pixels. Raises :class:`~xuframe.errors.InputError` for anything else."""
        images = self._check_inputs(inputs, f"{self.name}.predict: inputs")
        logits, distances = self(images)
        scores, classes, ys, xs = heatmap_peaks(torch.sigmoid(logits), k=self.config.topk)
        boxes = _decode_boxes(distances, STRIDE)
        out = []
        for i in range(logits.shape[0]):
            keep = scores[i] >= self.config.score_threshold
            y, x = ys[i][keep], xs[i][keep]
            b = boxes[i][:, y, x].T
            b[:, 0::2] = b[:, 0::2].clamp(0, images.shape[3])
            b[:, 1::2] = b[:, 1::2].clamp(0, images.shape[2])
            out.append(Detections(Boxes2D(b), scores[i][keep], classes[i][keep]))
        return out

    @classmethod
    def example_batch(cls, batch_size: int = 2, seed: int = 0) -> dict[str, Any]:
        data = ShapesDataset(batch_size, 64, seed=seed)
        return collate_detection([data[i] for i in range(batch_size)])

    @classmethod
    def demo(cls, seed: int = 0) -> DemoResult:
        """The shipped weights on held-out shapes images, or, for a model that ships none,
        the latency of one forward pass (see :mod:`xuframe_plugins.ttfnet.demo`)."""
        from xuframe_plugins.ttfnet.demo import demo

        return demo(cls, seed)


class TTFNetTiny(TTFNet):
    """``ttfnet-tiny``: TTFNet at a quarter of ResNet-18's width, plain convs, 128 px inputs;
    for tests, demos and CPU experiments."""

    name: ClassVar[str] = "ttfnet-tiny"

    @attrs.frozen
    class Config(TTFNet.Config):
        width: int = config_field(16, doc="backbone width (64: ResNet-18)", validator=positive)
        head_conv: int = config_field(64, doc="heatmap head channels", validator=positive)
        wh_conv: int = config_field(32, doc="box head channels", validator=positive)
        deform: bool = config_field(
            False, doc="modulated deformable convs in the neck (False: plain 3x3)"
        )
        input_size: int = config_field(
            128, doc="training / demo input side (a multiple of 32)", validator=positive
        )
