"""TTFNet's building blocks in plain PyTorch: a ResNet-18 backbone and a modulated deformable
convolution (DCNv2) computed with ``grid_sample`` instead of a compiled CUDA op."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BasicBlock", "ModulatedDeformConv2d", "ResNet18"]


class BasicBlock(nn.Module):
    """ResNet's two-3x3-conv residual block."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.down(x))


class ResNet18(nn.Module):
    """ResNet-18 (He et al., 2016) returning the four stage outputs C2..C5 (strides 4..32).

    ``width`` scales every stage (64 is the standard network; the tests use 16).
    """

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 7, 2, 3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        self.channels = (width, 2 * width, 4 * width, 8 * width)
        stages, cin = [], width
        for i, cout in enumerate(self.channels):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout)))
            cin = cout
        self.stages = nn.ModuleList(stages)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out


class ModulatedDeformConv2d(nn.Module):
    """Modulated deformable 3x3 convolution (DCNv2, Zhu et al., 2019) without compiled ops.

    A plain conv predicts, per output pixel and kernel tap ``k``, an offset ``(dy_k, dx_k)`` and
    a mask ``m_k = sigmoid(.)``; the input is sampled bilinearly at ``p + p_k + (dy_k, dx_k)``
    with ``grid_sample`` (zeros outside), multiplied by ``m_k``, and the taps are combined by the
    layer's weight as one matrix product. The offset conv starts at zero (a plain convolution
    with masks 0.5), as in mmcv's ``ModulatedDeformConvPack``.
    """

    def __init__(
        self, cin: int, cout: int, kernel: int = 3, padding: int = 1, bias: bool = True
    ) -> None:
        super().__init__()
        self.kernel, self.padding = kernel, padding
        self.weight = nn.Parameter(torch.empty(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.offset = nn.Conv2d(cin, 3 * kernel * kernel, kernel, 1, padding)
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        k2 = self.kernel * self.kernel
        om = self.offset(x)
        dy, dx, mask = om[:, :k2], om[:, k2 : 2 * k2], torch.sigmoid(om[:, 2 * k2 :])
        r = torch.arange(self.kernel, device=x.device, dtype=x.dtype) - self.padding
        ky, kx = torch.meshgrid(r, r, indexing="ij")  # tap offsets p_k
        ys = torch.arange(h, device=x.device, dtype=x.dtype).view(1, 1, h, 1)
        xs = torch.arange(w, device=x.device, dtype=x.dtype).view(1, 1, 1, w)
        py = ys + ky.reshape(1, k2, 1, 1) + dy  # (B, K, H, W)
        px = xs + kx.reshape(1, k2, 1, 1) + dx
        # grid_sample wants (x, y) in [-1, 1] with align_corners=True mapping 0 .. size-1
        gx = 2 * px / max(w - 1, 1) - 1
        gy = 2 * py / max(h - 1, 1) - 1
        grid = torch.stack([gx, gy], dim=-1).reshape(b, k2 * h, w, 2)
        sampled = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        sampled = sampled.reshape(b, c, k2, h, w) * mask.unsqueeze(1)
        out = torch.einsum("bckhw,ock->bohw", sampled, self.weight.reshape(-1, c, k2))
        return out if self.bias is None else out + self.bias.view(1, -1, 1, 1)
