"""The config and input checks, the backbone and the batch preparation that ``votenet``
(:class:`~xuframe_plugins.srdet.votenet.VoteNet`) and ``srdet``
(:class:`~xuframe_plugins.srdet.model.SRDet`) share: both configs carry the fields read here
(``classes``, ``mean_sizes``, ``num_points``, ``use_height``, ``use_color``, ``npoints``,
``radii``, ``ks``, ``sa_mlps``, ``fp_mlps``, ``aggregation_mlp``, ``near_threshold``,
``far_threshold``)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import attrs
import torch

from xuframe.errors import ConfigError, InputError
from xuframe.nn import PointNet2Backbone
from xuframe.types import Boxes3D, PointCloud
from xuframe.validation import check_int, check_lidar_batch, check_memory, check_point_clouds

__all__ = [
    "check_backbone_config",
    "check_batch",
    "check_clouds",
    "check_width",
    "example_rooms",
    "valid_levels",
    "make_backbone",
    "valid_mean_sizes",
    "prepare_clouds",
]

# ---------------------------------------------------------------------- config validators


def valid_mean_sizes(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator: rows of three sizes ``l, w, h`` in ``(0, 1000)`` metres, else
    :class:`~xuframe.errors.ConfigError`."""
    for i, row in enumerate(value):
        if len(row) != 3 or not all(isinstance(v, (int, float)) and 0 < v < 1e3 for v in row):
            raise ConfigError(
                f"{attribute.name}[{i}]: expected three sizes l, w, h in (0, 1000) m, got {row!r}"
            )


def valid_levels(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator: 1 to 8 set abstraction levels, else
    :class:`~xuframe.errors.ConfigError`."""
    if not 1 <= len(value) <= 8:
        raise ConfigError(f"{attribute.name}: expected 1 to 8 levels, got {len(value)}")


def check_backbone_config(cfg: Any, name: str) -> None:
    """Raise :class:`~xuframe.errors.ConfigError` (prefixed ``name``) unless ``cfg`` has one
    ``mean_sizes`` row per class, ``far_threshold >= near_threshold``, one ``radii``, ``ks``
    and ``sa_mlps`` entry per set abstraction and fewer ``fp_mlps`` than set abstractions."""
    if len(cfg.mean_sizes) != len(cfg.classes):
        raise ConfigError(
            f"{name}: mean_sizes: expected one (l, w, h) per class "
            f"({len(cfg.classes)}), got {len(cfg.mean_sizes)}"
        )
    if cfg.far_threshold < cfg.near_threshold:
        raise ConfigError(
            f"{name}: far_threshold ({cfg.far_threshold}) must be >= near_threshold "
            f"({cfg.near_threshold})"
        )
    n = len(cfg.npoints)
    for key in ("radii", "ks", "sa_mlps"):
        if len(getattr(cfg, key)) != n:
            raise ConfigError(
                f"{name}: {key}: expected {n} entries (one per set abstraction), "
                f"got {len(getattr(cfg, key))}"
            )
    if len(cfg.fp_mlps) >= n:
        raise ConfigError(
            f"{name}: fp_mlps: expected fewer feature propagations than set "
            f"abstractions ({n}), got {len(cfg.fp_mlps)}"
        )


def check_width(cfg: Any, name: str, extra: int = 0) -> None:
    """Refuse weights that cannot fit before they are made: every width of ``sa_mlps``,
    ``fp_mlps`` and ``aggregation_mlp`` an int in ``[1, 65536]``, and the estimated parameter
    count (their squares, 4 times the widest squared, plus ``extra``) times 4 bytes within
    memory; :class:`~xuframe.errors.ConfigError` (prefixed ``name``) otherwise."""
    widths = [w for row in (*cfg.sa_mlps, *cfg.fp_mlps, cfg.aggregation_mlp) for w in row]
    for w in widths:
        check_int(w, f"{name}: layer width", min=1, max=1 << 16, error=ConfigError)
    params = sum(w * w for w in widths) + 4 * max(widths) ** 2 + extra
    check_memory(4.0 * params, f"{name}: the weights ({params:.3g})", error=ConfigError)


def make_backbone(cfg: Any) -> PointNet2Backbone:
    """The PointNet++ backbone of ``cfg``: input features the height above the floor
    (``use_height``) and ``r, g, b`` (``use_color``). Raises
    :class:`~xuframe.errors.InputError` for inconsistent levels."""
    return PointNet2Backbone(
        int(cfg.use_height) + 3 * int(cfg.use_color),
        npoints=cfg.npoints,
        radii=cfg.radii,
        ks=cfg.ks,
        sa_mlps=cfg.sa_mlps,
        fp_mlps=cfg.fp_mlps,
    )


# ---------------------------------------------------------------------- inputs


def check_clouds(inputs: Any, what: str, *, use_color: bool) -> list[PointCloud]:
    """``inputs`` as a list after checking it is a non-empty list or tuple of
    :class:`~xuframe.PointCloud` with finite coordinates and features (``|value| <= 1e6``),
    and with ``use_color`` at least 3 feature channels; :class:`~xuframe.errors.InputError`
    (prefixed ``what``) otherwise (see :func:`~xuframe.validation.check_point_clouds`)."""
    clouds = check_point_clouds(inputs, what, max_abs=1e6)
    if use_color:
        for i, cloud in enumerate(clouds):
            if cloud.num_features < 3:
                raise InputError(
                    f"{what}: point cloud {i}: expected r, g, b features (use_color), got "
                    f"{cloud.num_features} feature channel(s)"
                )
    return clouds


def check_batch(
    batch: Any, what: str, *, use_color: bool, num_classes: int
) -> tuple[list[PointCloud], list[Boxes3D], list[torch.Tensor]]:
    """The clouds, boxes and labels of a :func:`~xuframe.data.collate_lidar` batch (a mapping
    with ``"inputs"``, ``"boxes"``, ``"labels"``): the clouds as for :func:`check_clouds` and
    each non-empty, one finite :class:`~xuframe.Boxes3D` per cloud with sizes > 0, one label
    in ``0 .. num_classes - 1`` per box; :class:`~xuframe.errors.InputError` (prefixed
    ``what``) otherwise (see :func:`~xuframe.validation.check_lidar_batch`)."""
    return check_lidar_batch(
        batch,
        what,
        num_classes=num_classes,
        check_inputs=functools.partial(check_clouds, use_color=use_color),
        require_points=True,
    )


def prepare_clouds(
    clouds: Sequence[PointCloud],
    generator: torch.Generator | None,
    cfg: Any,
    ref: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
    """The batch tensors ``(B, N, 3)`` and features ``(B, C, N)`` (``None`` without
    ``use_height`` and ``use_color``) of checked non-empty clouds, in ``ref``'s dtype and
    device: each subsampled to ``cfg.num_points`` when larger, and the smaller padded to the
    largest by repeating their points (drawn from ``generator``); also each cloud's kept
    points ``(n_i, 3)``. The height is ``z`` minus the cloud's 1st percentile of ``z``."""
    kept = []
    for cloud in clouds:
        n = len(cloud)
        if n > cfg.num_points:
            kept.append(torch.randperm(n, generator=generator)[: cfg.num_points])
        else:
            kept.append(torch.arange(n))
    size = max(len(k) for k in kept)
    rows, feats = [], []
    for cloud, k in zip(clouds, kept, strict=True):
        if len(k) < size:
            extra = k[torch.randint(0, len(k), (size - len(k),), generator=generator)]
            k = torch.cat([k, extra])
        xyz = cloud.xyz[k].to(ref)
        parts = []
        if cfg.use_height:
            floor = torch.quantile(cloud.xyz[:, 2].to(ref), 0.0099) if len(cloud) else 0.0
            parts.append(xyz[:, 2:3] - floor)
        if cfg.use_color:
            parts.append(cloud.features[k, :3].to(ref))
        rows.append(xyz)
        if parts:
            feats.append(torch.cat(parts, 1))
    xyz = torch.stack(rows)
    features = torch.stack(feats).transpose(1, 2).contiguous() if feats else None
    return xyz, features, [c.xyz[k] for c, k in zip(clouds, kept, strict=True)]


def example_rooms(batch_size: int, seed: int) -> dict[str, Any]:
    """``batch_size`` synthetic rooms (:class:`~xuframe.data.IndoorScenes` of ``seed``, 2,048
    points and up to 6 objects each), collated by :func:`~xuframe.data.collate_lidar`."""
    from xuframe.data import IndoorScenes, collate_lidar

    rooms = IndoorScenes(batch_size, seed=seed, n_points=2048, max_objects=6)
    return collate_lidar(
        [{"points": r.points, "boxes": r.boxes, "labels": r.labels, "frame_id": r.name}
         for r in (rooms[i] for i in range(batch_size))]
    )  # fmt: skip
