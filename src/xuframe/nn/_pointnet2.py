"""PointNet++ blocks: set abstraction (single- and multi-scale grouping), feature propagation
and VoteNet's backbone, on the point ops of :mod:`xuframe.ops`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import nn

from xuframe.errors import ConfigError, InputError
from xuframe.nn._mlp import SharedMLP
from xuframe.ops import ball_query, furthest_point_sample, three_nn_interpolate
from xuframe.ops._point_sampling import _max_coordinate
from xuframe.validation import check_float, check_int, check_memory, check_tensor

__all__ = [
    "PointFeatures",
    "PointNet2Backbone",
    "PointNetFeaturePropagation",
    "PointNetSetAbstraction",
]


class PointFeatures(NamedTuple):
    """Points with features, as the set abstraction and the backbone return them.

    ``xyz`` ``(B, M, 3)`` the points (metres, the input's frame); ``features`` ``(B, C, M)``
    their features, channels first; ``indices`` ``(B, M)`` ``int64``, for each point the index
    of the input point it is (the FPS pick of a set abstraction, or, for the backbone, the index
    into the backbone's input cloud).
    """

    xyz: torch.Tensor
    features: torch.Tensor
    indices: torch.Tensor


# --------------------------------------------------------------------------- config checks


def _widths(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ConfigError(f"{what}: expected a non-empty sequence of layer widths, got {value!r}")
    return tuple(
        check_int(w, f"{what}[{i}]", min=1, error=ConfigError) for i, w in enumerate(value)
    )


def _sequence(value: Any, what: str, length: int | None = None) -> Sequence[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ConfigError(f"{what}: expected a sequence, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise ConfigError(f"{what}: expected {length} entries, got {len(value)}")
    return value


def _scales(value: Any, what: str) -> tuple[tuple[float, int, tuple[int, ...]], ...]:
    items = _sequence(value, what)
    if not items:
        raise ConfigError(f"{what}: expected at least one (radius, k, mlp) scale, got none")
    out = []
    for i, item in enumerate(items):
        name = f"{what}[{i}]"
        if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) != 3:
            raise ConfigError(f"{name}: expected a (radius, k, mlp) triple, got {item!r}")
        radius = check_float(item[0], f"{name} radius", min=0.0, min_open=True, error=ConfigError)
        k = check_int(item[1], f"{name} k", min=1, error=ConfigError)
        out.append((radius, k, _widths(item[2], f"{name} mlp")))
    return tuple(out)


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{what}: expected a bool, got {type(value).__name__} {value!r}")
    return value


# ---------------------------------------------------------------------------- input checks


def _parameter(module: nn.Module) -> torch.Tensor:
    return next(module.parameters())


def _check_xyz(
    value: Any, what: str, reference: torch.Tensor, batch: int | None = None
) -> torch.Tensor:
    """``value`` as a ``(B, N, 3)`` point tensor of the module's dtype and device, ``N >= 1``,
    finite coordinates whose squared distances fit the dtype."""
    xyz = check_tensor(
        value,
        what,
        shape=(batch, None, 3),
        non_empty=True,
        dtype=reference.dtype,
        max_abs=_max_coordinate(reference.dtype),
    )
    _check_device(xyz, what, reference)
    return xyz


def _check_features(
    value: Any, what: str, reference: torch.Tensor, batch: int, channels: int, n: int
) -> torch.Tensor | None:
    """``value`` as ``(B, channels, N)`` features of the module's dtype and device (``None``
    exactly when ``channels`` is 0)."""
    if channels == 0:
        if value is not None:
            raise InputError(
                f"{what}: expected None (the block was built with 0 feature channels), "
                f"got {type(value).__name__}"
            )
        return None
    if value is None:
        raise InputError(f"{what}: expected a ({batch}, {channels}, {n}) tensor, got None")
    features = check_tensor(value, what, shape=(batch, channels, n), dtype=reference.dtype)
    _check_device(features, what, reference)
    return features


def _check_device(tensor: torch.Tensor, what: str, reference: torch.Tensor) -> None:
    if tensor.device != reference.device:
        raise InputError(
            f"{what}: expected a tensor on the module's device {reference.device}, "
            f"got {tensor.device}"
        )


def _check_indices(value: Any, what: str, batch: int, m: int, n: int) -> torch.Tensor:
    """``value`` as ``(B, m)`` integer indices in ``[0, n)``, as ``int64``."""
    indices = check_tensor(value, what, shape=(batch, m), floating=False)
    if indices.is_floating_point():
        raise InputError(f"{what}: expected an integer tensor, got dtype {indices.dtype}")
    if indices.numel():
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= n:
            raise InputError(
                f"{what}: expected indices in [0, {n - 1}], got values in [{low}, {high}]"
            )
    return indices.long()


def _check_batch_norm(module: nn.Module, rows: int, what: str) -> None:
    if module.training and rows < 2:
        raise InputError(
            f"{what}: batch norm in training mode needs more than one value per channel, got "
            f"{rows} (give more points or call .eval())"
        )


# ---------------------------------------------------------------------------- the blocks


def _gather_rows(table: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """``table`` ``(B, N, C)`` rows picked by ``indices`` ``(B, ...)`` -> ``(B, ..., C)``."""
    batch, n, channels = table.shape
    offsets = torch.arange(batch, device=table.device).mul_(n)
    flat = (indices.reshape(batch, -1) + offsets[:, None]).reshape(-1)
    return table.reshape(batch * n, channels)[flat].reshape(*indices.shape, channels)


class PointNetSetAbstraction(nn.Module):
    """PointNet++'s set abstraction layer, with single-scale (one scale) or multi-scale
    grouping (several), as VoteNet's ``PointnetSAModuleVotes`` / ``PointnetSAModuleMSGVotes``
    and mmdetection3d's ``PointSAModule`` / ``PointSAModuleMSG`` compute it.

    1. ``npoint`` centres are picked by :func:`~xuframe.ops.furthest_point_sample` (or given).
    2. For each scale ``(radius, k, mlp)`` each centre's group is the ``k`` points that
       :func:`~xuframe.ops.ball_query` returns (the first ``k`` in index order within
       ``radius`` metres, padded with the first).
    3. Each group member gets its offset from the centre (divided by ``radius`` with
       ``normalize_xyz``) followed by its features (only the features without ``use_xyz``),
       then the scale's shared MLP (per member: linear map + batch norm + ReLU per layer, a
       1x1 convolution), then a max over the group.
    4. The scales' outputs are concatenated along the channels:
       ``out_channels = sum(mlp[-1])``.

    With ``group_all=True`` (PointNet++'s last layer of a classifier, PointRCNN's stage-2
    head, mmdetection3d's ``GroupAll``) there is one centre per cloud, the origin, and its
    group is every input point: each point's ``xyz`` as it is (its offset from the origin; not
    divided by anything) followed by its features, the MLP, then a max over all points.
    ``npoint`` must then be 1 and ``scales`` hold one scale, whose ``radius`` and ``k`` are not
    used.

    Arguments: ``npoint`` (int >= 1; may exceed the input's point count, FPS then repeats
    index 0 as the CUDA op does), ``scales`` a non-empty sequence of ``(radius > 0, k >= 1,
    mlp)`` with ``mlp`` the non-empty layer widths, ``in_channels`` (int >= 0) the input
    feature channels, ``use_xyz``, ``normalize_xyz`` and ``group_all`` bools. Raises
    :class:`~xuframe.errors.ConfigError` for anything else, when ``in_channels`` is 0
    without ``use_xyz`` (nothing to group), and with ``group_all`` for ``npoint`` other than 1
    or several scales.
    """

    def __init__(
        self,
        npoint: int,
        scales: Sequence[tuple[float, int, Sequence[int]]],
        in_channels: int = 0,
        *,
        use_xyz: bool = True,
        normalize_xyz: bool = False,
        group_all: bool = False,
    ) -> None:
        super().__init__()
        self.npoint = check_int(npoint, "PointNetSetAbstraction: npoint", min=1, error=ConfigError)
        self.scales = _scales(scales, "PointNetSetAbstraction: scales")
        self.in_channels = check_int(
            in_channels, "PointNetSetAbstraction: in_channels", min=0, error=ConfigError
        )
        self.use_xyz = _flag(use_xyz, "PointNetSetAbstraction: use_xyz")
        self.normalize_xyz = _flag(normalize_xyz, "PointNetSetAbstraction: normalize_xyz")
        self.group_all = _flag(group_all, "PointNetSetAbstraction: group_all")
        if self.group_all and (self.npoint != 1 or len(self.scales) != 1):
            raise ConfigError(
                f"PointNetSetAbstraction: group_all: expected npoint=1 and one scale (one group "
                f"of every point), got npoint={self.npoint} and {len(self.scales)} scales"
            )
        if self.in_channels == 0 and not self.use_xyz:
            raise ConfigError(
                "PointNetSetAbstraction: expected in_channels >= 1 or use_xyz=True, got neither "
                "(a group would have no channels)"
            )
        width = self.in_channels + (3 if self.use_xyz else 0)
        self.mlps = nn.ModuleList(SharedMLP(width, mlp) for _, _, mlp in self.scales)
        self.out_channels = sum(mlp[-1] for _, _, mlp in self.scales)

    def extra_repr(self) -> str:
        scales = ", ".join(f"(r={r:g}, k={k}, mlp={list(mlp)})" for r, k, mlp in self.scales)
        return (
            f"npoint={self.npoint}, in_channels={self.in_channels}, scales=[{scales}], "
            f"use_xyz={self.use_xyz}, normalize_xyz={self.normalize_xyz}, "
            f"group_all={self.group_all}"
        )

    def check_input(
        self, xyz: Any, features: Any = None, indices: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """The arguments of :meth:`forward`, checked (see there); ``indices`` as ``int64``.
        Raises :class:`~xuframe.errors.InputError`."""
        what = "PointNetSetAbstraction"
        reference = _parameter(self)
        xyz = _check_xyz(xyz, f"{what}(xyz)", reference)
        batch, n = int(xyz.shape[0]), int(xyz.shape[1])
        features = _check_features(
            features, f"{what}(features)", reference, batch, self.in_channels, n
        )
        if indices is not None:
            if self.group_all:
                raise InputError(
                    f"{what}(indices): expected None (group_all has one centre, the origin), "
                    f"got {type(indices).__name__}"
                )
            indices = _check_indices(indices, f"{what}(indices)", batch, self.npoint, n)
        groups = batch * self.npoint
        members = n if self.group_all else max(k for _, k, _ in self.scales)
        _check_batch_norm(
            self, groups * (n if self.group_all else min(k for _, k, _ in self.scales)), what
        )
        widest = max(max(mlp) for _, _, mlp in self.scales)
        check_memory(
            2.0 * groups * members * widest * reference.element_size(),
            f"{what}: the groups of {batch} x {self.npoint} centres",
        )
        return xyz, features, indices

    def forward(
        self,
        xyz: torch.Tensor,
        features: torch.Tensor | None = None,
        indices: torch.Tensor | None = None,
    ) -> PointFeatures:
        """Abstract the points ``xyz`` ``(B, N, 3)`` (metres) with their ``features``
        ``(B, in_channels, N)`` (``None`` when ``in_channels`` is 0).

        ``indices`` ``(B, npoint)`` integers in ``[0, N)`` give the centres instead of FPS
        (VoteNet's ``inds``: seed FPS, random sampling). Returns :class:`PointFeatures`: the
        centres ``(B, npoint, 3)``, their features ``(B, out_channels, npoint)`` and their
        indices ``(B, npoint)`` ``int64`` into the input points. Differentiable in ``xyz`` and
        ``features``. With ``group_all`` the centres are ``(B, 1, 3)`` zeros (the origin), the
        indices ``(B, 1)`` zeros (the origin is no input point) and ``indices`` must be None.

        Raises :class:`~xuframe.errors.InputError`, before any work, when ``xyz`` is not a
        finite ``(B, N, 3)`` tensor with ``B, N >= 1`` of the module's dtype and device (or a
        coordinate so large that squared distances overflow), ``features`` not a finite tensor
        of that shape, dtype and device (or given when ``in_channels`` is 0), ``indices`` not
        integers of that shape in range, in training mode when batch norm would see one value
        per channel, and when the groups would not fit in memory.
        """
        xyz, features, indices = self.check_input(xyz, features, indices)
        return self._abstract(xyz, features, indices)

    def _abstract(
        self, xyz: torch.Tensor, features: torch.Tensor | None, indices: torch.Tensor | None
    ) -> PointFeatures:
        """:meth:`forward` on checked input."""
        if self.group_all:
            return self._group_all(xyz, features)
        if indices is None:
            indices = furthest_point_sample(xyz, self.npoint)
        centres = _gather_rows(xyz, indices)  # (B, M, 3)
        parts = []
        if self.use_xyz:
            parts.append(xyz)
        if features is not None:
            parts.append(features.transpose(1, 2))
        table = parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)  # (B, N, C)
        pooled = []
        for (radius, k, _), mlp in zip(self.scales, self.mlps, strict=True):
            members = ball_query(xyz.detach(), centres.detach(), radius, k)  # (B, M, k)
            grouped = _gather_rows(table, members)  # (B, M, k, 3 + C)
            if self.use_xyz:  # offsets from the centre, in place of the points
                offsets = grouped[..., :3]
                offsets.sub_(centres[:, :, None, :])
                if self.normalize_xyz:
                    offsets.div_(radius)
            pooled.append(mlp(grouped, pool_dim=2))  # (B, M, mlp[-1]): max over the group
        out = pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=2)
        return PointFeatures(centres, out.transpose(1, 2), indices)

    def _group_all(self, xyz: torch.Tensor, features: torch.Tensor | None) -> PointFeatures:
        """One group of every point around the origin: ``[xyz, features]``, MLP, max."""
        parts = []
        if self.use_xyz:
            parts.append(xyz)
        if features is not None:
            parts.append(features.transpose(1, 2))
        table = parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)  # (B, N, C)
        pooled = self.mlps[0](table[:, None], pool_dim=2)  # (B, 1, mlp[-1])
        batch = int(xyz.shape[0])
        return PointFeatures(
            xyz.new_zeros(batch, 1, 3),
            pooled.transpose(1, 2),
            torch.zeros(batch, 1, dtype=torch.int64, device=xyz.device),
        )


class PointNetFeaturePropagation(nn.Module):
    """PointNet++'s feature propagation layer, as VoteNet's ``PointnetFPModule`` and
    mmdetection3d's ``PointFPModule``: the features of the ``known`` points are carried to the
    ``unknown`` points by :func:`~xuframe.ops.three_nn_interpolate` (inverse-distance weights
    of the three nearest), concatenated with the unknown points' own (skip) features, and
    passed through a shared MLP (per point: linear map + batch norm + ReLU per layer).

    Arguments: ``known_channels`` (int >= 1) the channels of the features interpolated,
    ``skip_channels`` (int >= 0) those of the skip features, ``mlp`` the non-empty layer
    widths; ``out_channels = mlp[-1]``. Raises :class:`~xuframe.errors.ConfigError` for
    anything else.
    """

    def __init__(self, known_channels: int, skip_channels: int, mlp: Sequence[int]) -> None:
        super().__init__()
        what = "PointNetFeaturePropagation"
        self.known_channels = check_int(
            known_channels, f"{what}: known_channels", min=1, error=ConfigError
        )
        self.skip_channels = check_int(
            skip_channels, f"{what}: skip_channels", min=0, error=ConfigError
        )
        self.widths = _widths(mlp, f"{what}: mlp")
        self.mlp = SharedMLP(self.known_channels + self.skip_channels, self.widths)
        self.out_channels = self.widths[-1]

    def extra_repr(self) -> str:
        return (
            f"known_channels={self.known_channels}, skip_channels={self.skip_channels}, "
            f"mlp={list(self.widths)}"
        )

    def check_input(
        self,
        unknown_xyz: Any,
        known_xyz: Any,
        known_features: Any,
        skip_features: Any = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The arguments of :meth:`forward`, checked (see there). Raises
        :class:`~xuframe.errors.InputError`."""
        what = "PointNetFeaturePropagation"
        reference = _parameter(self)
        unknown_xyz = _check_xyz(unknown_xyz, f"{what}(unknown_xyz)", reference)
        batch, n = int(unknown_xyz.shape[0]), int(unknown_xyz.shape[1])
        known_xyz = _check_xyz(known_xyz, f"{what}(known_xyz)", reference, batch=batch)
        m = int(known_xyz.shape[1])
        known = _check_features(
            known_features, f"{what}(known_features)", reference, batch, self.known_channels, m
        )
        assert known is not None
        skip = _check_features(
            skip_features, f"{what}(skip_features)", reference, batch, self.skip_channels, n
        )
        _check_batch_norm(self, batch * n, what)
        check_memory(
            2.0
            * batch
            * n
            * max(self.known_channels + self.skip_channels, *self.widths)
            * reference.element_size(),
            f"{what}: the features of {batch} x {n} points",
        )
        return unknown_xyz, known_xyz, known, skip

    def forward(
        self,
        unknown_xyz: torch.Tensor,
        known_xyz: torch.Tensor,
        known_features: torch.Tensor,
        skip_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(B, out_channels, n)``: the features of the points ``unknown_xyz`` ``(B, n, 3)``
        from those of the points ``known_xyz`` ``(B, m, 3)``, ``known_features``
        ``(B, known_channels, m)``, and the skip features ``(B, skip_channels, n)`` (``None``
        when ``skip_channels`` is 0). The interpolated features come first in the
        concatenation. Differentiable in both feature tensors (the interpolation weights carry
        no gradient, as in PointNet++).

        Raises :class:`~xuframe.errors.InputError`, before any work, when a point tensor is not
        a finite ``(B, ., 3)`` tensor with at least one point of the module's dtype and device
        (one ``B`` for all), a feature tensor not finite of its shape, dtype and device (or
        skip features given when ``skip_channels`` is 0), in training mode when batch norm
        would see one value per channel, and when the result would not fit in memory.
        """
        checked = self.check_input(unknown_xyz, known_xyz, known_features, skip_features)
        return self._propagate(*checked)

    def _propagate(
        self,
        unknown_xyz: torch.Tensor,
        known_xyz: torch.Tensor,
        known_features: torch.Tensor,
        skip_features: torch.Tensor | None,
    ) -> torch.Tensor:
        """:meth:`forward` on checked input."""
        interpolated = three_nn_interpolate(unknown_xyz, known_xyz, known_features)
        if skip_features is not None:
            interpolated = torch.cat([interpolated, skip_features], dim=1)
        out: torch.Tensor = self.mlp(interpolated.transpose(1, 2))
        return out.transpose(1, 2)


_VOTENET_NPOINTS = (2048, 1024, 512, 256)
_VOTENET_RADII = (0.2, 0.4, 0.8, 1.2)
_VOTENET_KS = (64, 32, 16, 16)
_VOTENET_SA_MLPS = ((64, 64, 128), (128, 128, 256), (128, 128, 256), (128, 128, 256))
_VOTENET_FP_MLPS = ((256, 256), (256, 256))


class PointNet2Backbone(nn.Module):
    """A PointNet++ single-scale backbone, by default VoteNet's: 4 set abstraction layers
    (2048, 1024, 512, 256 centres; radii 0.2, 0.4, 0.8, 1.2 m; groups of 64, 32, 16, 16; MLPs
    64-64-128, 128-128-256, 128-128-256, 128-128-256; relative xyz divided by the radius) and
    2 feature propagation layers (256-256 each) that carry the deepest features back to the
    second level's 1024 points, the seeds.

    Set abstraction ``i`` abstracts the output of ``i - 1`` (level 0 is the input). Feature
    propagation ``j`` (``j = 0, 1, ...``) carries the features of level ``L - j`` (the last
    output, then each propagation's) to level ``L - j - 1``, with that level's features as
    skip features; ``L`` is the number of set abstractions. The seeds are the points of level
    ``L - F`` (``F`` propagations; ``F = L`` propagates to the input points).

    Arguments: ``in_channels`` (int >= 0) the input feature channels (VoteNet: 1, the height
    above the floor; 0 for none); ``npoints``, ``radii``, ``ks``, ``sa_mlps`` one entry per
    set abstraction (ints >= 1, numbers > 0 in metres, ints >= 1, non-empty width sequences);
    ``fp_mlps`` at most that many width sequences; ``normalize_xyz`` a bool. Raises
    :class:`~xuframe.errors.ConfigError` for anything else.

    Level ``i >= 2`` does not run FPS when it keeps no more points than level ``i - 1``: FPS
    (started at index 0, ties to the lowest index) of points that FPS ordered picks them in
    order, so its centres are the first ``npoint`` (the prefix is used; the result is the same,
    tested). ``seed_count`` is the number of seeds for an input of at least ``npoints[0]``
    points.
    """

    def __init__(
        self,
        in_channels: int = 0,
        *,
        npoints: Sequence[int] = _VOTENET_NPOINTS,
        radii: Sequence[float] = _VOTENET_RADII,
        ks: Sequence[int] = _VOTENET_KS,
        sa_mlps: Sequence[Sequence[int]] = _VOTENET_SA_MLPS,
        fp_mlps: Sequence[Sequence[int]] = _VOTENET_FP_MLPS,
        normalize_xyz: bool = True,
    ) -> None:
        super().__init__()
        what = "PointNet2Backbone"
        self.in_channels = check_int(in_channels, f"{what}: in_channels", min=0, error=ConfigError)
        levels = len(_sequence(npoints, f"{what}: npoints"))
        if levels == 0:
            raise ConfigError(f"{what}: npoints: expected at least one set abstraction, got none")
        _sequence(radii, f"{what}: radii", levels)
        _sequence(ks, f"{what}: ks", levels)
        _sequence(sa_mlps, f"{what}: sa_mlps", levels)
        if len(_sequence(fp_mlps, f"{what}: fp_mlps")) > levels:
            raise ConfigError(
                f"{what}: fp_mlps: expected at most {levels} feature propagations (one per set "
                f"abstraction), got {len(fp_mlps)}"
            )
        _flag(normalize_xyz, f"{what}: normalize_xyz")
        self.sa = nn.ModuleList()
        channels = [self.in_channels]
        for i in range(levels):
            try:
                block = PointNetSetAbstraction(
                    npoints[i],
                    [(radii[i], ks[i], sa_mlps[i])],
                    channels[-1],
                    normalize_xyz=normalize_xyz,
                )
            except ConfigError as exc:
                raise ConfigError(f"{what}: set abstraction {i}: {exc}") from exc
            self.sa.append(block)
            channels.append(block.out_channels)
        self.fp = nn.ModuleList()
        deep = channels[-1]
        for j, mlp in enumerate(fp_mlps):
            skip = channels[levels - j - 1]
            fp = PointNetFeaturePropagation(deep, skip, _widths(mlp, f"{what}: fp_mlps[{j}]"))
            self.fp.append(fp)
            deep = fp.out_channels
        self.out_channels = deep
        seed_level = levels - len(self.fp)
        self.seed_count: int | None = None
        if seed_level > 0:
            seed_block = self.sa[seed_level - 1]
            assert isinstance(seed_block, PointNetSetAbstraction)
            self.seed_count = seed_block.npoint

    def forward(self, xyz: torch.Tensor, features: torch.Tensor | None = None) -> PointFeatures:
        """The seeds of the clouds ``xyz`` ``(B, N, 3)`` (metres) with their ``features``
        ``(B, in_channels, N)`` (``None`` when ``in_channels`` is 0): a
        :class:`PointFeatures` of the seeds' ``xyz`` ``(B, S, 3)``, ``features``
        ``(B, out_channels, S)`` and ``indices`` ``(B, S)`` ``int64``, the index of the input
        point each seed is (VoteNet's ``fp2_xyz``, ``fp2_features``, ``fp2_inds``). ``S`` is
        :attr:`seed_count` (``N`` when the propagation reaches the input).

        Raises :class:`~xuframe.errors.InputError`, before any work, as
        :meth:`PointNetSetAbstraction.forward` does for its ``xyz`` and ``features``.
        """
        first = self.sa[0]
        assert isinstance(first, PointNetSetAbstraction)
        xyz, features, _ = first.check_input(xyz, features)
        self._check_levels(int(xyz.shape[0]), int(xyz.shape[1]), _parameter(self))
        batch, n = int(xyz.shape[0]), int(xyz.shape[1])
        # each level: points, features (None for an input without), indices into the input
        levels: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]] = [
            (xyz, features, _arange(batch, n, xyz.device))
        ]
        for i, block in enumerate(self.sa):
            assert isinstance(block, PointNetSetAbstraction)
            points, point_features, point_indices = levels[-1]
            given = None
            if i > 0 and block.npoint <= points.shape[1]:
                given = _arange(batch, block.npoint, xyz.device)  # FPS of an FPS prefix
            out = block._abstract(points, point_features, given)
            levels.append((out.xyz, out.features, point_indices.gather(1, out.indices)))
        deep = levels[-1][1]
        assert deep is not None
        for j, fp in enumerate(self.fp):
            assert isinstance(fp, PointNetFeaturePropagation)
            (target_xyz, skip, _), (source_xyz, _, _) = levels[-j - 2], levels[-j - 1]
            deep = fp._propagate(target_xyz, source_xyz, deep, skip)
        seed_xyz, _, seed_indices = levels[len(self.sa) - len(self.fp)]
        return PointFeatures(seed_xyz, deep, seed_indices)

    def _check_levels(self, batch: int, n: int, reference: torch.Tensor) -> None:
        """Batch norm in training mode and the memory of every level's groups."""
        sizes = [n]
        for block in self.sa:
            assert isinstance(block, PointNetSetAbstraction)
            sizes.append(block.npoint)
            _, k, mlp = block.scales[0]
            width = max(block.in_channels + 3, *mlp)
            _check_batch_norm(self, batch * block.npoint * k, "PointNet2Backbone")
            check_memory(
                2.0 * batch * block.npoint * k * width * reference.element_size(),
                f"PointNet2Backbone: the groups of {batch} x {block.npoint} centres",
            )
        for j in range(len(self.fp)):
            _check_batch_norm(self, batch * sizes[-j - 2], "PointNet2Backbone")


def _arange(batch: int, n: int, device: torch.device) -> torch.Tensor:
    return torch.arange(n, device=device).expand(batch, n)
