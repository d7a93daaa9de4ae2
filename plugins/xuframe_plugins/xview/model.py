"""X-view on the BEV detectors: ``xview-pillars`` (on ``pillars-baseline``) and ``xview-denfi``
(on ``denfi``).

Each view (:mod:`xuframe_plugins.xview.views`) has its own pillar encoder on its
(range, azimuth) grid and a small 2-D conv on its canvas; the canvas is gathered at every
main-stream pillar centre through the inverse transform (bilinear) and fused with the main
pillar canvas (added, or concatenated) before the main backbone. Everything after the fusion is
the base detector's, with the same module names, so a base detector's weights load into the
main stream unchanged (:func:`load_base_weights`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from xuframe import DemoResult, config_field, positive
from xuframe.errors import ConfigError, InputError
from xuframe.nn import BevBackbone, PillarEncoder
from xuframe.types import PointCloud
from xuframe.validation import check_int, check_memory
from xuframe_plugins.denfi.model import DEMO_CONFIG as BASE_DEMO_CONFIG
from xuframe_plugins.denfi.model import Denfi, PillarsBaseline
from xuframe_plugins.xview.views import View, parse_view, view_over_area

__all__ = [
    "DEMO_CONFIG",
    "DEMO_VIEWS",
    "VIEWS",
    "ViewBranch",
    "XViewDenfi",
    "XViewFusion",
    "XViewPillars",
    "load_base_weights",
]

#: Views for the default 51.2 x 64 m area, in the order the example adds them: the ego
#: perspective view, then non-egocentric ones ahead and to either side.
VIEWS: tuple[str, ...] = (
    "cylindrical@0,0,0",
    "cylindrical@40,0,0",
    "cylindrical@40,20,0",
    "cylindrical@40,-20,0",
)
#: The same views for the demo's 25.6 x 25.6 m area (origins at half the distances).
DEMO_VIEWS: tuple[str, ...] = (
    "cylindrical@0,0,0",
    "cylindrical@20,0,0",
    "cylindrical@20,10,0",
    "cylindrical@20,-10,0",
)
#: A small X-view model for demos and tests: denfi's demo model with two views.
DEMO_CONFIG: dict[str, Any] = {**BASE_DEMO_CONFIG, "views": list(DEMO_VIEWS[:2])}


def _views(_: Any, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    if not isinstance(value, tuple) or not 1 <= len(value) <= 8:
        raise ConfigError(f"{attribute.name}: expected 1 to 8 views, got {value!r:.80}")
    for i, spec in enumerate(value):
        try:
            parse_view(spec, f"{attribute.name}[{i}]")
        except InputError as exc:
            raise ConfigError(str(exc)) from None


def _degrees(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0 < value <= 360:
        raise ConfigError(f"{attribute.name} must be in (0, 360] degrees, got {value}")


def _fusion(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in ("add", "concat"):
        raise ConfigError(f"{attribute.name}: expected 'add' or 'concat', got {value!r:.40}")


def _view_layers(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    check_int(value, attribute.name, min=0, max=8, error=ConfigError)


@attrs.frozen(slots=False)
class _ViewOptions:  # not slotted: it is mixed into the slotted base Configs
    views: tuple[str, ...] = config_field(
        VIEWS[:2],
        doc="the views, 'cylindrical@x,y,z' or 'spherical@x,y,z' (origin in metres)",
        validator=_views,
    )
    view_range_cell: float = config_field(
        0.64, doc="range cell of every view's grid, metres", validator=positive
    )
    view_azimuth_cell: float = config_field(
        2.0, doc="azimuth cell of every view's grid, degrees", validator=_degrees
    )
    view_channels: int = config_field(16, doc="width of each view branch", validator=positive)
    view_layers: int = config_field(
        2, doc="3x3 convs on each view's canvas (at most 8)", validator=_view_layers
    )
    fusion: str = config_field(
        "add",
        doc="'add' the gathered view features to the pillar canvas or point features, or 'concat' them",
        validator=_fusion,
    )


class _ViewConv(nn.Module):
    """3x3 conv, batch norm, ReLU on a view canvas; the azimuth axis (rows) is padded
    circularly when the view covers the whole circle, with zeros otherwise."""

    def __init__(self, cin: int, cout: int, circular: bool) -> None:
        super().__init__()
        self.circular = circular
        # the conv zero-pads the range axis itself (and the azimuth axis of a sector)
        self.conv = nn.Conv2d(cin, cout, 3, 1, (0 if circular else 1, 1), bias=False)
        self.norm = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.circular:
            x = torch.cat([x[:, :, -1:], x, x[:, :, :1]], 2)
        return F.relu(self.norm(self.conv(x)))


class ViewBranch(nn.Module):
    """One view's branch: a pillar encoder on the view's (range, azimuth) grid (points in view
    coordinates; those outside the view are dropped), ``layers`` 3x3 convs of ``channels`` and a
    1x1 conv to ``out_channels``: ``(B, out_channels, n_azimuth, n_range)``."""

    def __init__(
        self, view: View, point_features: int, channels: int, layers: int, out_channels: int
    ) -> None:
        super().__init__()
        self.view = view
        self.encoder = PillarEncoder(
            view.point_range(), (view.dr, view.da), point_features, channels
        )
        self.convs = nn.Sequential(
            *[_ViewConv(channels, channels, view.full_circle) for _ in range(layers)]
        )
        self.out = nn.Conv2d(channels, out_channels, 1)

    def forward(self, clouds: Sequence[PointCloud]) -> torch.Tensor:
        view = self.view
        moved = [
            PointCloud(view.to_view(c.xyz.double()).to(c.xyz.dtype), c.features) for c in clouds
        ]
        x = self.convs(self.encoder(moved))
        # the 1x1 conv as a linear map over channels-last cells: the output is laid out
        # (B, n_azimuth, n_range, C) in memory, the rows XViewFusion gathers from
        out = F.linear(x.permute(0, 2, 3, 1), self.out.weight.flatten(1), self.out.bias)
        return out.permute(0, 3, 1, 2)


def _grid_views(name: str, cfg: Any, point_range: Sequence[float], out: int) -> list[View]:
    """The views of ``cfg`` (:class:`_ViewOptions` fields) sized over ``point_range`` (see
    :func:`~xuframe_plugins.xview.views.view_over_area`); a view that cannot be gridded and
    canvases too large for memory (``out`` output channels) are
    :class:`~xuframe.errors.ConfigError` naming detector ``name``."""
    try:  # a view the configuration cannot grid is a configuration error
        views = [
            view_over_area(
                spec, point_range, cfg.view_range_cell, cfg.view_azimuth_cell,
                f"{name}: views[{i}]",
            )
            for i, spec in enumerate(cfg.views)
        ]  # fmt: skip
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    cells = sum(v.n_range * v.n_azimuth for v in views)
    check_memory(
        4.0 * cells * max(cfg.view_channels, out),
        f"{name}: one point cloud's view canvases ({cells} cells)",
        error=ConfigError,
    )
    return views


def _view_branches(views: Sequence[View], cfg: Any, out: int) -> nn.ModuleList:
    """One :class:`ViewBranch` per view (``cfg``'s ``point_features``, ``view_channels``,
    ``view_layers``), each ending in ``out`` channels."""
    return nn.ModuleList(
        ViewBranch(v, cfg.point_features, cfg.view_channels, cfg.view_layers, out) for v in views
    )


class XViewFusion(nn.Module):
    """The view branches of a BEV detector and their fusion into its pillar canvas: each
    branch's canvas is gathered at every pillar centre of ``grid`` (at height ``z``, the middle
    of the detector's z range) by bilinear interpolation through the inverse transform, then
    added to the canvas or concatenated to it (``fusion``). The sampling indices and weights
    are computed once (buffers that are not saved with the weights)."""

    index: torch.Tensor
    weight: torch.Tensor

    def __init__(self, detector: PillarsBaseline, cfg: Any) -> None:
        super().__init__()
        grid = detector.encoder.grid
        point_range = detector.encoder.point_range
        self.fusion = cfg.fusion
        out = cfg.pillar_channels if cfg.fusion == "add" else cfg.view_channels
        self.views = _grid_views(detector.name, cfg, point_range, out)
        self.branches = _view_branches(self.views, cfg, out)
        cells = sum(v.n_range * v.n_azimuth for v in self.views)
        xs, ys = grid.centres()
        z = (point_range[2] + point_range[5]) / 2
        centres = torch.stack([xs.reshape(-1), ys.reshape(-1), torch.full((xs.numel(),), z)], 1)
        # bilinear sampling as (pillars, 4 per view) rows of all views' stacked cells and their
        # weights (0 outside a view): one weighted embedding-bag sum gathers every view at once
        index, weight, offset = [], [], 0
        for view in self.views:
            rows, weights = view.sample_weights(centres.double())
            index.append(rows + offset)
            weight.append(weights.float())
            offset += view.n_range * view.n_azimuth
        self.register_buffer("index", torch.cat(index, 1), persistent=False)
        self.register_buffer("weight", torch.cat(weight, 1), persistent=False)
        self.shape = (grid.ny, grid.nx)
        self.out_channels = out * len(self.views) if cfg.fusion == "concat" else 0
        self.cells = cells

    def _gather(self, canvases: Sequence[torch.Tensor], first: int = 0) -> torch.Tensor:
        """The ``(B, C, ny, nx)`` sum of the canvases of views ``first, first + 1, ...`` (one
        ``(B, C, n_azimuth, n_range)`` each) sampled at the pillar centres."""
        b, c = canvases[0].shape[:2]
        # (B, cells, C) rows: free views of the branches' channels-last outputs, joined by cat
        rows = torch.cat([x.permute(0, 2, 3, 1).reshape(b, -1, c) for x in canvases], 1)
        columns = slice(4 * first, 4 * (first + len(canvases)))
        skipped = sum(v.n_range * v.n_azimuth for v in self.views[:first])
        index, weight = self.index[:, columns] - skipped, self.weight[:, columns]
        if b > 1:  # cloud k reads rows k * cells ...
            offsets = rows.shape[1] * torch.arange(b, device=index.device)
            index = index[None] + offsets[:, None, None]
        out = F.embedding_bag(
            index.reshape(-1, index.shape[-1]),
            rows.reshape(-1, c),
            per_sample_weights=weight.expand(b, -1, -1).reshape(-1, weight.shape[-1]),
            mode="sum",
        )
        # laid out (B, ny, nx, C) in memory, as the main pillar canvas is
        return out.view(b, *self.shape, c).permute(0, 3, 1, 2)

    def gathered(self, clouds: Sequence[PointCloud]) -> list[torch.Tensor]:
        """Each view's features at the pillar centres: ``(B, C, ny, nx)`` per view."""
        return [self._gather([branch(clouds)], i) for i, branch in enumerate(self.branches)]

    def forward(self, clouds: Sequence[PointCloud], canvas: torch.Tensor) -> torch.Tensor:
        """The pillar ``canvas`` ``(B, C, ny, nx)`` fused with the views' features."""
        if self.fusion == "add":
            canvases = [branch(clouds) for branch in self.branches]
            return canvas + self._gather(canvases)
        return torch.cat([canvas, *self.gathered(clouds)], 1)


def _attach(detector: PillarsBaseline) -> XViewFusion:
    cfg = detector.config
    xview = XViewFusion(detector, cfg)
    if cfg.fusion == "concat":
        detector.backbone = BevBackbone(
            cfg.pillar_channels + xview.out_channels, cfg.widths, cfg.layers, cfg.up_channels
        )
    return xview


def _branch_parameters(cfg: Any, out: int) -> int:
    """An estimate of the view branches' weights (``cfg``'s views, each ending in ``out``
    channels)."""
    c = cfg.view_channels
    per = (8 + cfg.point_features) * c + cfg.view_layers * 9 * c * c + c * out
    return int(per * len(cfg.views))


def _features(detector: Any, clouds: Sequence[PointCloud]) -> torch.Tensor:
    clouds = detector._check_inputs(clouds, f"{detector.name}: clouds")
    check_memory(
        4.0 * len(clouds) * detector.xview.cells * detector.config.view_channels,
        f"{detector.name}: the view canvases of {len(clouds)} point clouds",
    )
    canvas = detector.xview(clouds, detector.encoder(clouds))
    return detector.backbone(canvas)  # type: ignore[no-any-return]


class _XView:
    """What X-view adds to any detector (listed first among an X-view detector's bases): the
    view branches built from the config (:meth:`_attach_views`), their parameters in the count
    (:meth:`_view_parameters`), and the demo on the shipped weights of :attr:`base_name` with
    the views :attr:`demo_views` over held-out scenes of :attr:`demo_scenes`."""

    base_name: ClassVar[str]
    #: The views the demo adds to the base detector's shipped config.
    demo_views: ClassVar[tuple[str, ...]] = VIEWS[:2]
    #: :class:`~xuframe.data.LidarScenes` arguments of the demo's held-out scenes.
    demo_scenes: ClassVar[dict[str, Any]] = {}
    #: The weights whose input channels ``concat`` fusion widens (the view channels come last):
    #: :func:`load_base_weights` pads the base's with zeros there.
    widened_by_concat: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)  # type: ignore[call-arg]
        self.xview = self._attach_views()

    def _attach_views(self) -> nn.Module:
        """The view branches and their fusion, built after the base detector (so that a seed
        gives the base's main stream)."""
        raise NotImplementedError

    def _view_parameters(self) -> int:
        """An estimate of the weights X-view adds, from the config."""
        raise NotImplementedError

    def _parameter_count(self) -> int:
        count: int = super()._parameter_count()  # type: ignore[misc]
        return count + self._view_parameters()

    @classmethod
    def demo(cls, seed: int = 0, kitti: str | None = None) -> DemoResult:
        """The base detector's shipped weights in the main stream, the view branches at zero:
        the detections equal the base's on held-out scenes (X-view's starting point), the
        predict-time ratio, and a picture of the views' grids over a scene (see
        :mod:`xuframe_plugins.xview.demo`). ``kitti`` is not supported."""
        from xuframe_plugins.xview.demo import demo

        return demo(cls, cls.base_name, seed, kitti)


class _XViewBev(_XView):
    """X-view on a BEV detector, shared by :class:`XViewPillars` and :class:`XViewDenfi`: the
    views fused into the pillar canvas (:class:`XViewFusion`)."""

    widened_by_concat: ClassVar[tuple[str, ...]] = ("backbone.blocks.0.0.0.weight",)

    def _attach_views(self) -> nn.Module:
        return _attach(self)  # type: ignore[arg-type]

    def _view_parameters(self) -> int:
        cfg: Any = self.config  # type: ignore[attr-defined]
        out = cfg.pillar_channels if cfg.fusion == "add" else cfg.view_channels
        extra = 9 * cfg.widths[0] * out * len(cfg.views) if cfg.fusion == "concat" else 0
        return _branch_parameters(cfg, out) + int(extra)

    def features(self, clouds: Sequence[PointCloud]) -> torch.Tensor:
        """The backbone's ``(B, C, ny, nx)`` BEV features of the fused canvas."""
        return _features(self, clouds)


class XViewPillars(_XViewBev, PillarsBaseline):
    """X-view (Xie, Xu, Cai et al., 2021) on the pillars baseline: ``xview-pillars``.

    ``pillars-baseline`` with perspective views whose origins need not be the sensor
    (:attr:`Config.views`), fused into the pillar canvas before the backbone (see
    :class:`XViewFusion`). Inputs, batches, outputs and errors are the base detector's."""

    name: ClassVar[str] = "xview-pillars"
    base_name: ClassVar[str] = "pillars-baseline"

    @attrs.frozen
    class Config(PillarsBaseline.Config, _ViewOptions):
        pass


class XViewDenfi(_XViewBev, Denfi):
    """X-view on DENFI: ``xview-denfi`` (``denfi`` with the views of :class:`XViewPillars`)."""

    name: ClassVar[str] = "xview-denfi"
    base_name: ClassVar[str] = "denfi"

    @attrs.frozen
    class Config(Denfi.Config, _ViewOptions):
        pass


def load_base_weights(model: Any, base: Any) -> None:
    """Copy ``base``'s weights (the X-view detector's base detector, ``pillars-baseline``,
    ``denfi`` or ``pointrcnn``, of the same config) into the main stream of the X-view ``model``;
    the view branches keep theirs. With ``concat`` fusion the layers that take the view channels
    too (the BEV backbone's first conv; PointRCNN's stage-1 heads and stage 2's first layer) get
    the base's weights on the base's channels and zeros on the view channels. Raises
    :class:`~xuframe.errors.InputError` when they do not fit."""
    import xuframe

    base_class = (
        xuframe.get_component_class("detector", model.base_name)
        if isinstance(model, _XView) and isinstance(model, nn.Module)
        else None
    )
    if base_class is None or not isinstance(base, base_class) or not isinstance(base, nn.Module):
        raise InputError(
            f"load_base_weights: expected an X-view detector and its base detector, got "
            f"{type(model).__name__} and {type(base).__name__}"
        )
    mine = model.state_dict()
    state = {}
    for key, value in base.state_dict().items():
        if key not in mine:
            raise InputError(f"load_base_weights: the X-view model has no {key!r}")
        target = mine[key]
        wider = (
            key in model.widened_by_concat
            and target.shape[0] == value.shape[0]
            and target.shape[1] > value.shape[1]
            and target.shape[2:] == value.shape[2:]
        )
        if wider:
            padded = torch.zeros_like(target)
            padded[:, : value.shape[1]] = value
            value = padded
        if target.shape != value.shape:
            raise InputError(
                f"load_base_weights: {key}: shape {tuple(value.shape)} does not fit "
                f"{tuple(target.shape)} (build both from the same config)"
            )
        state[key] = value
    model.load_state_dict(state, strict=False)
