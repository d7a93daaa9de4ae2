"""Issue 25: general computation graphs (torch.fx) and alpha-CROWN.

- On chains the graph path gives the chain path's bounds to 1e-6, for every method, strategy,
  norm and clip (so routing a model to either path changes nothing).
- On the project's ResNetCifar networks (ResNet-8, a wide ResNet) in eval mode the bounds hold
  every sampled, corner and PGD point, and CROWN is at least as tight as IBP.
- Random graphs of residual and concatenation blocks over every supported operation are bounded
  soundly; unsupported operations are refused by name before any bound is computed.
- alpha-CROWN is never looser than CROWN, sound at every iteration, and more iterations never
  loosen the bound it keeps.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from nets import activation, ball_points, cases, pgd
from torch import nn

import xuframe
from xuframe.errors import ConfigError, InputError
from xuframe_plugins.kd import ResNetCifar
from xuframe_plugins.robust import ParamRamp
from xuframe_plugins.robust import verifiers as verifiers_module
from xuframe_plugins.robust.bounds import InputSet, compute_bounds
from xuframe_plugins.robust.graph import Graph
from xuframe_plugins.robust.graph_bounds import alpha_crown, graph_bounds
from xuframe_plugins.robust.network import Network

METHODS = ("ibp", "lbp", "crown-ibp", "crown-lbp", "crown")
ALL = (*METHODS, "alpha-crown")
STRATEGIES = ("constant", "tight", "adaptive")


def _eye(graph: Graph | Network, batch: int, dtype: torch.dtype) -> torch.Tensor:
    n = math.prod(graph.out_shape)
    return (
        torch.eye(n, dtype=dtype)
        .reshape(1, n, *graph.out_shape)
        .expand(batch, -1, *graph.out_shape)
    )


def _both_paths(net: nn.Module, x: torch.Tensor, eps: float, norm: float, method, strategy, clip):
    inputs = InputSet(x, eps, norm, clip)
    chain, graph = Network(net, x), Graph(net, x)
    spec = _eye(chain, x.shape[0], x.dtype)
    with torch.no_grad():
        want = compute_bounds(chain, inputs, spec, method, strategy)
        got = graph_bounds(graph, inputs, spec, method, strategy)
    return want, got


@settings(max_examples=60, deadline=None)
@given(
    cases(max_depth=4),
    st.sampled_from(METHODS),
    st.sampled_from(STRATEGIES),
    st.sampled_from([math.inf, 2.0]),
    st.booleans(),
)
def test_graph_path_equals_chain_path_on_mlps(case, method, strategy, norm, clipped):
    net, x, eps = case
    net, x = net.double(), x.double()
    clip = (-1.0, 1.0) if clipped and norm == math.inf else (None, None)
    x = x.clamp(-1, 1) if clip[0] is not None else x
    (want_lo, want_hi), (got_lo, got_hi) = _both_paths(net, x, eps, norm, method, strategy, clip)
    torch.testing.assert_close(got_lo, want_lo, atol=1e-6, rtol=0)
    torch.testing.assert_close(got_hi, want_hi, atol=1e-6, rtol=0)


@st.composite
def conv_chains(draw):
    """A CNN chain over every chain layer: Conv2d (stride, padding, dilation, groups),
    BatchNorm2d, AvgPool2d, activations, Flatten, BatchNorm1d, Linear."""
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    kind = draw(st.sampled_from(["relu", "leaky", "ramp"]))
    c, size = 2, draw(st.integers(7, 9))
    layers: list[nn.Module] = []
    stride, dilation = draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 2]))
    layers.append(nn.Conv2d(1, 4, 3, stride, draw(st.sampled_from([0, 1])), dilation))
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.running_mean.uniform_(-0.3, 0.3, generator=gen)
        bn.running_var.uniform_(0.5, 2.0, generator=gen)
        bn.weight.uniform_(0.5, 1.5, generator=gen)
        bn.bias.uniform_(-0.2, 0.2, generator=gen)
    layers += [bn, nn.ReLU() if kind == "relu" else nn.LeakyReLU(0.1)]
    layers.append(nn.Conv2d(4, c * 2, 3, 1, 1, groups=draw(st.sampled_from([1, 2]))))
    if draw(st.booleans()):
        layers.append(nn.AvgPool2d(2, 1))
    layers.append(nn.ReLU())
    layers.append(nn.Flatten())
    probe = nn.Sequential(*layers).eval()
    with torch.no_grad():
        width = probe(torch.zeros(1, 1, size, size)).shape[1]
    layers += [nn.Linear(width, 5), activation(kind, 5, gen), nn.Linear(5, 3)]
    net = nn.Sequential(*layers).double().eval()
    x = torch.rand(2, 1, size, size, generator=gen, dtype=torch.float64)
    return net, x, draw(st.sampled_from([0.01, 0.05, 0.2]))


@settings(max_examples=50, deadline=None)
@given(conv_chains(), st.sampled_from(METHODS), st.sampled_from(STRATEGIES), st.booleans())
def test_graph_path_equals_chain_path_on_conv_chains(case, method, strategy, clipped):
    """The chain path's patches form, prefix shortcut and elision give the graph path's bounds."""
    net, x, eps = case
    clip = (0.0, 1.0) if clipped else (None, None)
    (want_lo, want_hi), (got_lo, got_hi) = _both_paths(
        net, x, eps, math.inf, method, strategy, clip
    )
    torch.testing.assert_close(got_lo, want_lo, atol=1e-6, rtol=0)
    torch.testing.assert_close(got_hi, want_hi, atol=1e-6, rtol=0)


class Wrapped(nn.Module):
    """A chain behind a forward of its own: the verifiers take the graph path."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def test_public_verifiers_give_a_chain_the_same_bounds_through_the_graph_path():
    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.LeakyReLU(0.1), nn.Linear(16, 4)
    ).eval()
    x = torch.randn(3, 6)
    labels = torch.tensor([0, 1, 2])
    for method in METHODS:
        verifier = xuframe.create("verifier", method)
        want, got = verifier.bounds(net, x, 0.1), verifier.bounds(Wrapped(net), x, 0.1)
        torch.testing.assert_close(got.lower, want.lower, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(got.upper, want.upper, atol=1e-5, rtol=1e-5)
        a, b = verifier.verify(net, x, labels, 0.1), verifier.verify(Wrapped(net), x, labels, 0.1)
        torch.testing.assert_close(b.margins.lower, a.margins.lower, atol=1e-5, rtol=1e-5)


# -- the project's ResNetCifar networks ------------------------------------------------------


def _calibrated(net: nn.Module, seed: int) -> nn.Module:
    """Random weights with BatchNorm statistics of real activations (a few train-mode passes)."""
    gen = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # a cumulative average
    net.train()
    with torch.no_grad():
        for _ in range(4):
            net(torch.rand(32, 1, 8, 8, generator=gen))
    return net.eval()


@pytest.fixture(scope="module")
def resnets() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {
        "resnet8": _calibrated(ResNetCifar(8, 10, 1), 0),
        "wide": _calibrated(ResNetCifar(8, 10, 1, widen=2), 1),
    }


@pytest.mark.parametrize(
    ("name", "methods"),
    [("resnet8", ALL), ("wide", ("ibp", "crown-ibp", "crown", "alpha-crown"))],
)
def test_resnet_cifar_bounds_are_sound_and_crown_beats_ibp(resnets, name, methods):
    net = resnets[name]
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(5))
    eps = 0.01
    points = ball_points(x, eps, 64, seed=7).clamp(0, 1)
    with torch.no_grad():
        outputs = net(points.reshape(-1, 1, 8, 8)).reshape(points.shape[0], 2, 10)
    found: dict[str, xuframe.Bounds] = {}
    for method in methods:
        config = {"iterations": 5} if method == "alpha-crown" else {}
        verifier = xuframe.create("verifier", method, clip_min=0.0, clip_max=1.0, **config)
        b = found[method] = verifier.bounds(net, x, eps)
        assert bool(b.contains(outputs, atol=1e-4).all()), method
    b = found["crown"]
    for k in (0, 3):  # PGD on two logits, up and down, never escapes
        for sign in (1.0, -1.0):
            direction = torch.zeros(10)
            direction[k] = sign
            adversarial = pgd(net, x, eps, direction, steps=10).clamp(0, 1)
            with torch.no_grad():
                assert bool(b.contains(net(adversarial), atol=1e-4).all())
    ibp, crown = found["ibp"], found["crown"]
    assert bool((crown.lower >= ibp.lower - 1e-5).all())
    assert bool((crown.upper <= ibp.upper + 1e-5).all())
    assert float(crown.width.mean().detach()) < float(ibp.width.mean().detach())
    alpha = found["alpha-crown"]
    assert bool((alpha.lower >= crown.lower - 1e-5).all())
    assert bool((alpha.upper <= crown.upper + 1e-5).all())


# -- random graphs ---------------------------------------------------------------------------


def _bn(module: nn.Module, gen: torch.Generator) -> nn.Module:
    with torch.no_grad():
        module.running_mean.uniform_(-0.3, 0.3, generator=gen)  # type: ignore[operator]
        module.running_var.uniform_(0.5, 2.0, generator=gen)  # type: ignore[operator]
    return module


class RandomGraph(nn.Module):
    """Residual and concatenation blocks (and reshapes, pooling, scalings) over images, a head."""

    def __init__(self, blocks: list[str], head: str, act: str, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.kinds, self.head_kind = blocks, head
        c, size = 2, 6
        self.layers = nn.ModuleList()
        for kind in blocks:
            if kind == "res":
                body = nn.Sequential(
                    nn.Conv2d(c, c, 3, 1, 2, dilation=2),
                    _bn(nn.BatchNorm2d(c), gen),
                    activation(act, 1, gen),
                    nn.Conv2d(c, c, 3, 1, 1, groups=c),
                )
                self.layers.append(body)
            elif kind == "cat":
                self.layers.append(
                    nn.ModuleList(
                        [
                            nn.Sequential(nn.Conv2d(c, 2, 1), nn.LeakyReLU(0.2)),
                            nn.Sequential(nn.AvgPool2d(3, 1, 1), nn.Identity(), nn.Dropout(0.3)),
                        ]
                    )
                )
                c += 2
            elif kind == "down":
                self.layers.append(nn.Conv2d(c, c, 3, 2, 1))
                size = (size + 1) // 2
            else:  # "act", "scale", "sub"
                self.layers.append(activation(act, 1, gen) if kind == "act" else nn.Identity())
        self.flat = c if head in ("mean", "adaptive") else c * size * size
        self.fc1 = nn.Linear(self.flat, 6)
        self.bn1 = _bn(nn.BatchNorm1d(6), gen)
        self.act1 = activation(act, 6, gen)
        self.fc2 = nn.Linear(6, 6)
        self.out = nn.Linear(12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for kind, layer in zip(self.kinds, self.layers, strict=True):
            if kind == "res":
                x = x + layer(x)
            elif kind == "cat":
                x = torch.cat([layer[0](x), layer[1](x)], dim=1)
            elif kind == "scale":
                x = 0.5 * x / 2 - 0.1
            elif kind == "sub":
                x = layer(x) - F.relu(x)
            else:
                x = layer(x)
        if self.head_kind == "mean":
            h = x.mean(dim=(2, 3))
        elif self.head_kind == "adaptive":
            h = F.adaptive_avg_pool2d(x, 1).flatten(1)
        else:
            h = x.view(x.size(0), -1)
        h = self.fc1(h)
        h2 = self.fc2(self.act1(self.bn1(h)))
        return self.out(torch.cat([h + h2, F.dropout(h2, 0.5, training=False)], 1))


@st.composite
def random_graphs(draw):
    blocks = draw(
        st.lists(
            st.sampled_from(["res", "cat", "down", "act", "scale", "sub"]), min_size=1, max_size=4
        )
    )
    head = draw(st.sampled_from(["mean", "adaptive", "view"]))
    act = draw(st.sampled_from(["relu", "leaky", "ramp"]))
    seed = draw(st.integers(0, 2**31 - 1))
    net = RandomGraph(blocks, head, act, seed).double().eval()
    x = torch.rand(
        2, 2, 6, 6, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64
    )
    return net, x, draw(st.sampled_from([0.0, 0.01, 0.1, 0.3]))


@settings(max_examples=30, deadline=None)
@given(random_graphs(), st.sampled_from(ALL), st.sampled_from(STRATEGIES))
def test_random_graphs_are_bounded_soundly(case, method, strategy):
    net, x, eps = case
    config = {"iterations": 3} if method == "alpha-crown" else {}
    verifier = xuframe.create("verifier", method, strategy=strategy, **config)
    b = verifier.bounds(net, x, eps)
    with torch.no_grad():
        points = ball_points(x, eps, 40, seed=11)
        outputs = net(points.reshape(-1, *x.shape[1:])).reshape(points.shape[0], *b.shape)
    assert bool(b.contains(outputs, atol=1e-7).all())
    if eps == 0:
        torch.testing.assert_close(b.lower, b.upper, atol=1e-9, rtol=0)
    if method == "crown" and eps > 0:
        direction = torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64)
        adversarial = pgd(net, x, eps, direction, steps=10)
        with torch.no_grad():
            worst = net(adversarial)
        assert bool(b.contains(worst, atol=1e-7).all())


# -- refusals --------------------------------------------------------------------------------


class Sine(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.lin(x))


class MaxPooled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x)).flatten(1)


class FunctionalMaxPool(MaxPooled):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(self.conv(x), 2).flatten(1)


class InPlaceAdd(Sine):
    """``g += x`` mutates ``h`` too; fx records ``g = g + x``: the graph check catches it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lin(x)
        g = h
        g += x
        return h + g


class InPlaceAddAlone(Sine):
    """``h += x`` on a tensor nothing else reads: bounded."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lin(x)
        h += x
        return h


class InPlaceMethod(Sine):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x).relu_()


class InPlaceShared(Sine):
    """An in-place ReLU on a tensor the sum reads afterwards: the graph cannot show the aliasing."""

    def __init__(self) -> None:
        super().__init__()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lin(x)
        return self.act(h) + h


class InPlaceSafe(InPlaceShared):
    """torchvision's pattern: the in-place ReLU's input has no other reader; bounded."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.lin(x)) + x


class Product(Sine):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lin(x)
        return h * h


class Sliced(Sine):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x)[:, :2]


class Branching(Sine):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return self.lin(x)
        return x


class BatchCat(Sine):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.lin(x), x], dim=0)


class TwoOutputs(Sine):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        return self.lin(x), x


REFUSALS = [
    (Sine, (1, 4), r"unsupported operation torch\.sin at node 'sin'"),
    (MaxPooled, (1, 1, 4, 4), r"unsupported operation module pool \(MaxPool2d\) at node 'pool'"),
    (FunctionalMaxPool, (1, 1, 4, 4), r"torch\.nn\.functional\.max_pool2d at node 'max_pool2d'"),
    (InPlaceAdd, (1, 4), r"the model \(InPlaceAdd\): its output differs from what its torch\.fx"),
    (InPlaceMethod, (1, 4), r"method \.relu_\(\) at node 'relu_'.*in place"),
    (InPlaceShared, (1, 4), r"module act \(ReLU\) at node 'act'.*in place"),
    (Product, (1, 4), r"operator\.mul at node 'mul'.*not linear"),
    (Sliced, (1, 4), r"operator\.getitem at node 'getitem'"),
    (Branching, (1, 4), r"the model \(Branching\): torch\.fx cannot trace"),
    (BatchCat, (1, 4), r"torch\.cat at node 'cat'.*batch dim"),
    (TwoOutputs, (1, 4), r"expected a forward returning one tensor"),
]


@pytest.mark.parametrize(
    ("cls", "shape", "message"), REFUSALS, ids=[c.__name__ for c, _, _ in REFUSALS]
)
@pytest.mark.parametrize("method", ["ibp", "crown", "alpha-crown"])
def test_unsupported_operations_are_refused_by_name_before_any_work(
    cls, shape, message, method, monkeypatch
):
    def never(*args, **kwargs):
        raise AssertionError("a bound was computed")

    monkeypatch.setattr(verifiers_module, "graph_bounds", never)
    net = cls().eval()
    x = torch.rand(*shape)
    verifier = xuframe.create("verifier", method)
    with pytest.raises(InputError, match=message):
        verifier.bounds(net, x, 0.1)
    with pytest.raises(InputError, match=message):
        verifier.verify(net, x, torch.zeros(shape[0], dtype=torch.int64), 0.1)


@pytest.mark.parametrize("cls", [InPlaceSafe, InPlaceAddAlone])
def test_an_in_place_operation_nobody_else_reads_is_bounded(cls):
    net = cls().eval()
    x = torch.rand(2, 4)
    before = x.clone()
    b = xuframe.create("verifier", "crown").bounds(net, x, 0.0)
    assert torch.equal(x, before)
    with torch.no_grad():
        torch.testing.assert_close(b.lower, net(x.clone()), atol=1e-5, rtol=1e-5)


def test_layers_in_training_mode_are_refused_by_path():
    net = ResNetCifar(8, 3, 1).train()
    with pytest.raises(InputError, match=r"stem\.1 \(BatchNorm2d\).*must be in eval mode"):
        xuframe.create("verifier", "crown").bounds(net, torch.rand(1, 1, 8, 8), 0.1)


def test_an_input_the_graph_cannot_take_is_refused_naming_the_layer():
    net = ResNetCifar(8, 3, 1).eval()
    with pytest.raises(
        InputError, match=r"x: expected inputs that stem\.0 \(Conv2d\).*in_channels = 1"
    ):
        xuframe.create("verifier", "ibp").bounds(net, torch.rand(1, 3, 8, 8), 0.1)


# -- alpha-CROWN -----------------------------------------------------------------------------


def _setup(net: nn.Module, x: torch.Tensor, eps: float) -> tuple[Graph, InputSet, torch.Tensor]:
    graph = Graph(net, x)
    return graph, InputSet(x, eps, math.inf), _eye(graph, x.shape[0], x.dtype)


@settings(max_examples=25, deadline=None)
@given(cases(max_depth=3), st.sampled_from(STRATEGIES))
def test_alpha_crown_is_never_looser_than_crown_and_sound_at_every_iteration(case, strategy):
    net, x, eps = case
    net, x = net.double(), x.double()
    graph, inputs, spec = _setup(net, x, eps)
    with torch.no_grad():
        crown = graph_bounds(graph, inputs, spec, "crown", strategy)
        outputs = net(ball_points(x, eps, 100, seed=2).reshape(-1, x.shape[1]))
    outputs = outputs.reshape(-1, *crown[0].shape)
    seen: list[int] = []

    def check(t: int, lower: torch.Tensor, upper: torch.Tensor) -> None:
        seen.append(t)
        assert bool((outputs >= lower - 1e-9).all() and (outputs <= upper + 1e-9).all()), (
            t,
            float((lower - outputs).max()),
            float((outputs - upper).max()),
        )

    lower, upper = alpha_crown(graph, inputs, spec, strategy, 8, 0.3, 0, on_iteration=check)
    assert seen[0] == 0
    assert bool((lower >= crown[0] - 1e-9).all() and (upper <= crown[1] + 1e-9).all())
    assert bool((outputs >= lower - 1e-9).all() and (outputs <= upper + 1e-9).all())


def test_more_alpha_iterations_never_loosen_the_kept_bound_and_do_tighten():
    torch.manual_seed(4)
    from nets import mlp

    net = mlp([6, 24, 24, 24, 4], "relu", seed=4).double()
    x = torch.randn(3, 6, dtype=torch.float64)
    graph, inputs, spec = _setup(net, x, 0.3)
    previous = None
    for iterations in (0, 1, 3, 10, 30):
        with torch.no_grad():
            lower, upper = alpha_crown(graph, inputs, spec, "adaptive", iterations, 0.1, 0)
        if previous is not None:
            assert bool((lower >= previous[0] - 1e-12).all())
            assert bool((upper <= previous[1] + 1e-12).all())
        previous = (lower, upper)
    with torch.no_grad():
        crown = graph_bounds(graph, inputs, spec, "crown", "adaptive")
    gain = float((crown[1] - crown[0]).mean() - (previous[1] - previous[0]).mean())
    assert gain > 0  # the optimised slopes do tighten this net


def test_alpha_crown_equals_crown_at_zero_iterations_and_checks_its_config():
    torch.manual_seed(5)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
    x = torch.randn(2, 4)
    crown = xuframe.create("verifier", "crown").bounds(net, x, 0.2)
    alpha = xuframe.create("verifier", "alpha-crown", iterations=0).bounds(net, x, 0.2)
    torch.testing.assert_close(alpha.lower, crown.lower, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(alpha.upper, crown.upper, atol=1e-5, rtol=1e-5)
    for bad in ({"iterations": -1}, {"lr": 0.0}, {"early_stop": 1.5}, {"iterations": "20"}):
        with pytest.raises(ConfigError):
            xuframe.create("verifier", "alpha-crown", **bad)


def test_alpha_crown_leaves_the_models_gradients_alone():
    torch.manual_seed(6)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    xuframe.create("verifier", "alpha-crown", iterations=3).bounds(
        net.eval(), torch.randn(2, 4), 0.5
    )
    assert all(p.grad is None for p in net.parameters())


def test_alpha_crown_keeps_paramramp_lines_and_stays_sound():
    gen = torch.Generator().manual_seed(7)
    net = nn.Sequential(nn.Linear(4, 8), activation("ramp", 8, gen), nn.Linear(8, 3)).eval()
    assert isinstance(net[1], ParamRamp)
    x = torch.randn(2, 4, generator=gen)
    b = xuframe.create("verifier", "alpha-crown").bounds(net, x, 0.3)
    with torch.no_grad():
        outputs = net(ball_points(x, 0.3, 100, seed=1).reshape(-1, 4)).reshape(-1, 2, 3)
    assert bool(b.contains(outputs, atol=1e-5).all())
