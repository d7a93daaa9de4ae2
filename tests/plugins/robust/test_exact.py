"""Exact reference: the true extreme of a margin over the input box, by enumerating linear regions.

For a tiny network every activation pattern (which linear piece each neuron is on) defines a
polyhedron of inputs on which the network is affine, so the extreme of a margin over the box is
the best of one linear programme per pattern (scipy's HiGHS). Every bound must contain it, and
where no neuron is unstable the linear methods must reach it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from nets import mlp
from scipy.optimize import linprog
from torch import nn

import xuframe
from xuframe import Verifier

METHODS = ("ibp", "lbp", "crown-ibp", "crown-lbp", "crown")


def _pieces(act: nn.Module) -> list[tuple[float, float, float, float]]:
    """(z_min, z_max, slope, intercept) of each linear piece of a ReLU / LeakyReLU."""
    a = act.negative_slope if isinstance(act, nn.LeakyReLU) else 0.0
    return [(-np.inf, 0.0, a, 0.0), (0.0, np.inf, 1.0, 0.0)]


def exact_extremes(
    net: nn.Sequential, x: np.ndarray, eps: float, c: np.ndarray
) -> tuple[float, float]:
    """min and max of ``c . net(x')`` over the box ``|x' - x| <= eps`` (one hidden-layer stack)."""
    layers = list(net)
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    acts = [m for m in layers if not isinstance(m, nn.Linear)]
    sizes = [lin.out_features for lin in linears[:-1]]
    d = x.shape[0]
    best_lo, best_hi = np.inf, -np.inf
    choices = [range(2)] * sum(sizes)
    for pattern in itertools.product(*choices):
        # affine map of the input on this region: z = M x + v, with constraints per neuron
        m, v = np.eye(d), np.zeros(d)
        a_ub, b_ub = [], []
        k = 0
        for lin, act in zip(linears[:-1], acts, strict=True):
            w, b = lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()
            m, v = w @ m, w @ v + b
            pieces = _pieces(act)
            slopes = np.empty(len(b))
            for i in range(len(b)):
                lo, hi, slope, _ = pieces[pattern[k]]
                if np.isfinite(lo):  # z_i >= lo  ->  -M_i x <= v_i - lo
                    a_ub.append(-m[i])
                    b_ub.append(v[i] - lo)
                if np.isfinite(hi):  # z_i <= hi
                    a_ub.append(m[i])
                    b_ub.append(hi - v[i])
                slopes[i] = slope
                k += 1
            m, v = slopes[:, None] * m, slopes * v
        w, b = (
            linears[-1].weight.detach().double().numpy(),
            linears[-1].bias.detach().double().numpy(),
        )
        obj, const = c @ w @ m, c @ (w @ v + b)
        bounds = [(x[j] - eps, x[j] + eps) for j in range(d)]
        for sign in (1.0, -1.0):
            res = linprog(
                sign * obj,
                A_ub=np.array(a_ub) if a_ub else None,
                b_ub=np.array(b_ub) if b_ub else None,
                bounds=bounds,
                method="highs",
            )
            if res.status == 0:
                value = sign * res.fun + const
                with torch.no_grad():  # the optimum is attained at the LP solution
                    at = float(net(torch.from_numpy(res.x)[None]) @ torch.from_numpy(c))
                assert abs(at - value) < 1e-6 * (1 + abs(value)), (at, value)
                best_lo, best_hi = (
                    (min(best_lo, value), best_hi) if sign > 0 else (best_lo, max(best_hi, value))
                )
    return best_lo, best_hi


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.sampled_from(["relu", "leaky"]),
    st.sampled_from([0.05, 0.2, 0.5]),
    st.sampled_from(["tight", "adaptive"]),
)
def test_bounds_contain_the_exact_extremes(seed, kind, eps, strategy):
    net = mlp([2, 4, 3, 2], kind, seed, dtype=torch.float64)
    x = torch.randn(1, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    spec = Verifier.margin_spec(torch.tensor([0]), 2).double()
    lo, hi = exact_extremes(net, x[0].numpy(), eps, spec[0, 0].numpy())
    # the enumeration is right: its extremes are attained (checked inside) and no sample beats them
    grid = x + eps * (
        2 * torch.rand(20000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        - 1
    )
    with torch.no_grad():
        values = (net(grid) @ spec[0, 0]).numpy()
    assert lo <= values.min() + 1e-9 and hi >= values.max() - 1e-9
    for method in METHODS:
        with torch.no_grad():
            b = xuframe.create("verifier", method, strategy=strategy).bounds(net, x, eps, spec=spec)
        assert float(b.lower[0, 0]) <= lo + 1e-7, method
        assert float(b.upper[0, 0]) >= hi - 1e-7, method


def test_linear_methods_are_exact_when_no_neuron_is_unstable():
    net = mlp([2, 4, 3, 2], "relu", seed=7, dtype=torch.float64)
    x = torch.randn(1, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    spec = Verifier.margin_spec(torch.tensor([1]), 2).double()
    eps = 1e-4  # every neuron stays on one piece
    lo, hi = exact_extremes(net, x[0].numpy(), eps, spec[0, 0].numpy())
    for method in ("lbp", "crown-lbp", "crown", "crown-ibp"):
        with torch.no_grad():
            b = xuframe.create("verifier", method).bounds(net, x, eps, spec=spec)
        assert float(b.lower[0, 0]) == pytest.approx(lo, abs=1e-9)
        assert float(b.upper[0, 0]) == pytest.approx(hi, abs=1e-9)
