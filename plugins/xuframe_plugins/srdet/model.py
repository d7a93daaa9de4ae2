"""``srdet``: Suppress-and-Refine (Liu, Xu, Yang et al., 2021), NMS-free indoor 3-D detection.

The pipeline (each step a config field, so the paper's ablations are config changes):

1. **Backbone**: PointNet++ (:class:`xuframe.nn.PointNet2Backbone`) on ``x, y, z`` and the
   height above the floor gives the seeds, as in VoteNet.
2. **Noise suppression** (:class:`NoiseSuppression`): per seed an offset, two
   foreground/background logits and a feature residual; the vote is ``seed + p_fg *
   offset`` (:func:`~xuframe_plugins.srdet.suppression.suppress_votes`), so background seeds
   stay put. ``suppression=False`` moves every seed by its whole offset (VoteNet's voting).
3. **Initial proposals**: VoteNet's vote aggregation and proposal head
   (:class:`~xuframe_plugins.srdet.proposal.ProposalModule`, ``num_candidates`` clusters,
   trained with VoteNet's losses); the ``num_proposals`` best by objectness go on, with their
   head features as the first embedding.
4. **Refinement**: ``num_stages`` applications of one
   :class:`~xuframe_plugins.srdet.refine.RefineStage` (RoI-aware pooling of the suppressed
   votes and the seeds, gating, self-attention, class logits and box deltas); boxes
   detached between stages.
5. **Set prediction**: each stage's proposals are matched one-to-one to the objects
   (:func:`~xuframe_plugins.srdet.matching.hungarian_match`) and trained with the focal, L1,
   IoU and corner losses (:mod:`~xuframe_plugins.srdet.losses`), each summed and divided by
   the number of objects in the batch, stage ``s`` weighted ``stage_weights[s]``. Predict
   keeps the top (proposal, class) pairs of the last stage scoring above ``score_threshold``:
   no NMS. ``assignment="nearest"`` with ``nms=True`` is the ablation with one-to-many
   targets (a proposal within ``near_threshold`` of an object's centre is trained on it) and
   per-class 3-D NMS at predict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, NamedTuple

import attrs
import torch
from torch import nn

from xuframe import DemoResult, Detector, class_names, config_field, fraction, int_between, positive
from xuframe.data import INDOOR_CLASSES
from xuframe.errors import ConfigError, InputError
from xuframe.types import Boxes3D, Detections
from xuframe.validation import check_float, check_int
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
from xuframe_plugins.srdet.losses import (
    center_size_l1,
    corner_loss,
    iou_loss_3d,
    sigmoid_focal_loss,
)
from xuframe_plugins.srdet.matching import MatchCosts, hungarian_match
from xuframe_plugins.srdet.proposal import (
    ProposalModule,
    Proposals,
    decode_proposals,
    nms_3d,
    proposal_losses,
    proposal_targets,
)
from xuframe_plugins.srdet.refine import RefineStage, StageOutput
from xuframe_plugins.srdet.suppression import (
    foreground_probability,
    suppress_votes,
    suppression_losses,
)
from xuframe_plugins.srdet.votenet import INDOOR_MEAN_SIZES, LOSS_WEIGHTS
from xuframe_plugins.srdet.voting import vote_loss

__all__ = ["ABLATIONS", "SRDET_DEMO_CONFIG", "NoiseSuppression", "SRDet", "SuppressedVotes"]

#: A small SRDet that runs on a CPU in seconds: 2,048 points, 128 seeds, 32 candidates, 16
#: proposals, 2 stages, narrow layers.
SRDET_DEMO_CONFIG: dict[str, Any] = {
    "num_points": 2048,
    "npoints": [256, 128, 64, 32],
    "ks": [16, 16, 8, 8],
    "sa_mlps": [[16, 16, 32], [32, 32, 64], [32, 32, 64], [32, 32, 64]],
    "fp_mlps": [[64, 64], [64, 64]],
    "num_candidates": 32,
    "num_proposals": 16,
    "aggregation_mlp": [32, 32],
    "head_channels": 32,
    "pool_channels": 32,
    "cell_channels": 8,
    "embed_dim": 64,
    "attention_heads": 4,
    "ffn_channels": 128,
    "dropout": 0.0,
    "num_stages": 2,
    "stage_weights": [1.0, 1.0],
}

#: The paper's ablations as config changes (to merge into a config).
ABLATIONS: dict[str, dict[str, Any]] = {
    "full": {},
    "no-suppression": {"suppression": False},
    "no-gating": {"gating": False},
    "no-attention": {"attention": False},
    "nms": {"assignment": "nearest", "nms": True},
}


def _weight(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    check_float(value, attribute.name, min=0.0, max=1e6, error=ConfigError)


def _weights(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not value:
        raise ConfigError(f"{attribute.name}: expected at least one weight, got ()")
    for i, v in enumerate(value):
        check_float(v, f"{attribute.name}[{i}]", min=0.0, max=1e6, error=ConfigError)


def _dropout(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    check_float(value, attribute.name, min=0.0, max=0.99, error=ConfigError)


def _grids(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not value:
        raise ConfigError(f"{attribute.name}: expected at least one grid size, got ()")
    for i, g in enumerate(value):
        check_int(g, f"{attribute.name}[{i}]", min=1, max=8, error=ConfigError)


class SuppressedVotes(NamedTuple):
    """The suppression step's output for ``B`` scenes of ``S`` seeds: ``xyz`` ``(B, S, 3)`` the
    votes, ``features`` ``(B, C, S)`` their features (unit length), ``offsets`` ``(B, S, 3)``
    the predicted offsets (before scaling) and ``foreground_logits`` ``(B, S, 2)``
    (background, foreground)."""

    xyz: torch.Tensor
    features: torch.Tensor
    offsets: torch.Tensor
    foreground_logits: torch.Tensor


class NoiseSuppression(nn.Module):
    """SRDet's noise suppression module: per seed, two shared layers (1x1 conv, batch norm,
    ReLU) of ``channels`` and a 1x1 conv to 3 offsets, 2 foreground logits and ``channels``
    feature residuals; the vote is ``seed + p_fg * offset`` with ``suppress`` (else ``seed +
    offset``), its feature the seed's plus the residual, L2-normalised. ``channels`` is an int
    >= 1 (:class:`~xuframe.errors.ConfigError` otherwise)."""

    def __init__(self, channels: int, *, suppress: bool = True) -> None:
        super().__init__()
        c = check_int(channels, "NoiseSuppression: channels", min=1, error=ConfigError)
        self.channels, self.suppress = c, bool(suppress)
        self.layers = nn.Sequential(
            nn.Conv1d(c, c, 1), nn.BatchNorm1d(c), nn.ReLU(inplace=True),
            nn.Conv1d(c, c, 1), nn.BatchNorm1d(c), nn.ReLU(inplace=True),
            nn.Conv1d(c, 3 + 2 + c, 1),
        )  # fmt: skip

    def forward(self, seed_xyz: torch.Tensor, seed_features: torch.Tensor) -> SuppressedVotes:
        """The :class:`SuppressedVotes` of seeds ``seed_xyz`` ``(B, S, 3)`` with features
        ``seed_features`` ``(B, channels, S)``."""
        out = self.layers(seed_features).transpose(1, 2)  # (B, S, 5 + C)
        offsets, logits, residual = out[..., :3], out[..., 3:5], out[..., 5:]
        if self.suppress:
            votes = suppress_votes(seed_xyz, offsets, foreground_probability(logits))
        else:
            votes = seed_xyz + offsets
        features = seed_features.transpose(1, 2) + residual
        features = features / features.norm(dim=2, keepdim=True).clamp_min(1e-12)
        return SuppressedVotes(votes, features.transpose(1, 2).contiguous(), offsets, logits)


class _Forward(NamedTuple):
    seeds: Any
    votes: SuppressedVotes
    proposals: Proposals
    stage_inputs: list[torch.Tensor]
    stages: list[StageOutput]


class SRDet(Detector):
    """SRDet (Liu, Xu, Yang et al., 2021; the official ZJULearning/SRDet): ``srdet``.

    Inputs and batches as for ``votenet`` (:class:`~xuframe_plugins.srdet.votenet.VoteNet`):
    lists of :class:`~xuframe.PointCloud` in the depth frame (metres; ``r, g, b`` features
    first with ``use_color``), subsampled to ``num_points`` (at predict with a fixed seed);
    an empty cloud gives no detections; a training batch is
    :func:`~xuframe.data.collate_lidar`'s (``"inputs"``, ``"boxes"``, ``"labels"``). See the
    module docstring for the steps and ``docs/plugins/srdet.md`` for the deviations from the
    official code. ``num_heading_bins = 0`` is axis-aligned data (no yaw anywhere)."""

    name: ClassVar[str] = "srdet"
    geometry: ClassVar[type[Boxes3D]] = Boxes3D

    @attrs.frozen
    class Config:
        classes: tuple[str, ...] = config_field(
            INDOOR_CLASSES, doc="class names, in label order", validator=class_names
        )
        mean_sizes: tuple[tuple[float, ...], ...] = config_field(
            INDOOR_MEAN_SIZES,
            doc="mean l, w, h of each class (metres): size clusters; their mean scales sizes",
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
        suppression: bool = config_field(
            True, doc="scale each vote's offset by its seed's foreground probability"
        )
        num_candidates: int = config_field(
            256, doc="vote clusters (initial candidates) per cloud", validator=int_between(1, 4096)
        )
        num_proposals: int = config_field(
            128, doc="candidates kept (best objectness) and refined", validator=int_between(1, 4096)
        )
        aggregation_radius: float = config_field(
            0.3, doc="vote grouping radius, metres", validator=positive
        )
        aggregation_k: int = config_field(
            16, doc="votes per cluster", validator=int_between(1, 1024)
        )
        aggregation_mlp: tuple[int, ...] = config_field(
            (128, 128, 128), doc="vote aggregation MLP widths"
        )
        head_channels: int = config_field(
            128, doc="initial proposal head width", validator=int_between(1, 4096)
        )
        num_heading_bins: int = config_field(
            12, doc="initial heading bins (0: axis-aligned boxes)", validator=int_between(0, 360)
        )
        near_threshold: float = config_field(
            0.3, doc="initial objectness positive within this distance, metres", validator=positive
        )
        far_threshold: float = config_field(
            0.6, doc="initial objectness negative beyond this distance, metres", validator=positive
        )
        num_stages: int = config_field(
            3, doc="refinement stages (one shared set of weights)", validator=int_between(1, 16)
        )
        stage_weights: tuple[float, ...] = config_field(
            (1.0, 1.0, 1.0), doc="loss weight of each stage", validator=_weights
        )
        grid_sizes: tuple[int, ...] = config_field(
            (1, 3, 5), doc="RoI pooling grids (cells per axis)", validator=_grids
        )
        pool_channels: int = config_field(
            128, doc="point feature width before pooling", validator=int_between(1, 4096)
        )
        cell_channels: int = config_field(
            32, doc="width of each pooled cell after projection", validator=int_between(1, 4096)
        )
        embed_dim: int = config_field(
            128, doc="proposal embedding width", validator=int_between(1, 4096)
        )
        attention_heads: int = config_field(
            8, doc="self-attention heads (divide embed_dim)", validator=int_between(1, 64)
        )
        ffn_channels: int = config_field(
            2048, doc="feed-forward width after attention", validator=int_between(1, 16384)
        )
        dropout: float = config_field(
            0.1, doc="dropout in the refinement, in [0, 0.99]", validator=_dropout
        )
        gating: bool = config_field(True, doc="gate pooled features by the proposal embedding")
        attention: bool = config_field(True, doc="self-attention across proposals")
        assignment: Literal["hungarian", "nearest"] = config_field(
            "hungarian", doc="stage targets: one-to-one matching, or the nearest object"
        )
        nms: bool = config_field(False, doc="per-class 3-D NMS at predict (ablation)")
        nms_iou: float = config_field(0.25, doc="3-D NMS IoU threshold", validator=fraction)
        match_class: float = config_field(3.0, doc="matching: focal class cost", validator=_weight)
        match_center: float = config_field(2.7, doc="matching: centre L1 cost", validator=_weight)
        match_size: float = config_field(0.9, doc="matching: size L1 cost", validator=_weight)
        match_iou: float = config_field(3.6, doc="matching: minus 3-D IoU", validator=_weight)
        class_weight: float = config_field(1.5, doc="focal loss weight", validator=_weight)
        bbox_weight: float = config_field(0.45, doc="box losses' common weight", validator=_weight)
        center_weight: float = config_field(
            3.0, doc="centre L1 weight (times bbox_weight)", validator=_weight
        )
        size_weight: float = config_field(
            1.0, doc="size L1 weight (times bbox_weight)", validator=_weight
        )
        iou_weight: float = config_field(
            2.0, doc="1 - IoU weight (times bbox_weight)", validator=_weight
        )
        corner_weight: float = config_field(
            0.25, doc="corner loss weight (times bbox_weight)", validator=_weight
        )
        iou_mode: Literal["rotated", "axis_aligned"] = config_field(
            "rotated", doc="IoU loss of yawed boxes, or the official axis-aligned one"
        )
        vote_weight: float = config_field(
            10.0, doc="suppressed vote loss weight", validator=_weight
        )
        foreground_weight: float = config_field(
            3.0, doc="foreground loss weight", validator=_weight
        )
        background_weight: float = config_field(
            0.2, doc="background class weight in the foreground loss", validator=fraction
        )
        proposal_weight: float = config_field(
            1.0, doc="initial proposals' VoteNet losses weight", validator=_weight
        )
        score_threshold: float = config_field(
            0.05, doc="(proposal, class) pairs below this are dropped", validator=fraction
        )
        max_detections: int = config_field(
            256, doc="detections kept per cloud", validator=int_between(1, 10**6)
        )

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        cfg = self.config
        check_backbone_config(cfg, self.name)
        if len(cfg.stage_weights) != cfg.num_stages:
            raise ConfigError(
                f"{self.name}: stage_weights: expected {cfg.num_stages} (one per stage), got "
                f"{len(cfg.stage_weights)}"
            )
        if cfg.num_proposals > cfg.num_candidates:
            raise ConfigError(
                f"{self.name}: num_proposals ({cfg.num_proposals}) must be <= num_candidates "
                f"({cfg.num_candidates})"
            )
        if cfg.embed_dim % cfg.attention_heads:
            raise ConfigError(
                f"{self.name}: embed_dim ({cfg.embed_dim}) must be divisible by attention_heads "
                f"({cfg.attention_heads})"
            )
        self._check_width()
        try:
            self.backbone = make_backbone(cfg)
            channels = self.backbone.out_channels
            self.suppression = NoiseSuppression(channels, suppress=cfg.suppression)
            self.proposal = ProposalModule(
                channels,
                len(cfg.classes),
                cfg.num_heading_bins,
                num_proposals=cfg.num_candidates,
                radius=cfg.aggregation_radius,
                k=cfg.aggregation_k,
                mlp=cfg.aggregation_mlp,
                head_channels=cfg.head_channels,
            )
            self.pre_pool = nn.Sequential(
                nn.Conv1d(channels, cfg.pool_channels, 1),
                nn.BatchNorm1d(cfg.pool_channels),
                nn.ReLU(inplace=True),
            )
            self.init_embedding = nn.Sequential(
                nn.Linear(cfg.head_channels, cfg.embed_dim),
                nn.LayerNorm(cfg.embed_dim),
                nn.ReLU(inplace=True),
                nn.Linear(cfg.embed_dim, cfg.embed_dim),
            )
            self.stage = RefineStage(
                cfg.pool_channels,
                cfg.embed_dim,
                len(cfg.classes),
                grid_sizes=cfg.grid_sizes,
                cell_channels=cfg.cell_channels,
                heads=cfg.attention_heads,
                ffn_channels=cfg.ffn_channels,
                dropout=cfg.dropout,
                gating=cfg.gating,
                attention=cfg.attention,
                heading=cfg.num_heading_bins > 0,
            )
        except InputError as exc:
            raise ConfigError(f"{self.name}: {exc}") from exc
        table = torch.tensor(cfg.mean_sizes, dtype=torch.float32)
        self.mean_size_table: torch.Tensor
        self.size_scale: torch.Tensor
        self.register_buffer("mean_size_table", table, persistent=False)
        self.register_buffer("size_scale", table.mean(0), persistent=False)
        self.costs = MatchCosts(
            class_weight=cfg.match_class,
            center_weight=cfg.match_center,
            size_weight=cfg.match_size,
            iou_weight=cfg.match_iou,
        )

    def _check_width(self) -> None:
        """Refuse weights that cannot fit before they are made (the refinement's too)."""
        cfg = self.config
        cells = sum(g**3 for g in cfg.grid_sizes)
        refine = (
            cells * cfg.cell_channels * cfg.embed_dim
            + 2 * cfg.embed_dim * cfg.ffn_channels
            + 8 * cfg.embed_dim**2
        )
        check_width(cfg, self.name, refine)

    @property
    def num_classes(self) -> int:
        return len(self.config.classes)

    # ------------------------------------------------------------------ network

    def _run(self, xyz: torch.Tensor, features: torch.Tensor | None) -> _Forward:
        cfg = self.config
        seeds = self.backbone(xyz, features)
        votes = self.suppression(seeds.xyz, seeds.features)
        proposals = self.proposal(votes.xyz, votes.features)
        boxes, objectness, _ = decode_proposals(proposals, self.mean_size_table)
        k = min(cfg.num_proposals, int(objectness.shape[1]))
        top = objectness.detach().topk(k, dim=1).indices  # (B, K)
        boxes = boxes.detach().gather(1, top[..., None].expand(-1, -1, 7))
        head = proposals.features.transpose(1, 2)  # (B, P, head_channels)
        embedding = self.init_embedding(
            head.gather(1, top[..., None].expand(-1, -1, head.shape[2]))
        )
        points = torch.cat([votes.xyz, seeds.xyz], 1)
        point_features = self.pre_pool(torch.cat([votes.features, seeds.features], 2))
        inputs, stages = [], []
        for _ in range(cfg.num_stages):
            inputs.append(boxes)
            out = self.stage(points, point_features, boxes, embedding)
            stages.append(out)
            boxes, embedding = out.boxes.detach(), out.embedding
        return _Forward(seeds, votes, proposals, inputs, stages)

    def forward(
        self, xyz: torch.Tensor, features: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The last stage's ``(logits, boxes)``, ``(B, K, C)`` and ``(B, K, 7)``, of the
        prepared clouds ``xyz`` ``(B, N, 3)`` with ``features`` ``(B, C, N)``."""
        last = self._run(xyz, features).stages[-1]
        return last.logits, last.boxes

    # ------------------------------------------------------------------ training

    def _targets(
        self,
        logits: torch.Tensor,
        boxes: torch.Tensor,
        given: torch.Tensor,
        gt: Boxes3D,
        labels: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One scene's (proposal, object) pairs of a stage."""
        cfg = self.config
        dev = boxes.device
        if len(gt) == 0:
            empty = torch.zeros(0, dtype=torch.int64, device=dev)
            return empty, empty.clone()
        target = gt.tensor.to(boxes)
        if cfg.assignment == "hungarian":
            return hungarian_match(
                logits, boxes, labels.to(dev), target, self.costs, size_scale=self.size_scale
            )
        d, j = torch.cdist(given[:, :3], target[:, :3]).min(1)
        rows = (d < cfg.near_threshold).nonzero()[:, 0]
        return rows, j[rows]

    def _stage_losses(
        self,
        stage: StageOutput,
        given: torch.Tensor,
        boxes: Sequence[Boxes3D],
        labels: Sequence[torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        cfg = self.config
        logits, pred = stage.logits, stage.boxes
        targets = torch.zeros_like(logits)
        pairs_pred, pairs_gt = [], []
        for i in range(len(boxes)):
            rows, cols = self._targets(logits[i], pred[i], given[i], boxes[i], labels[i])
            if len(rows):
                lab = labels[i].to(logits.device)[cols]
                targets[i, rows, lab] = 1.0
                pairs_pred.append(pred[i, rows])
                pairs_gt.append(boxes[i].tensor.to(pred)[cols])
        n_obj = sum(len(b) for b in boxes)
        n_pairs = sum(len(p) for p in pairs_pred)
        norm = float(max(n_obj if cfg.assignment == "hungarian" else n_pairs, 1))
        out = {"class": sigmoid_focal_loss(logits, targets, reduction="sum") / norm}
        if n_pairs:
            p, t = torch.cat(pairs_pred), torch.cat(pairs_gt)
            if cfg.num_heading_bins == 0:  # axis-aligned data: compare axis-aligned extents
                t = torch.cat([t[:, :3], _extents(t), torch.zeros_like(t[:, 6:])], 1)
            centre, size = center_size_l1(p, t, size_scale=self.size_scale.to(p), reduction="sum")
            out["center"] = centre / norm
            out["size"] = size / norm
            out["iou"] = iou_loss_3d(p, t, mode=cfg.iou_mode, reduction="sum") / norm
            out["corner"] = corner_loss(p, t, reduction="sum") / norm
        else:
            zero = pred.sum() * 0.0
            out.update(center=zero, size=zero, iou=zero, corner=zero)
        w = cfg.bbox_weight
        return {
            "class": cfg.class_weight * out["class"],
            "center": w * cfg.center_weight * out["center"],
            "size": w * cfg.size_weight * out["size"],
            "iou": w * cfg.iou_weight * out["iou"],
            "corner": w * cfg.corner_weight * out["corner"],
        }

    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """SRDet's weighted losses of a batch as :func:`~xuframe.data.collate_lidar` gives it
        (``"inputs"`` a non-empty list of non-empty :class:`~xuframe.PointCloud`, ``"boxes"``
        one :class:`~xuframe.Boxes3D` per cloud, finite with sizes > 0, ``"labels"`` one
        integer sequence per cloud indexing ``classes``): ``vote`` and ``foreground`` (the
        suppression; no ``foreground`` without it), the initial proposals' VoteNet losses
        (``objectness``, ``center0``, ``heading_cls``, ``heading_reg``, ``size_cls``,
        ``size_reg``, ``sem_cls``, times ``proposal_weight``) and the stages' ``class``,
        ``center``, ``size``, ``iou``, ``corner`` summed over stages with ``stage_weights``.
        Raises :class:`~xuframe.errors.InputError` for anything else, before any work."""
        cfg = self.config
        clouds, boxes, labels = check_batch(
            batch, f"{self.name}.loss", use_color=cfg.use_color, num_classes=self.num_classes
        )
        xyz, features, _ = prepare_clouds(clouds, None, cfg, self.mean_size_table)
        run = self._run(xyz, features)
        seeds, votes = run.seeds, run.votes
        out: dict[str, torch.Tensor] = {}
        if cfg.suppression:
            sup = suppression_losses(
                votes.xyz,
                seeds.xyz,
                votes.foreground_logits,
                boxes,
                background_weight=cfg.background_weight,
            )
            out["vote"] = cfg.vote_weight * sup["vote"]
            out["foreground"] = cfg.foreground_weight * sup["foreground"]
        else:
            out["vote"] = cfg.vote_weight * vote_loss(votes.xyz, seeds.xyz, boxes)
        targets = proposal_targets(run.proposals.xyz, boxes, cfg.near_threshold, cfg.far_threshold)
        initial = proposal_losses(run.proposals, boxes, labels, self.mean_size_table, targets)
        for key, value in initial.items():
            out["center0" if key == "center" else key] = (
                cfg.proposal_weight * LOSS_WEIGHTS[key] * value
            )
        for s, (given, stage) in enumerate(zip(run.stage_inputs, run.stages, strict=True)):
            for key, value in self._stage_losses(stage, given, boxes, labels).items():
                weighted = cfg.stage_weights[s] * value
                out[key] = out[key] + weighted if key in out else weighted
        return out

    # ------------------------------------------------------------------ predict

    @torch.no_grad()
    def predict(self, inputs: Any) -> list[Detections]:
        """One :class:`~xuframe.Detections` of :class:`~xuframe.Boxes3D` (depth frame) per
        cloud: the last stage's (proposal, class) pairs scoring (sigmoid) above
        ``score_threshold``, best first, at most ``max_detections``; no NMS (per-class 3-D NMS
        with ``nms``). ``inputs`` is a non-empty list of :class:`~xuframe.PointCloud` with
        finite coordinates (and ``r, g, b`` features with ``use_color``); an empty cloud gives
        no detections. Raises :class:`~xuframe.errors.InputError` for anything else."""
        clouds = check_clouds(
            inputs, f"{self.name}.predict: inputs", use_color=self.config.use_color
        )
        out = []
        for cloud in clouds:  # one cloud at a time: the memory of one, and no padding
            if len(cloud) == 0:
                out.append(Detections.empty(Boxes3D))
                continue
            generator = torch.Generator().manual_seed(0)
            xyz, features, _ = prepare_clouds([cloud], generator, self.config, self.mean_size_table)
            logits, boxes = self(xyz, features)
            out.append(self._select(logits[0].float().cpu(), boxes[0].float().cpu()))
        return out

    def _select(self, logits: torch.Tensor, boxes: torch.Tensor) -> Detections:
        cfg = self.config
        scores = torch.sigmoid(logits)  # (K, C)
        c = scores.shape[1]
        flat = scores.reshape(-1)
        keep = (flat > cfg.score_threshold).nonzero()[:, 0]
        rows, labels, flat = keep // c, keep % c, flat[keep]
        sizes = boxes[:, 3:6].clamp(min=1e-3)
        boxes = torch.cat([boxes[:, :3], sizes, boxes[:, 6:]], 1)
        if cfg.num_heading_bins > 0:
            boxes[:, 6] = torch.remainder(boxes[:, 6] + torch.pi, 2 * torch.pi) - torch.pi
        chosen = boxes[rows]
        if cfg.nms and len(rows):
            parts = []
            for k in torch.unique(labels).tolist():
                idx = (labels == k).nonzero()[:, 0]
                parts.append(idx[nms_3d(chosen[idx], flat[idx], cfg.nms_iou)])
            kept = torch.cat(parts)
            chosen, flat, labels = chosen[kept], flat[kept], labels[kept]
        return Detections(Boxes3D(chosen.reshape(-1, 7)), flat, labels).top(cfg.max_detections)

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
        mAP@0.5 without NMS, and a top view of one room; with ``scannet`` (a ScanNet scene
        folder), a top view of that scene (see :mod:`xuframe_plugins.srdet.demo`)."""
        from xuframe_plugins.srdet.demo import demo

        return demo(cls, seed, scannet)


def _extents(boxes: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(boxes[:, 6]).abs(), torch.sin(boxes[:, 6]).abs()
    return torch.stack(
        [boxes[:, 3] * c + boxes[:, 4] * s, boxes[:, 3] * s + boxes[:, 4] * c, boxes[:, 5]], 1
    )
