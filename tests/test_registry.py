from __future__ import annotations

from typing import ClassVar

import attrs
import pytest
from components import ALL, CornerDetector, IntervalVerifier, LinearGenerator

import xuframe
from xuframe import Registry, Verifier
from xuframe.errors import ConfigError, RegistrationError, UnknownComponentError


def _registry(*classes):
    reg = Registry()
    for cls in classes:
        reg.add(cls)
    return reg


def test_add_get_create_list():
    reg = _registry(*ALL)
    assert reg.get("verifier", "test-interval") is IntervalVerifier
    assert [c.name for c in reg.list()] == [
        "test-generator",
        "test-detector",
        "test-kd",
        "test-interval",
    ]
    assert reg.list("detector") == [CornerDetector]
    assert reg.list(pattern="test-*or") == [LinearGenerator, CornerDetector]
    gen = reg.create("generator", "test-generator", z_dim=4)
    assert gen.latent_dim == 4
    with pytest.raises(ConfigError, match="unknown config key 'zdim'"):
        reg.create("generator", "test-generator", zdim=4)


def test_unknown_name_lists_known_names_closest_and_failed_plugins():
    reg = _registry(*ALL)
    reg.failed_plugins["denfi"] = "needs the det3d extra"
    with pytest.raises(UnknownComponentError) as info:
        reg.get("verifier", "test-intervals")
    message = str(info.value)
    assert "Did you mean 'test-interval'?" in message
    assert "Known verifier names: test-interval." in message
    assert "denfi (needs the det3d extra)" in message
    assert isinstance(info.value, LookupError)
    with pytest.raises(UnknownComponentError, match="Did you mean 'detector'"):
        reg.get("detectr", "x")


def test_registration_checks_the_class():
    reg = Registry()

    class NoName(IntervalVerifier):
        pass

    with pytest.raises(RegistrationError, match="`name` of its own"):
        reg.add(NoName)

    class Abstract(Verifier):
        name: ClassVar[str] = "abstract"

    with pytest.raises(RegistrationError, match="abstract methods not implemented: _bounds"):
        reg.add(Abstract)

    class Mutable(IntervalVerifier):
        name: ClassVar[str] = "mutable"

        @attrs.define
        class Config:
            x: int = 1

    with pytest.raises(RegistrationError, match="frozen attrs"):
        reg.add(Mutable)

    class Upper(IntervalVerifier):
        name: ClassVar[str] = "Upper Case"

    with pytest.raises(RegistrationError, match="lower-case"):
        reg.add(Upper)

    with pytest.raises(RegistrationError, match="exactly one of"):
        reg.add(int)
    with pytest.raises(RegistrationError, match="expected a component class"):
        reg.add(IntervalVerifier())  # type: ignore[arg-type]
    assert len(reg) == 0


def test_duplicate_names_need_override():
    reg = _registry(IntervalVerifier)

    class Other(IntervalVerifier):
        name: ClassVar[str] = "test-interval"

    with pytest.raises(RegistrationError, match="already registered"):
        reg.add(Other)
    reg.add(Other, override=True)
    assert reg.get("verifier", "test-interval") is Other
    reg.add(Other)  # re-adding the same class is a no-op


def test_add_works_as_a_decorator_and_remove():
    reg = Registry()

    @reg.add
    class Decorated(IntervalVerifier):
        name: ClassVar[str] = "decorated"

    assert reg.get("verifier", "decorated") is Decorated
    reg.remove("verifier", "decorated")
    assert "decorated" not in reg.names("verifier")


def test_global_registry_has_the_builtin_plugins():
    assert "kmeans" in [c.name for c in xuframe.list_components("solver")]
    solver = xuframe.create("solver", "kmeans", n_init=2)
    assert solver.config.n_init == 2
    assert xuframe.get_component_class("solver", "kmeans").name == "kmeans"
    with pytest.raises(UnknownComponentError, match="Did you mean 'kmeans'"):
        xuframe.create("solver", "kmean")
