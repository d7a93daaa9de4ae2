"""StyleGAN2 (Karras et al., 2020) in plain PyTorch: no compiled ops, so it runs on any CPU.

* Equalised learning rate: weights are stored at unit variance and scaled at run time by
  ``1 / sqrt(fan_in)`` (times a learning-rate multiplier), so every layer starts at the same
  scale whatever its fan-in, and Adam's step sizes are the same for all of them.
* Mapping network: pixel norm, then ``n_mlp`` equalised linear layers with leaky ReLU (gain
  sqrt 2) at learning-rate multiplier 0.01: ``z -> w``.
* Synthesis network: a learned 4 x 4 constant; per resolution two modulated 3 x 3 convolutions
  (the first upsamples) with per-pixel noise and a biased leaky ReLU, and a ToRGB (1 x 1
  modulated convolution without demodulation) whose outputs are upsampled and summed
  (skip architecture).
* Modulation scales the weights' input channels by a per-sample style ``A(w)`` (an
  equalised linear layer initialised to output 1); demodulation rescales each output channel
  to unit norm, so unit-variance input gives unit-variance output.
* Upsampling is zero insertion and a [1, 3, 3, 1] FIR filter, done with ``conv2d``; so is
  the blur after the transposed convolution.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from xuframe.errors import ConfigError
from xuframe.validation import check_float, check_int, check_tensor

__all__ = [
    "ConstantInput",
    "Discriminator",
    "EqualConv2d",
    "EqualLinear",
    "MappingNetwork",
    "ModulatedConv2d",
    "StyledConv",
    "SynthesisNetwork",
    "ToRGB",
    "channel_counts",
]

SQRT2 = math.sqrt(2.0)


def channel_counts(resolution: int, width: float, channel_multiplier: int = 2) -> dict[int, int]:
    """Channels per resolution: the StyleGAN2 schedule (512 up to 32 px, then
    ``256 * channel_multiplier`` at 64, halving) times ``width``, at least 1."""
    full = {4: 512, 8: 512, 16: 512, 32: 512}
    res, c = 64, 256 * channel_multiplier
    while res <= max(resolution, 64):
        full[res] = c
        res, c = res * 2, c // 2
    return {r: max(1, round(n * width)) for r, n in full.items() if r <= resolution}


def _sizes(owner: str, **sizes: Any) -> list[int]:
    """Layer sizes as ints >= 1 (numpy ints too); ConfigError naming the one that is not."""
    return [check_int(v, f"{owner}: {k}", min=1, error=ConfigError) for k, v in sizes.items()]


def _fir(kernel: tuple[float, ...] = (1.0, 3.0, 3.0, 1.0), gain: float = 1.0) -> torch.Tensor:
    k = torch.tensor(kernel)
    k2 = torch.outer(k, k)
    return k2 / k2.sum() * gain


def _filter(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
    """Depthwise FIR filtering with ``kernel`` after padding ``pad`` (before, after) on
    both axes: the 'fir' part of upfirdn, as a grouped ``conv2d``."""
    c = x.shape[1]
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    weight = kernel.flip(0, 1).to(x.dtype)[None, None].expand(c, 1, *kernel.shape)
    return F.conv2d(x, weight, groups=c)


def upsample2x(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Zero insertion (x2) and the FIR ``kernel`` (gain 4): ``(N, C, H, W) -> (N, C, 2H, 2W)``."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return _filter(up, kernel, (2, 1))


class EqualLinear(nn.Module):
    """A linear layer with equalised learning rate: ``x W^T / sqrt(in) * lr_mul + b * lr_mul``,
    optionally followed by a leaky ReLU of gain sqrt 2."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activate: bool = False,
    ) -> None:
        super().__init__()
        in_dim = check_int(in_dim, "EqualLinear: in_dim", min=1, error=ConfigError)
        out_dim = check_int(out_dim, "EqualLinear: out_dim", min=1, error=ConfigError)
        lr_mul = check_float(lr_mul, "EqualLinear: lr_mul", min=0, min_open=True, error=ConfigError)
        bias_init = check_float(bias_init, "EqualLinear: bias_init", error=ConfigError)
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return F.leaky_relu(out, 0.2) * SQRT2 if self.activate else out


class EqualConv2d(nn.Module):
    """A convolution with equalised learning rate (weights scaled by ``1 / sqrt(fan_in)``)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        *,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        cin, cout, kernel = _sizes("EqualConv2d", cin=cin, cout=cout, kernel=kernel)
        stride = check_int(stride, "EqualConv2d: stride", min=1, error=ConfigError)
        padding = check_int(padding, "EqualConv2d: padding", min=0, error=ConfigError)
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale = 1.0 / math.sqrt(cin * kernel * kernel)
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


class MappingNetwork(nn.Module):
    """``z -> w``: pixel norm, then ``n_mlp`` equalised linear layers with leaky ReLU."""

    def __init__(self, latent_dim: int, n_mlp: int, lr_mul: float = 0.01) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            EqualLinear(latent_dim, latent_dim, lr_mul=lr_mul, activate=True) for _ in range(n_mlp)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)  # pixel norm
        for layer in self.layers:
            x = layer(x)
        return x


class ModulatedConv2d(nn.Module):
    """A convolution whose weights are scaled per sample by a style ``A(w)`` on the input
    channels and (with ``demodulate``) renormalised per output channel; ``upsample`` makes it
    a stride-2 transposed convolution followed by a [1, 3, 3, 1] blur."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        style_dim: int,
        *,
        demodulate: bool = True,
        upsample: bool = False,
    ) -> None:
        super().__init__()
        cin, cout, kernel, style_dim = _sizes(
            "ModulatedConv2d", cin=cin, cout=cout, kernel=kernel, style_dim=style_dim
        )
        self.weight = nn.Parameter(torch.randn(1, cout, cin, kernel, kernel))
        self.modulation = EqualLinear(style_dim, cin, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(cin * kernel * kernel)
        self.demodulate, self.upsample = demodulate, upsample
        self.kernel = kernel
        self.register_buffer(
            "blur", _fir(gain=4.0) if upsample else torch.empty(0), persistent=False
        )

    def modulated_weight(self, w: torch.Tensor) -> torch.Tensor:
        """The per-sample weights ``(N, cout, cin, k, k)``."""
        style = self.modulation(w)[:, None, :, None, None]
        weight = self.scale * self.weight * style
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum((2, 3, 4), keepdim=True) + 1e-8)
        return weight

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        n, cin, h, wd = x.shape
        weight = self.modulated_weight(w)
        cout = weight.shape[1]
        x = x.reshape(1, n * cin, h, wd)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(n * cin, cout, self.kernel, self.kernel)
            out = F.conv_transpose2d(x, weight, stride=2, groups=n)
            out = out.view(n, cout, *out.shape[2:])
            return _filter(out, self.blur, (1, 1))
        weight = weight.reshape(n * cout, cin, self.kernel, self.kernel)
        out = F.conv2d(x, weight, padding=self.kernel // 2, groups=n)
        return out.view(n, cout, h, wd)


class StyledConv(nn.Module):
    """Modulated convolution, per-pixel noise (a learned strength, 0 at init) and a biased
    leaky ReLU of gain sqrt 2."""

    def __init__(self, cin: int, cout: int, style_dim: int, *, upsample: bool = False) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, 3, style_dim, upsample=upsample)
        self.noise_strength = nn.Parameter(torch.zeros(1))
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(
        self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        out = self.conv(x, w)
        if noise is None:
            noise = out.new_empty(out.shape[0], 1, *out.shape[2:]).normal_()
        out = out + self.noise_strength * noise
        return F.leaky_relu(out + self.bias[None, :, None, None], 0.2) * SQRT2


class ToRGB(nn.Module):
    """A 1 x 1 modulated convolution to RGB (no demodulation), plus the upsampled skip."""

    def __init__(self, cin: int, style_dim: int, *, upsample: bool = True) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(cin, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.register_buffer(
            "fir", _fir(gain=4.0) if upsample else torch.empty(0), persistent=False
        )

    def forward(
        self, x: torch.Tensor, w: torch.Tensor, skip: torch.Tensor | None = None
    ) -> torch.Tensor:
        out = self.conv(x, w) + self.bias
        if skip is not None:
            out = out + upsample2x(skip, self.fir)
        return out


class ConstantInput(nn.Module):
    """The learned ``(1, C, 4, 4)`` input of the synthesis network, repeated per sample."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, 4, 4))

    def forward(self, n: int) -> torch.Tensor:
        return self.input.expand(n, -1, -1, -1)


class SynthesisNetwork(nn.Module):
    """``w`` per layer ``(N, n_latent, style_dim)`` -> RGB ``(N, 3, R, R)`` (and, on request,
    each resolution block's output features, flattened per sample)."""

    def __init__(self, resolution: int, style_dim: int, channels: dict[int, int]) -> None:
        super().__init__()
        self.resolution = resolution
        self.log_size = int(math.log2(resolution))
        self.const = ConstantInput(channels[4])
        self.conv1 = StyledConv(channels[4], channels[4], style_dim)
        self.to_rgb1 = ToRGB(channels[4], style_dim, upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        cin = channels[4]
        for i in range(3, self.log_size + 1):
            cout = channels[2**i]
            self.convs.append(StyledConv(cin, cout, style_dim, upsample=True))
            self.convs.append(StyledConv(cout, cout, style_dim))
            self.to_rgbs.append(ToRGB(cout, style_dim))
            cin = cout
        self.n_latent = self.log_size * 2 - 2
        for layer in range(self.n_layers):
            res = 2 ** ((layer + 5) // 2)
            self.register_buffer(f"noise_{layer}", torch.randn(1, 1, res, res))

    @property
    def n_layers(self) -> int:
        """The number of noise inputs (styled convolutions)."""
        return 1 + len(self.convs)

    def noises(self) -> list[torch.Tensor]:
        """The fixed noise maps, one per styled convolution."""
        return [getattr(self, f"noise_{i}") for i in range(self.n_layers)]

    def forward(
        self,
        ws: torch.Tensor,
        *,
        noise: list[torch.Tensor | None] | None = None,
        return_features: bool = False,
    ) -> Any:
        if noise is None:
            noise = [None] * self.n_layers
        x = self.const(ws.shape[0])
        x = self.conv1(x, ws[:, 0], noise[0])
        skip = self.to_rgb1(x, ws[:, 1])
        features = []
        i = 1
        for conv_up, conv, to_rgb in zip(
            self.convs[::2], self.convs[1::2], self.to_rgbs, strict=True
        ):
            x = conv_up(x, ws[:, i], noise[i])
            x = conv(x, ws[:, i + 1], noise[i + 1])
            features.append(x.flatten(1))
            skip = to_rgb(x, ws[:, i + 2], skip)
            i += 2
        return (skip, features) if return_features else skip


class _ConvLayer(nn.Sequential):
    """An equalised convolution (optionally blurred and strided by 2) and a biased leaky ReLU."""

    def __init__(
        self, cin: int, cout: int, kernel: int, *, downsample: bool = False, activate: bool = True
    ) -> None:
        layers: list[nn.Module] = []
        if downsample:  # blur so that the stride-2 convolution does not alias
            p = 2 + kernel - 1
            layers.append(_Blur(pad=((p + 1) // 2, p // 2)))
        layers.append(
            EqualConv2d(
                cin,
                cout,
                kernel,
                stride=2 if downsample else 1,
                padding=0 if downsample else kernel // 2,
                bias=not activate,
            )
        )
        if activate:
            layers.append(_BiasLeakyReLU(cout))
        super().__init__(*layers)


class _Blur(nn.Module):
    def __init__(self, pad: tuple[int, int]) -> None:
        super().__init__()
        self.pad = pad
        self.register_buffer("fir", _fir(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _filter(x, self.fir, self.pad)


class _BiasLeakyReLU(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias[None, :, None, None], 0.2) * SQRT2


class _ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = _ConvLayer(cin, cin, 3)
        self.conv2 = _ConvLayer(cin, cout, 3, downsample=True)
        self.skip = _ConvLayer(cin, cout, 1, downsample=True, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / SQRT2


class Discriminator(nn.Module):
    """StyleGAN2's residual discriminator: ``(N, 3, R, R)`` -> ``(N, 1)`` logits, with the
    minibatch standard deviation feature before the last convolution."""

    def __init__(self, resolution: int, channels: dict[int, int], stddev_group: int = 4) -> None:
        super().__init__()
        resolution = check_int(resolution, "Discriminator: resolution", min=4, error=ConfigError)
        if resolution & (resolution - 1):
            raise ConfigError(
                f"Discriminator: resolution: expected a power of two, got {resolution}"
            )
        needed = [2**i for i in range(2, int(math.log2(resolution)) + 1)]
        if not isinstance(channels, dict) or any(
            isinstance(channels.get(r), bool)
            or not isinstance(channels.get(r), int)
            or channels[r] < 1
            for r in needed
        ):
            raise ConfigError(
                f"Discriminator: channels: expected a dict of counts >= 1 for {needed} px, got "
                f"{channels!r}"[:200]
            )
        self.stddev_group = check_int(
            stddev_group, "Discriminator: stddev_group", min=1, error=ConfigError
        )
        self.resolution = resolution
        log_size = int(math.log2(resolution))
        blocks: list[nn.Module] = [_ConvLayer(3, channels[resolution], 1)]
        cin = channels[resolution]
        for i in range(log_size, 2, -1):
            blocks.append(_ResBlock(cin, channels[2 ** (i - 1)]))
            cin = channels[2 ** (i - 1)]
        self.blocks = nn.Sequential(*blocks)
        self.final_conv = _ConvLayer(cin + 1, channels[4], 3)
        self.final = nn.Sequential(
            EqualLinear(channels[4] * 16, channels[4], activate=True), EqualLinear(channels[4], 1)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, 1)`` of finite, non-empty float images ``(N, 3, R, R)`` of the
        weights' dtype (:class:`~xuframe.errors.InputError` otherwise)."""
        r = self.resolution
        check_tensor(
            images,
            "Discriminator: images",
            shape=(None, 3, r, r),
            non_empty=True,
            dtype=next(self.parameters()).dtype,
        )
        x = self.blocks(images)
        n, c, h, w = x.shape
        group = min(n, self.stddev_group)
        while n % group:
            group -= 1
        std = x.view(group, -1, c, h, w).var(0, unbiased=False).add(1e-8).sqrt()
        std = std.mean((1, 2, 3)).view(-1, 1, 1, 1).repeat(group, 1, h, w)
        x = self.final_conv(torch.cat([x, std], 1))
        return self.final(x.flatten(1))
