"""The hooks a xuframe plugin can implement.

A plugin is a module (or object) registered under the entry-point group ``xuframe``::

    [project.entry-points.xuframe]
    myplugin = "my_package.xuframe_plugin"

whose hook implementations are marked with :data:`xuframe.hookimpl`. New arguments are
added to hooks as pluggy opt-in arguments, so existing plugins keep working: an
implementation receives only the arguments it names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from xuframe._registry import Registry

__all__ = ["hookimpl", "hookspec", "xuframe_register"]

#: Marks the hook specifications below (used by xuframe itself).
hookspec = pluggy.HookspecMarker("xuframe")
#: Marks a plugin's hook implementations: ``@xuframe.hookimpl``.
hookimpl = pluggy.HookimplMarker("xuframe")


@hookspec
def xuframe_register(registry: Registry) -> None:
    """Register the plugin's components: call ``registry.add(cls)`` once per class.

    Called once per plugin, the first time the registry is used. The class's interface
    gives its kind and its ``name`` class attribute its name; ``registry.add`` checks the
    class and raises :class:`~xuframe.errors.RegistrationError` when it breaks the contract,
    in which case everything the plugin registered is rolled back and the plugin is reported
    as failed (``xuframe plugins``).
    """
