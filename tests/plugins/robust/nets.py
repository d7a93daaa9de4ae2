"""Random small networks and inputs for the robust plugin's property tests."""

from __future__ import annotations

import itertools

import torch
from hypothesis import strategies as st
from torch import nn

from xuframe_plugins.robust import ParamRamp

ACTIVATIONS = ("relu", "leaky", "ramp")


def activation(kind: str, width: int, gen: torch.Generator) -> nn.Module:
    if kind == "relu":
        return nn.ReLU()
    if kind == "leaky":
        return nn.LeakyReLU(0.1)
    ramp = ParamRamp(width, negative_slope=0.05)
    with torch.no_grad():
        ramp.r.copy_(0.2 + 1.5 * torch.rand(width, generator=gen))
    return ramp


def mlp(
    widths: list[int], kind: str, seed: int, dtype: torch.dtype = torch.float32
) -> nn.Sequential:
    gen = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        linear = nn.Linear(a, b)
        with torch.no_grad():
            linear.weight.copy_(torch.randn(b, a, generator=gen) / a**0.5 * 1.5)
            linear.bias.copy_(0.3 * torch.randn(b, generator=gen))
        layers.append(linear)
        if i < len(widths) - 2:
            layers.append(activation(kind, b, gen))
    return nn.Sequential(*layers).to(dtype).eval()


@st.composite
def cases(draw, max_depth: int = 3):
    """(net, x, eps): a random MLP of 1..max_depth hidden layers, a batch of 2 inputs and a radius."""
    depth = draw(st.integers(1, max_depth))
    widths = (
        [draw(st.integers(2, 5))]
        + [draw(st.integers(2, 6)) for _ in range(depth)]
        + [draw(st.integers(2, 4))]
    )
    kind = draw(st.sampled_from(ACTIVATIONS))
    seed = draw(st.integers(0, 2**31 - 1))
    net = mlp(widths, kind, seed)
    x = torch.randn(2, widths[0], generator=torch.Generator().manual_seed(seed + 1))
    eps = draw(st.sampled_from([0.01, 0.05, 0.1, 0.3, 1.0]))
    return net, x, eps


def ball_points(x: torch.Tensor, eps: float, n: int, seed: int) -> torch.Tensor:
    """``(n, *x.shape)`` points of the l_inf ball: random, corners and the centre."""
    gen = torch.Generator().manual_seed(seed)
    # offsets in x's dtype: float32(eps) is above a float64 eps (0.05 -> 0.0500000007)
    uniform = (torch.rand(n, *x.shape, generator=gen, dtype=x.dtype) * 2 - 1) * eps
    corners = (torch.randint(0, 2, (n, *x.shape), generator=gen).to(x.dtype) * 2 - 1) * eps
    return x + torch.cat([uniform, corners, torch.zeros(1, *x.shape, dtype=x.dtype)])


def pgd(
    net: nn.Module, x: torch.Tensor, eps: float, direction: torch.Tensor, steps: int = 20
) -> torch.Tensor:
    """Points of the ball that push ``direction . net(x')`` up (projected gradient ascent)."""
    delta = torch.zeros_like(x, requires_grad=True)
    for _ in range(steps):
        objective = (net(x + delta) * direction).sum()
        (grad,) = torch.autograd.grad(objective, delta)
        with torch.no_grad():
            delta += eps / 4 * grad.sign()
            delta.clamp_(-eps, eps)
    return (x + delta).detach()
