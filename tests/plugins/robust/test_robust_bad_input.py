"""Issue 20: every public entry point of the robust plugin refuses bad input with an
``xuframe.errors`` exception naming what was expected, before the model runs.

Was: ``verify`` ran the model on ``x[:1]`` before looking at ``x``, so an int tensor, a list, a
1-D tensor, 9 x 9 images into an 8 x 8 network or float64 input to a float32 model ended in raw
torch errors; eps 1e300 overflowed; ``clip_min=1, clip_max=0`` was accepted; the training and
activation helpers took NaN, negative or mistyped arguments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import xuframe
from xuframe.errors import ConfigError, InputError
from xuframe_plugins.robust import CROWN, ParamRamp, bounding_lines
from xuframe_plugins.robust.bounds import InputSet, compute_bounds
from xuframe_plugins.robust.network import Network, layer_chain
from xuframe_plugins.robust.training import VerifiedTraining, verified_errors
from xuframe_plugins.robust.verifiers import BoundConfig, demo_network, margin_picture

METHODS = ("ibp", "lbp", "crown-ibp", "crown-lbp", "crown")


@pytest.fixture
def forward_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Counts every Linear and Conv2d forward (the class's own code, so the bounds trust it)."""
    calls = {"n": 0}
    for cls in (nn.Linear, nn.Conv2d):
        original = cls.forward

        def counted(self: nn.Module, x: torch.Tensor, _f: Any = original) -> torch.Tensor:
            calls["n"] += 1
            out: torch.Tensor = _f(self, x)
            return out

        monkeypatch.setattr(cls, "forward", counted)
    yield calls


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)).eval()


def _cnn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16, 10),
    ).eval()


X = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
Y = torch.tensor([0, 1, 2, 3])

BAD_X: dict[str, tuple[Any, str]] = {
    "int tensor": ((X * 10).long(), "floating-point"),
    "list": (X.tolist(), r"expected a torch.Tensor of inputs \(N, \.\.\.\) of 64 values"),
    "numpy array": (X.numpy(), "expected a torch.Tensor"),
    "1-D tensor": (torch.rand(64), r"a batch dimension first, got shape \(64,\)"),
    "9 x 9 images": (torch.rand(4, 1, 9, 9), r"64 values per sample .*got shape \(4, 1, 9, 9\)"),
    "float64": (X.double(), r"expected dtype torch.float32 \(the model's parameters\)"),
    "NaN": (X.clone().fill_(float("nan")), "finite"),
    "inf": (X.clone().fill_(float("inf")), "finite"),
    "empty batch": (X[:0], "non-empty batch"),
    "bool": (X > 0.5, "real-valued"),
    "complex": (X.to(torch.complex64), "real-valued"),
}


@pytest.mark.parametrize("case", list(BAD_X))
@pytest.mark.parametrize("entry", ["verify", "bounds"])
def test_bad_x_is_refused_before_the_model_runs(
    case: str, entry: str, forward_calls: dict[str, int]
) -> None:
    x, message = BAD_X[case]
    verifier = xuframe.create("verifier", "crown")
    with pytest.raises(InputError, match=message):
        if entry == "verify":
            verifier.verify(_mlp(), x, Y[: len(x)] if len(x) < 4 else Y, 0.1)
        else:
            verifier.bounds(_mlp(), x, 0.1)
    assert forward_calls["n"] == 0


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (torch.rand(4, 1, 9, 9), r"expected inputs of shape \(N, 1, 8, 8\)"),
        (torch.rand(4, 1, 12, 12), r"expected inputs of shape \(N, 1, 8, 8\)"),
        (torch.rand(4, 3, 8, 8), r"\(N, 1, H, W\) \(0 \(Conv2d\) has in_channels=1\)"),
        (torch.rand(4, 64), r"in_channels=1\), got shape \(4, 64\)"),
        (torch.rand(4, 1, 2, 2), r"does not take inputs of shape \(1, 2, 2\).*H >= 3, W >= 3"),
    ],
)
def test_a_convolutional_network_names_the_input_it_expects(
    x: torch.Tensor, message: str, forward_calls: dict[str, int]
) -> None:
    for method in METHODS:
        with pytest.raises(InputError, match=message):
            xuframe.create("verifier", method).verify(_cnn(), x, Y, 0.1)
    assert forward_calls["n"] == 0


def test_layers_that_do_not_fit_together_are_named() -> None:
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(6, 2))
    with pytest.raises(InputError, match=r"the model: 2 \(Linear\) does not take inputs of shape"):
        xuframe.create("verifier", "ibp").bounds(net, torch.rand(2, 4), 0.1)
    unflat = nn.Sequential(nn.Linear(64, 10))
    with pytest.raises(InputError, match=r"put nn.Flatten\(\) before 0 \(Linear\)"):
        xuframe.create("verifier", "ibp").bounds(unflat, X, 0.1)


@pytest.mark.parametrize(
    "layers",
    [
        [nn.Conv2d(2, 3, 3)],
        [nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))],
        [nn.Conv2d(2, 4, 3, stride=3, padding=2, groups=2)],
        [nn.AvgPool2d(2)],
        [nn.AvgPool2d(3, stride=2, padding=1)],
        [nn.AvgPool2d((3, 2), stride=(1, 2))],
        [nn.BatchNorm2d(2), nn.Conv2d(2, 2, 1), nn.Flatten(), nn.BatchNorm1d(2 * 11 * 9)],
        [nn.Flatten(), nn.Linear(198, 5), ParamRamp(5), nn.Dropout(0.2), nn.Identity()],
    ],
)
def test_shapes_from_the_layer_settings_equal_the_forward_pass(layers: list[nn.Module]) -> None:
    """The network's shapes are computed from the layers' settings, nothing runs: they are torch's."""
    model = nn.Sequential(*layers).eval()
    x = torch.rand(2, 2, 11, 9)
    net = Network(model, x)
    with torch.no_grad():
        want = model(x)
    assert net.out_shape == tuple(want.shape[1:])
    assert net.in_shape == (2, 11, 9)


BAD_EPS: dict[str, tuple[Any, str]] = {
    "NaN": (float("nan"), "eps: expected a number, got NaN"),
    "negative": (-0.1, "eps: expected a number >= 0"),
    "inf": (math.inf, "eps: expected a finite number"),
    "a string": ("0.1", "eps: expected a number, got str"),
    "None": (None, "eps: expected a number"),
    "bool": (True, "eps: expected a number, got bool"),
    "a tensor of 3": (torch.full((3,), 0.1), "eps: expected a number, got Tensor"),
    "1e300 (does not fit float32)": (1e300, "eps: expected a radius that fits torch.float32"),
}


@pytest.mark.parametrize("case", list(BAD_EPS))
def test_bad_eps_is_refused_before_the_model_runs(case: str, forward_calls: dict[str, int]) -> None:
    eps, message = BAD_EPS[case]
    for method in METHODS:
        with pytest.raises(InputError, match=message):
            xuframe.create("verifier", method).verify(_mlp(), X, Y, eps)
    assert forward_calls["n"] == 0


def test_numpy_and_one_element_numbers_are_accepted() -> None:
    verifier = xuframe.create("verifier", "crown")
    want = verifier.verify(_mlp(), X, Y, 0.1)
    for eps in (np.float32(0.1), np.float64(0.1), torch.tensor(0.1, dtype=torch.float64)):
        got = verifier.verify(_mlp(), X, np.array([0, 1, 2, 3]), eps, norm=np.float64(math.inf))
        torch.testing.assert_close(got.margins.lower, want.margins.lower)
    verifier.bounds(_mlp(), X, 0.1, norm=np.int64(2))


@pytest.mark.parametrize("method", METHODS)
def test_a_huge_eps_in_a_clipped_box_means_the_whole_data_range(method: str) -> None:
    """With both clip ends, the clipped box stops growing once eps passes the range: any finite
    eps gives the bounds of the whole range, finite and sound."""
    verifier = xuframe.create("verifier", method, clip_min=0.0, clip_max=1.0)
    net = _mlp()
    huge = verifier.bounds(net, X, 1e300)
    whole = verifier.bounds(net, X, 1.0)  # every x in [0, 1]: eps 1 already covers the range
    torch.testing.assert_close(huge.lower, whole.lower)
    torch.testing.assert_close(huge.upper, whole.upper)
    assert bool(torch.isfinite(huge.lower).all() and torch.isfinite(huge.upper).all())
    points = torch.rand(256, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        outputs = net(points)
    for i in range(len(X)):
        assert bool(
            (outputs >= huge.lower[i] - 1e-4).all() and (outputs <= huge.upper[i] + 1e-4).all()
        )
    result = verifier.verify(net, X, Y, 1e300)
    assert not bool(result.verified.any())


def test_x_farther_than_eps_outside_the_clip_range_is_refused() -> None:
    verifier = xuframe.create("verifier", "crown", clip_min=0.0, clip_max=1.0)
    with pytest.raises(InputError, match=r"above clip_max=1 \(the clipped box would be empty\)"):
        verifier.bounds(_mlp(), X + 2, 0.1)
    with pytest.raises(InputError, match="below clip_min=0"):
        verifier.verify(_mlp(), X - 2, Y, 0.1)
    verifier.bounds(_mlp(), X + 0.95, 1.0)  # within eps of the range: a non-empty box


def test_bounds_that_overflow_the_dtype_are_refused_not_returned() -> None:
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    with torch.no_grad():
        net[0].weight.fill_(1e20)
    x = torch.rand(3, 4)
    for method in METHODS:
        with pytest.raises(InputError, match=r"bounds that overflow \(eps=1e\+20"):
            xuframe.create("verifier", method).bounds(net, x, 1e20)
    bounds = xuframe.create("verifier", "crown").bounds(net.double(), x.double(), 1e20)
    assert bool(torch.isfinite(bounds.lower).all())  # float64 holds them


BAD_LABELS: dict[str, tuple[Any, str]] = {
    "float": (Y.float(), "labels: expected integer labels, got dtype torch.float32"),
    "out of range": (Y + 10, r"labels: expected labels in \[0, 9\], got values in \[10, 13\]"),
    "negative": (Y - 1, r"labels: expected labels in \[0, 9\]"),
    "too few": (Y[:2], "labels: expected 4 labels"),
    "2-D": (Y[:, None], "labels: expected a 1-D sequence"),
    "None": (None, "labels: expected a sequence of integer labels"),
    "strings": (["a", "b", "c", "d"], "labels: expected"),
}


@pytest.mark.parametrize("case", list(BAD_LABELS))
def test_bad_labels_are_refused_before_the_model_runs(
    case: str, forward_calls: dict[str, int]
) -> None:
    labels, message = BAD_LABELS[case]
    with pytest.raises(InputError, match=message):
        xuframe.create("verifier", "crown-ibp").verify(_mlp(), X, labels, 0.1)
    assert forward_calls["n"] == 0


def test_bad_model_norm_and_spec_are_refused(forward_calls: dict[str, int]) -> None:
    verifier = xuframe.create("verifier", "lbp")
    for model in (None, [1, 2], "mlp"):
        with pytest.raises(InputError, match="model: expected a torch.nn.Module"):
            verifier.verify(model, X, Y, 0.1)
    for norm in ("inf", 1, float("nan"), None):
        with pytest.raises(InputError, match="norm: expected"):
            verifier.bounds(_mlp(), X, 0.1, norm=norm)
    for spec, message in [
        ([[1.0]], "spec: expected a torch.Tensor"),
        (torch.zeros(4, 2, 5), "spec has 5 columns, the network 10 outputs"),
        (torch.zeros(3, 2, 10), r"spec: expected shape \(B=4, S, K=10\)"),
        (torch.zeros(4, 2, 10, dtype=torch.float64), "spec: expected dtype torch.float32"),
        (torch.full((4, 2, 10), float("nan")), "spec: expected finite values"),
    ]:
        with pytest.raises(InputError, match=message):
            verifier.bounds(_mlp(), X, 0.1, spec=spec)
    nan_weights = _mlp()
    with torch.no_grad():
        nan_weights[1].weight[0, 0] = float("nan")
    with pytest.raises(InputError, match=r"expected finite parameters, got NaN or inf in 1.weight"):
        verifier.verify(nan_weights, X, Y, 0.1)
    mixed = _mlp()
    mixed[3].double()
    with pytest.raises(InputError, match="one dtype and device for all its parameters"):
        verifier.bounds(mixed, X, 0.1)
    conv_out = nn.Sequential(nn.Conv2d(1, 2, 3)).eval()
    with pytest.raises(InputError, match=r"outputs of shape \(N, K\)"):
        verifier.verify(conv_out, X, Y, 0.1)
    assert forward_calls["n"] == 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"clip_min": 1.0, "clip_max": 0.0}, "expected clip_min < clip_max"),
        ({"clip_min": 0.5, "clip_max": 0.5}, "expected clip_min < clip_max"),
        ({"clip_min": float("nan")}, "clip_min"),
        ({"clip_max": math.inf}, "clip_max"),
        ({"clip_min": "0"}, "clip_min"),
        ({"strategy": "loose"}, "strategy"),
    ],
)
def test_configs_that_cannot_work_are_refused_at_construction(
    config: dict[str, Any], message: str
) -> None:
    for method in METHODS:
        with pytest.raises(ConfigError, match=message):
            xuframe.create("verifier", method, **config)


def test_a_config_built_directly_is_validated_too() -> None:
    with pytest.raises(ConfigError, match="expected clip_min < clip_max"):
        BoundConfig(clip_min=1.0, clip_max=0.0)
    with pytest.raises(ConfigError, match="clip_min: expected a number, got NaN"):
        BoundConfig(clip_min=float("nan"))
    with pytest.raises(ConfigError, match="strategy: expected one of"):
        CROWN(BoundConfig(strategy="loose"))  # type: ignore[arg-type]
    assert CROWN(BoundConfig(clip_min=np.float64(0.0), clip_max=1)).config.clip_max == 1


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), ParamRamp(32, 0.01), nn.Linear(32, 10))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eps": float("nan")}, "eps: expected a number, got NaN"),
        ({"eps": -1.0}, "eps: expected a number >= 0"),
        ({"eps": "0.1"}, "eps: expected a number"),
        ({"eps": 0.1, "method": "crown"}, "method: expected one of 'ibp', 'crown-ibp'"),
        ({"eps": 0.1, "ramp_start": -1}, "ramp_start: expected an int >= 0"),
        ({"eps": 0.1, "ramp_steps": 1.5}, "ramp_steps: expected an int"),
        ({"eps": 0.1, "kappa": (1.0, 2.0)}, r"kappa\[1\]: expected a number >= 0 and <= 1"),
        ({"eps": 0.1, "kappa": 0.5}, r"kappa: expected a pair"),
        ({"eps": 0.1, "beta": (float("nan"), 0.0)}, r"beta\[0\]: expected a number, got NaN"),
        ({"eps": 0.1, "strategy": "loose"}, "strategy: expected one of"),
        ({"eps": 0.1, "clip": (1.0, 0.0)}, "clip: expected clip_min < clip_max"),
        ({"eps": 0.1, "clip": 1.0}, "clip: expected a pair"),
        (
            {"eps": 0.1, "negative_slope": (0.5, 1.0)},
            "negative_slope: expected numbers >= 0 and < 1",
        ),
    ],
)
def test_verified_training_refuses_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        VerifiedTraining(_net(), **kwargs)


def test_verified_training_accepts_numpy_numbers() -> None:
    vt = VerifiedTraining(
        _net(), eps=np.float32(0.1), ramp_steps=np.int64(10), kappa=np.array([1.0, 0.5]).tolist()
    )
    assert vt.schedule(np.int64(10))["eps"] == pytest.approx(0.1)


BAD_BATCHES: dict[str, tuple[Any, str]] = {
    "a list": ([X, Y], "batch: expected a mapping with keys 'x' and 'y', got list"),
    "no y": ({"x": X}, r"batch: expected a mapping with keys 'x' and 'y', got \['x'\]"),
    "9 x 9 images": ({"x": torch.rand(4, 1, 9, 9), "y": Y}, "64 values per sample"),
    "float64": ({"x": X.double(), "y": Y}, "expected dtype torch.float32"),
    "NaN x": ({"x": X * float("nan"), "y": Y}, "x: expected finite values"),
    "empty": ({"x": X[:0], "y": Y[:0]}, "x: expected a non-empty batch"),
    "float y": ({"x": X, "y": Y.float()}, "y: expected integer labels"),
    "y out of range": ({"x": X, "y": Y + 20}, r"y: expected labels in \[0, 9\]"),
    "y too short": ({"x": X, "y": Y[:3]}, "y: expected 4 labels"),
    "x outside clip": (
        {"x": X * 5, "y": Y},
        r"x: expected values in the data range clip=\(0.0, 1.0\)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_BATCHES))
@pytest.mark.parametrize("robust", [False, True])
def test_verified_training_refuses_bad_batches_before_the_model_runs(
    case: str, robust: bool, forward_calls: dict[str, int]
) -> None:
    batch, message = BAD_BATCHES[case]
    vt = VerifiedTraining(_net(), eps=0.1, ramp_steps=0, kappa=(0.5, 0.5) if robust else (1.0, 1.0))
    with pytest.raises(InputError, match=message):
        vt.loss(batch)
    assert forward_calls["n"] == 0


def test_verified_training_helpers_refuse_bad_arguments() -> None:
    vt = VerifiedTraining(_net(), eps=0.1)
    for step, message in [(-1, "step: expected an int >= 0"), (1.5, "step: expected an int")]:
        with pytest.raises(InputError, match=message):
            vt.schedule(step)
    with pytest.raises(InputError, match="beta: expected a number >= 0 and <= 1"):
        vt.margin_lower_bounds(X, Y, 0.1, 2.0)
    with pytest.raises(InputError, match="eps: expected a number >= 0"):
        vt.margin_lower_bounds(X, Y, -0.1, 0.5)
    with pytest.raises(InputError, match="y: expected integer labels"):
        vt.margin_lower_bounds(X, Y.float(), 0.1, 0.5)


def test_verified_errors_refuses_bad_arguments(forward_calls: dict[str, int]) -> None:
    verifier = xuframe.create("verifier", "ibp")
    net = _net().eval()
    good = [{"x": X, "y": Y}]
    for batches in (None, {"x": X, "y": Y}, 3):
        with pytest.raises(InputError, match="batches: expected an iterable"):
            verified_errors(net, batches, 0.1, verifier)
    with pytest.raises(InputError, match="verifier: expected a Verifier, got str"):
        verified_errors(net, good, 0.1, "ibp")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="eps: expected a number, got NaN"):
        verified_errors(net, good, float("nan"), verifier)
    with pytest.raises(InputError, match="batch: expected a mapping"):
        verified_errors(net, [(X, Y)], 0.1, verifier)
    with pytest.raises(InputError, match="labels: expected integer labels"):
        verified_errors(net, [{"x": X, "y": Y.float()}], 0.1, verifier)
    with pytest.raises(InputError, match="64 values per sample"):
        verified_errors(net, [{"x": torch.rand(4, 1, 9, 9), "y": Y}], 0.1, verifier)
    assert forward_calls["n"] == 0
    assert set(verified_errors(net, good, np.float64(0.1), verifier)) == {
        "clean_error",
        "verified_error",
    }


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ParamRamp(0), "ParamRamp shape: expected an int >= 1, got 0"),
        (lambda: ParamRamp(3.5), "ParamRamp shape: expected an int, got float"),
        (lambda: ParamRamp((2, -1)), r"ParamRamp shape\[1\]: expected an int >= 1"),
        (lambda: ParamRamp("3"), "ParamRamp shape: expected an int"),
        (lambda: ParamRamp((10**6, 10**6)), "ParamRamp heights of shape .* would need"),
        (
            lambda: ParamRamp(3, float("nan")),
            "ParamRamp negative_slope: expected a number, got NaN",
        ),
        (lambda: ParamRamp(3, 1.5), "ParamRamp negative_slope: expected a number >= 0 and < 1"),
        (lambda: ParamRamp(3, -0.1), "ParamRamp negative_slope: expected a number >= 0"),
        (lambda: ParamRamp(3, 0.0, 0.0), "ParamRamp r_init: expected a number > 0"),
        (lambda: ParamRamp(3, 0.0, math.inf), "ParamRamp r_init: expected a finite number"),
        (lambda: ParamRamp(3, 0.0, 1.0, -1.0), "ParamRamp min_r: expected a number >= 0"),
        (lambda: ParamRamp(3)(torch.rand(2, 4)), r"expected a shape ending in \(3,\)"),
        (lambda: ParamRamp(3)([1.0, 2.0, 3.0]), "ParamRamp input: expected a torch.Tensor"),
        (lambda: ParamRamp(3)(torch.ones(2, 3, dtype=torch.long)), "floating-point"),
    ],
)
def test_param_ramp_refuses_bad_arguments(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        make()


def test_param_ramp_accepts_numpy_integers() -> None:
    assert tuple(ParamRamp(np.int64(3)).r.shape) == (3,)
    assert tuple(ParamRamp((np.int32(2), 3)).r.shape) == (2, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((nn.ReLU(), -torch.ones(3), torch.ones(3), "loose"), "strategy: expected one of"),
        ((nn.ReLU(), torch.ones(3), -torch.ones(3), "tight"), "expected l <= u element-wise"),
        ((nn.ReLU(), torch.ones(3), torch.ones(4), "tight"), r"u: expected shape \(3,?\)"),
        ((nn.ReLU(), torch.full((3,), float("nan")), torch.ones(3), "tight"), "l: expected finite"),
        ((nn.ReLU(), [0.0], [1.0], "tight"), "l: expected a torch.Tensor"),
        ((nn.ReLU(), -torch.ones(3), torch.ones(3).double(), "tight"), "u: expected dtype"),
        ((ParamRamp(3), -torch.ones(4), torch.ones(4), "tight"), r"heights \(3,\) broadcast to"),
        ((nn.Tanh(), -torch.ones(3), torch.ones(3), "tight"), "unsupported activation Tanh"),
        (("relu", -torch.ones(3), torch.ones(3), "tight"), "unsupported activation str"),
    ],
)
def test_bounding_lines_refuses_bad_arguments(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(InputError, match=message):
        bounding_lines(*args)


def test_bound_helpers_refuse_bad_arguments() -> None:
    net = Network(_mlp(), X)
    inputs = InputSet(X, 0.1, math.inf)
    spec = torch.eye(10)[None]
    with pytest.raises(InputError, match="model: expected a torch.nn.Module"):
        Network(None, X)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="model: expected a torch.nn.Module"):
        layer_chain("mlp")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="x: expected a torch.Tensor"):
        InputSet([1.0], 0.1, math.inf)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="norm: expected inf or 2"):
        InputSet(X, 0.1, 1.0)
    with pytest.raises(InputError, match="eps: expected a number >= 0"):
        InputSet(X, -0.1, math.inf)
    with pytest.raises(InputError, match="clip: expected clip_min < clip_max"):
        InputSet(X, 0.1, math.inf, (2.0, 1.0))
    with pytest.raises(InputError, match="net: expected a Network"):
        compute_bounds("net", inputs, spec, "ibp", "tight")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="inputs: expected an InputSet"):
        compute_bounds(net, X, spec, "ibp", "tight")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="method: expected one of"):
        compute_bounds(net, inputs, spec, "fast", "tight")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"spec: expected shape \(4 or 1, S, 10\)"):
        compute_bounds(net, inputs, torch.eye(9)[None], "ibp", "tight")
    with pytest.raises(InputError, match=r"inputs: expected x of per-sample shape \(1, 8, 8\)"):
        compute_bounds(net, InputSet(torch.rand(4, 10), 0.1, math.inf), spec, "ibp", "tight")


def test_demo_helpers_refuse_bad_arguments() -> None:
    with pytest.raises(InputError, match="seed: expected an int >= 0"):
        demo_network(-1)
    with pytest.raises(InputError, match="seed: expected an int"):
        demo_network(1.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="activation: expected one of 'relu', 'paramramp'"):
        demo_network(0, "tanh")
    margins = xuframe.create("verifier", "ibp").verify(_mlp(), X, Y, 0.1).margins
    with pytest.raises(InputError, match="margins: expected Bounds, got str"):
        margin_picture("margins")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="width: expected an int >= 32"):
        margin_picture(margins, width=0)
    with pytest.raises(InputError, match="row: expected an int"):
        margin_picture(margins, row=2.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="would need .* of memory"):
        margin_picture(margins, row=10**9)
    assert margin_picture(margins, width=np.int64(64)).shape[1] == 64


def test_a_batch_too_large_for_memory_is_bounded_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each input's bounds need memory of their own; a batch whose pieces fit is done in pieces
    (the same bounds), one input that alone does not fit is refused with the reason."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10)
    ).eval()
    x, y = torch.rand(16, 1, 8, 8), torch.randint(0, 10, (16,))
    for method in METHODS:
        verifier = xuframe.create("verifier", method)
        whole = verifier.verify(net, x, y, 0.05).margins
        monkeypatch.setenv("XUFRAME_MAX_BYTES", str(200_000))  # one or two inputs at a time
        pieces = verifier.verify(net, x, y, 0.05).margins
        torch.testing.assert_close(pieces.lower, whole.lower)
        torch.testing.assert_close(pieces.upper, whole.upper)
        monkeypatch.setenv("XUFRAME_MAX_BYTES", "1000")
        with pytest.raises(InputError, match=rf"{method} bounds of one input .* would need"):
            verifier.verify(net, x, y, 0.05)
        monkeypatch.delenv("XUFRAME_MAX_BYTES")


def test_work_that_cannot_fit_and_outputs_that_cannot_be_verified_are_refused() -> None:
    wide = nn.Sequential(nn.Conv2d(1, 64, 3)).eval()  # 64 x 62 x 62 outputs, no spec
    with pytest.raises(InputError, match="the identity spec for 246016 network outputs would need"):
        xuframe.create("verifier", "ibp").bounds(wide, torch.rand(1, 1, 64, 64), 0.1)
    one = nn.Sequential(nn.Linear(3, 1)).eval()
    with pytest.raises(InputError, match="expected at least 2 outputs"):
        xuframe.create("verifier", "crown").verify(one, torch.rand(2, 3), [0, 0], 0.1)
