"""Monotone piecewise-linear activations and their bounding lines (the paper's Figure 1).

For a neuron whose pre-activation lies in ``[l, u]``, a *bounding line pair* is
``k_L z + b_L <= sigma(z) <= k_U z + b_U`` on ``[l, u]``. Three strategies:

- ``constant``: ``sigma(l) <= sigma(z) <= sigma(u)``, IBP's lines. With them CROWN and LBP
  reduce exactly to IBP.
- ``tight`` (Figure 1b): lines whose values on ``[l, u]`` stay within ``[sigma(l), sigma(u)]``,
  so every linear bound is at least as tight as the interval. Theorem 2's ordering holds.
- ``adaptive`` (Figure 1c/d, CROWN's default): of two valid candidates per side, the one
  enclosing less area with sigma. For ReLU this is CROWN's rule: lower slope 1 if ``u > -l``
  else 0.

All three come from one construction that is sound for any non-decreasing piecewise-linear
sigma with known breakpoints. A line anchored at ``(l, sigma(l))`` lies below sigma on
``[l, u]`` exactly when its slope is at most every secant slope from ``l`` to a point of
``(l, u]``; as sigma is linear between breakpoints, the smallest such secant is attained at a
breakpoint or at ``u``. Symmetrically for the other anchors:

====  =====================  ==================================================
line  anchor                 slope
====  =====================  ==================================================
L1    ``(l, sigma(l))``      min secant from l to {breakpoints in (l, u], u}
L2    ``(u, sigma(u))``      max secant to u from {breakpoints in [l, u), l}
U1    ``(u, sigma(u))``      min secant to u from {breakpoints in [l, u), l}
U2    ``(l, sigma(l))``      max secant from l to {breakpoints in (l, u], u}
====  =====================  ==================================================

Secant slopes of a non-decreasing sigma are >= 0, so L1 rises from sigma(l) and U1 falls
back from sigma(u): (L1, U1) is the tight pair. Adaptive takes, per side, the candidate
closer to sigma at the midpoint (for a line, less area on [l, u] means a lower value at the
midpoint for an upper line, a higher one for a lower line).
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from xuframe.errors import InputError
from xuframe.validation import check_choice, check_float, check_int, check_memory, check_tensor

__all__ = [
    "ParamRamp",
    "Strategy",
    "activation_breakpoints",
    "activation_function",
    "bounding_lines",
    "not_own_code",
    "through_lines",
]

Strategy = Literal["constant", "tight", "adaptive"]
_DEGENERATE = 1e-9


class ParamRamp(nn.Module):
    """LeakyReLU whose right part is bent flat at a learnable per-neuron height ``r`` (the paper's Sec. 4).

    ``sigma(z) = a z`` for ``z < 0``, ``z`` for ``0 <= z <= r``, ``r`` for ``z > r``, with
    ``a = negative_slope`` and ``r`` a parameter of shape ``shape`` (one per neuron; clamped to
    at least ``min_r``). With a flat right part, neurons saturated above ``r`` are stable, which
    is what makes ParamRamp networks easier to verify.

    ``shape`` is a positive int or a tuple of them (numpy integers too); ``negative_slope`` a
    number in ``[0, 1)``, ``r_init`` a finite number > 0, ``min_r`` a finite number >= 0.
    Anything else, or heights too large for memory, raises InputError.
    """

    def __init__(
        self,
        shape: int | tuple[int, ...],
        negative_slope: float = 0.0,
        r_init: float = 1.0,
        min_r: float = 1e-3,
    ) -> None:
        super().__init__()
        if isinstance(shape, (tuple, list, torch.Size)):
            dims = tuple(check_int(n, f"ParamRamp shape[{i}]", min=1) for i, n in enumerate(shape))
        else:
            dims = (check_int(shape, "ParamRamp shape", min=1),)
        check_memory(4.0 * math.prod(dims), f"ParamRamp heights of shape {dims}")
        self.negative_slope = check_float(negative_slope, "ParamRamp negative_slope", min=0.0)
        if self.negative_slope >= 1:
            raise InputError(
                f"ParamRamp negative_slope: expected a number >= 0 and < 1, got {negative_slope}"
            )
        self.min_r = check_float(min_r, "ParamRamp min_r", min=0.0)
        r_init = check_float(r_init, "ParamRamp r_init", min=0.0, min_open=True)
        self.r = nn.Parameter(torch.full(dims, r_init))

    def height(self) -> torch.Tensor:
        """The per-neuron ``r`` actually used (clamped to ``min_r``)."""
        return self.r.clamp(min=self.min_r)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``sigma(z)`` for ``z`` shaped ``(N, *shape)`` (or any shape the heights broadcast to).

        Raises InputError for a ``z`` that is not a floating tensor of such a shape.
        """
        check_tensor(z, "ParamRamp input", finite=False)
        heights = tuple(self.r.shape)
        if len(heights) > z.dim() or any(
            h not in (1, n) for h, n in zip(heights[::-1], tuple(z.shape)[::-1], strict=False)
        ):
            raise InputError(
                f"ParamRamp input: expected a shape ending in {heights} (its heights' shape), "
                f"got {tuple(z.shape)}"
            )
        return _ramp(self, z)

    def extra_repr(self) -> str:
        return f"shape={tuple(self.r.shape)}, negative_slope={self.negative_slope}"


def _ramp(module: ParamRamp, z: torch.Tensor) -> torch.Tensor:
    r = module.height()
    return torch.where(z < 0, module.negative_slope * z, torch.minimum(z, r.expand_as(z)))


_CALL_PATH = ("__call__", "_call_impl", "_wrapped_call_impl")


def not_own_code(
    module: nn.Module, cls: type[nn.Module], methods: tuple[str, ...] = ("forward",)
) -> str | None:
    """Why calling ``module`` might not run ``cls``'s own ``methods`` (None when it surely does).

    ``module`` must run exactly the code of ``cls`` for ``methods`` and for nn.Module's call path:
    no subclass overrides them, the instance does not replace them, and no forward hook or
    forward pre-hook is registered on it (hooks can change inputs and outputs). Hooks registered
    for all modules (``torch.nn.modules.module.register_module_forward_hook``) are checked by
    the caller, once per model. The reason is a phrase for an error message.
    """
    kind = type(module)
    for name in methods:
        if getattr(kind, name, None) is not getattr(cls, name):
            owner = next((c for c in kind.__mro__ if name in vars(c)), kind)
            base = f"nn.{cls.__name__}" if cls.__module__.startswith("torch.nn") else cls.__name__
            return f"its class overrides {base}.{name} (in {owner.__qualname__})"
    for name in _CALL_PATH:
        if getattr(kind, name, None) is not getattr(nn.Module, name):
            return f"its class overrides nn.Module.{name}"
    for name in methods + _CALL_PATH:
        if name in vars(module):
            return f"its {name} is replaced on the instance"
    if module._forward_pre_hooks:
        return "it has a forward pre-hook registered (hooks can change what it computes)"
    if module._forward_hooks:
        return "it has a forward hook registered (hooks can change what it computes)"
    return None


def _activation_problem(module: nn.Module) -> str | None:
    """None for a ReLU, a monotone LeakyReLU or a ParamRamp running its class's own code."""
    if isinstance(module, ParamRamp):
        return not_own_code(module, ParamRamp, ("forward", "height"))
    if isinstance(module, nn.LeakyReLU):
        if not 0 <= module.negative_slope <= 1:
            return f"LeakyReLU(negative_slope={module.negative_slope}) is not monotone in [0, 1]"
        return not_own_code(module, nn.LeakyReLU)
    if isinstance(module, nn.ReLU):
        return not_own_code(module, nn.ReLU)
    return "not a ReLU, LeakyReLU or ParamRamp"


def _check_activation(module: nn.Module) -> None:
    problem = _activation_problem(module)
    if problem is not None:
        raise InputError(f"unsupported activation {type(module).__qualname__}: {problem}")


def activation_breakpoints(module: nn.Module) -> list[torch.Tensor | float]:
    """Where ``module``'s slope changes (ReLU, LeakyReLU with slope in [0, 1], ParamRamp).

    Raises InputError for any other module, including a subclass of these that overrides
    ``forward`` (its breakpoints are unknown).
    """
    _check_activation(module)
    if isinstance(module, ParamRamp):
        return [0.0, module.height()]
    return [0.0]


def activation_function(module: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``module``'s activation as a pure function: never in place, no hooks run.

    Raises InputError as :func:`activation_breakpoints`.
    """
    _check_activation(module)
    if isinstance(module, ParamRamp):
        return lambda z: _ramp(module, z)
    if isinstance(module, nn.LeakyReLU):
        slope = module.negative_slope
        return lambda z: F.leaky_relu(z, slope)
    return torch.relu


def _secants(
    sigma: Callable[[torch.Tensor], torch.Tensor],
    l: torch.Tensor,
    u: torch.Tensor,
    s_l: torch.Tensor,
    s_u: torch.Tensor,
    breakpoints: list[torch.Tensor | float],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(min, max) secant slope from l over (l, u], and (min, max) to u over [l, u)."""
    width = (u - l).clamp(min=_DEGENERATE)
    chord = (s_u - s_l) / width
    min_from_l, max_from_l = chord, chord
    min_to_u, max_to_u = chord, chord
    for bp in breakpoints:
        p = torch.as_tensor(bp, dtype=l.dtype, device=l.device).expand_as(l)
        s_p = sigma(p)
        from_l = (s_p - s_l) / (p - l).clamp(min=_DEGENERATE)
        in_from_l = (p > l) & (p <= u)
        min_from_l = torch.where(in_from_l, torch.minimum(min_from_l, from_l), min_from_l)
        max_from_l = torch.where(in_from_l, torch.maximum(max_from_l, from_l), max_from_l)
        to_u = (s_u - s_p) / (u - p).clamp(min=_DEGENERATE)
        in_to_u = (p >= l) & (p < u)
        min_to_u = torch.where(in_to_u, torch.minimum(min_to_u, to_u), min_to_u)
        max_to_u = torch.where(in_to_u, torch.maximum(max_to_u, to_u), max_to_u)
    return min_from_l, max_from_l, min_to_u, max_to_u


def bounding_lines(
    sigma: nn.Module, l: torch.Tensor, u: torch.Tensor, strategy: Strategy
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(k_L, b_L, k_U, b_U)``, each shaped like ``l``: valid bounding lines of sigma on ``[l, u]``.

    ``sigma`` is a ReLU, a LeakyReLU (slope in [0, 1]) or a ParamRamp (whose heights broadcast
    to ``l``'s shape and have its dtype), evaluated out of place; ``l`` and ``u`` are finite
    floating tensors of one shape, dtype and device with ``l <= u`` element-wise; ``strategy``
    is ``constant``, ``tight`` or ``adaptive``.

    Raises:
        InputError: for any other activation (a subclass overriding ``forward`` included),
            and for ``l``, ``u`` or ``strategy`` that break these rules.
    """
    _check_activation(sigma)
    check_choice(strategy, "strategy", typing.get_args(Strategy))
    l = check_tensor(l, "l")
    u = check_tensor(u, "u", shape=tuple(l.shape), dtype=l.dtype)
    if u.device != l.device:
        raise InputError(f"u: expected a tensor on {l.device} (as l), got one on {u.device}")
    if not bool((l <= u).all()):
        raise InputError("l, u: expected l <= u element-wise, got l > u somewhere")
    if isinstance(sigma, ParamRamp):
        heights = sigma.r
        if heights.dtype != l.dtype or heights.device != l.device:
            raise InputError(
                f"l: expected dtype {heights.dtype} on {heights.device} (the ParamRamp's heights), "
                f"got {l.dtype} on {l.device}"
            )
        shape, own = tuple(l.shape), tuple(heights.shape)
        fits = len(own) <= len(shape) and all(
            h in (1, n) for h, n in zip(own[::-1], shape[::-1], strict=False)
        )
        if not fits:
            raise InputError(
                f"l: expected a shape that the ParamRamp's heights {tuple(heights.shape)} "
                f"broadcast to, got {tuple(l.shape)}"
            )
    return _bounding_lines(sigma, l, u, strategy)


def _bounding_lines(
    sigma: nn.Module, l: torch.Tensor, u: torch.Tensor, strategy: Strategy
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`bounding_lines` on arguments the bounds have already made valid."""
    breakpoints = activation_breakpoints(sigma)
    f = activation_function(sigma)
    s_l, s_u = f(l), f(u)
    if strategy == "constant":
        zero = torch.zeros_like(l)
        return zero, s_l, zero, s_u
    min_from_l, max_from_l, min_to_u, max_to_u = _secants(f, l, u, s_l, s_u, breakpoints)
    k_l, b_l = min_from_l, s_l - min_from_l * l  # L1
    k_u, b_u = min_to_u, s_u - min_to_u * u  # U1
    if strategy == "adaptive":
        mid = (l + u) / 2
        k_l2, b_l2 = max_to_u, s_u - max_to_u * u  # L2
        k_u2, b_u2 = max_from_l, s_l - max_from_l * l  # U2
        take_l2 = k_l2 * mid + b_l2 > k_l * mid + b_l
        take_u2 = k_u2 * mid + b_u2 < k_u * mid + b_u
        k_l, b_l = torch.where(take_l2, k_l2, k_l), torch.where(take_l2, b_l2, b_l)
        k_u, b_u = torch.where(take_u2, k_u2, k_u), torch.where(take_u2, b_u2, b_u)
    # A (near-)point interval: the constant lines are exact and avoid 0/0 slopes.
    point = (u - l) <= _DEGENERATE
    zero = torch.zeros_like(l)
    return (
        torch.where(point, zero, k_l),
        torch.where(point, s_l, b_l),
        torch.where(point, zero, k_u),
        torch.where(point, s_u, b_u),
    )


def through_lines(
    a_lo: torch.Tensor,
    a_hi: torch.Tensor,
    k_l: torch.Tensor,
    c_l: torch.Tensor,
    k_u: torch.Tensor,
    c_u: torch.Tensor,
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Coefficients through an activation's lines, and the intercept terms to sum.

    The upper objective takes the upper line where its coefficient is positive, the lower line
    where negative: ``pos k_U + neg k_L``; with ``neg = A - pos`` that is ``A k_L + pos (k_U - k_L)``
    (and mirrored for the lower objective), which needs fewer passes over these large tensors.
    """
    dk, dc = k_u - k_l, c_u - c_l
    pos_hi = a_hi.clamp(min=0)
    new_hi = a_hi * k_l + pos_hi * dk
    term_hi = a_hi * c_l + pos_hi * dc
    pos_lo = pos_hi if a_lo is a_hi else a_lo.clamp(min=0)
    new_lo = a_lo * k_u - pos_lo * dk
    term_lo = a_lo * c_u - pos_lo * dc
    return (new_lo, new_hi), (term_lo, term_hi)
