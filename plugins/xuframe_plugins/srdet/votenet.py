"""``votenet``: VoteNet (Qi, Litany, He, Guibas, ICCV 2019), the indoor point-based baseline.

A PointNet++ backbone (:class:`xuframe.nn.PointNet2Backbone`: 4 set abstractions, 2 feature
propagations) on ``x, y, z`` and the height above the floor gives 1024 seeds; each votes for
its object's centre (:class:`~xuframe_plugins.srdet.voting.VotingModule`); 256 vote clusters
become proposals with objectness, centre, bin-based heading, class-wise mean-size residuals
and class (:class:`~xuframe_plugins.srdet.proposal.ProposalModule`); 3-D NMS at predict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import torch

from xuframe import DemoResult, Detector, class_names, config_field, fraction, int_between, positive
from xuframe.data import INDOOR_CLASSES
from xuframe.errors import ConfigError, InputError
from xuframe.types import Boxes3D, Detections
from xuframe_plugins.srdet.inputs import (
    check_backbone_config,
    check_batch,
    check_clouds,
    check_width,
    example_rooms,
    make_backbone,
    prepare_clouds,
    valid_levels,
    valid_mean_sizes,
)
from xuframe_plugins.srdet.proposal import (
    ProposalModule,
    Proposals,
    decode_proposals,
    nms_3d,
    proposal_losses,
    proposal_targets,
)
from xuframe_plugins.srdet.voting import Votes, VotingModule, vote_loss

__all__ = ["DEMO_CONFIG", "INDOOR_MEAN_SIZES", "VoteNet"]

#: Mean ``l, w, h`` (metres) of each of :data:`~xuframe.data.INDOOR_CLASSES` over the 321
#: boxes of 60 synthetic rooms (``IndoorScenes(60, seed=123)``, not the training or held-out
#: seeds): the size clusters of the default config.
INDOOR_MEAN_SIZES: tuple[tuple[float, float, float], ...] = (
    (2.045, 1.129, 0.932),
    (1.238, 0.763, 0.736),
    (0.499, 0.457, 0.891),
    (0.921, 1.884, 0.817),
    (0.713, 1.284, 0.739),
    (0.337, 0.945, 1.696),
    (0.508, 0.905, 0.888),
    (0.400, 0.450, 0.580),
    (0.673, 0.400, 0.747),
    (1.627, 0.751, 0.545),
)

#: A small VoteNet that trains in minutes on a CPU (the shipped ``synthetic`` weights): 4,096
#: points, a quarter of the centres per level, half the widths, 64 proposals.
DEMO_CONFIG: dict[str, Any] = {
    "num_points": 4096,
    "npoints": [512, 256, 128, 64],
    "ks": [32, 16, 16, 8],
    "sa_mlps": [[32, 32, 64], [64, 64, 128], [64, 64, 128], [64, 64, 128]],
    "fp_mlps": [[128, 128], [128, 128]],
    "num_proposals": 64,
    "aggregation_mlp": [64, 64, 64],
    "head_channels": 64,
}

#: VoteNet's loss weights (``loss_helper.get_loss``: vote + 0.5 objectness + box + 0.1
#: semantic, box = centre + 0.1 heading class + heading residual + 0.1 size class + size
#: residual, all times 10).
LOSS_WEIGHTS = {
    "vote": 10.0,
    "objectness": 5.0,
    "center": 10.0,
    "heading_cls": 1.0,
    "heading_reg": 10.0,
    "size_cls": 1.0,
    "size_reg": 10.0,
    "sem_cls": 1.0,
}


class VoteNet(Detector):
    """VoteNet as published (Qi et al., ICCV 2019; mmdetection3d's ``VoteNet``): ``votenet``.

    Inputs are lists of :class:`~xuframe.PointCloud` in the depth frame (``x`` right, ``y``
    forward, ``z`` up; metres) with any feature channels (``r, g, b`` first when
    ``use_color``). A cloud of more than ``num_points`` points is subsampled to
    ``num_points`` (at predict with a fixed seed, so predictions are repeatable); an empty
    cloud gives no detections. A training batch is what :func:`~xuframe.data.collate_lidar`
    returns for indoor samples (``"inputs"``, ``"boxes"`` :class:`~xuframe.Boxes3D`,
    ``"labels"`` indices into ``classes``); see
    :func:`~xuframe_plugins.srdet.training.indoor_train_loader`.

    The network: the height of each point above the floor (``z`` minus the cloud's 1st
    percentile of ``z``) joins ``x, y, z``; PointNet++ gives ``npoints[1]`` seeds with
    ``fp_mlps[-1][-1]`` features; each seed votes; ``num_proposals`` votes picked by FPS are
    grouped within ``aggregation_radius``; the proposal head predicts objectness, centre,
    ``num_heading_bins`` heading bins (0: axis-aligned boxes, as for ScanNet), one size
    cluster per class (``mean_sizes``) and the class. Training: VoteNet's losses and weights
    (objectness positive within ``near_threshold`` m of a centre, negative beyond
    ``far_threshold``). Predict: the objectness-scored boxes with at least ``min_points``
    points inside, 3-D NMS (per predicted class, or over all classes with
    ``class_agnostic_nms``), then, with ``per_class_proposal``, each kept box once per class
    scored ``objectness x class probability`` (VoteNet's and mmdetection3d's evaluation
    setting), else once with its best class."""

    name: ClassVar[str] = "votenet"
    geometry: ClassVar[type[Boxes3D]] = Boxes3D

    @attrs.frozen
    class Config:
        classes: tuple[str, ...] = config_field(
            INDOOR_CLASSES, doc="class names, in label order", validator=class_names
        )
        mean_sizes: tuple[tuple[float, ...], ...] = config_field(
            INDOOR_MEAN_SIZES,
            doc="mean l, w, h of each class (metres): the size clusters",
            validator=valid_mean_sizes,
        )
        num_points: int = config_field(
            20000, doc="points per cloud (more are subsampled)", validator=int_between(1, 10**6)
        )
        use_height: bool = config_field(True, doc="add the height above the floor as a feature")
        use_color: bool = config_field(False, doc="add the first three features (r, g, b)")
        npoints: tuple[int, ...] = config_field(
            (2048, 1024, 512, 256), doc="centres of each set abstraction", validator=valid_levels
        )
        radii: tuple[float, ...] = config_field(
            (0.2, 0.4, 0.8, 1.2), doc="ball radius of each set abstraction, metres"
        )
        ks: tuple[int, ...] = config_field((64, 32, 16, 16), doc="group size of each level")
        sa_mlps: tuple[tuple[int, ...], ...] = config_field(
            ((64, 64, 128), (128, 128, 256), (128, 128, 256), (128, 128, 256)),
            doc="MLP widths of each set abstraction",
        )
        fp_mlps: tuple[tuple[int, ...], ...] = config_field(
            ((256, 256), (256, 256)), doc="MLP widths of each feature propagation"
        )
        votes_per_seed: int = config_field(1, doc="votes per seed", validator=int_between(1, 16))
        num_proposals: int = config_field(
            256, doc="vote clusters (proposals) per cloud", validator=int_between(1, 4096)
        )
        aggregation_radius: float = config_field(
            0.3, doc="vote grouping radius, metres", validator=positive
        )
        aggregation_k: int = config_field(
            16, doc="votes per cluster", validator=int_between(1, 1024)
        )
        aggregation_mlp: tuple[int, ...] = config_field(
            (128, 128, 128), doc="vote aggregation MLP widths (after the vote features)"
        )
        head_channels: int = config_field(
            128, doc="proposal head width", validator=int_between(1, 4096)
        )
        num_heading_bins: int = config_field(
            12, doc="heading bins (0: axis-aligned boxes)", validator=int_between(0, 360)
        )
        near_threshold: float = config_field(
            0.3, doc="objectness positive within this distance, metres", validator=positive
        )
        far_threshold: float = config_field(
            0.6, doc="objectness negative beyond this distance, metres", validator=positive
        )
        score_threshold: float = config_field(
            0.05, doc="objectness below this is dropped at predict", validator=fraction
        )
        nms_iou: float = config_field(0.25, doc="3-D NMS IoU threshold", validator=fraction)
        class_agnostic_nms: bool = config_field(False, doc="one NMS over all classes")
        per_class_proposal: bool = config_field(
            True, doc="emit each kept box once per class (VoteNet's evaluation)"
        )
        min_points: int = config_field(
            5, doc="boxes holding fewer input points are dropped", validator=int_between(0, 10**6)
        )
        max_detections: int = config_field(
            1000, doc="detections kept per cloud", validator=int_between(1, 10**6)
        )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        cfg = self.config
        check_backbone_config(cfg, self.name)
        check_width(cfg, self.name)
        try:
            self.backbone = make_backbone(cfg)
            channels = self.backbone.out_channels
            self.voting = VotingModule(channels, cfg.votes_per_seed)
            self.proposal = ProposalModule(
                channels,
                len(cfg.classes),
                cfg.num_heading_bins,
                num_proposals=cfg.num_proposals,
                radius=cfg.aggregation_radius,
                k=cfg.aggregation_k,
                mlp=cfg.aggregation_mlp,
                head_channels=cfg.head_channels,
            )
        except InputError as exc:
            raise ConfigError(f"{self.name}: {exc}") from exc
        self.mean_size_table: torch.Tensor
        self.register_buffer(
            "mean_size_table", torch.tensor(cfg.mean_sizes, dtype=torch.float32), persistent=False
        )

    @property
    def num_classes(self) -> int:
        return len(self.config.classes)

    # ------------------------------------------------------------------ network

    def forward(
        self, xyz: torch.Tensor, features: torch.Tensor | None
    ) -> tuple[Any, Votes, Proposals]:
        """Seeds (a :class:`~xuframe.nn.PointFeatures`), votes and proposals of the prepared
        clouds ``xyz`` ``(B, N, 3)`` with ``features`` ``(B, C, N)``."""
        seeds = self.backbone(xyz, features)
        votes = self.voting(seeds.xyz, seeds.features)
        return seeds, votes, self.proposal(votes.xyz, votes.features)

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """VoteNet's losses, weighted as published (``vote``, ``objectness``, ``center``,
        ``heading_cls``, ``heading_reg``, ``size_cls``, ``size_reg``, ``sem_cls``; no heading
        terms without heading bins) of a batch as :func:`~xuframe.data.collate_lidar` gives
        it: ``"inputs"`` a non-empty list of non-empty :class:`~xuframe.PointCloud` (as for
        :meth:`predict`), ``"boxes"`` one :class:`~xuframe.Boxes3D` per cloud (finite, sizes >
        0) and ``"labels"`` one integer label sequence per cloud, a label in ``0 ..
        len(classes) - 1`` per box. Raises :class:`~xuframe.errors.InputError` for anything
        else, before any work."""
        cfg = self.config
        clouds, boxes, labels = check_batch(
            batch, f"{self.name}.loss", use_color=cfg.use_color, num_classes=self.num_classes
        )
        xyz, features, _ = prepare_clouds(clouds, None, cfg, self.mean_size_table)
        seeds, votes, proposals = self(xyz, features)
        out = {"vote": vote_loss(votes.xyz, seeds.xyz, boxes, cfg.votes_per_seed)}
        targets = proposal_targets(proposals.xyz, boxes, cfg.near_threshold, cfg.far_threshold)
        out.update(proposal_losses(proposals, boxes, labels, self.mean_size_table, targets))
        return {k: LOSS_WEIGHTS[k] * v for k, v in out.items()}

    @torch.no_grad()
    def predict(self, inputs: Any) -> list[Detections]:
        """One :class:`~xuframe.Detections` of :class:`~xuframe.Boxes3D` (depth frame) per
        cloud, scores in ``[0, 1]`` and labels indexing ``classes`` (see the class docstring
        for the steps). ``inputs`` is a non-empty list of :class:`~xuframe.PointCloud` with
        finite coordinates (and ``r, g, b`` features with ``use_color``); an empty cloud gives
        no detections. Raises :class:`~xuframe.errors.InputError` for anything else."""
        clouds = check_clouds(
            inputs, f"{self.name}.predict: inputs", use_color=self.config.use_color
        )
        out: list[Detections | None] = [None] * len(clouds)
        live = [i for i, c in enumerate(clouds) if len(c) > 0]
        for i in range(len(clouds)):
            if i not in live:
                out[i] = Detections.empty(Boxes3D)
        for i in live:  # one cloud at a time: the memory of one, and no padding
            generator = torch.Generator().manual_seed(0)
            xyz, features, kept = prepare_clouds(
                [clouds[i]], generator, self.config, self.mean_size_table
            )
            _, _, proposals = self(xyz, features)
            boxes, objectness, probs = decode_proposals(proposals, self.mean_size_table)
            out[i] = self._select(boxes[0], objectness[0], probs[0], kept[0])
        return [d if d is not None else Detections.empty(Boxes3D) for d in out]

    def _select(
        self, boxes: torch.Tensor, objectness: torch.Tensor, probs: torch.Tensor, xyz: torch.Tensor
    ) -> Detections:
        cfg = self.config
        boxes, objectness, probs = (
            boxes.float().cpu(),
            objectness.float().cpu(),
            probs.float().cpu(),
        )
        keep = objectness > cfg.score_threshold
        if cfg.min_points > 0 and bool(keep.any()):
            from xuframe.ops import points_in_boxes

            counts = points_in_boxes(xyz.float().cpu(), Boxes3D(boxes[keep])).sum(0)
            keep[keep.clone()] = counts >= cfg.min_points
        boxes, objectness, probs = boxes[keep], objectness[keep], probs[keep]
        best = probs.argmax(1) if len(probs) else torch.zeros(0, dtype=torch.int64)
        if cfg.class_agnostic_nms:
            chosen = nms_3d(boxes, objectness, cfg.nms_iou)
        else:
            parts = [
                (best == k).nonzero()[:, 0][
                    nms_3d(boxes[best == k], objectness[best == k], cfg.nms_iou)
                ]
                for k in torch.unique(best).tolist()
            ]
            chosen = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.int64)
        boxes, objectness, probs, best = (
            boxes[chosen],
            objectness[chosen],
            probs[chosen],
            best[chosen],
        )
        if cfg.per_class_proposal:
            c = self.num_classes
            scores = (objectness[:, None] * probs).reshape(-1)
            labels = torch.arange(c).repeat(len(boxes))
            boxes = boxes.repeat_interleave(c, 0)
        else:
            scores = objectness * probs.gather(1, best[:, None])[:, 0] if len(best) else objectness
            labels = best
        return Detections(Boxes3D(boxes.reshape(-1, 7)), scores, labels).top(cfg.max_detections)

    # ------------------------------------------------------------------ examples

    @classmethod
    def example_batch(cls, batch_size: int = 2, seed: int = 0) -> dict[str, Any]:
        """``batch_size`` synthetic rooms (:class:`~xuframe.data.IndoorScenes` of ``seed``,
        2,048 points and up to 6 objects each), collated by
        :func:`~xuframe.data.collate_lidar`."""
        return example_rooms(batch_size, seed)

    @classmethod
    def demo(cls, seed: int = 0, scannet: str | None = None) -> DemoResult:
        """The shipped ``synthetic`` weights on held-out synthetic rooms: mAP@0.25 and
        mAP@0.5, and a top view of one room; with ``scannet`` (a ScanNet scene folder), a top
        view of that scene (see :mod:`xuframe_plugins.srdet.demo`)."""
        from xuframe_plugins.srdet.demo import demo

        return demo(cls, seed, scannet)
