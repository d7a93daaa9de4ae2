"""A feed-forward network as a list of affine maps and activations, with the operations the bounds need.

Every supported layer is either an *affine* map (Linear, Conv2d, Flatten, BatchNorm in eval
mode, AvgPool2d; Identity and Dropout in eval mode vanish) or a monotone piecewise-linear
*activation* (ReLU, LeakyReLU, ParamRamp). An affine op knows how to apply its linear part,
its positive and negative parts (for LBP), its absolute value (for IBP) and its transpose
(for CROWN's backward pass).

A model is read as a chain only where it surely is one: :func:`layer_chain` trusts an
``nn.Sequential`` (or subclass) only when its ``forward`` is ``nn.Sequential``'s own, and a
layer only when it runs exactly the code of its supported class; any other module (a
residual block written as a Sequential subclass, a Linear subclass with its own ``forward``,
a ModuleList, a custom module, anything with forward hooks) is refused by name, before any
work is done.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as _torch_module
from torch.nn.modules.lazy import LazyModuleMixin

from xuframe.errors import InputError
from xuframe.validation import check_tensor
from xuframe_plugins.robust.activations import (
    ParamRamp,
    _activation_problem,
    activation_function,
    not_own_code,
)

__all__ = ["Activation", "Affine", "Network", "all_finite", "check_network_input", "layer_chain"]


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
        padding = module.padding
        assert not isinstance(padding, str)  # layer_chain refuses string padding
        self.weight, self.b = module.weight, module.bias
        self.stride, self.padding = module.stride, padding
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
        assert module.running_mean is not None and module.running_var is not None  # layer_chain
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
        channels = in_shape[0]
        self.weight = torch.full((channels, 1, *k), 1.0 / math.prod(k), dtype=torch.float64)
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
    """A monotone piecewise-linear activation (ReLU, LeakyReLU, ParamRamp) applied element-wise.

    Applied as a pure function (never in place, no hooks), whatever the module's ``inplace``.
    """

    def __init__(self, module: nn.Module, shape: tuple[int, ...]) -> None:
        self.module, self.shape = module, shape
        self.function: Callable[[torch.Tensor], torch.Tensor] = activation_function(module)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(x)


_SUPPORTED = (
    "robust verifiers take nn.Sequential networks (nested ones too) of Linear, Conv2d, Flatten, "
    "BatchNorm1d/2d (eval), AvgPool2d, ReLU, LeakyReLU, ParamRamp, Identity and Dropout (eval), "
    "each running its class's own forward, with no forward hooks"
)

# Supported layer classes and the methods whose code the bounds assume a layer runs.
_LAYERS: tuple[tuple[type[nn.Module], tuple[str, ...]], ...] = (
    (nn.Linear, ("forward",)),
    (nn.Conv2d, ("forward", "_conv_forward")),
    (nn.Flatten, ("forward",)),
    (nn.BatchNorm1d, ("forward",)),
    (nn.BatchNorm2d, ("forward",)),
    (nn.AvgPool2d, ("forward",)),
    (nn.Identity, ("forward",)),
    (nn.Dropout, ("forward",)),
)
_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, ParamRamp)


_UNSUPPORTED = "unsupported layer"


def _where(path: str, module: nn.Module) -> str:
    name = type(module).__qualname__
    return f"{path} ({name})" if path else f"the model ({name})"


def _layer_problem(module: nn.Module, eval_dropout: bool, check_modes: bool) -> str | None:
    """Why the bounds cannot take ``module`` as the layer its class says (None when they can)."""
    if isinstance(module, LazyModuleMixin) and module.has_uninitialized_params():
        return "an uninitialised lazy module (run one forward pass first)"
    if isinstance(module, _ACTIVATIONS):
        return _activation_problem(module)
    for cls, methods in _LAYERS:
        if isinstance(module, cls):
            problem = not_own_code(module, cls, methods)
            if problem is not None:
                return problem
            break
    else:
        return _UNSUPPORTED
    if isinstance(module, nn.Conv2d) and (
        module.padding_mode != "zeros" or isinstance(module.padding, str)
    ):
        return "only numeric zero padding is supported"
    if isinstance(module, nn.Flatten) and (module.start_dim != 1 or module.end_dim != -1):
        return "only start_dim=1, end_dim=-1 is supported"
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and (
        module.running_mean is None or module.running_var is None
    ):
        return "BatchNorm without running statistics is unsupported"
    if isinstance(module, nn.AvgPool2d) and (
        module.ceil_mode
        or module.divisor_override
        or (not module.count_include_pad and module.padding)
    ):
        return "ceil_mode, divisor_override and count_include_pad=False are unsupported"
    if not check_modes:
        return None
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and module.training:
        return "must be in eval mode for verification (call model.eval())"
    if isinstance(module, nn.Dropout) and module.training and module.p > 0 and not eval_dropout:
        return "must be in eval mode for verification (call model.eval())"
    return None


def layer_chain(
    model: nn.Module, *, eval_dropout: bool = False, check_modes: bool = True
) -> list[tuple[str, nn.Module]]:
    """The layers ``model(x)`` applies one after the other, with their qualified names.

    ``model`` is an ``nn.Sequential`` (possibly nested, or a subclass that keeps
    ``nn.Sequential.forward``) of supported layers, or one supported layer. A module is trusted
    only when calling it surely runs its supported class's own code: no ``forward`` override,
    no forward hooks or pre-hooks (on it or registered for all modules). Only structure is
    read: nothing is run. ``eval_dropout=True`` lets Dropout in training mode count as the
    identity (verified training bounds the network as evaluated in eval mode);
    ``check_modes=False`` skips the train/eval checks (structure only, as a model about to be
    trained is checked).

    Raises:
        InputError: for a ``model`` that is not an ``nn.Module``; naming the first module that
            is not a supported layer or a plain chain, by its qualified path in ``model`` and
            its class (e.g. ``"layers.2 (ResidualBlock)"``),
            and why: a Sequential subclass whose ``forward`` is its own (a residual block), a
            subclass of a supported layer that overrides ``forward``, a ModuleList (it has no
            forward), any other module, a hook, or a supported layer in an unsupported mode.
    """
    if not isinstance(model, nn.Module):
        raise InputError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if _torch_module._global_forward_pre_hooks or _torch_module._global_forward_hooks:
        raise InputError(
            "a global module forward hook is registered (torch.nn.modules.module."
            "register_module_forward_hook / _pre_hook); it can change what every layer computes: "
            "remove it before verification"
        )
    chain: list[tuple[str, nn.Module]] = []

    def walk(module: nn.Module | None, path: str) -> None:
        if module is None:
            raise InputError(f"{path}: an empty (None) entry in an nn.Sequential; {_SUPPORTED}")
        if isinstance(module, nn.Sequential):
            problem = not_own_code(module, nn.Sequential, ("forward", "__iter__"))
            if problem is not None:
                raise InputError(
                    f"{_where(path, module)} is not read as a plain chain of its children: "
                    f"{problem}, so what it computes is unknown; {_SUPPORTED}"
                )
            for name, child in module._modules.items():
                walk(child, f"{path}.{name}" if path else name)
            return
        if isinstance(module, (nn.ModuleList, nn.ModuleDict)):
            raise InputError(
                f"{_where(path, module)}: a container without a forward of its own; put the "
                f"layers in an nn.Sequential. {_SUPPORTED}"
            )
        problem = _layer_problem(module, eval_dropout, check_modes)
        if problem == _UNSUPPORTED:
            raise InputError(f"unsupported layer {_where(path, module)}; {_SUPPORTED}")
        if problem is not None:
            raise InputError(f"{_where(path, module)}: {problem}; {_SUPPORTED}")
        chain.append((path, module))

    walk(model, "")
    return chain


def all_finite(t: torch.Tensor) -> bool:
    """Is every entry of the floating tensor ``t`` finite? (A finite sum proves it in one cheap
    pass, as NaN and inf propagate; only a sum that overflows needs the element-wise test.)"""
    with torch.no_grad():
        return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


class _Mismatch(Exception):
    """A layer cannot take the per-sample shape it is given; ``expected`` says what it takes."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _spatial_out(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _out_shape(module: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The per-sample output shape of ``module`` (a layer :func:`layer_chain` admits) on ``shape``.

    Computed from the layer's settings alone, nothing runs. Raises :class:`_Mismatch` saying
    what per-sample shape the layer takes when it cannot take ``shape``.
    """
    if isinstance(module, (nn.Identity, nn.Dropout, nn.ReLU, nn.LeakyReLU)):
        return shape
    if isinstance(module, ParamRamp):
        heights = tuple(module.r.shape)
        extra = len(heights) - len(shape)
        fits = (extra <= 0 or heights[:extra] == (1,) * extra) and all(
            h in (1, s)
            for h, s in zip(heights[max(extra, 0) :], shape[max(-extra, 0) :], strict=True)
        )
        if not fits:
            raise _Mismatch(f"inputs whose shape its heights {heights} broadcast to")
        return shape
    if isinstance(module, nn.Linear):
        if shape != (module.in_features,):
            raise _Mismatch(f"flat inputs of {module.in_features} features (in_features)")
        return (module.out_features,)
    if isinstance(module, nn.Flatten):
        return (math.prod(shape),)
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        ranks = (1, 2) if isinstance(module, nn.BatchNorm1d) else (3,)
        if len(shape) not in ranks or shape[0] != module.num_features:
            form = {1: "(C,) or (C, L)", 3: "(C, H, W)"}[ranks[0] if len(ranks) == 1 else 1]
            raise _Mismatch(f"inputs of shape {form} with C = num_features = {module.num_features}")
        return shape
    if isinstance(module, nn.Conv2d):
        if len(shape) != 3 or shape[0] != module.in_channels:
            raise _Mismatch(
                f"inputs of shape (C, H, W) with C = in_channels = {module.in_channels}"
            )
        k, s = _pair(module.kernel_size), _pair(module.stride)
        p, d = _pair(module.padding), _pair(module.dilation)  # type: ignore[arg-type]
        size = tuple(_spatial_out(shape[1 + i], k[i], s[i], p[i], d[i]) for i in range(2))
        if min(size) < 1:
            reach = tuple(d[i] * (k[i] - 1) + 1 - 2 * p[i] for i in range(2))
            raise _Mismatch(
                f"inputs of shape ({module.in_channels}, H, W) with H >= {reach[0]}, W >= {reach[1]}"
            )
        return (module.out_channels, *size)
    assert isinstance(module, nn.AvgPool2d)  # layer_chain admits nothing else
    k = _pair(module.kernel_size)
    s = _pair(module.stride) if module.stride is not None else k
    p = _pair(module.padding)
    if any(2 * p[i] > k[i] for i in range(2)):
        raise _Mismatch(f"a padding {p} of at most half its kernel {k} (a setting of the layer)")
    if len(shape) != 3:
        raise _Mismatch("inputs of shape (C, H, W)")
    size = tuple(_spatial_out(shape[1 + i], k[i], s[i], p[i], 1) for i in range(2))
    if min(size) < 1:
        raise _Mismatch(
            f"inputs of shape (C, H, W) with H >= {k[0] - 2 * p[0]}, W >= {k[1] - 2 * p[1]}"
        )
    return (shape[0], *size)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(N, " + ", ".join(str(s) for s in shape) + ")"


def _first_input(chain: list[tuple[str, nn.Module]]) -> str | None:
    """What the first shape-fixing layer of ``chain`` says about the network's input, or None."""
    flattened = False
    for path, module in chain:
        where = _where(path, module)
        if isinstance(module, nn.Flatten):
            flattened = True
        elif isinstance(module, nn.Linear):
            n = module.in_features
            if flattened:
                return f"inputs (N, ...) of {n} values per sample ({where} has in_features={n})"
            return f"inputs of shape (N, {n}) ({where} has in_features={n})"
        elif isinstance(module, nn.Conv2d) and not flattened:
            c = module.in_channels
            return f"inputs of shape (N, {c}, H, W) ({where} has in_channels={c})"
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and not flattened:
            c = module.num_features
            form = (
                f"(N, {c}) or (N, {c}, L)"
                if isinstance(module, nn.BatchNorm1d)
                else f"(N, {c}, H, W)"
            )
            return f"inputs of shape {form} ({where} has num_features={c})"
        elif isinstance(module, nn.AvgPool2d) and not flattened:
            return f"inputs of shape (N, C, H, W) ({where})"
    return None


def _propagate(
    chain: list[tuple[str, nn.Module]], shape: tuple[int, ...]
) -> tuple[list[tuple[int, ...]], tuple[int, _Mismatch] | None]:
    """The per-sample input shape of every layer of ``chain`` and the output shape last; or,
    when a layer cannot take its input, the shapes up to its input and (its index, why)."""
    shapes = [shape]
    for i, (_, module) in enumerate(chain):
        try:
            shape = _out_shape(module, shape)
        except _Mismatch as why:
            return shapes, (i, why)
        shapes.append(shape)
    return shapes, None


def _fitting_size(
    chain: list[tuple[str, nn.Module]], channels: int, near: tuple[int, int]
) -> tuple[int, int] | None:
    """An input height and width that the whole ``chain`` takes, or None: the first that fits
    of ``near`` grown or shrunk by the same amount on both axes, then of the square sizes,
    nearest first (a bounded search over the layers' settings; nothing runs)."""
    limit = 2 * max(near) + 64
    steps = sorted(range(1 - min(near), limit), key=abs)
    candidates = [(near[0] + d, near[1] + d) for d in steps]
    candidates += sorted(((s, s) for s in range(1, limit)), key=lambda hw: abs(hw[0] - near[0]))
    for h, w in candidates:
        if _propagate(chain, (channels, h, w))[1] is None:
            return h, w
    return None


_SHAPE_FREE = (nn.Identity, nn.Dropout, nn.Flatten, nn.ReLU, nn.LeakyReLU)


def _check_like_parameters(
    x: torch.Tensor, what: str, params: list[tuple[str, torch.Tensor]]
) -> None:
    """Raise :class:`~xuframe.errors.InputError` unless the model's floating ``params``
    (``(name, tensor)``, parameters and buffers) share one dtype and device and ``x`` (named
    ``what``) has them too."""
    if not params:
        return
    first_name, first = params[0]
    for name, t in params:
        if t.dtype != first.dtype or t.device != first.device:
            raise InputError(
                "the model: expected one dtype and device for all its parameters, got "
                f"{first_name} {first.dtype} on {first.device} and {name} {t.dtype} on {t.device}"
            )
    if x.dtype != first.dtype:
        raise InputError(
            f"{what}: expected dtype {first.dtype} (the model's parameters), got {x.dtype}"
        )
    if x.device != first.device:
        raise InputError(
            f"{what}: expected a tensor on {first.device} (the model's), got one on {x.device}"
        )


def check_network_input(
    chain: list[tuple[str, nn.Module]], x: object, *, what: str = "x"
) -> list[tuple[int, ...]]:
    """Check ``x`` against what the layers of ``chain`` (from :func:`layer_chain`) take, running nothing.

    ``x`` must be a finite, non-empty, floating-point ``torch.Tensor`` with a batch dimension,
    of the dtype and on the device of the model's parameters and buffers, and of a per-sample
    shape every layer takes (Linear ``in_features``, Conv2d ``in_channels`` and spatial sizes
    its kernel fits, the sizes Flatten hands on). The model's parameters must be finite and
    share one dtype and device. Returns the per-sample input shape of every layer of ``chain``
    and the output shape last.

    Raises:
        InputError: naming ``what``, what the network expects (from its first layer that fixes
            the input, or an input size that fits the whole chain) and what came; or naming the
            layer when no input could fit it (the model's layers do not fit together).
    """
    expected = _first_input(chain)
    if not isinstance(x, torch.Tensor):
        shown = f" of {expected}" if expected else ""
        raise InputError(f"{what}: expected a torch.Tensor{shown}, got {type(x).__name__}")
    check_tensor(x, what, finite=False)  # real and floating; finiteness once the shape is right
    params = [
        (f"{path}.{name}" if path else name, t)
        for path, module in chain
        for name, t in [*module.named_parameters(), *module.named_buffers()]
        if t.is_floating_point()
    ]
    _check_like_parameters(x, what, params)
    got = tuple(x.shape)
    if x.dim() < 2:
        hint = expected or "a batch (N, ...) of inputs"
        raise InputError(f"{what}: expected {hint}, a batch dimension first, got shape {got}")
    if x.numel() == 0:
        raise InputError(f"{what}: expected a non-empty batch, got shape {got}")
    shape = got[1:]
    shapes, failure = _propagate(chain, shape)
    if failure is not None:
        index, why = failure
        path, module = chain[index]
        where, layer_in = _where(path, module), shapes[-1]
        spatial = any(isinstance(m, (nn.Conv2d, nn.AvgPool2d)) for _, m in chain[: index + 1])
        if spatial and len(shape) == 3:
            fits = _fitting_size(chain, shape[0], (shape[1], shape[2]))
            if fits is not None:
                raise InputError(
                    f"{what}: expected inputs of shape {_shape_text((shape[0], *fits))} (or "
                    f"another size that reaches {where} as it takes), got shape {got}: "
                    f"{where} does not take inputs of shape {layer_in}, it takes {why.expected}"
                )
        if all(isinstance(m, (*_SHAPE_FREE, ParamRamp)) for _, m in chain[:index]):
            want = expected or f"inputs that {where} takes: {why.expected}"
            flat = isinstance(module, nn.Linear) and math.prod(layer_in) == module.in_features
            advice = f"; put nn.Flatten() before {where}" if flat else ""
            if not isinstance(module, nn.Linear):
                advice = f"; per sample, {where} takes {why.expected}"
            raise InputError(f"{what}: expected {want}, got shape {got}{advice}")
        raise InputError(
            f"the model: {where} does not take inputs of shape {layer_in} (what {what} of shape "
            f"{got} becomes before it), it takes {why.expected}"
        )
    if not all_finite(x):
        raise InputError(f"{what}: expected finite values, got NaN or inf")
    for name, t in params:
        if not all_finite(t):
            raise InputError(f"the model: expected finite parameters, got NaN or inf in {name}")
    return shapes


class Network:
    """``model`` (an ``nn.Sequential`` of supported layers, possibly nested) as ops with known shapes.

    The model is checked by :func:`layer_chain` first (same errors, same ``eval_dropout``),
    then ``example`` (a batch ``(N, *in_shape)``) by :func:`check_network_input`; the shapes of
    the layers are computed from their settings, so nothing runs.

    Raises:
        InputError: from :func:`layer_chain` for the model's structure, from
            :func:`check_network_input` for ``example`` (named ``x``), and for a model with no
            layer to bound.
    """

    def __init__(
        self, model: nn.Module, example: torch.Tensor, *, eval_dropout: bool = False
    ) -> None:
        if not isinstance(model, nn.Module):
            raise InputError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        chain = layer_chain(model, eval_dropout=eval_dropout)
        shapes = check_network_input(chain, example)
        self.ops: list[Affine | Activation] = []
        for (_, module), shape, out_shape in zip(chain, shapes[:-1], shapes[1:], strict=True):
            if isinstance(module, (nn.Identity, nn.Dropout)):
                continue
            if isinstance(module, _ACTIVATIONS):
                self.ops.append(Activation(module, shape))
            elif isinstance(module, nn.Linear):
                self.ops.append(_Linear(module, shape))
            elif isinstance(module, nn.Conv2d):
                self.ops.append(_Conv(module, shape, out_shape))
            elif isinstance(module, nn.Flatten):
                self.ops.append(_Flatten(shape, out_shape))
            elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                self.ops.append(_Scale(module, shape))
            else:
                assert isinstance(module, nn.AvgPool2d)  # layer_chain admits nothing else
                self.ops.append(_AvgPool(module, shape, out_shape))
        if not self.ops:
            raise InputError("the model: expected at least one layer to bound, got none")
        self.in_shape = shapes[0]
        self.out_shape = shapes[-1]
        self.activations = [i for i, op in enumerate(self.ops) if isinstance(op, Activation)]
