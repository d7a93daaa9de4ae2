from __future__ import annotations

from typing import Literal

import attrs
import numpy as np
import pytest

from xuframe import build_config, class_names, config_field, describe_config, int_between
from xuframe.errors import ConfigError


def _positive(_, attribute, value):
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value}")


@attrs.frozen
class Cfg:
    lr: float = config_field(0.1, doc="learning rate", validator=_positive)
    steps: int = config_field(10, doc="how many steps")
    flip: bool = config_field(False, doc="random flips")
    optimizer: Literal["sgd", "adamw"] = config_field("sgd", doc="optimiser")
    sizes: tuple[int, ...] = config_field((1, 2), doc="pyramid sizes")
    note: str | None = config_field(None, doc="free text")


def test_defaults_and_mapping():
    assert build_config(Cfg, None, owner="t") == Cfg()
    assert build_config(Cfg, {"steps": 3}, owner="t").steps == 3
    cfg = Cfg(lr=0.5)
    assert build_config(Cfg, cfg, owner="t") is cfg


def test_lossless_conversions():
    cfg = build_config(Cfg, {"lr": 1, "sizes": [3, 4], "steps": np.int64(7)}, owner="t")
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.sizes == (3, 4)
    assert type(cfg.steps) is int


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"stpes": 3}, "unknown config key 'stpes'. Did you mean 'steps'"),
        ({"steps": 2.5}, "'steps' expects int, got 2.5"),
        ({"steps": True}, "'steps' expects int"),
        ({"flip": 1}, "'flip' expects bool"),
        ({"lr": "0.1"}, "'lr' expects float"),
        ({"optimizer": "adam"}, "'optimizer' expects Literal"),
        ({"sizes": [1, "a"]}, "'sizes' expects tuple"),
        ({"note": 3}, "'note' expects"),
        ({"lr": -1.0}, "invalid config: lr must be > 0"),
        ([("lr", 1.0)], "expected a mapping"),
    ],
)
def test_errors_name_the_field_and_what_was_expected(values, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        build_config(Cfg, values, owner="t")


def test_missing_required_key():
    @attrs.frozen
    class Required:
        path: str = config_field(doc="where")

    with pytest.raises(ConfigError, match="missing required config key"):
        build_config(Required, {}, owner="t")


def test_describe_config_lists_fields_with_docs():
    fields = {f.name: f for f in describe_config(Cfg)}
    assert list(fields) == ["lr", "steps", "flip", "optimizer", "sizes", "note"]
    assert (
        fields["lr"].type == "float"
        and fields["lr"].default == 0.1
        and fields["lr"].doc == "learning rate"
    )
    assert not fields["lr"].required


@attrs.frozen
class _Named:
    classes: tuple[str, ...] = config_field(("Car",), doc="names", validator=class_names)
    layers: int = config_field(2, doc="layers", validator=int_between(1, 8))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"classes": []}, r"classes: expected at least one class name"),
        ({"classes": ["Car", " "]}, r"classes\[1\]: expected a non-empty name"),
        ({"classes": ["Car", "Van", "Car"]}, r"classes: expected distinct names, got \['Car'\]"),
        ({"layers": 0}, r"layers"),
        ({"layers": 9}, r"layers"),
        ({"layers": True}, r"layers"),
        ({"layers": 2.5}, r"layers"),
    ],
)
def test_the_shared_validators_name_the_field_and_the_value(values, message):
    with pytest.raises(ConfigError, match=message):
        build_config(_Named, values, owner="test")


def test_the_shared_validators_accept_good_values():
    config = build_config(_Named, {"classes": ["Car", "Van"], "layers": 8}, owner="test")
    assert config.classes == ("Car", "Van") and config.layers == 8
    assert build_config(_Named, {"layers": np.int64(1)}, owner="test").layers == 1
