"""Issue 20, the core: bad input to the registry, configs, the Trainer, the run-file CLI, the
readers, the metrics, checkpoints and the interfaces' wrappers raises an ``xuframe.errors``
exception that names what was expected (never a raw Python, numpy or torch error)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import xuframe
from xuframe.errors import ConfigError, InputError, UnknownComponentError

NAN, INF = math.nan, math.inf


# -- 1. create, get_component_class, list_components -------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: xuframe.create(123, "kmeans"), InputError, "kind: expected one of"),
        (lambda: xuframe.create(None, "kmeans"), InputError, "kind: expected one of"),
        (lambda: xuframe.create("solver", None), InputError, "name: expected a str"),
        (lambda: xuframe.create("solver", 5), InputError, "name: expected a str"),
        (lambda: xuframe.create("distiller", "kd"), InputError, "missing teacher, student"),
        (lambda: xuframe.create("distiller", "kd", object()), InputError, "missing student"),
        (
            lambda: xuframe.create("solver", "defocus", {"x": 1}),
            ConfigError,
            "config values go as keywords",
        ),
        (lambda: xuframe.create("solver", "kmeans", 3), InputError, "no positional arguments"),
        (lambda: xuframe.get_component_class(1, 2), InputError, "kind: expected one of"),
        (lambda: xuframe.get_component_class("solver", ["k"]), InputError, "name: expected"),
        (lambda: xuframe.list_components(1), InputError, "kind: expected one of"),
        (lambda: xuframe.list_components("solver", 3), InputError, "pattern: expected a str"),
        (lambda: xuframe.list_components("solvr"), UnknownComponentError, "Did you mean 'solver'"),
        (lambda: xuframe.registry.find(3), InputError, "name: expected a str"),
        (lambda: xuframe.registry.names(3), InputError, "kind: expected one of"),
    ],
)
def test_registry_arguments_of_the_wrong_type(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_from_config_checks_the_constructor_arguments_too():
    cls = xuframe.get_component_class("distiller", "kd")
    with pytest.raises(InputError, match=r"xuframe.create\('distiller', 'kd', teacher, student"):
        cls.from_config({})


# -- 2. config values --------------------------------------------------------------------------
@pytest.mark.parametrize("value", [NAN, np.float32(NAN), np.float64(NAN), INF, -INF])
def test_config_floats_must_be_finite(value):
    with pytest.raises(ConfigError, match="config key 'tol': expected a finite number"):
        xuframe.create("solver", "kmeans", tol=value)


def test_config_floats_in_tuples_must_be_finite():
    from xuframe.engine import TrainerConfig

    with pytest.raises(ConfigError, match="'trainer.betas': expected a finite number, got nan"):
        xuframe.build_config(TrainerConfig, {"betas": (0.9, NAN)}, owner="x", prefix="trainer.")
    with pytest.raises(ConfigError, match="'lr': expected a finite number, got nan"):
        xuframe.build_config(TrainerConfig, {"lr": NAN}, owner="trainer")


def test_config_inf_only_where_the_default_is_infinite():
    import attrs

    @attrs.frozen
    class Config:
        limit: float = xuframe.config_field(math.inf, doc="no limit by default")
        scale: float = xuframe.config_field(1.0, doc="a scale")

    assert xuframe.build_config(Config, {"limit": 5.0}, owner="x").limit == 5.0
    assert xuframe.build_config(Config, {"limit": INF}, owner="x").limit == INF
    with pytest.raises(ConfigError, match="'limit': expected a finite number, got nan"):
        xuframe.build_config(Config, {"limit": NAN}, owner="x")
    with pytest.raises(ConfigError, match="'scale': expected a finite number, got inf"):
        xuframe.build_config(Config, {"scale": INF}, owner="x")


def test_config_validators_refuse_nan_in_a_config_built_directly():
    import attrs

    @attrs.frozen
    class Config:
        a: float = xuframe.config_field(1.0, doc="a", validator=xuframe.positive)
        b: float = xuframe.config_field(1.0, doc="b", validator=xuframe.non_negative)
        c: float = xuframe.config_field(0.5, doc="c", validator=xuframe.fraction)

    for key in "abc":
        with pytest.raises(ConfigError, match=f"{key} must be"):
            Config(**{key: NAN})


def test_config_numpy_numbers_and_arrays_are_accepted():
    denfi = xuframe.get_component_class("detector", "denfi")
    config = xuframe.build_config(
        denfi.Config,
        {"pillar_size": np.array([0.3, 0.3]), "widths": (np.int64(32), np.int32(64), 128)},
        owner="x",
    )
    assert config.pillar_size == (0.3, 0.3)
    assert config.widths == (32, 64, 128) and type(config.widths[0]) is int
    kmeans = xuframe.create("solver", "kmeans", n_init=np.int64(3), tol=np.float32(0.5))
    assert kmeans.config.n_init == 3 and type(kmeans.config.n_init) is int
