"""Properties of the five bounding methods (hypothesis, random small nets) and the naive reference."""

from __future__ import annotations

import math

import naive
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from nets import ball_points, cases, mlp, pgd
from torch import nn

import xuframe
from xuframe import Verifier
from xuframe.errors import InputError
from xuframe_plugins.robust import ParamRamp

METHODS = ("ibp", "lbp", "crown-ibp", "crown-lbp", "crown")
STRATEGIES = ("constant", "tight", "adaptive")


def bounds(method: str, net, x, eps, strategy="adaptive", spec=None, norm=math.inf):
    verifier = xuframe.create("verifier", method, strategy=strategy)
    return verifier.bounds(net, x, eps, spec=spec, norm=norm)


@settings(max_examples=40)
@given(cases(), st.sampled_from(METHODS), st.sampled_from(STRATEGIES))
def test_sound_on_sampled_corner_and_attacked_points(case, method, strategy):
    net, x, eps = case
    b = bounds(method, net, x, eps, strategy)
    with torch.no_grad():
        outputs = net(ball_points(x, eps, 200, seed=1).reshape(-1, x.shape[1])).reshape(
            -1, *b.shape
        )
    assert bool(b.contains(outputs, atol=1e-4).all())
    for k in range(b.shape[1]):  # attack each output up and down
        direction = torch.zeros(b.shape)
        direction[:, k] = 1.0
        for sign in (1.0, -1.0):
            point = pgd(net, x, eps, sign * direction)
            with torch.no_grad():
                attacked = net(point)
            assert bool(b.contains(attacked, atol=1e-4).all())


@settings(max_examples=40)
@given(cases())
def test_theorem_2_ordering_under_the_tight_strategy(case):
    net, x, eps = case
    spec = Verifier.margin_spec(torch.zeros(2, dtype=torch.int64), net[-1].out_features)
    with torch.no_grad():
        b = {m: bounds(m, net, x, eps, "tight", spec=spec) for m in METHODS}
    tol = 1e-5 * (1 + max(v.upper.abs().max().item() for v in b.values()))

    def tighter(a: str, c: str) -> None:  # c's bounds lie within a's
        assert bool((b[c].lower >= b[a].lower - tol).all()), f"lower: {c} < {a}"
        assert bool((b[c].upper <= b[a].upper + tol).all()), f"upper: {c} > {a}"

    tighter("ibp", "lbp")
    tighter("ibp", "crown-ibp")
    tighter("lbp", "crown-lbp")
    tighter("crown-ibp", "crown-lbp")
    tighter("crown-lbp", "crown")


@settings(max_examples=30)
@given(cases())
def test_constant_lines_reduce_every_method_to_ibp(case):
    net, x, eps = case
    reference = bounds("ibp", net, x, eps)
    for method in METHODS[1:]:
        b = bounds(method, net, x, eps, "constant")
        torch.testing.assert_close(b.lower, reference.lower, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(b.upper, reference.upper, rtol=1e-5, atol=1e-5)


@settings(max_examples=30)
@given(cases(), st.sampled_from(METHODS), st.sampled_from(STRATEGIES))
def test_zero_eps_gives_the_output(case, method, strategy):
    net, x, _ = case
    b = bounds(method, net, x, 0.0, strategy)
    with torch.no_grad():
        out = net(x)
    torch.testing.assert_close(b.lower, out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(b.upper, out, rtol=1e-5, atol=1e-5)


@settings(max_examples=30)
@given(cases(), st.sampled_from(METHODS), st.sampled_from(["constant", "tight"]))
def test_bounds_are_monotone_in_eps(case, method, strategy):
    net, x, eps = case
    small, large = bounds(method, net, x, eps / 2, strategy), bounds(method, net, x, eps, strategy)
    tol = 1e-5 * (1 + large.upper.abs().max().item())
    assert bool(
        (large.lower <= small.lower + tol).all() and (large.upper >= small.upper - tol).all()
    )


@pytest.mark.parametrize("kind", ["relu", "leaky", "ramp"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_vectorised_bounds_equal_the_naive_loops(kind, strategy):
    net = mlp([4, 6, 5, 3], kind, seed=11, dtype=torch.float64)
    x = torch.randn(1, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    spec = Verifier.margin_spec(torch.tensor([1]), 3).double()
    eps = 0.2
    with torch.no_grad():
        expected = {
            "ibp": naive.ibp(net, x[0], eps, spec[0]),
            "crown": naive.crown(net, x[0], eps, spec[0], strategy),
            "lbp": naive.lbp(net, x[0], eps, spec[0], strategy),
        }
    for method, (lo, hi) in expected.items():
        if method == "ibp" and strategy != "adaptive":
            continue
        b = bounds(method, net, x, eps, strategy, spec=spec)
        torch.testing.assert_close(b.lower[0].double(), lo, rtol=0, atol=1e-6)
        torch.testing.assert_close(b.upper[0].double(), hi, rtol=0, atol=1e-6)


def _cnn(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3, stride=2, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.Conv2d(3, 4, 3, stride=1, padding=0),
        nn.LeakyReLU(0.1),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(4, 6),
        ParamRamp(6, 0.02, 0.8),
        nn.Dropout(0.5),
        nn.Linear(6, 3),
    )
    bn = net[1]
    with torch.no_grad():
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.1, 0.1)
    return net.eval()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_convolutional_networks_are_bounded_soundly(method, strategy):
    net, eps = _cnn(), 0.05
    x = torch.rand(2, 1, 9, 9, generator=torch.Generator().manual_seed(0))
    b = bounds(method, net, x, eps, strategy)
    with torch.no_grad():
        outputs = net(ball_points(x, eps, 300, seed=2).reshape(-1, 1, 9, 9)).reshape(-1, *b.shape)
    assert bool(b.contains(outputs, atol=1e-4).all())
    torch.testing.assert_close(
        bounds(method, net, x, 0.0, strategy).lower, net(x).detach(), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize("method", METHODS)
def test_l2_balls_are_bounded_soundly(method):
    net, eps = mlp([5, 8, 8, 3], "relu", seed=4), 0.3
    x = torch.randn(2, 5, generator=torch.Generator().manual_seed(5))
    b = bounds(method, net, x, eps, norm=2.0)
    gen = torch.Generator().manual_seed(6)
    directions = torch.randn(500, 2, 5, generator=gen)
    points = (
        x
        + eps
        * directions
        / directions.norm(dim=2, keepdim=True)
        * torch.rand(500, 2, 1, generator=gen) ** 0.2
    )
    with torch.no_grad():
        outputs = net(points.reshape(-1, 5)).reshape(500, 2, 3)
    assert bool(b.contains(outputs, atol=1e-4).all())
    assert bool(
        (b.width <= bounds(method, net, x, eps).width + 1e-5).all()
    )  # the l2 ball lies in the l_inf ball


def test_clipping_to_the_data_range_tightens():
    net = mlp([4, 8, 3], "relu", seed=1)
    x = torch.rand(3, 4, generator=torch.Generator().manual_seed(2))
    clipped = xuframe.create("verifier", "crown", clip_min=0.0, clip_max=1.0).bounds(net, x, 0.3)
    plain = bounds("crown", net, x, 0.3)
    assert bool(
        (clipped.lower >= plain.lower - 1e-6).all() and (clipped.upper <= plain.upper + 1e-6).all()
    )
    assert bool((clipped.width < plain.width).any())


def test_unsupported_layers_and_modes_are_named():
    x = torch.zeros(1, 4)
    with pytest.raises(InputError, match=r"unsupported layer 1 \(Tanh\)"):
        bounds("crown", nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)), x, 0.1)
    bn = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).train()
    with pytest.raises(InputError, match="eval mode"):
        bounds("ibp", bn, x, 0.1)
    with pytest.raises(InputError, match="spec has 5 columns"):
        bounds("ibp", mlp([4, 3, 2], "relu", 0), x, 0.1, spec=torch.zeros(1, 1, 5))


def test_param_ramp_is_a_ramp_with_learnable_heights():
    ramp = ParamRamp(3, negative_slope=0.1, r_init=1.0)
    with torch.no_grad():
        ramp.r.copy_(torch.tensor([0.5, 1.0, 2.0]))
    z = torch.tensor([[-1.0, 0.7, 3.0]])
    torch.testing.assert_close(ramp(z), torch.tensor([[-0.1, 0.7, 2.0]]))
    ramp(torch.full((1, 3), 5.0)).sum().backward()
    assert ramp.r.grad.tolist() == [1.0, 1.0, 1.0]  # saturated neurons pass the gradient to r
    with pytest.raises(InputError, match="negative_slope"):
        ParamRamp(3, negative_slope=1.5)


def test_bounds_are_differentiable_for_verified_training():
    net = mlp([4, 6, 3], "ramp", seed=2)
    x = torch.rand(2, 4)
    for method in METHODS:
        net.zero_grad()
        bounds(method, net, x, 0.1).upper.sum().backward()
        assert net[0].weight.grad is not None and bool(torch.isfinite(net[0].weight.grad).all())
        assert net[1].r.grad is not None


@pytest.mark.parametrize(
    "trunk",
    [
        lambda: [
            nn.Conv2d(2, 4, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(4, 3, 4, stride=2, padding=1),
        ],
        lambda: [
            nn.Conv2d(2, 4, 3, padding=2, dilation=2),
            nn.BatchNorm2d(4),
            nn.LeakyReLU(0.1),
            nn.Conv2d(4, 4, 3, groups=2),
        ],
        lambda: [
            nn.Conv2d(2, 4, 3),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(4, 3, 2, stride=1, padding=1),
        ],
        lambda: [
            nn.Conv2d(2, 3, 5, stride=3, padding=2),
            ParamRamp((3, 4, 4), 0.05),
            nn.Conv2d(3, 3, 3, padding=1),
        ],
    ],
)
def test_patches_equal_the_dense_backward_pass(trunk):
    """The patch-wise backward pass gives the dense pass's bounds for every conv geometry."""
    from xuframe_plugins.robust import bounds as B
    from xuframe_plugins.robust.activations import bounding_lines
    from xuframe_plugins.robust.network import Network
    from xuframe_plugins.robust.patches import patch_backward, patches_apply

    torch.manual_seed(0)
    layers = trunk()
    for layer in layers:
        if isinstance(layer, nn.BatchNorm2d):
            with torch.no_grad():
                layer.running_var.uniform_(0.5, 2.0)
                layer.running_mean.uniform_(-0.3, 0.3)
    net = nn.Sequential(*layers, nn.ReLU()).eval()
    x = torch.rand(2, 2, 11, 11, dtype=torch.float64)
    net = net.double()
    n = Network(net, x)
    for norm in (math.inf, 2.0):
        inputs = B.InputSet(x, 0.1, norm)
        first = n.activations[0]
        with torch.no_grad():
            lines = {
                first: bounding_lines(
                    n.ops[first].module, *B._first_interval(n, first, inputs), "adaptive"
                )
            }
            last = n.activations[-1]
            assert patches_apply(n, last)
            lo_p, hi_p = patch_backward(n, last, lines, inputs)
            lo_d, hi_d = B._backward(
                n, last, B._identity_spec(1, n.ops[last].shape, x), lines, inputs
            )
        torch.testing.assert_close(lo_p, lo_d, rtol=0, atol=1e-10)
        torch.testing.assert_close(hi_p, hi_d, rtol=0, atol=1e-10)


def test_uniform_radius_fast_paths_equal_the_general_concretization():
    """The fused-norm spread and the centre pushed through the affine prefix give the bounds
    the general per-coordinate radius path gives, for every method."""
    from xuframe_plugins.robust import bounds as B
    from xuframe_plugins.robust.network import Network

    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Flatten(), nn.Linear(12, 9), nn.ReLU(), nn.Linear(9, 7), nn.ReLU(), nn.Linear(7, 3)
    ).double().eval()  # fmt: skip
    x = torch.rand(4, 1, 3, 4, dtype=torch.float64)
    n = Network(net, x)
    spec = Verifier.margin_spec(torch.tensor([0, 1, 2, 0]), 3).double()
    for norm in (math.inf, 2.0):
        fast = B.InputSet(x, 0.2, norm)
        general = B.InputSet(x, 0.2, norm)
        general.uniform = False
        assert fast.uniform
        for method in ("ibp", "lbp", "crown-ibp", "crown-lbp", "crown"):
            with torch.no_grad():
                got = B.compute_bounds(n, fast, spec, method, "adaptive")
                want = B.compute_bounds(n, general, spec, method, "adaptive")
            if (
                norm == math.inf
            ):  # the general path is the box; for l_2 it is the box around the ball
                torch.testing.assert_close(got, want, rtol=0, atol=1e-10)
            else:  # the l_2 ball is inside its bounding box: tighter, never looser
                assert bool((got[0] >= want[0] - 1e-10).all() and (got[1] <= want[1] + 1e-10).all())
