"""The five bounding methods of the paper, vectorised over the batch and every neuron.

Notation: the network is ops ``f_1 .. f_n`` (affine maps and activations); the input set is
the l_inf box ``[x_lo, x_hi]`` (centre ``c``, radius ``r``) or the l_2 ball ``B_2(x, eps)``.
Every method bounds ``spec @ f(x')`` for all ``x'`` in the set; they differ in how the
pre-activation bounds ``[l_j, u_j]`` of each activation are obtained and how the last layer
is bounded:

=============  ===============================  ================================
method         pre-activation bounds            last layer
=============  ===============================  ================================
``ibp``        interval propagation             interval, spec folded in
``lbp``        linear bound propagation         linear, spec folded in
``crown-ibp``  interval propagation             CROWN backward pass
``crown-lbp``  linear bound propagation         CROWN backward pass
``crown``      CROWN backward pass per layer    CROWN backward pass
=============  ===============================  ================================

LBP ("Relaxed-CROWN-1" in the paper) keeps, for every layer, one lower and one upper linear
function of the input, propagated forward: ``m`` passes for ``m`` layers, where CROWN's
per-layer backward passes cost ``O(m^2)``. "Spec folded in" means the specification is merged
with the affine layers after the last activation before bounding (the usual "elision"), so a
margin is bounded as one linear function.
"""

from __future__ import annotations

import math
import typing
from typing import Literal

import torch

from xuframe.errors import InputError, XuframeError
from xuframe.validation import check_choice, check_float, check_tensor
from xuframe_plugins.robust.activations import (
    Strategy,
    _bounding_lines,
    activation_breakpoints,
    through_lines,
)
from xuframe_plugins.robust.network import Activation, Affine, Network, all_finite
from xuframe_plugins.robust.patches import patch_backward, patches_apply

__all__ = ["InputSet", "Method", "check_clip", "compute_bounds", "ibp_and_crown_ibp"]

Method = Literal["ibp", "lbp", "crown-ibp", "crown-lbp", "crown"]
Lines = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
#: Forward linear bounds ``(lam_lo, a_lo, lam_hi, a_hi)``: ``lam x + a`` bounds an output.
Forms = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def check_clip(
    clip: object, *, what: str = "clip", error: type[XuframeError] = InputError
) -> tuple[float | None, float | None]:
    """``clip`` as ``(clip_min, clip_max)``: a pair of finite numbers or None with
    ``clip_min < clip_max`` when both are given; otherwise ``error`` naming ``what``."""
    if not isinstance(clip, (tuple, list)) or len(clip) != 2:
        raise error(
            f"{what}: expected a pair (clip_min, clip_max) of numbers or None, got {clip!r}"
        )
    low, high = (
        None if end is None else check_float(end, f"{what}[{i}] ({name})", error=error)
        for i, (end, name) in enumerate(zip(clip, ("clip_min", "clip_max"), strict=True))
    )
    if low is not None and high is not None and not low < high:
        raise error(
            f"{what}: expected clip_min < clip_max (a data range), got clip_min={low:g}, "
            f"clip_max={high:g}"
        )
    return low, high


class InputSet:
    """The perturbation set: an l_inf box (optionally clipped to a data range) or an l_2 ball.

    ``x`` is a floating batch ``(B, ...)``; ``eps`` a finite radius >= 0 in the units of ``x``;
    ``norm`` ``math.inf`` or ``2``; ``clip`` the data range ``(clip_min, clip_max)`` (either may
    be None; l_inf only) that the box is intersected with. With both ends given, an ``eps``
    larger than the distance from ``x`` to the far end of the range is lowered to it: the
    clipped box is then the whole range either way, so any finite ``eps`` gives finite bounds.

    Raises:
        InputError: for ``x`` that is not a finite non-empty floating tensor with a batch
            dimension, ``eps`` that is not a finite number >= 0, another ``norm``, a ``clip``
            that is not two numbers (or None) with ``clip_min < clip_max``, an ``x`` farther than
            ``eps`` outside the clip range (the clipped set would be empty), or an ``eps``
            beyond the largest number of ``x``'s dtype (once capped by the clip range).
    """

    def __init__(
        self,
        x: torch.Tensor,
        eps: float,
        norm: float,
        clip: tuple[float | None, float | None] = (None, None),
    ) -> None:
        x = check_tensor(x, "x", non_empty=True, finite=False)
        if not all_finite(x):
            raise InputError("x: expected finite values, got NaN or inf")
        if x.dim() < 2:
            raise InputError(f"x: expected a batch (B, ...), got shape {tuple(x.shape)}")
        eps = requested = check_float(eps, "eps", min=0.0)
        norm = check_float(norm, "norm", finite=False)
        if norm not in (math.inf, 2.0):
            raise InputError(f"norm: expected inf or 2, got {norm:g}")
        low, high = check_clip(clip)
        if norm == math.inf and (low is not None or high is not None):
            smallest, largest = float(x.min()), float(x.max())
            if low is not None and smallest + eps < low:
                raise InputError(
                    f"x: expected values within eps={eps:g} of the clip range, got {smallest:g} "
                    f"below clip_min={low:g} (the clipped box would be empty)"
                )
            if high is not None and largest - eps > high:
                raise InputError(
                    f"x: expected values within eps={eps:g} of the clip range, got {largest:g} "
                    f"above clip_max={high:g} (the clipped box would be empty)"
                )
            if low is not None and high is not None:  # beyond this the box is the whole range
                eps = min(eps, max(largest - low, high - smallest))
        if eps > torch.finfo(x.dtype).max:
            raise InputError(
                f"eps: expected a radius that fits {x.dtype} (at most "
                f"{torch.finfo(x.dtype).max:.3g}), got {eps:.3g}; a smaller eps, both clip_min "
                "and clip_max (l_inf), or float64 would do"
            )
        #: the eps asked for; ``eps`` is the radius used (lower where the clip range caps it)
        self.requested_eps = requested
        self.x, self.eps, self.norm = x, eps, norm
        # uniform: one radius for every coordinate, so the spread is a dual norm (one fused pass)
        self.uniform = True
        self.center, self.radius = x, torch.full_like(x, eps)
        if norm == math.inf:
            lo, hi = x - eps, x + eps
            clipped = torch.zeros_like(x, dtype=torch.bool)
            if low is not None:
                clipped |= lo < low
                lo = lo.clamp(min=low)
            if high is not None:
                clipped |= hi > high
                hi = hi.clamp(max=high)
            if bool(clipped.any()):
                self.uniform = False
                lo = torch.minimum(lo, hi)  # rounding at the range's end must not empty the box
                self.center, self.radius = (lo + hi) / 2, (hi - lo) / 2
        # else the l_2 ball; its bounding box (radius eps) is used where a box is needed

    def spread(self, a: torch.Tensor) -> torch.Tensor:
        """Largest deviation of ``a . x'`` from ``a . centre`` over the set, ``(B, S)``."""
        flat = a.flatten(2)
        if self.uniform:
            dual = 1.0 if self.norm == math.inf else 2.0  # the dual norm of l_inf is l_1
            out = self.eps * torch.linalg.vector_norm(flat, ord=dual, dim=2)
            return out.expand(self.x.shape[0], -1)
        flat = flat.expand(self.x.shape[0], -1, -1)
        return torch.einsum("bsd,bd->bs", flat.abs(), self.radius.flatten(1))

    def concretize(self, a: torch.Tensor, bias: torch.Tensor, upper: bool) -> torch.Tensor:
        """Extreme of ``a . x' + bias`` over the set, for ``a`` shaped ``(B or 1, S, *in_shape)``."""
        flat = a.flatten(2).expand(self.x.shape[0], -1, -1)
        centre = torch.einsum("bsd,bd->bs", flat, self.center.flatten(1)) + bias
        return centre + self.spread(a) if upper else centre - self.spread(a)


def _bias_dot(a: torch.Tensor, op: Affine) -> torch.Tensor | None:
    b = op.bias()
    return None if b is None else (a * b).flatten(2).sum(2)


def _transpose(a: torch.Tensor, op: Affine) -> torch.Tensor:
    batch, specs = a.shape[:2]
    return op.transpose(a.reshape(batch * specs, *op.out_shape)).reshape(batch, specs, *op.in_shape)


def _backward(
    net: Network, upto: int, spec: torch.Tensor, lines: dict[int, Lines], inputs: InputSet
) -> tuple[torch.Tensor, torch.Tensor]:
    """CROWN: bound ``spec . z`` for ``z`` the output of op ``upto - 1``, back to the input.

    ``spec`` is ``(B, S, *shape of z)``. Returns (lower, upper), each ``(B, S)``.
    """
    a_lo = a_hi = spec
    b_lo = b_hi = spec.new_zeros(spec.shape[:2])
    prefix = net.activations[0] if net.activations else len(net.ops)  # leading affine ops
    for i in range(upto - 1, -1, -1):
        op = net.ops[i]
        if i == prefix - 1 and upto > prefix:
            return _concretize_through_prefix(net, a_lo, b_lo, a_hi, b_hi, inputs)
        if isinstance(op, Affine):
            same = a_lo is a_hi
            bias = _bias_dot(a_hi, op)
            if bias is not None:
                b_hi = b_hi + bias
                b_lo = b_lo + (bias if same else _bias_dot(a_lo, op))
            a_hi = _transpose(a_hi, op)
            a_lo = a_hi if same else _transpose(a_lo, op)
        else:
            k_l, c_l, k_u, c_u = (t.unsqueeze(1) for t in lines[i])
            (a_lo, a_hi), (d_lo, d_hi) = through_lines(a_lo, a_hi, k_l, c_l, k_u, c_u)
            b_lo, b_hi = b_lo + d_lo.flatten(2).sum(2), b_hi + d_hi.flatten(2).sum(2)
    return inputs.concretize(a_lo, b_lo, upper=False), inputs.concretize(a_hi, b_hi, upper=True)


def _concretize_through_prefix(
    net: Network,
    a_lo: torch.Tensor,
    b_lo: torch.Tensor,
    a_hi: torch.Tensor,
    b_hi: torch.Tensor,
    inputs: InputSet,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Concretize ``a . z + b`` for ``z`` the output of the affine ops before the first activation.

    The centre term is ``a . prefix(centre)``: the centre is pushed forward (cheap) instead of
    ``a`` backward; only the spread needs ``a`` in input space. Equal to transposing ``a``
    through the prefix and concretizing, with one batched product fewer per side.
    """
    prefix = net.activations[0]
    centre = inputs.center
    for op in net.ops[:prefix]:
        centre = op(centre)
    centre = centre.flatten(1).unsqueeze(2)  # (B, n, 1)

    def side(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mid = torch.bmm(a.flatten(2).expand(centre.shape[0], -1, -1), centre).squeeze(2) + b
        for op in reversed(net.ops[:prefix]):
            a = _transpose(a, op)
        return mid, inputs.spread(a)

    mid_hi, spread_hi = side(a_hi, b_hi)
    if a_lo is a_hi:
        mid_lo, spread_lo = mid_hi - b_hi + b_lo, spread_hi
    else:
        mid_lo, spread_lo = side(a_lo, b_lo)
    return mid_lo - spread_lo, mid_hi + spread_hi


def _identity_spec(batch: int, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    n = math.prod(shape)
    eye = torch.eye(n, dtype=like.dtype, device=like.device).reshape(n, *shape)
    return eye.unsqueeze(0).expand(batch, *eye.shape)


def _first_interval(net: Network, upto: int, inputs: InputSet) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact bounds of the output of ops ``0 .. upto-1``, which are all affine (no activation yet).

    Interval arithmetic is exact through affine maps of which at most one is not diagonal; for
    other runs and for the l_2 ball the composite matrix is formed (one pass of the identity).
    """
    ops = [op for op in net.ops[:upto] if isinstance(op, Affine)]
    centre = inputs.center
    for op in ops:
        centre = op(centre)
    if inputs.norm == math.inf and sum(not op.diagonal for op in ops) <= 1:
        radius = inputs.radius
        for op in ops:
            radius = op.linear(radius, "abs")
        return centre - radius, centre + radius
    columns = _identity_spec(1, net.in_shape, inputs.x)[0]  # (D, *in_shape)
    for op in ops:
        columns = op.linear(columns)
    flat = columns.flatten(1)  # (D, n_out): column d of the composite matrix
    if inputs.norm == math.inf:
        spread = inputs.radius.flatten(1) @ flat.abs()
    else:
        spread = inputs.eps * flat.norm(dim=0).expand(centre.shape[0], -1)
    spread = spread.reshape(centre.shape)
    return centre - spread, centre + spread


def _ibp(
    net: Network, inputs: InputSet
) -> tuple[dict[int, tuple[torch.Tensor, torch.Tensor]], torch.Tensor, torch.Tensor]:
    """Interval propagation: pre-activation bounds of every activation, and the last activation's output interval."""
    pre: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    first, last = net.activations[0], net.activations[-1]
    lo, hi = _first_interval(net, first, inputs)
    for i in range(first, last + 1):
        op = net.ops[i]
        if isinstance(op, Activation):
            pre[i] = (lo, hi)
            lo, hi = op(lo), op(hi)
        else:
            mid, rad = (hi + lo) / 2, (hi - lo) / 2
            mid, rad = op(mid), op.linear(rad, "abs")
            lo, hi = mid - rad, mid + rad
    assert hi is not None
    return pre, lo, hi


def _lbp(
    net: Network, inputs: InputSet, strategy: Strategy
) -> tuple[
    dict[int, tuple[torch.Tensor, torch.Tensor]],
    dict[int, Lines],
    tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
]:
    """Linear bound propagation: returns pre-activation bounds, the lines used, and the last
    activation output's linear bounds ``(lam_lo, a_lo, lam_hi, a_hi)`` with ``lam`` shaped
    ``(B, D, *shape)`` (D = input size)."""
    d = math.prod(net.in_shape)
    lam = _identity_spec(
        1, net.in_shape, inputs.x
    )  # (1, D, *in_shape): batch-independent until an activation
    lam_lo = lam_hi = lam
    a_lo = a_hi = torch.zeros_like(inputs.x)
    pre: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    lines: dict[int, Lines] = {}
    last = net.activations[-1] if net.activations else -1
    for i, op in enumerate(net.ops[: last + 1]):
        if isinstance(op, Affine):
            lam_lo, a_lo, lam_hi, a_hi = _affine_forms(op, (lam_lo, a_lo, lam_hi, a_hi), d)
        else:
            if i == net.activations[0]:  # exact, and cheaper than concretizing the identity
                lo, hi = _first_interval(net, i, inputs)
            else:
                step_lo, step_hi = _interval_step(net, i, pre)
                lo = torch.maximum(_concretize_forward(lam_lo, a_lo, inputs, upper=False), step_lo)
                hi = torch.minimum(_concretize_forward(lam_hi, a_hi, inputs, upper=True), step_hi)
            pre[i] = (lo, hi)
            lines[i] = _bounding_lines(op.module, lo, hi, strategy)
            lam_lo, a_lo, lam_hi, a_hi = _activation_forms((lam_lo, a_lo, lam_hi, a_hi), lines[i])
    return pre, lines, (lam_lo, a_lo, lam_hi, a_hi)


def _affine_forms(op: Affine, forms: Forms, d: int) -> Forms:
    """The forward linear bounds ``(lam_lo, a_lo, lam_hi, a_hi)`` of ``op``'s output from
    those of its input (``lam`` ``(B, D, *shape)``, ``a`` ``(B, *shape)``; D = input size).
    ``lam_lo is lam_hi`` (no activation yet) stays shared."""
    lam_lo, a_lo, lam_hi, a_hi = forms
    rows = lam_hi.shape[0] * d
    if lam_lo is lam_hi:
        lam_hi = lam_lo = op.linear(lam_hi.reshape(rows, *op.in_shape)).reshape(
            -1, d, *op.out_shape
        )
    else:  # W+ hi + W- lo = W mid + |W| rad, W+ lo + W- hi = W mid - |W| rad: two products, not four
        mid = op.linear(((lam_hi + lam_lo) / 2).reshape(rows, *op.in_shape))
        rad = op.linear(((lam_hi - lam_lo) / 2).reshape(rows, *op.in_shape), "abs")
        lam_hi = (mid + rad).reshape(-1, d, *op.out_shape)
        lam_lo = (mid - rad).reshape(-1, d, *op.out_shape)
    a_hi, a_lo = (
        op.linear(a_hi, "pos") + op.linear(a_lo, "neg"),
        op.linear(a_lo, "pos") + op.linear(a_hi, "neg"),
    )
    b = op.bias()
    if b is not None:
        a_hi, a_lo = a_hi + b, a_lo + b
    return lam_lo, a_lo, lam_hi, a_hi


def _activation_forms(forms: Forms, lines: Lines) -> Forms:
    """The forward linear bounds of an activation's output from those of its input and its
    bounding ``lines`` ``(k_l, c_l, k_u, c_u)`` (each ``(B, *shape)``)."""
    lam_lo, a_lo, lam_hi, a_hi = forms
    k_l, c_l, k_u, c_u = lines
    return lam_lo * k_l.unsqueeze(1), a_lo * k_l + c_l, lam_hi * k_u.unsqueeze(1), a_hi * k_u + c_u


def _concretize_forward(
    lam: torch.Tensor, a: torch.Tensor, inputs: InputSet, upper: bool
) -> torch.Tensor:
    """Extreme over the input set of ``lam x + a`` with ``lam`` shaped ``(B, D, *shape)``."""
    d = lam.shape[1]
    flat = lam.reshape(lam.shape[0], d, -1).expand(inputs.x.shape[0], -1, -1)
    centre = torch.einsum("bdn,bd->bn", flat, inputs.center.flatten(1))
    if inputs.uniform:  # the dual norm of each column, one fused pass
        dual = 1.0 if inputs.norm == math.inf else 2.0
        spread = inputs.eps * torch.linalg.vector_norm(flat, ord=dual, dim=1)
    else:
        spread = torch.einsum("bdn,bd->bn", flat.abs(), inputs.radius.flatten(1))
    out = centre + spread if upper else centre - spread
    return out.reshape(inputs.x.shape[0], *a.shape[1:]) + a


def _tail_spec(net: Network, spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Fold the spec into the affine ops after the last activation: ``(A, bias, index)`` with
    ``A`` on the output of op ``index - 1`` (the last activation; the input if there is none)."""
    last = net.activations[-1] if net.activations else -1
    a = spec
    bias = spec.new_zeros(spec.shape[:2])
    for i in range(len(net.ops) - 1, last, -1):
        op = net.ops[i]
        assert isinstance(op, Affine)
        b = _bias_dot(a, op)
        if b is not None:
            bias = bias + b
        a = _transpose(a, op)
    return a, bias, last + 1


def _interval_step(
    net: Network, i: int, pre: dict[int, tuple[torch.Tensor, torch.Tensor]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Interval bounds of activation ``i``'s input from the previous activation's bounds (one IBP step)."""
    j = max(k for k in pre if k < i)
    prev = net.ops[j]
    assert isinstance(prev, Activation)
    lo, hi = prev(pre[j][0]), prev(pre[j][1])
    for op in net.ops[j + 1 : i]:
        assert isinstance(op, Affine)
        mid, rad = op((hi + lo) / 2), op.linear((hi - lo) / 2, "abs")
        lo, hi = mid - rad, mid + rad
    return lo, hi


def _unstable(op: Activation, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Neurons whose interval holds a breakpoint strictly inside (their lines are relaxations)."""
    mask = torch.zeros_like(lo, dtype=torch.bool)
    for bp in activation_breakpoints(op.module):
        p = torch.as_tensor(bp, dtype=lo.dtype, device=lo.device)
        mask |= (lo < p) & (p < hi)
    return mask


def _crown_layer(
    net: Network,
    i: int,
    pre: dict[int, tuple[torch.Tensor, torch.Tensor]],
    lines: dict[int, Lines],
    inputs: InputSet,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CROWN bounds of activation ``i``'s input, intersected with the interval step.

    The interval step is sound and free; a neuron it proves stable gets its exact linear piece
    as both lines whatever tighter bounds say, so the backward pass runs only for the neurons
    unstable in some input of the batch.
    """
    op = net.ops[i]
    assert isinstance(op, Activation)
    lo, hi = _interval_step(net, i, pre)
    rows = _unstable(op, lo, hi).flatten(1).any(0).nonzero().flatten()
    if rows.numel() == 0:
        return lo, hi
    if patches_apply(net, i):  # convolutional trunk: every row as its receptive-field patch
        l_all, u_all = patch_backward(net, i, lines, inputs)
        l_all, u_all = l_all.reshape(lo.shape), u_all.reshape(hi.shape)
        return torch.maximum(lo, l_all), torch.minimum(hi, u_all)
    n = math.prod(op.shape)
    spec = torch.zeros(1, rows.numel(), n, dtype=lo.dtype, device=lo.device)
    spec[0, torch.arange(rows.numel()), rows] = 1.0
    l_rows, u_rows = _backward(net, i, spec.reshape(1, rows.numel(), *op.shape), lines, inputs)
    flat_lo, flat_hi = lo.flatten(1).clone(), hi.flatten(1).clone()
    flat_lo[:, rows] = torch.maximum(flat_lo[:, rows], l_rows)
    flat_hi[:, rows] = torch.minimum(flat_hi[:, rows], u_rows)
    return flat_lo.reshape(lo.shape), flat_hi.reshape(hi.shape)


def _interval_output(
    net: Network, lo: torch.Tensor, hi: torch.Tensor, spec: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bounds of the spec folded into the layers after the last activation, whose output lies in ``[lo, hi]``."""
    a, bias, _ = _tail_spec(net, spec)
    mid, rad = (hi + lo) / 2, (hi - lo) / 2
    centre = (a * mid.unsqueeze(1)).flatten(2).sum(2) + bias
    spread = (a.abs() * rad.unsqueeze(1)).flatten(2).sum(2)
    return centre - spread, centre + spread


def _crown_last(
    net: Network,
    inputs: InputSet,
    spec: torch.Tensor,
    pre: dict[int, tuple[torch.Tensor, torch.Tensor]],
    strategy: Strategy,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CROWN's backward pass for the last layer, given every activation's pre-activation bounds."""
    lines = {
        i: _bounding_lines(net.ops[i].module, l, u, strategy)  # type: ignore[union-attr]
        for i, (l, u) in pre.items()
    }
    return _backward(net, len(net.ops), spec, lines, inputs)


def ibp_and_crown_ibp(
    net: Network, inputs: InputSet, spec: torch.Tensor, strategy: Strategy
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """IBP and CROWN-IBP bounds from one interval pass (what CROWN-IBP training needs every step).

    Arguments and errors as :func:`compute_bounds`.
    """
    _check_arguments(net, inputs, spec, "ibp", strategy)
    if not net.activations:
        exact = compute_bounds(net, inputs, spec, "ibp", strategy)
        return exact, exact
    pre, lo, hi = _ibp(net, inputs)
    return _interval_output(net, lo, hi, spec), _crown_last(net, inputs, spec, pre, strategy)


def _check_arguments(
    net: object, inputs: object, spec: object, method: object, strategy: object
) -> None:
    if not isinstance(net, Network):
        raise InputError(f"net: expected a Network, got {type(net).__name__}")
    if not isinstance(inputs, InputSet):
        raise InputError(f"inputs: expected an InputSet, got {type(inputs).__name__}")
    if tuple(inputs.x.shape[1:]) != net.in_shape:
        raise InputError(
            f"inputs: expected x of per-sample shape {net.in_shape} (the network's input), "
            f"got {tuple(inputs.x.shape[1:])}"
        )
    check_choice(method, "method", typing.get_args(Method))
    check_choice(strategy, "strategy", typing.get_args(Strategy))
    spec = check_tensor(spec, "spec", dtype=inputs.x.dtype, non_empty=False)
    if spec.device != inputs.x.device:
        raise InputError(f"spec: expected a tensor on {inputs.x.device}, got one on {spec.device}")
    batch = inputs.x.shape[0]
    if (
        spec.dim() != 2 + len(net.out_shape)
        or tuple(spec.shape[2:]) != net.out_shape
        or (spec.shape[0] not in (1, batch))
    ):
        raise InputError(
            f"spec: expected shape ({batch} or 1, S, {', '.join(map(str, net.out_shape))}), "
            f"got {tuple(spec.shape)}"
        )


def compute_bounds(
    net: Network, inputs: InputSet, spec: torch.Tensor, method: Method, strategy: Strategy
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower and upper bounds ``(B, S)`` on ``spec @ net(x')`` over the input set.

    ``net`` is a :class:`~xuframe_plugins.robust.network.Network`, ``inputs`` an
    :class:`InputSet` whose ``x`` fits it, ``spec`` a tensor ``(B or 1, S, *net.out_shape)`` of
    ``x``'s dtype and device, ``method`` one of :data:`Method` and ``strategy`` one of
    ``constant``, ``tight``, ``adaptive``. Raises InputError for anything else.
    """
    _check_arguments(net, inputs, spec, method, strategy)
    if not net.activations:
        a, bias, _ = _tail_spec(net, spec)
        return inputs.concretize(a, bias, upper=False), inputs.concretize(a, bias, upper=True)
    lines: dict[int, Lines] = {}
    if method == "ibp":
        _, lo, hi = _ibp(net, inputs)
        return _interval_output(net, lo, hi, spec)
    if method == "crown-ibp":
        pre, _, _ = _ibp(net, inputs)
        return _crown_last(net, inputs, spec, pre, strategy)
    if method in ("lbp", "crown-lbp"):
        pre, lines, (lam_lo, a_lo, lam_hi, a_hi) = _lbp(net, inputs, strategy)
        if method == "lbp":
            a, bias, _ = _tail_spec(net, spec)
            pos, neg = a.clamp(min=0), a.clamp(max=0)
            batch, specs = a.shape[:2]
            # spec . y with lam_lo x + a_lo <= y <= lam_hi x + a_hi, as linear functions of x
            coef_hi = torch.einsum(
                "bsn,bdn->bsd", pos.flatten(2), lam_hi.flatten(2)
            ) + torch.einsum("bsn,bdn->bsd", neg.flatten(2), lam_lo.flatten(2))
            coef_lo = torch.einsum(
                "bsn,bdn->bsd", pos.flatten(2), lam_lo.flatten(2)
            ) + torch.einsum("bsn,bdn->bsd", neg.flatten(2), lam_hi.flatten(2))
            c_hi = (pos * a_hi.unsqueeze(1) + neg * a_lo.unsqueeze(1)).flatten(2).sum(2) + bias
            c_lo = (pos * a_lo.unsqueeze(1) + neg * a_hi.unsqueeze(1)).flatten(2).sum(2) + bias
            shape = (batch, specs, *net.in_shape)
            return (
                inputs.concretize(coef_lo.reshape(shape), c_lo, upper=False),
                inputs.concretize(coef_hi.reshape(shape), c_hi, upper=True),
            )
    else:  # crown: every pre-activation bound by its own backward pass
        pre = {}
        for i in net.activations:
            op = net.ops[i]
            assert isinstance(op, Activation)
            if i == net.activations[0]:  # what the backward pass would give, computed directly
                l, u = _first_interval(net, i, inputs)
            else:
                l, u = _crown_layer(net, i, pre, lines, inputs)
            pre[i] = (l, u)
            lines[i] = _bounding_lines(op.module, l, u, strategy)
    return _backward(net, len(net.ops), spec, lines, inputs)
