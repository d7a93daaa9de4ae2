"""xuframe: twelve published vision and optimisation methods behind one typed, pluggable API.

The public API is what ``__all__`` names here, plus the modules :mod:`xuframe.errors`,
:mod:`xuframe.metrics`, :mod:`xuframe.testing` and :mod:`xuframe.hookspecs`. Everything in a
module whose name starts with ``_`` is private.
"""

from __future__ import annotations

from typing import Any

from xuframe import errors
from xuframe._config import (
    ConfigField,
    build_config,
    class_names,
    config_field,
    describe_config,
    fraction,
    int_between,
    non_negative,
    positive,
)
from xuframe._extras import import_extra
from xuframe._plugins import PluginInfo, plugin_infos, registry
from xuframe._pretrained import PretrainedWeights
from xuframe._pretrained import pretrained_weights as _pretrained_weights
from xuframe._registry import KINDS, Registry
from xuframe.hookspecs import hookimpl
from xuframe.interfaces import Component, Detector, Distiller, Generator, Solver, Verifier
from xuframe.types import (
    Bounds,
    Boxes2D,
    Boxes3D,
    ClusteringResult,
    DemoResult,
    Detections,
    Geometry,
    PointCloud,
    Segments1D,
    VerificationResult,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # interfaces
    "Component",
    "Generator",
    "Detector",
    "Distiller",
    "Verifier",
    "Solver",
    # value types
    "Geometry",
    "Boxes2D",
    "Boxes3D",
    "Segments1D",
    "PointCloud",
    "Detections",
    "Bounds",
    "VerificationResult",
    "ClusteringResult",
    "DemoResult",
    # configuration
    "config_field",
    "build_config",
    "positive",
    "non_negative",
    "fraction",
    "int_between",
    "class_names",
    "describe_config",
    "ConfigField",
    # registry and plugins
    "KINDS",
    "Registry",
    "registry",
    "create",
    "get_component_class",
    "list_components",
    "list_plugins",
    "PluginInfo",
    "hookimpl",
    # pretrained weights
    "pretrained_weights",
    "PretrainedWeights",
    # optional dependencies
    "import_extra",
    # submodules
    "errors",
]


def create(kind: str, name: str, /, *args: Any, weights: str | None = None, **config: Any) -> Any:
    """Build the registered component ``kind/name`` with ``config`` (validated).

    ``args`` are passed to the constructor before the config (a distiller's teacher and
    student)::

        solver = xuframe.create("solver", "kmeans", n_init=8)

    ``weights`` builds it trained, with weights shipped in its plugin (as timm's
    ``pretrained=True``): the config they were trained with, updated by ``config``, in eval
    mode. :func:`pretrained_weights` lists them with the metrics they reach::

        detector = xuframe.create("detector", "denfi", weights="synthetic")

    Raises :class:`~xuframe.errors.UnknownComponentError` (listing the known names and the
    closest match) or :class:`~xuframe.errors.ConfigError`.
    """
    return registry.create(kind, name, *args, weights=weights, **config)


def pretrained_weights(kind: str, name: str) -> dict[str, PretrainedWeights]:
    """The pretrained weights shipped for ``kind/name``, by tag: for each, the file, its
    SHA-256, the config and the exact command that made it, and the metrics it reaches on
    fixed held-out data (re-measured by the test suite). Empty when none ship."""
    return _pretrained_weights(registry.get(kind, name))


def get_component_class(kind: str, name: str) -> type[Component]:
    """The class registered as ``kind/name``."""
    return registry.get(kind, name)


def list_components(kind: str | None = None, pattern: str | None = None) -> list[type[Component]]:
    """Registered component classes sorted by kind then name; filter by kind and a glob on the name.

    >>> [c.name for c in xuframe.list_components("solver", "k*")]  # doctest: +SKIP
    ['kmeans']
    """
    return registry.list(kind, pattern)


def list_plugins() -> list[PluginInfo]:
    """Every installed plugin: version, status, what it registered and, if it failed, why."""
    return plugin_infos()
