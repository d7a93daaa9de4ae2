"""IBP, LBP, CROWN, CROWN-IBP, CROWN-LBP and alpha-CROWN over a :class:`~xuframe_plugins.robust.graph.Graph`.

One forward sweep visits the nodes in order. Every node gets an interval (IBP through affine
maps, sums and concatenations; an activation's interval comes from its input's bounds, as
tight as the method makes them); the input of every activation gets its pre-activation
bounds from the method:

- an input that no activation precedes (an affine function of ``x``) gets its exact bounds
  (interval arithmetic where exact, else the composite matrix), whatever the method;
- ``ibp`` / ``crown-ibp``: the interval;
- ``lbp`` / ``crown-lbp``: LBP's forward linear bounds of every node (sums add them with
  their signs, concatenations stack them), concretized and intersected with the interval;
- ``crown`` / ``alpha-crown``: a CROWN backward pass from that node for the neurons the
  interval leaves unstable, intersected with the interval.

CROWN's backward pass visits the nodes in reverse order and *accumulates* the linear
coefficients that reach a node from each of its users (a residual input gets the sum of the
coefficients through the block and through the skip), splits them at a concatenation and
scales them at a sum. The last layer: IBP and LBP fold the specification back through the
affine nodes to the activations and the input (the usual elision) and bound there; the
others run the backward pass with the bounding lines. alpha-CROWN optimises the lower slopes
of the unstable ReLU / LeakyReLU neurons of that last pass (see :func:`alpha_crown`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from xuframe.validation import memory_limit
from xuframe_plugins.robust.activations import Strategy, _bounding_lines, through_lines
from xuframe_plugins.robust.bounds import (
    Forms,
    InputSet,
    Lines,
    _activation_forms,
    _affine_forms,
    _bias_dot,
    _concretize_forward,
    _identity_spec,
    _transpose,
    _unstable,
)
from xuframe_plugins.robust.graph import Cat, Graph, Sum
from xuframe_plugins.robust.network import Activation, Affine
from xuframe_plugins.robust.patches import patch_backward, patches_apply

__all__ = ["GraphMethod", "alpha_crown", "graph_bounds", "graph_elements"]

GraphMethod = Literal["ibp", "lbp", "crown-ibp", "crown-lbp", "crown", "alpha-crown"]
Pair = tuple[torch.Tensor, torch.Tensor]

#: how many tensors of the largest size one bounding pass keeps alive at once
_ALIVE = 8


def _widest(g: Graph) -> int:
    return max(math.prod(n.shape) for n in g.nodes)


def graph_elements(g: Graph, rows: int, method: GraphMethod) -> int:
    """An upper estimate of the tensor elements the bounds of one input need at once
    (``rows`` spec rows); CROWN's intermediate passes run in pieces of rows that fit."""
    widest, inputs = _widest(g), math.prod(g.in_shape)
    largest = max(widest, inputs * widest)  # the composite matrix of an affine prefix
    if method != "ibp":
        largest = max(largest, rows * widest)
    if method in ("lbp", "crown-lbp"):
        largest = max(largest, inputs * widest)
    if method == "alpha-crown":  # autograd keeps the coefficients of every node
        largest = max(largest, 2 * rows * sum(math.prod(n.shape) for n in g.nodes))
    return _ALIVE * largest


def _linear_prefix(g: Graph) -> list[bool]:
    """Per node: does no activation precede it (is it an affine function of x)?"""
    flags: list[bool] = []
    for node in g.nodes:
        flags.append(not isinstance(node.op, Activation) and all(flags[j] for j in node.inputs))
    return flags


def _interval_op(op: Affine, lo: torch.Tensor, hi: torch.Tensor) -> Pair:
    mid, rad = op((hi + lo) / 2), op.linear((hi - lo) / 2, "abs")
    return mid - rad, mid + rad


def _interval_node(g: Graph, i: int, iv: dict[int, Pair]) -> Pair:
    node = g.nodes[i]
    op = node.op
    if isinstance(op, Affine):
        return _interval_op(op, *iv[node.inputs[0]])
    if isinstance(op, Sum):
        mid = rad = None
        for j, c in zip(node.inputs, op.coeffs, strict=True):
            lo, hi = iv[j]
            m, r = c * (hi + lo) / 2, abs(c) * (hi - lo) / 2
            mid, rad = (m, r) if mid is None else (mid + m, rad + r)  # type: ignore[operator]
        assert mid is not None and rad is not None
        return mid - rad, mid + rad
    assert isinstance(op, Cat)
    los = [iv[j][0] for j in node.inputs]
    his = [iv[j][1] for j in node.inputs]
    batch = max(t.shape[0] for t in los)
    los = [t.expand(batch, *t.shape[1:]) for t in los]
    his = [t.expand(batch, *t.shape[1:]) for t in his]
    return torch.cat(los, op.dim + 1), torch.cat(his, op.dim + 1)


def _ancestors(g: Graph, i: int) -> list[int]:
    seen = {i}
    stack = [i]
    while stack:
        for j in g.nodes[stack.pop()].inputs:
            if j not in seen:
                seen.add(j)
                stack.append(j)
    return sorted(seen)


def _exact(g: Graph, i: int, inputs: InputSet) -> Pair:
    """Exact bounds of node ``i``, an affine function of x (no activation before it).

    Interval arithmetic is exact along a chain of affine maps of which at most one is not
    diagonal (l_inf); otherwise the composite matrix is formed (the identity pushed forward).
    """
    nodes = _ancestors(g, i)
    chain = all(len(g.nodes[j].inputs) <= 1 for j in nodes)
    maps = [g.nodes[j].op for j in nodes]
    non_diagonal = sum(isinstance(op, Affine) and not op.diagonal for op in maps)
    centre: dict[int, torch.Tensor] = {0: inputs.center}
    for j in nodes[1:]:
        centre[j] = _apply(g, j, centre, bias=True)
    if inputs.norm == math.inf and chain and non_diagonal <= 1:
        radius: dict[int, torch.Tensor] = {0: inputs.radius}
        for j in nodes[1:]:
            op = g.nodes[j].op
            assert isinstance(op, Affine)
            radius[j] = op.linear(radius[g.nodes[j].inputs[0]], "abs")
        return centre[i] - radius[i], centre[i] + radius[i]
    columns: dict[int, torch.Tensor] = {0: _identity_spec(1, g.in_shape, inputs.x)[0]}
    for j in nodes[1:]:
        columns[j] = _apply(g, j, columns, bias=False)
    flat = columns[i].flatten(1)
    if inputs.norm == math.inf:
        spread = inputs.radius.flatten(1) @ flat.abs()
    else:
        spread = inputs.eps * flat.norm(dim=0).expand(centre[i].shape[0], -1)
    spread = spread.reshape(centre[i].shape)
    return centre[i] - spread, centre[i] + spread


def _apply(g: Graph, j: int, values: dict[int, torch.Tensor], *, bias: bool) -> torch.Tensor:
    """Node ``j`` (affine, sum or concatenation) on its inputs' ``values`` (with or without the biases)."""
    node = g.nodes[j]
    op = node.op
    if isinstance(op, Affine):
        x = values[node.inputs[0]]
        return op(x) if bias else op.linear(x)
    if isinstance(op, Sum):
        parts = [c * values[k] for k, c in zip(node.inputs, op.coeffs, strict=True)]
        out = parts[0]
        for p in parts[1:]:
            out = out + p
        return out
    assert isinstance(op, Cat)
    parts = [values[k] for k in node.inputs]
    batch = max(p.shape[0] for p in parts)
    return torch.cat([p.expand(batch, *p.shape[1:]) for p in parts], op.dim + 1)


# -- CROWN's backward pass ------------------------------------------------------------------


def _through_alpha(
    a_lo: torch.Tensor,
    a_hi: torch.Tensor,
    lines: Lines,
    slopes: tuple[torch.Tensor, torch.Tensor],
    unstable: torch.Tensor,
) -> tuple[Pair, Pair]:
    """Through an activation whose unstable neurons' lower lines are ``slope * z`` (per spec row
    and side: ``slopes[0]`` for the lower objective, ``slopes[1]`` for the upper)."""
    k_l, c_l, k_u, c_u = (t.unsqueeze(1) for t in lines)
    k_lo = torch.where(unstable, slopes[0], k_l)
    k_hi = torch.where(unstable, slopes[1], k_l)
    c_low = torch.where(unstable, torch.zeros_like(c_l), c_l)
    pos_lo, neg_lo = a_lo.clamp(min=0), a_lo.clamp(max=0)
    pos_hi, neg_hi = a_hi.clamp(min=0), a_hi.clamp(max=0)
    new_lo = pos_lo * k_lo + neg_lo * k_u
    new_hi = pos_hi * k_u + neg_hi * k_hi
    d_lo = pos_lo * c_low + neg_lo * c_u
    d_hi = pos_hi * c_u + neg_hi * c_low
    return (new_lo, new_hi), (d_lo, d_hi)


Alphas = dict[int, tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]]


def _backward(
    g: Graph,
    target: int,
    spec: torch.Tensor,
    lines: dict[int, Lines],
    inputs: InputSet,
    alphas: Alphas | None = None,
) -> Pair:
    """Bound ``spec . z`` for ``z`` node ``target``'s output, back to the input: (lower, upper) ``(B, S)``.

    ``spec`` is ``(B or 1, S, *shape of z)``; ``lines`` the bounding lines of every activation
    before ``target``; ``alphas`` (alpha-CROWN) per activation the lower slopes ``(B, S, *shape)``
    of both objectives and the unstable mask ``(B, 1, *shape)``.
    """
    coeffs: dict[int, Pair] = {target: (spec, spec)}
    b_lo = b_hi = spec.new_zeros(spec.shape[:2])

    def push(k: int, lo: torch.Tensor, hi: torch.Tensor) -> None:
        if k not in coeffs:
            coeffs[k] = (lo, hi)
            return
        old_lo, old_hi = coeffs[k]
        if old_lo is old_hi and lo is hi:
            total = old_lo + lo
            coeffs[k] = (total, total)
        else:
            coeffs[k] = (old_lo + lo, old_hi + hi)

    for i in range(target, 0, -1):
        if i not in coeffs:
            continue
        a_lo, a_hi = coeffs.pop(i)
        same = a_lo is a_hi
        node = g.nodes[i]
        op = node.op
        if isinstance(op, Affine):
            bias = _bias_dot(a_hi, op)
            if bias is not None:
                other = bias if same else _bias_dot(a_lo, op)
                assert other is not None
                b_hi, b_lo = b_hi + bias, b_lo + other
            new_hi = _transpose(a_hi, op)
            push(node.inputs[0], new_hi if same else _transpose(a_lo, op), new_hi)
        elif isinstance(op, Activation):
            if alphas is not None and i in alphas:
                slopes, unstable = alphas[i]
                (a_lo, a_hi), (d_lo, d_hi) = _through_alpha(a_lo, a_hi, lines[i], slopes, unstable)
            else:
                k_l, c_l, k_u, c_u = (t.unsqueeze(1) for t in lines[i])
                (a_lo, a_hi), (d_lo, d_hi) = through_lines(a_lo, a_hi, k_l, c_l, k_u, c_u)
            b_lo, b_hi = b_lo + d_lo.flatten(2).sum(2), b_hi + d_hi.flatten(2).sum(2)
            push(node.inputs[0], a_lo, a_hi)
        elif isinstance(op, Sum):
            for k, c in zip(node.inputs, op.coeffs, strict=True):
                if c == 1.0:
                    push(k, a_lo, a_hi)
                else:
                    scaled_hi = c * a_hi
                    push(k, scaled_hi if same else c * a_lo, scaled_hi)
        else:
            assert isinstance(op, Cat)
            parts_hi = torch.split(a_hi, list(op.sizes), op.dim + 2)
            parts_lo = parts_hi if same else torch.split(a_lo, list(op.sizes), op.dim + 2)
            for k, p_lo, p_hi in zip(node.inputs, parts_lo, parts_hi, strict=True):
                push(k, p_lo, p_hi)
    a_lo, a_hi = coeffs.pop(0)
    return inputs.concretize(a_lo, b_lo, upper=False), inputs.concretize(a_hi, b_hi, upper=True)


def _tail(g: Graph, spec: torch.Tensor) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
    """Fold ``spec`` back through the nodes that are no activation, to the activations and the
    input: (coefficients per frontier node, bias)."""
    coeffs: dict[int, torch.Tensor] = {len(g.nodes) - 1: spec}
    bias = spec.new_zeros(spec.shape[:2])
    frontier: dict[int, torch.Tensor] = {}

    def push(k: int, a: torch.Tensor) -> None:
        coeffs[k] = coeffs[k] + a if k in coeffs else a

    for i in range(len(g.nodes) - 1, -1, -1):
        if i not in coeffs:
            continue
        a = coeffs.pop(i)
        node = g.nodes[i]
        op = node.op
        if op is None or isinstance(op, Activation):
            frontier[i] = a
        elif isinstance(op, Affine):
            b = _bias_dot(a, op)
            if b is not None:
                bias = bias + b
            push(node.inputs[0], _transpose(a, op))
        elif isinstance(op, Sum):
            for k, c in zip(node.inputs, op.coeffs, strict=True):
                push(k, a if c == 1.0 else c * a)
        else:
            assert isinstance(op, Cat)
            for k, part in zip(
                node.inputs, torch.split(a, list(op.sizes), op.dim + 2), strict=True
            ):
                push(k, part)
    return frontier, bias


# -- LBP's forward linear bounds ------------------------------------------------------------


def _forms_node(g: Graph, i: int, forms: dict[int, Forms], lines: dict[int, Lines]) -> Forms:
    node = g.nodes[i]
    op = node.op
    d = math.prod(g.in_shape)
    if isinstance(op, Activation):
        return _activation_forms(forms[node.inputs[0]], lines[i])
    if isinstance(op, Affine):
        return _affine_forms(op, forms[node.inputs[0]], d)
    if isinstance(op, Sum):
        out: list[torch.Tensor] | None = None
        for k, c in zip(node.inputs, op.coeffs, strict=True):
            lam_lo, a_lo, lam_hi, a_hi = forms[k]
            if c < 0:
                lam_lo, a_lo, lam_hi, a_hi = lam_hi, a_hi, lam_lo, a_lo
            terms = [c * lam_lo, c * a_lo, c * lam_hi, c * a_hi]
            out = terms if out is None else [o + t for o, t in zip(out, terms, strict=True)]
        assert out is not None
        return out[0], out[1], out[2], out[3]
    assert isinstance(op, Cat)
    parts = [forms[k] for k in node.inputs]
    lam_batch = max(max(p[0].shape[0], p[2].shape[0]) for p in parts)
    a_batch = max(max(p[1].shape[0], p[3].shape[0]) for p in parts)

    def cat(index: int, batch: int, offset: int) -> torch.Tensor:
        ts = [p[index] for p in parts]
        return torch.cat([t.expand(batch, *t.shape[1:]) for t in ts], op.dim + offset)

    return cat(0, lam_batch, 2), cat(1, a_batch, 1), cat(2, lam_batch, 2), cat(3, a_batch, 1)


# -- the sweep ------------------------------------------------------------------------------


class _Trunk:
    """The chain of nodes from the input to a node, in the form the patches pass reads."""

    def __init__(self, g: Graph, path: list[int]) -> None:
        self.ops = [g.nodes[k].op for k in path]
        self.in_shape = g.in_shape


def _trunk(g: Graph, j: int) -> list[int] | None:
    """The nodes from the input to node ``j`` when they form a chain (one input each), else None."""
    path: list[int] = []
    k = j
    while k != 0:
        node = g.nodes[k]
        if len(node.inputs) != 1:
            return None
        path.append(k)
        k = node.inputs[0]
    return path[::-1]


def _crown_rows(
    g: Graph,
    j: int,
    act: Activation,
    lo: torch.Tensor,
    hi: torch.Tensor,
    lines: dict[int, Lines],
    inputs: InputSet,
) -> Pair:
    """CROWN bounds of node ``j`` (the input of activation ``act``) for the neurons ``[lo, hi]``
    leaves unstable in some input of the batch, intersected with ``[lo, hi]``; the rows run in
    pieces that fit :func:`~xuframe.validation.memory_limit`. A convolutional trunk (a chain of
    Conv2d, BatchNorm2d, AvgPool2d and activations from the input) runs the patches form for
    every neuron, as the chain path does."""
    rows = _unstable(act, lo, hi).flatten(1).any(0).nonzero().flatten()
    if rows.numel() == 0:
        return lo, hi
    path = _trunk(g, j)
    if path is not None:
        trunk = _Trunk(g, path)
        if patches_apply(trunk, len(path)):  # type: ignore[arg-type]
            trunk_lines = {pos: lines[k] for pos, k in enumerate(path) if k in lines}
            l_all, u_all = patch_backward(trunk, len(path), trunk_lines, inputs)  # type: ignore[arg-type]
            l_all, u_all = l_all.reshape(lo.shape), u_all.reshape(hi.shape)
            return torch.maximum(lo, l_all), torch.minimum(hi, u_all)
    n = math.prod(g.nodes[j].shape)
    per_row = _ALIVE * _widest(g) * inputs.x.shape[0] * inputs.x.element_size()
    chunk = max(1, memory_limit() // max(per_row, 1))
    flat_lo, flat_hi = lo.flatten(1).clone(), hi.flatten(1).clone()
    for start in range(0, rows.numel(), chunk):
        part = rows[start : start + chunk]
        spec = torch.zeros(1, part.numel(), n, dtype=lo.dtype, device=lo.device)
        spec[0, torch.arange(part.numel()), part] = 1.0
        l_rows, u_rows = _backward(
            g, j, spec.reshape(1, part.numel(), *g.nodes[j].shape), lines, inputs
        )
        flat_lo[:, part] = torch.maximum(flat_lo[:, part], l_rows)
        flat_hi[:, part] = torch.minimum(flat_hi[:, part], u_rows)
    return flat_lo.reshape(lo.shape), flat_hi.reshape(hi.shape)


def _sweep(
    g: Graph, inputs: InputSet, method: GraphMethod, strategy: Strategy
) -> tuple[dict[int, Pair], dict[int, Pair], dict[int, Lines], dict[int, Forms]]:
    """Intervals of every node, pre-activation bounds and lines of every activation, and
    (LBP) the forward linear bounds of every node an activation depends on."""
    linear = _linear_prefix(g)
    lbp = method in ("lbp", "crown-lbp")
    need_forms: set[int] = set()
    if lbp:
        for i in g.activations:
            need_forms.update(_ancestors(g, i))
    iv: dict[int, Pair] = {0: (inputs.center - inputs.radius, inputs.center + inputs.radius)}
    if inputs.norm != math.inf:
        iv[0] = (inputs.x - inputs.eps, inputs.x + inputs.eps)
    pre: dict[int, Pair] = {}
    lines: dict[int, Lines] = {}
    forms: dict[int, Forms] = {}
    if 0 in need_forms:
        eye = _identity_spec(1, g.in_shape, inputs.x)
        zero = torch.zeros_like(inputs.x)
        forms[0] = (eye, zero, eye, zero)
    for i in range(1, len(g.nodes)):
        node = g.nodes[i]
        op = node.op
        if not isinstance(op, Activation):
            iv[i] = _interval_node(g, i, iv)
            if i in need_forms:
                forms[i] = _forms_node(g, i, forms, lines)
            continue
        j = node.inputs[0]
        if linear[j]:
            lo, hi = _exact(g, j, inputs)
        elif method in ("ibp", "crown-ibp"):
            lo, hi = iv[j]
        elif lbp:
            lam_lo, a_lo, lam_hi, a_hi = forms[j]
            lo = torch.maximum(_concretize_forward(lam_lo, a_lo, inputs, upper=False), iv[j][0])
            hi = torch.minimum(_concretize_forward(lam_hi, a_hi, inputs, upper=True), iv[j][1])
        else:
            lo, hi = _crown_rows(g, j, op, *iv[j], lines, inputs)
        pre[i] = (lo, hi)
        if method != "ibp":
            lines[i] = _bounding_lines(op.module, lo, hi, strategy)
        iv[i] = (op(lo), op(hi))
        if i in need_forms:
            forms[i] = _forms_node(g, i, forms, lines)
    return iv, pre, lines, forms


def graph_bounds(
    g: Graph,
    inputs: InputSet,
    spec: torch.Tensor,
    method: GraphMethod,
    strategy: Strategy,
    *,
    iterations: int = 20,
    lr: float = 0.5,
    early_stop: int = 10,
) -> Pair:
    """Lower and upper bounds ``(B, S)`` on ``spec @ g(x')`` over the input set.

    ``spec`` is ``(B or 1, S, *g.out_shape)`` of ``x``'s dtype and device (checked by the
    caller, the verifier); ``iterations``, ``lr`` and ``early_stop`` are alpha-CROWN's (see
    :func:`alpha_crown`).
    """
    if method == "alpha-crown":
        return alpha_crown(g, inputs, spec, strategy, iterations, lr, early_stop)
    iv, _, lines, forms = _sweep(g, inputs, method, strategy)
    if method in ("ibp", "lbp"):
        frontier, bias = _tail(g, spec)
        batch = inputs.x.shape[0]
        lo_total = hi_total = bias.expand(batch, -1)
        if method == "lbp":
            d = math.prod(g.in_shape)
            coef_lo = coef_hi = None
            for k, a in frontier.items():
                if k == 0:
                    c_lo, c_hi = a.flatten(2), a.flatten(2)
                    k_lo = k_hi = torch.zeros_like(lo_total)
                else:
                    lam_lo, f_lo, lam_hi, f_hi = forms[k]
                    pos, neg = a.clamp(min=0).flatten(2), a.clamp(max=0).flatten(2)
                    c_hi = torch.einsum("bsn,bdn->bsd", pos, lam_hi.flatten(2)) + torch.einsum(
                        "bsn,bdn->bsd", neg, lam_lo.flatten(2)
                    )
                    c_lo = torch.einsum("bsn,bdn->bsd", pos, lam_lo.flatten(2)) + torch.einsum(
                        "bsn,bdn->bsd", neg, lam_hi.flatten(2)
                    )
                    k_hi = (
                        pos * f_hi.flatten(1).unsqueeze(1) + neg * f_lo.flatten(1).unsqueeze(1)
                    ).sum(2)
                    k_lo = (
                        pos * f_lo.flatten(1).unsqueeze(1) + neg * f_hi.flatten(1).unsqueeze(1)
                    ).sum(2)
                coef_lo = c_lo if coef_lo is None else coef_lo + c_lo
                coef_hi = c_hi if coef_hi is None else coef_hi + c_hi
                lo_total, hi_total = lo_total + k_lo, hi_total + k_hi
            assert coef_lo is not None and coef_hi is not None
            shape = (coef_lo.shape[0], coef_lo.shape[1], *g.in_shape)
            assert coef_lo.shape[2] == d
            return (
                inputs.concretize(coef_lo.reshape(shape), lo_total, upper=False),
                inputs.concretize(coef_hi.reshape(shape), hi_total, upper=True),
            )
        for k, a in frontier.items():
            if k == 0:
                zero = torch.zeros_like(lo_total)
                lo_total = lo_total + inputs.concretize(a, zero, upper=False)
                hi_total = hi_total + inputs.concretize(a, zero, upper=True)
                continue
            lo, hi = iv[k]
            mid, rad = (hi + lo) / 2, (hi - lo) / 2
            centre = (a * mid.unsqueeze(1)).flatten(2).sum(2)
            spread = (a.abs() * rad.unsqueeze(1)).flatten(2).sum(2)
            lo_total, hi_total = lo_total + centre - spread, hi_total + centre + spread
        return lo_total, hi_total
    return _backward(g, len(g.nodes) - 1, spec, lines, inputs)


def alpha_crown(
    g: Graph,
    inputs: InputSet,
    spec: torch.Tensor,
    strategy: Strategy,
    iterations: int,
    lr: float,
    early_stop: int,
    on_iteration: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
) -> Pair:
    """alpha-CROWN: CROWN's last backward pass with optimised lower lines; ``(lower, upper)`` ``(B, S)``.

    Intermediate bounds are CROWN's. In the last pass, the lower line of every unstable ReLU
    or LeakyReLU (slope ``a``) neuron is ``k z`` with ``k = a + alpha (1 - a)``: sound for any
    ``alpha`` in [0, 1]. One ``alpha`` per neuron, per spec row, per input and per side (the
    lower and the upper bound are separate objectives), started at the strategy's own lower
    slope (so iteration 0 is CROWN's bound), moved by Adam (learning rate ``lr``) on the sum of
    lower bounds minus upper bounds, projected back to [0, 1] after each step. Each bound kept
    is the best seen over the iterations (never looser than CROWN's); ``iterations`` steps at
    most (0: CROWN), stopping once the objective has not improved for ``early_stop``
    iterations in a row (0: never). ``on_iteration(t, lower, upper)`` sees each iteration's
    bounds (t = 0 is CROWN's). ParamRamp neurons keep CROWN's lines.
    """
    with torch.no_grad():
        _, pre, lines, _ = _sweep(g, inputs, "crown", strategy)
    batch, specs = inputs.x.shape[0], spec.shape[1]
    params: dict[int, torch.Tensor] = {}
    floors: dict[int, float] = {}
    masks: dict[int, torch.Tensor] = {}
    for i in g.activations:
        op = g.nodes[i].op
        assert isinstance(op, Activation)
        module = op.module
        if type(module) not in (nn.ReLU, nn.LeakyReLU):
            continue
        floor = float(module.negative_slope) if isinstance(module, nn.LeakyReLU) else 0.0
        lo, hi = pre[i]
        unstable = (lo < 0) & (hi > 0)
        if floor >= 1 or not bool(unstable.any()):
            continue
        start = ((lines[i][0] - floor) / (1 - floor)).clamp(0, 1)
        start = start.unsqueeze(1).expand(batch, specs, *start.shape[1:])
        params[i] = torch.stack([start, start]).clone().requires_grad_(True)
        floors[i], masks[i] = floor, unstable.unsqueeze(1)

    def bound() -> Pair:
        alphas: Alphas = {}
        for i, p in params.items():
            slopes = floors[i] + p * (1 - floors[i])
            alphas[i] = ((slopes[0], slopes[1]), masks[i])
        return _backward(g, len(g.nodes) - 1, spec, lines, inputs, alphas)

    if not params or iterations == 0:
        with torch.no_grad():
            lo, hi = bound()
        if on_iteration is not None:
            on_iteration(0, lo, hi)
        return lo, hi
    optimiser = torch.optim.Adam(list(params.values()), lr=lr)
    best_lo = best_hi = None
    best_objective, stale = -math.inf, 0
    for t in range(iterations + 1):
        with torch.enable_grad():
            lo, hi = bound()
        low, high = lo.detach(), hi.detach()
        if on_iteration is not None:
            on_iteration(t, low, high)
        best_lo = low if best_lo is None else torch.maximum(best_lo, low)
        best_hi = high if best_hi is None else torch.minimum(best_hi, high)
        objective = float((low - high).sum())
        if objective > best_objective + 1e-7 * max(1.0, abs(best_objective)):
            best_objective, stale = objective, 0
        else:
            stale += 1
        if t == iterations or (early_stop and stale >= early_stop):
            break
        with torch.enable_grad():
            loss = (hi - lo).sum()
            if not loss.requires_grad:  # under an outer inference mode: nothing to optimise
                break
            grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        optimiser.zero_grad(set_to_none=True)
        for p, grad in zip(params.values(), grads, strict=True):
            p.grad = torch.zeros_like(p) if grad is None else grad
        optimiser.step()
        with torch.no_grad():
            for p in params.values():
                p.clamp_(0, 1)
    assert best_lo is not None and best_hi is not None
    return best_lo, best_hi
