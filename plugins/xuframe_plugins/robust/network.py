"""A feed-forward network as a list of affine maps and activations, with the operations the bounds need.

Every supported layer is either an *affine* map (Linear, Conv2d, Flatten, BatchNorm in eval
mode, AvgPool2d; Identity and Dropout in eval mode vanish) or a monotone piecewise-linear
*activation* (ReLU, LeakyReLU, ParamRamp). An affine op knows how to apply its linear part,
its positive and negative parts (for LBP), its absolute value (for IBP) and its transpose
(for CROWN's backward pass).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from xuframe.errors import InputError
from xuframe_plugins.robust.activations import ParamRamp

__all__ = ["Activation", "Affine", "Network"]


class Affine(abc.ABC):
    """An affine map ``y = W x + b`` on tensors shaped ``(N, *in_shape)``."""

    diagonal = False  # is W diagonal (then interval arithmetic through it is exact)

    def __init__(self, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> None:
        self.in_shape, self.out_shape = in_shape, out_shape

    @abc.abstractmethod
    def linear(self, x: torch.Tensor, part: str = "all") -> torch.Tensor:
        """``W x`` (``part="all"``), ``W+ x``, ``W- x`` or ``|W| x``, without the bias."""

    def bias(self) -> torch.Tensor | None:
        """``b`` shaped ``out_shape``, or None."""
        return None

    @abc.abstractmethod
    def transpose(self, a: torch.Tensor) -> torch.Tensor:
        """``a W`` for ``a`` shaped ``(N, *out_shape)``: the coefficients on the input."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        b = self.bias()
        return y if b is None else y + b


def _parts(weight: torch.Tensor, part: str) -> torch.Tensor:
    if part == "all":
        return weight
    if part == "pos":
        return weight.clamp(min=0)
    if part == "neg":
        return weight.clamp(max=0)
    return weight.abs()


class _Linear(Affine):
    def __init__(self, module: nn.Linear, in_shape: tuple[int, ...]) -> None:
        super().__init__(in_shape, (module.out_features,))
        self.weight, self.b = module.weight, module.bias

    def linear(self, x: torch.Tensor, part: str = "all") -> torch.Tensor:
        return x @ _parts(self.weight, part).T

    def bias(self) -> torch.Tensor | None:
        return self.b

    def transpose(self, a: torch.Tensor) -> torch.Tensor:
        return a @ self.weight


class _Conv(Affine):
    def __init__(
        self, module: nn.Conv2d, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
    ) -> None:
        super().__init__(in_shape, out_shape)
        if module.padding_mode != "zeros" or isinstance(module.padding, str):
            raise InputError("Conv2d: only numeric zero padding is supported")
        self.weight, self.b = module.weight, module.bias
        self.stride, self.padding = module.stride, module.padding
        self.dilation, self.groups = module.dilation, module.groups
        # conv_transpose2d can miss trailing rows/columns that the strided conv skipped
        k = module.kernel_size
        self.output_padding = tuple(
            in_shape[1 + i]
            - (
                (out_shape[1 + i] - 1) * self.stride[i]
                - 2 * self.padding[i]
                + self.dilation[i] * (k[i] - 1)
                + 1
            )
            for i in range(2)
        )

    def linear(self, x: torch.Tensor, part: str = "all") -> torch.Tensor:
        w = _parts(self.weight, part)
        return F.conv2d(x, w, None, self.stride, self.padding, self.dilation, self.groups)

    def bias(self) -> torch.Tensor | None:
        return None if self.b is None else self.b[:, None, None].expand(self.out_shape)

    def transpose(self, a: torch.Tensor) -> torch.Tensor:
        # channels-last is about twice as fast for the many-image transposed convolutions here
        a = a.contiguous(memory_format=torch.channels_last)
        return F.conv_transpose2d(
            a,
            self.weight,
            None,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )


class _Flatten(Affine):
    diagonal = True

    def linear(self, x: torch.Tensor, part: str = "all") -> torch.Tensor:
        if part == "neg":
            return torch.zeros_like(x).reshape(x.shape[0], *self.out_shape)
        return x.reshape(x.shape[0], *self.out_shape)

    def transpose(self, a: torch.Tensor) -> torch.Tensor:
        return a.reshape(a.shape[0], *self.in_shape)


class _Scale(Affine):
    """Per-channel ``y = s x + t`` (BatchNorm in eval mode), channels on dim 1."""

    diagonal = True

    def __init__(self, module: nn.BatchNorm1d | nn.BatchNorm2d, in_shape: tuple[int, ...]) -> None:
        super().__init__(in_shape, in_shape)
        if module.training:
            raise InputError(
                f"{type(module).__name__} must be in eval mode for verification (call model.eval())"
            )
        if module.running_mean is None or module.running_var is None:
            raise InputError(f"{type(module).__name__} without running statistics is unsupported")
        scale = torch.rsqrt(module.running_var + module.eps)
        shift = -module.running_mean * scale
        if module.affine:
            scale, shift = scale * module.weight, shift * module.weight + module.bias
        view = (-1,) + (1,) * (len(in_shape) - 1)
        self.s, self.t = scale.view(view), shift.view(view)

    def linear(self, x: torch.Tensor, part: str = "all") -> torch.Tensor:
        return x * _parts(self.s, part)

    def bias(self) -> torch.Tensor | None:
        return self.t.expand(self.out_shape)

    def transpose(self, a: torch.Tensor) -> torch.Tensor:
        return a * self.s


class _AvgPool(Affine):
    def __init__(
        self, module: nn.AvgPool2d, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
    ) -> None:
        super().__init__(in_shape, out_shape)
        k = (
            module.kernel_size
            if isinstance(module.kernel_size, tuple)
            else (module.kernel_size,) * 2
        )
        if (
            module.ceil_mode
            or module.divisor_override
            or (not module.count_include_pad and module.padding)
        ):
            raise InputError(
                "AvgPool2d: ceil_mode, divisor_override and count_include_pad=False are unsupported"
            )
        channels = in_shape[0]
        self.weight = torch.full((channels, 1, *k), 1.0 / math.prod(k))
        stride = module.stride if module.stride is not None else k
        self.stride = stride if isinstance(stride, tuple) else (stride,) * 2
        pad = module.padding
        self.padding = pad if isinstance(pad, tuple) else (pad,) * 2
        self.channels = channels
        self.output_padding = tuple(
            in_shape[1 + i] - ((out_shape[1 + i] - 1) * self.stride[i] - 2 * self.padding[i] + k[i])
            for i in range(2)
        )

    def linear(self, x: torch.Tensor, part: str = "all") -> torch.Tensor:
        if part == "neg":
            return torch.zeros(x.shape[0], *self.out_shape, dtype=x.dtype, device=x.device)
        w = self.weight.to(x)
        return F.conv2d(x, w, None, self.stride, self.padding, 1, self.channels)

    def transpose(self, a: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(a)
        return F.conv_transpose2d(
            a, w, None, self.stride, self.padding, self.output_padding, self.channels
        )


class Activation:
    """A monotone piecewise-linear activation (ReLU, LeakyReLU, ParamRamp) applied element-wise."""

    def __init__(self, module: nn.Module, shape: tuple[int, ...]) -> None:
        self.module, self.shape = module, shape

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.module(x)
        return out


_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, ParamRamp)
_VANISH = (nn.Identity, nn.Dropout)


def _leaves(model: nn.Module) -> Iterator[nn.Module]:
    if isinstance(model, nn.Sequential):
        for child in model:
            yield from _leaves(child)
    else:
        yield model


class Network:
    """``model`` (an ``nn.Sequential`` of supported layers, possibly nested) as ops with known shapes."""

    def __init__(self, model: nn.Module, example: torch.Tensor) -> None:
        self.ops: list[Affine | Activation] = []
        shape = tuple(example.shape[1:])
        x = example[:1]
        with torch.no_grad():
            for module in _leaves(model):
                if isinstance(module, _VANISH):
                    continue
                if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and module.training:
                    raise InputError(
                        f"{type(module).__name__} must be in eval mode for verification (call model.eval())"
                    )
                y = module(x)
                out_shape = tuple(y.shape[1:])
                if isinstance(module, _ACTIVATIONS):
                    self.ops.append(Activation(module, shape))
                elif isinstance(module, nn.Linear):
                    if len(shape) != 1:
                        raise InputError(
                            f"Linear expects flat inputs, got shape {shape}: add nn.Flatten()"
                        )
                    self.ops.append(_Linear(module, shape))
                elif isinstance(module, nn.Conv2d):
                    self.ops.append(_Conv(module, shape, out_shape))
                elif isinstance(module, nn.Flatten):
                    if module.start_dim != 1 or module.end_dim != -1:
                        raise InputError("Flatten: only start_dim=1, end_dim=-1 is supported")
                    self.ops.append(_Flatten(shape, out_shape))
                elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                    self.ops.append(_Scale(module, shape))
                elif isinstance(module, nn.AvgPool2d):
                    self.ops.append(_AvgPool(module, shape, out_shape))
                else:
                    raise InputError(
                        f"unsupported layer {type(module).__name__}: robust verifiers take nn.Sequential "
                        "networks of Linear, Conv2d, Flatten, BatchNorm (eval), AvgPool2d, ReLU, LeakyReLU "
                        "and ParamRamp"
                    )
                x, shape = y, out_shape
        if not self.ops:
            raise InputError("the network has no layer to bound")
        self.in_shape = tuple(example.shape[1:])
        self.out_shape = shape
        self.activations = [i for i, op in enumerate(self.ops) if isinstance(op, Activation)]
