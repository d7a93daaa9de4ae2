"""Optional dependencies: which extra brings which module, and importing one with a clear error."""

from __future__ import annotations

import importlib
from types import ModuleType

from xuframe.errors import InputError, MissingExtraError

__all__ = ["EXTRA_FOR_MODULE", "import_extra"]

#: The top-level modules that only an extra brings, and that extra's name.
EXTRA_FOR_MODULE = {
    "torch_scatter": "det3d",
    "matplotlib": "plot",
    "skimage": "examples",
    "sphinx": "docs",
    "maxflow": "maxflow",
}


def import_extra(module: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` (e.g. ``"matplotlib.pyplot"``), which an optional extra provides.

    ``extra`` names the extra to install; by default the one :data:`EXTRA_FOR_MODULE` gives
    for the module's top-level package. Raises :class:`~xuframe.errors.MissingExtraError`
    (an ``ImportError``) that says ``pip install 'xuframe[EXTRA]'`` when it is not installed.
    Plotting modules get the non-interactive Agg backend, so nothing opens a window.
    A ``module`` or ``extra`` that is not a non-empty str raises
    :class:`~xuframe.errors.InputError`.
    """
    if not isinstance(module, str) or not module or module.startswith("."):
        raise InputError(
            f"import_extra: module: expected a module name (str) such as 'matplotlib.pyplot', "
            f"got {type(module).__name__} {module!r}"
        )
    if extra is not None and (not isinstance(extra, str) or not extra):
        raise InputError(
            f"import_extra: extra: expected an extra's name (str) such as 'plot', got "
            f"{type(extra).__name__} {extra!r}"
        )
    root = module.split(".")[0]
    extra = extra or EXTRA_FOR_MODULE.get(root)
    try:
        if root == "matplotlib":
            importlib.import_module("matplotlib").use("Agg")
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != root:
            raise  # the module is there but one of its own imports failed: not ours to explain
        raise MissingExtraError(module, extra) from exc
