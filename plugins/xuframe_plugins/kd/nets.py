"""Small teacher and student networks for distillation on small images.

:class:`ResNetCifar` is the CIFAR ResNet of He et al. (2016): a 3x3 stem, three stages of
``n`` basic blocks at widths ``(16, 32, 64) * widen`` and strides 1, 2, 2, global average
pooling and a linear classifier; depth ``6n + 2`` (ResNet-8, -20, -56). ``widen > 1`` gives the
WRN-style wide variants. :meth:`ResNetCifar.features` returns the penultimate (pooled) feature
that feature-based distillation needs; :meth:`ResNetCifar.forward_features` returns both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from xuframe.errors import ConfigError
from xuframe.validation import check_int, check_tensor

__all__ = ["ResNetCifar", "resnet8", "resnet20", "resnet56", "wide_resnet"]


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNetCifar(nn.Module):
    """ResNet-(6n+2) for ``in_channels``-channel images of any size >= 1 px.

    The arguments are ints (numpy ints too); others raise :class:`~xuframe.errors.ConfigError`.
    """

    def __init__(
        self, depth: int = 20, num_classes: int = 10, in_channels: int = 3, widen: int = 1
    ) -> None:
        super().__init__()
        depth = check_int(depth, "ResNetCifar: depth", error=ConfigError)
        num_classes = check_int(num_classes, "ResNetCifar: num_classes", error=ConfigError)
        in_channels = check_int(in_channels, "ResNetCifar: in_channels", error=ConfigError)
        widen = check_int(widen, "ResNetCifar: widen", error=ConfigError)
        if depth < 8 or (depth - 2) % 6:
            raise ConfigError(f"ResNetCifar: depth must be 6n + 2 with n >= 1, got {depth}")
        if num_classes < 2 or in_channels < 1 or widen < 1:
            raise ConfigError(
                "ResNetCifar: expected num_classes >= 2, in_channels >= 1, widen >= 1"
            )
        n = (depth - 2) // 6
        widths = [16 * widen, 32 * widen, 64 * widen]
        self.in_channels, self.num_classes = in_channels, num_classes
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()
        )
        blocks: list[nn.Module] = []
        cin = 16
        for stage, width in enumerate(widths):
            for i in range(n):
                blocks.append(_Block(cin, width, 2 if stage > 0 and i == 0 else 1))
                cin = width
        self.blocks = nn.Sequential(*blocks)
        self.feature_dim = cin
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate feature ``(B, feature_dim)``: the pooled last stage.

        ``x`` is a finite, non-empty float tensor ``(B, in_channels, H, W)`` of the weights'
        dtype; :class:`~xuframe.errors.InputError` otherwise (also from ``forward``)."""
        what = f"ResNetCifar: images x (B, {self.in_channels}, H, W)"
        x = check_tensor(
            x,
            what,
            shape=(None, self.in_channels, None, None),
            non_empty=True,
            dtype=self.fc.weight.dtype,
        )
        return F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1).flatten(1)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, penultimate feature)``."""
        f = self.features(x)
        return self.fc(f), f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def resnet8(num_classes: int = 10, in_channels: int = 3) -> ResNetCifar:
    """ResNet-8: one block per stage."""
    return ResNetCifar(8, num_classes, in_channels)


def resnet20(num_classes: int = 10, in_channels: int = 3) -> ResNetCifar:
    """ResNet-20: three blocks per stage."""
    return ResNetCifar(20, num_classes, in_channels)


def resnet56(num_classes: int = 10, in_channels: int = 3) -> ResNetCifar:
    """ResNet-56: nine blocks per stage."""
    return ResNetCifar(56, num_classes, in_channels)


def wide_resnet(
    depth: int = 14, widen: int = 2, num_classes: int = 10, in_channels: int = 3
) -> ResNetCifar:
    """A WRN-style wide ResNet: :class:`ResNetCifar` with stage widths times ``widen``."""
    return ResNetCifar(depth, num_classes, in_channels, widen)
