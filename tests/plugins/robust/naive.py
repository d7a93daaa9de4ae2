"""Deliberately naive float64 reference implementations of IBP, LBP and CROWN for MLPs.

Explicit loops over layers and neurons, written from the definitions, sharing nothing with the
plugin but the bounding lines of a single neuron (which have tests of their own). The
vectorised bounds must equal these to 1e-6.
"""

from __future__ import annotations

import torch
from torch import nn

from xuframe_plugins.robust import bounding_lines


def _layers(net: nn.Sequential) -> list[tuple[torch.Tensor, torch.Tensor, nn.Module | None]]:
    """(W, b, activation after it or None) per Linear layer."""
    mods = list(net)
    out = []
    for i, m in enumerate(mods):
        if isinstance(m, nn.Linear):
            act = (
                mods[i + 1]
                if i + 1 < len(mods) and not isinstance(mods[i + 1], nn.Linear)
                else None
            )
            out.append((m.weight.detach().double(), m.bias.detach().double(), act))
    return out


def _lines(
    act: nn.Module, l: torch.Tensor, u: torch.Tensor, strategy: str
) -> list[tuple[float, float, float, float]]:
    with torch.no_grad():
        k_l, b_l, k_u, b_u = bounding_lines(act.double(), l, u, strategy)
    return [(float(k_l[j]), float(b_l[j]), float(k_u[j]), float(b_u[j])) for j in range(len(l))]


def ibp(
    net: nn.Sequential, x: torch.Tensor, eps: float, spec: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One input ``x`` (D,), spec ``(S, K)``; the last Linear is merged with the spec."""
    layers = _layers(net)
    lo = [float(v) - eps for v in x]
    hi = [float(v) + eps for v in x]
    for w, b, act in layers[:-1]:
        new_lo, new_hi = [], []
        for i in range(w.shape[0]):
            s_lo = s_hi = float(b[i])
            for j in range(w.shape[1]):
                s_lo += min(w[i, j] * lo[j], w[i, j] * hi[j])
                s_hi += max(w[i, j] * lo[j], w[i, j] * hi[j])
            new_lo.append(float(s_lo))
            new_hi.append(float(s_hi))
        # element-wise; ParamRamp's r is per neuron, so apply it to the whole layer
        sigma = act.double()
        with torch.no_grad():
            lo = [float(v) for v in sigma(torch.tensor(new_lo, dtype=torch.float64))]
            hi = [float(v) for v in sigma(torch.tensor(new_hi, dtype=torch.float64))]
    w, b, _ = layers[-1]
    m = spec.double() @ w
    c = spec.double() @ b
    out_lo, out_hi = [], []
    for s in range(m.shape[0]):
        s_lo = s_hi = float(c[s])
        for j in range(m.shape[1]):
            s_lo += min(m[s, j] * lo[j], m[s, j] * hi[j])
            s_hi += max(m[s, j] * lo[j], m[s, j] * hi[j])
        out_lo.append(float(s_lo))
        out_hi.append(float(s_hi))
    return torch.tensor(out_lo, dtype=torch.float64), torch.tensor(out_hi, dtype=torch.float64)


def _backward(
    layers, upto: int, spec: torch.Tensor, lines: dict[int, list], x: torch.Tensor, eps: float
) -> tuple[list[float], list[float]]:
    """Bound ``spec . z`` with ``z`` the pre-activation output of Linear ``upto``, loop by loop."""
    rows_lo = [[float(v) for v in r] for r in spec]
    rows_hi = [list(r) for r in rows_lo]
    c_lo = [0.0] * len(rows_lo)
    c_hi = [0.0] * len(rows_lo)
    for k in range(upto, -1, -1):
        w, b, _ = layers[k]
        for s in range(len(rows_lo)):
            c_lo[s] += sum(rows_lo[s][i] * float(b[i]) for i in range(len(b)))
            c_hi[s] += sum(rows_hi[s][i] * float(b[i]) for i in range(len(b)))
            rows_lo[s] = [
                sum(rows_lo[s][i] * float(w[i, j]) for i in range(w.shape[0]))
                for j in range(w.shape[1])
            ]
            rows_hi[s] = [
                sum(rows_hi[s][i] * float(w[i, j]) for i in range(w.shape[0]))
                for j in range(w.shape[1])
            ]
        if k == 0:
            break
        for s in range(len(rows_lo)):  # through the activation after Linear k-1
            new_lo, new_hi = [], []
            for j, (kl, bl, ku, bu) in enumerate(lines[k - 1]):
                a = rows_lo[s][j]
                new_lo.append(a * (kl if a >= 0 else ku))
                c_lo[s] += a * (bl if a >= 0 else bu)
                a = rows_hi[s][j]
                new_hi.append(a * (ku if a >= 0 else kl))
                c_hi[s] += a * (bu if a >= 0 else bl)
            rows_lo[s], rows_hi[s] = new_lo, new_hi
    lo = [
        c_lo[s] + sum(rows_lo[s][j] * float(x[j]) - eps * abs(rows_lo[s][j]) for j in range(len(x)))
        for s in range(len(c_lo))
    ]
    hi = [
        c_hi[s] + sum(rows_hi[s][j] * float(x[j]) + eps * abs(rows_hi[s][j]) for j in range(len(x)))
        for s in range(len(c_hi))
    ]
    return lo, hi


def _step(layers, k: int, lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One interval step: bounds of Linear k's output from the bounds of the previous pre-activation."""
    sigma = layers[k - 1][2].double()
    a_lo, a_hi = sigma(lo), sigma(hi)
    w, b, _ = layers[k]
    out_lo, out_hi = [], []
    for i in range(w.shape[0]):
        terms = [
            (float(w[i, j]) * float(a_lo[j]), float(w[i, j]) * float(a_hi[j]))
            for j in range(w.shape[1])
        ]
        out_lo.append(float(b[i]) + sum(min(t) for t in terms))
        out_hi.append(float(b[i]) + sum(max(t) for t in terms))
    return torch.tensor(out_lo, dtype=torch.float64), torch.tensor(out_hi, dtype=torch.float64)


def crown(
    net: nn.Sequential, x: torch.Tensor, eps: float, spec: torch.Tensor, strategy: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """CROWN: each layer's pre-activation bounds by a backward pass with the identity spec,
    intersected with one interval step from the previous layer's bounds."""
    layers = _layers(net)
    lines: dict[int, list] = {}
    prev = None
    for k in range(len(layers) - 1):
        n = layers[k][0].shape[0]
        lo, hi = _backward(layers, k, torch.eye(n, dtype=torch.float64), lines, x, eps)
        lo, hi = torch.tensor(lo, dtype=torch.float64), torch.tensor(hi, dtype=torch.float64)
        if prev is not None:
            step_lo, step_hi = _step(layers, k, *prev)
            lo, hi = torch.maximum(lo, step_lo), torch.minimum(hi, step_hi)
        prev = (lo, hi)
        lines[k] = _lines(layers[k][2], lo, hi, strategy)
    lo, hi = _backward(layers, len(layers) - 1, spec.double(), lines, x, eps)
    return torch.tensor(lo, dtype=torch.float64), torch.tensor(hi, dtype=torch.float64)


def lbp(
    net: nn.Sequential, x: torch.Tensor, eps: float, spec: torch.Tensor, strategy: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """LBP: forward linear bounds (coefficient rows over the input) with explicit loops."""
    layers = _layers(net)
    d = len(x)
    # per neuron: lower/upper as (coefficients over x, constant)
    lower = [([1.0 if j == i else 0.0 for j in range(d)], 0.0) for i in range(d)]
    upper = [(list(r), c) for r, c in lower]

    def concretize(row, c, up):
        return c + sum(row[j] * float(x[j]) + (eps if up else -eps) * abs(row[j]) for j in range(d))

    def affine(w, b, lower, upper):
        new_lo, new_hi = [], []
        for i in range(w.shape[0]):
            rl, rh = [0.0] * d, [0.0] * d
            cl = ch = float(b[i])
            for k in range(w.shape[1]):
                wk = float(w[i, k])
                src_hi, src_lo = (upper[k], lower[k]) if wk >= 0 else (lower[k], upper[k])
                for j in range(d):
                    rh[j] += wk * src_hi[0][j]
                    rl[j] += wk * src_lo[0][j]
                ch += wk * src_hi[1]
                cl += wk * src_lo[1]
            new_lo.append((rl, cl))
            new_hi.append((rh, ch))
        return new_lo, new_hi

    prev = None
    for k, (w, b, act) in enumerate(layers[:-1]):
        lower, upper = affine(w, b, lower, upper)
        lo = torch.tensor([concretize(r, c, False) for r, c in lower], dtype=torch.float64)
        hi = torch.tensor([concretize(r, c, True) for r, c in upper], dtype=torch.float64)
        if prev is not None:
            step_lo, step_hi = _step(layers, k, *prev)
            lo, hi = torch.maximum(lo, step_lo), torch.minimum(hi, step_hi)
        prev = (lo, hi)
        lines = _lines(act, lo, hi, strategy)
        lower = [
            ([kl * v for v in r], kl * c + bl)
            for (r, c), (kl, bl, _, _) in zip(lower, lines, strict=True)
        ]
        upper = [
            ([ku * v for v in r], ku * c + bu)
            for (r, c), (_, _, ku, bu) in zip(upper, lines, strict=True)
        ]
    w, b, _ = layers[-1]
    lower, upper = affine(spec.double() @ w, spec.double() @ b, lower, upper)
    return (
        torch.tensor([concretize(r, c, False) for r, c in lower], dtype=torch.float64),
        torch.tensor([concretize(r, c, True) for r, c in upper], dtype=torch.float64),
    )
