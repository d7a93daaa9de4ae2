"""The shared MLP of PointNet++: per-point 1x1 convolutions, each followed by batch norm and
ReLU, applied to channels-last rows."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


class SharedMLP(nn.Module):
    """``len(widths)`` layers of linear map (no bias) + batch norm + ReLU applied to every row
    of a channels-last tensor ``(..., in_channels) -> (..., widths[-1])``.

    This is PointNet++'s shared MLP (a 1x1 convolution + BN + ReLU per layer, as in VoteNet's
    ``SharedMLP`` and mmdetection3d's ``ConvModule``), written on rows: batch norm takes its
    statistics over every row, as a 1x1 convolution's ``BatchNorm2d`` takes them over batch,
    centres and group members. Weights start as VoteNet's (Kaiming normal, fan in; BN weight 1,
    bias 0). The arguments are checked by the public blocks that build it.
    """

    def __init__(self, in_channels: int, widths: Sequence[int]) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = widths[-1] if widths else in_channels
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList()
        previous = in_channels
        for width in widths:
            linear = nn.Linear(previous, width, bias=False)
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            self.linears.append(linear)
            self.norms.append(nn.BatchNorm1d(width))
            previous = width

    def _folded(self, linear: nn.Linear, norm: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
        """Inference: the batch norm folded into the linear map, ``(weight, shift)``."""
        assert norm.running_mean is not None and norm.running_var is not None
        scale = torch.rsqrt(norm.running_var + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight
        shift = -norm.running_mean * scale
        if norm.bias is not None:
            shift = shift + norm.bias
        return linear.weight * scale[:, None], shift

    def forward(self, rows: torch.Tensor, pool_dim: int | None = None) -> torch.Tensor:
        """``(..., in_channels)`` -> ``(..., out_channels)``; with ``pool_dim`` (a dimension of
        ``rows`` other than the last), the maximum over that dimension of the result.

        In eval mode the batch norms are folded into the linear maps, and the last layer's
        shift and ReLU come after the maximum (both are non-decreasing, so the result is the
        same, bit for bit, on a tensor ``k`` times smaller)."""
        lead = rows.shape[:-1]
        x = rows.reshape(-1, rows.shape[-1])
        layers = list(zip(self.linears, self.norms, strict=True))
        inference = not self.training and all(
            isinstance(n, nn.BatchNorm1d) and n.track_running_stats for _, n in layers
        )
        for i, (linear, norm) in enumerate(layers):
            assert isinstance(linear, nn.Linear) and isinstance(norm, nn.BatchNorm1d)
            last = i == len(layers) - 1
            if not inference:
                x = F.relu(norm(linear(x)))
            elif last and pool_dim is not None:
                weight, shift = self._folded(linear, norm)
                y = F.linear(x, weight).reshape(*lead, weight.shape[0])
                return y.amax(dim=pool_dim).add_(shift).relu_()
            else:
                weight, shift = self._folded(linear, norm)
                x = F.linear(x, weight, shift).relu_()
        out = x.reshape(*lead, x.shape[-1])
        return out if pool_dim is None else out.amax(dim=pool_dim)
