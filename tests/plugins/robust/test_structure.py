"""The verifiers read a model as a chain of layers only where it surely is one, else as a graph.

A module is read as a layer when calling it runs exactly its supported class's own code: an
``nn.Sequential`` (or subclass) keeping ``nn.Sequential.forward``, a supported layer keeping its
class's ``forward``, no forward hooks. A module with a forward of its own (a residual block
written as a Sequential subclass, a Linear or ReLU subclass with its own ``forward``, a custom
module) is read through its torch.fx graph and bounded as what it computes (issue 25; it was
refused before). A hook, a ModuleList, a supported class whose ``forward`` is replaced on the
instance, a ParamRamp subclass overriding ``height`` are refused with an InputError naming the
module by its path, before any bound is computed.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from nets import ball_points
from torch import nn
from torch.nn.utils import parametrize

import xuframe
from xuframe.errors import InputError
from xuframe_plugins.robust import ParamRamp, bounding_lines
from xuframe_plugins.robust.graph import is_plain_chain
from xuframe_plugins.robust.training import VerifiedTraining, verified_errors

METHODS = ("ibp", "lbp", "crown-ibp", "crown-lbp", "crown")
CALLS = {"n": 0}  # forward calls of the modules with their own forward


class ResidualBlock(nn.Sequential):
    """The issue's block: a Sequential whose forward adds the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        CALLS["n"] += 1
        return x + super().forward(x)


class PlainBlock(nn.Sequential):
    """A Sequential subclass that keeps nn.Sequential.forward: a plain chain."""


class DoubledLinear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        CALLS["n"] += 1
        return 2 * super().forward(x)


class ShiftedReLU(nn.ReLU):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        CALLS["n"] += 1
        return super().forward(x - 0.5)


class TallRamp(ParamRamp):
    def height(self) -> torch.Tensor:
        CALLS["n"] += 1
        return 2 * super().height()


class Halved(nn.Module):
    def __init__(self, a: int, b: int) -> None:
        super().__init__()
        self.lin = nn.Linear(a, b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        CALLS["n"] += 1
        return self.lin(x) / 2


class Doubling(nn.Module):
    """A parametrization: the Linear's weight is twice the stored one."""

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return 2 * w


def _scale_output(module: nn.Module, args: tuple[torch.Tensor], out: torch.Tensor) -> torch.Tensor:
    CALLS["n"] += 1
    return 3 * out


def _shift_input(module: nn.Module, args: tuple[torch.Tensor]) -> tuple[torch.Tensor]:
    CALLS["n"] += 1
    return (args[0] + 1,)


def _act(kind: str, width: int) -> nn.Module:
    if kind == "relu":
        return nn.ReLU()
    if kind == "leaky":
        return nn.LeakyReLU(0.1, inplace=True)
    return ParamRamp(width, 0.05, 0.7)


# block -> (module, where the refusal points inside it: None = trusted, "" = the block itself)
TRUSTED = ("linear", "nested", "plain-subclass", "parametrized", "identity", "dropout", "batchnorm")
# modules with a forward of their own: read through their torch.fx graph (issue 25)
GRAPH = ("residual", "linear-override", "relu-override", "custom", "bad-child")
REFUSED = (
    "ramp-override",
    "forward-hook",
    "pre-hook",
    "hooked-sequential",
    "instance-forward",
    "module-list",
)


def _block(kind: str, a: int, b: int, act: str) -> tuple[nn.Module, int, str | None]:
    """(module, output width, relative path of the module to refuse or None: bounded)."""
    if kind == "linear":
        return nn.Linear(a, b), b, None
    if kind == "nested":
        return nn.Sequential(nn.Linear(a, b), _act(act, b)), b, None
    if kind == "plain-subclass":
        return PlainBlock(nn.Linear(a, b), _act(act, b)), b, None
    if kind == "parametrized":
        lin = nn.Linear(a, b)
        parametrize.register_parametrization(lin, "weight", Doubling())
        return lin, b, None
    if kind == "identity":
        return nn.Identity(), a, None
    if kind == "dropout":
        return nn.Dropout(0.5).eval(), a, None
    if kind == "batchnorm":
        bn = nn.BatchNorm1d(a)
        with torch.no_grad():
            bn.running_mean.uniform_(-0.3, 0.3)
            bn.running_var.uniform_(0.5, 2.0)
        return bn.eval(), a, None
    if kind == "residual":
        return ResidualBlock(nn.Linear(a, a), _act(act, a)), a, None
    if kind == "linear-override":
        return DoubledLinear(a, b), b, None
    if kind == "relu-override":
        return ShiftedReLU(), a, None
    if kind == "ramp-override":
        return TallRamp(a, 0.05, 0.7), a, ""
    if kind == "custom":
        return Halved(a, b), b, None
    if kind == "forward-hook":
        lin = nn.Linear(a, b)
        lin.register_forward_hook(_scale_output)
        return lin, b, ""
    if kind == "pre-hook":
        lin = nn.Linear(a, b)
        lin.register_forward_pre_hook(_shift_input)
        return lin, b, ""
    if kind == "hooked-sequential":
        seq = nn.Sequential(nn.Linear(a, b), _act(act, b))
        seq.register_forward_hook(_scale_output)
        return seq, b, ""
    if kind == "instance-forward":
        lin = nn.Linear(a, b)
        plain = lin.forward
        lin.forward = lambda x: plain(x) + 1  # type: ignore[method-assign]
        return lin, b, ""
    if kind == "bad-child":
        return nn.Sequential(nn.Linear(a, b), _act(act, b), DoubledLinear(b, b)), b, None
    assert kind == "module-list"
    return nn.ModuleList([nn.Linear(a, b)]), b, ""


@st.composite
def mixed_networks(draw):
    """(net, x, eps, path of the first module to refuse or None)."""
    seed = draw(st.integers(0, 2**31 - 1))
    torch.manual_seed(seed)
    act = draw(st.sampled_from(["relu", "leaky", "ramp"]))
    pool = TRUSTED + GRAPH + REFUSED if draw(st.booleans()) else TRUSTED + GRAPH
    kinds = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4))
    width = draw(st.integers(2, 5))
    first = width
    layers: list[nn.Module] = []
    refuse: str | None = None
    for kind in kinds:
        out = draw(st.integers(2, 5))
        block, width_after, bad = _block(kind, width, out, act)
        if bad is not None and refuse is None:
            refuse = f"{len(layers)}{bad}"
        layers.append(block)
        width = width_after
        if kind in ("linear", "parametrized", "linear-override", "custom", "forward-hook"):
            layers.append(_act(act, width))
    layers.append(nn.Linear(width, 2))
    net = nn.Sequential(*layers).eval()
    x = torch.randn(2, first, generator=torch.Generator().manual_seed(seed + 1))
    eps = draw(st.sampled_from([0.0, 0.05, 0.3]))
    return net, x, eps, refuse


def _named(path: str, net: nn.Module) -> str:
    return re.escape(f"{path} ({type(net.get_submodule(path)).__qualname__})")


@settings(max_examples=60, deadline=None)
@given(mixed_networks(), st.sampled_from(METHODS))
def test_mixed_networks_are_bounded_soundly_or_refused_by_name(case, method):
    net, x, eps, refuse = case
    verifier = xuframe.create("verifier", method)
    if refuse is not None:
        CALLS["n"] = 0
        with pytest.raises(InputError, match=_named(refuse, net)):
            verifier.bounds(net, x, eps)
        with pytest.raises(InputError, match=_named(refuse, net)):
            verifier.verify(net, x, torch.zeros(2, dtype=torch.int64), eps)
        if is_plain_chain(net):  # a graph's custom forwards run once, on fx proxies, to trace
            assert CALLS["n"] == 0  # refused before anything ran
        return
    b = verifier.bounds(net, x, eps)
    with torch.no_grad():
        outputs = net(ball_points(x, eps, 100, seed=3).reshape(-1, x.shape[1])).reshape(
            -1, *b.shape
        )
        centre = net(x)
    assert bool(b.contains(outputs, atol=1e-4).all())
    assert bool(b.contains(centre[None], atol=1e-5).all())


def _issue_network() -> tuple[nn.Sequential, torch.Tensor]:
    """A 4-8-8-2 network with the issue's residual block."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(4, 8), nn.ReLU(), ResidualBlock(nn.Linear(8, 8), nn.ReLU()), nn.Linear(8, 2)
    ).eval()
    return net, torch.randn(1, 4, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("method", (*METHODS, "alpha-crown"))
def test_the_issues_residual_block_is_bounded_as_what_it_computes(method):
    """Was: read as a plain chain, bounds at eps = 0 away from the output (unsound, silently);
    then refused; now (issue 25) read through its fx graph: exact at eps = 0, sound at 0.1.
    Verified training still takes chains only and refuses it by name."""
    net, x = _issue_network()
    labels = torch.zeros(1, dtype=torch.int64)
    verifier = xuframe.create("verifier", method)
    with torch.no_grad():
        want = net(x)
    exact = verifier.bounds(net, x, 0.0)
    torch.testing.assert_close(exact.lower, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(exact.upper, want, atol=1e-5, rtol=1e-5)
    b = verifier.bounds(net, x, 0.1)
    with torch.no_grad():
        outputs = net(ball_points(x, 0.1, 200, seed=5).reshape(-1, 4)).reshape(-1, *b.shape)
    assert bool(b.contains(outputs, atol=1e-5).all())
    verifier.verify(net, x, labels, 0.1)
    verified_errors(net, [{"x": x, "y": labels}], 0.1, verifier)
    named = r"2 \(ResidualBlock\) is not read as a plain chain.*overrides nn\.Sequential\.forward"
    CALLS["n"] = 0
    with pytest.raises(InputError, match=named):
        VerifiedTraining(net, eps=0.1)
    assert CALLS["n"] == 0  # nothing ran before the refusal


def test_verified_training_refuses_a_module_changed_after_it_was_wrapped():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    vt = VerifiedTraining(net, eps=0.1, ramp_steps=0, kappa=(0.5, 0.5))
    net[0].register_forward_hook(_scale_output)
    CALLS["n"] = 0
    with pytest.raises(InputError, match=r"0 \(Linear\): it has a forward hook"):
        vt.loss({"x": torch.rand(2, 4), "y": torch.tensor([0, 1])})
    assert CALLS["n"] == 0


def test_whole_model_containers_and_custom_modules_are_named():
    x = torch.zeros(1, 4)
    crown = xuframe.create("verifier", "crown")
    # custom modules are read through their fx graph (issue 25): exact at eps = 0
    for model in (
        Halved(4, 2),
        ResidualBlock(nn.Linear(4, 4), nn.ReLU()),
        nn.Sequential(nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), Halved(4, 2)))),
    ):
        with torch.no_grad():
            torch.testing.assert_close(crown.bounds(model.eval(), x, 0.0).lower, model(x))
    with pytest.raises(
        InputError, match=r"the model \(ModuleList\): a container without a forward"
    ):
        crown.bounds(nn.ModuleList([nn.Linear(4, 2)]), x, 0.1)
    deep = nn.Sequential(nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), Halved(4, 2))))
    deep[0][1][1].register_forward_hook(_scale_output)
    with pytest.raises(InputError, match=r"0\.1\.1 \(Halved\): it has a forward hook"):
        crown.bounds(deep, x, 0.1)
    hooked = nn.Sequential(nn.Linear(4, 2))
    hooked.register_forward_pre_hook(_shift_input)
    with pytest.raises(InputError, match=r"the model \(Sequential\).*forward pre-hook"):
        crown.bounds(hooked, x, 0.1)


def test_a_global_forward_hook_is_refused():
    net = nn.Sequential(nn.Linear(4, 2))
    handle = nn.modules.module.register_module_forward_hook(_scale_output)
    try:
        with pytest.raises(InputError, match="global module forward hook"):
            xuframe.create("verifier", "ibp").bounds(net, torch.zeros(1, 4), 0.1)
    finally:
        handle.remove()
    xuframe.create("verifier", "ibp").bounds(net, torch.zeros(1, 4), 0.1)


def test_plain_subclasses_and_parametrizations_are_read_as_what_they_compute():
    torch.manual_seed(1)
    plain = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)).eval()
    sub = PlainBlock(*plain)
    x = torch.randn(2, 3)
    crown = xuframe.create("verifier", "crown")
    torch.testing.assert_close(crown.bounds(sub, x, 0.2).lower, crown.bounds(plain, x, 0.2).lower)
    # a parametrized weight is read through the parametrization (orthogonal, spectral norm)
    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    nn.utils.parametrizations.orthogonal(net[0])
    nn.utils.parametrizations.spectral_norm(net[2])
    net.eval()
    b = crown.bounds(net, x, 0.0)
    with torch.no_grad():
        torch.testing.assert_close(b.lower, net(x), atol=1e-5, rtol=1e-5)
    # the old spectral_norm is a forward pre-hook: refused, by name
    old = nn.utils.spectral_norm(nn.Linear(5, 2))
    with pytest.raises(InputError, match=r"1 \(Linear\): it has a forward pre-hook"):
        crown.bounds(nn.Sequential(nn.ReLU(), old), torch.randn(2, 5), 0.1)


def test_lazy_modules_are_refused_until_initialised():
    lazy = nn.Sequential(nn.LazyLinear(3), nn.ReLU(), nn.Linear(3, 2)).eval()
    x = torch.randn(2, 4)
    with pytest.raises(InputError, match=r"0 \(LazyLinear\): an uninitialised lazy module"):
        xuframe.create("verifier", "ibp").bounds(lazy, x, 0.1)
    lazy(x)  # materialises: now a plain Linear
    xuframe.create("verifier", "ibp").bounds(lazy, x, 0.1)


def test_in_place_activations_leave_the_input_and_the_bounds_alone():
    """Was: an in-place first ReLU wrote into the caller's x; CROWN with in-place ReLUs raised
    a raw RuntimeError from inside the bounding lines."""
    torch.manual_seed(2)
    layers = [nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 6), nn.LeakyReLU(0.1), nn.Linear(6, 2)]
    net = nn.Sequential(*layers).eval()
    in_place = nn.Sequential(
        nn.Linear(4, 6), nn.ReLU(True), nn.Linear(6, 6), nn.LeakyReLU(0.1, True), nn.Linear(6, 2)
    ).eval()
    in_place.load_state_dict(net.state_dict())
    x = torch.randn(3, 4)
    for method in METHODS:
        verifier = xuframe.create("verifier", method)
        want = verifier.bounds(net, x, 0.3)
        got = verifier.bounds(in_place, x, 0.3)
        torch.testing.assert_close(got.lower, want.lower)
        torch.testing.assert_close(got.upper, want.upper)
    first = nn.Sequential(nn.ReLU(inplace=True), nn.Linear(4, 2)).eval()
    before = x.clone()
    xuframe.create("verifier", "crown").bounds(first, x, 0.1)
    assert torch.equal(x, before)


def test_modes_and_layer_settings_are_refused_before_any_work():
    crown = xuframe.create("verifier", "crown")
    x = torch.zeros(1, 4)
    dropout = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 2)).train()
    with pytest.raises(InputError, match=r"1 \(Dropout\): must be in eval mode"):
        crown.bounds(dropout, x, 0.1)
    crown.bounds(dropout.eval(), x, 0.1)
    steep = nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU(2.0), nn.Linear(4, 2))
    with pytest.raises(InputError, match=r"1 \(LeakyReLU\): LeakyReLU\(negative_slope=2.0\)"):
        crown.bounds(steep, x, 0.1)
    with pytest.raises(InputError, match=r"1 \(Linear\) does not take inputs of shape \(4,\)"):
        crown.bounds(nn.Sequential(nn.Linear(4, 4), nn.Linear(6, 2)), x, 0.1)
    # bounding_lines, public, refuses an activation subclass with its own forward
    with pytest.raises(InputError, match="overrides nn.ReLU.forward"):
        bounding_lines(ShiftedReLU(), -torch.ones(3), torch.ones(3), "adaptive")


def test_verified_training_bounds_dropout_as_in_eval_mode():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))
    vt = VerifiedTraining(net, eps=0.1, ramp_steps=0, kappa=(0.5, 0.5)).train()
    losses = vt.loss({"x": torch.rand(5, 4), "y": torch.tensor([0, 1, 2, 0, 1])})
    assert math.isfinite(losses["robust"].item())
