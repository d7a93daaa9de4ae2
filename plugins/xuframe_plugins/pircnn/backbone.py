"""The point-wise layers of PointRCNN: the PointNet++ multi-scale-grouping backbone that gives
every input point a feature, and the row-wise MLPs of its heads."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from xuframe.errors import ConfigError
from xuframe.nn import PointNetFeaturePropagation, PointNetSetAbstraction

__all__ = ["PointNet2MSG", "RowMLP"]


class RowMLP(nn.Module):
    """Linear (no bias) + batch norm + ReLU per width in ``widths``, then, with ``out``, a
    final linear layer with bias: ``(..., in_channels) -> (..., widths[-1] or out)``. Batch
    norm takes its statistics over every row (OpenPCDet's ``make_fc_layers``)."""

    def __init__(self, in_channels: int, widths: Sequence[int], out: int | None = None) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = in_channels
        for w in widths:
            layers += [nn.Linear(previous, w, bias=False), nn.BatchNorm1d(w), nn.ReLU()]
            previous = w
        self.last: nn.Linear | None = None
        if out is not None:
            self.last = nn.Linear(previous, out)
            layers.append(self.last)
            previous = out
        self.layers = nn.Sequential(*layers)
        self.out_channels = previous

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """``(..., in_channels)`` -> ``(..., out_channels)``."""
        lead = rows.shape[:-1]
        y: torch.Tensor = self.layers(rows.reshape(-1, rows.shape[-1]))
        return y.reshape(*lead, y.shape[-1])


class PointNet2MSG(nn.Module):
    """PointRCNN's backbone (OpenPCDet's ``PointNet2MSG``): set abstractions with multi-scale
    grouping (:class:`xuframe.nn.PointNetSetAbstraction`, offsets not normalised), then one
    feature propagation per level (:class:`xuframe.nn.PointNetFeaturePropagation`) back to
    every input point.

    ``npoints[i]`` centres at level ``i + 1``, each with ``len(radii[i])`` scales
    ``(radii[i][s], ks[i][s], sa_mlps[i][s])``; ``fp_mlps[i]`` makes the features of level
    ``i`` (level 0 is the input) from level ``i + 1``'s, deepest first, so the input points
    end with ``fp_mlps[0][-1]`` channels. Levels after the first do not run FPS: the points of
    the level before came out of FPS in FPS order, and FPS of those picks their prefix (the
    argument of :class:`xuframe.nn.PointNet2Backbone`). Raises
    :class:`~xuframe.errors.ConfigError` for inconsistent sizes."""

    def __init__(
        self,
        in_channels: int,
        npoints: Sequence[int],
        radii: Sequence[Sequence[float]],
        ks: Sequence[Sequence[int]],
        sa_mlps: Sequence[Sequence[Sequence[int]]],
        fp_mlps: Sequence[Sequence[int]],
    ) -> None:
        super().__init__()
        levels = len(npoints)
        for key, value in (
            ("radii", radii),
            ("ks", ks),
            ("sa_mlps", sa_mlps),
            ("fp_mlps", fp_mlps),
        ):
            if len(value) != levels:
                raise ConfigError(
                    f"PointNet2MSG: {key}: expected {levels} entries (one per level), got "
                    f"{len(value)}"
                )
        self.sa = nn.ModuleList()
        channels = [in_channels]
        for i in range(levels):
            if not len(radii[i]) == len(ks[i]) == len(sa_mlps[i]):
                raise ConfigError(
                    f"PointNet2MSG: level {i}: expected as many radii, ks and sa_mlps (one per "
                    f"scale), got {len(radii[i])}, {len(ks[i])} and {len(sa_mlps[i])}"
                )
            scales = list(zip(radii[i], ks[i], sa_mlps[i], strict=True))
            block = PointNetSetAbstraction(npoints[i], scales, channels[-1])
            self.sa.append(block)
            channels.append(block.out_channels)
        self.fp = nn.ModuleList()
        deep = channels[-1]
        for i in reversed(range(levels)):
            fp = PointNetFeaturePropagation(deep, channels[i], fp_mlps[i])
            self.fp.append(fp)
            deep = fp.out_channels
        self.out_channels = deep

    def forward(self, xyz: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
        """``(B, out_channels, N)`` features of the points ``xyz`` ``(B, N, 3)`` with input
        ``features`` ``(B, in_channels, N)`` (None for 0 channels); inputs already checked."""
        batch = int(xyz.shape[0])
        levels: list[tuple[torch.Tensor, torch.Tensor | None]] = [(xyz, features)]
        for i, block in enumerate(self.sa):
            assert isinstance(block, PointNetSetAbstraction)
            points, feats = levels[-1]
            given = None
            if i > 0 and block.npoint <= points.shape[1]:
                given = torch.arange(block.npoint, device=xyz.device).expand(batch, -1)
            out = block(points, feats, given)
            levels.append((out.xyz, out.features))
        deep = levels[-1][1]
        assert deep is not None
        for j, fp in enumerate(self.fp):
            assert isinstance(fp, PointNetFeaturePropagation)
            target, skip = levels[-j - 2]
            deep = fp(target, levels[-j - 1][0], deep, skip)
        return deep
