"""Plugin discovery and loading: entry points in the ``xuframe`` group, one pluggy manager.

Each plugin is imported and asked to register its components on its own, so one that fails
(a missing optional dependency, a bug) is recorded with its error and skipped with a
:class:`~xuframe.errors.PluginLoadWarning` while the others load.

Environment variables:

- ``XUFRAME_STRICT_PLUGINS=1``: a plugin that fails raises :class:`~xuframe.errors.PluginError`.
- ``XUFRAME_DISABLE_PLUGINS=a,b``: do not load the plugins named ``a`` and ``b``.
"""

from __future__ import annotations

import importlib.metadata as importlib_metadata
import os
import traceback
import warnings
from collections.abc import Iterable
from typing import Literal

import attrs
import pluggy

from xuframe import hookspecs
from xuframe._extras import EXTRA_FOR_MODULE
from xuframe._registry import Registry
from xuframe.errors import PluginError, PluginLoadWarning

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "load_plugins", "plugin_infos", "registry"]

#: The entry-point group plugins register under.
ENTRY_POINT_GROUP = "xuframe"


@attrs.frozen
class PluginInfo:
    """What happened to one plugin: loaded, failed (and why) or disabled."""

    name: str
    version: str
    distribution: str
    status: Literal["loaded", "failed", "disabled"]
    components: tuple[str, ...] = ()
    error: str | None = None
    traceback: str | None = attrs.field(default=None, repr=False)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _disabled() -> set[str]:
    return {
        p.strip() for p in os.environ.get("XUFRAME_DISABLE_PLUGINS", "").split(",") if p.strip()
    }


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        root = exc.name.split(".")[0]
        extra = EXTRA_FOR_MODULE.get(root)
        if extra:
            return (
                f"needs the {extra} extra (pip install 'xuframe[{extra}]'): no module {exc.name!r}"
            )
        return f"needs the module {exc.name!r}, which is not installed"
    return f"{type(exc).__name__}: {exc}"


def _manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("xuframe")
    pm.add_hookspecs(hookspecs)
    return pm


def load_plugins(
    registry: Registry,
    entry_points: Iterable[importlib_metadata.EntryPoint] | None = None,
    *,
    strict: bool | None = None,
) -> list[PluginInfo]:
    """Import every plugin and let it register its components into ``registry``.

    ``entry_points`` defaults to the installed ones of the ``xuframe`` group. ``strict``
    defaults to ``XUFRAME_STRICT_PLUGINS``. Returns what happened to each plugin; failures
    are also recorded in ``registry.failed_plugins``.
    """
    if strict is None:
        strict = _env_flag("XUFRAME_STRICT_PLUGINS")
    if entry_points is None:
        entry_points = importlib_metadata.entry_points(group=ENTRY_POINT_GROUP)
    disabled = _disabled()
    pm = _manager()
    infos: list[PluginInfo] = []
    seen: set[str] = set()
    for ep in sorted(entry_points, key=lambda e: e.name):
        if ep.name in seen:  # the same distribution found twice on sys.path
            continue
        seen.add(ep.name)
        dist = getattr(ep, "dist", None)
        version = dist.version if dist is not None else "unknown"
        dist_name = dist.metadata["Name"] if dist is not None else "unknown"
        if ep.name in disabled:
            infos.append(PluginInfo(ep.name, version, dist_name, "disabled"))
            continue
        before = set(registry._classes)
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
            others = [p for p in pm.get_plugins() if p is not plugin]
            caller = pm.subset_hook_caller("xuframe_register", remove_plugins=others)
            with registry._registering_for(ep.name):
                caller(registry=registry)
        except Exception as exc:
            reason = _describe(exc)
            if strict:
                raise PluginError(
                    f"plugin {ep.name!r} ({dist_name}) failed to load: {reason}"
                ) from exc
            registry.failed_plugins[ep.name] = reason
            infos.append(
                PluginInfo(
                    ep.name,
                    version,
                    dist_name,
                    "failed",
                    error=reason,
                    traceback="".join(traceback.format_exception(exc)),
                )
            )
            warnings.warn(
                f"xuframe plugin {ep.name!r} failed to load and was skipped: {reason}",
                PluginLoadWarning,
                stacklevel=2,
            )
            continue
        added = sorted(f"{k}/{n}" for k, n in set(registry._classes) - before)
        infos.append(PluginInfo(ep.name, version, dist_name, "loaded", components=tuple(added)))
    return infos


_infos: list[PluginInfo] = []


def _load_into_global(reg: Registry) -> None:
    _infos[:] = load_plugins(reg)


#: The global registry behind ``xuframe.create`` and ``xuframe.list_components``.
registry = Registry(loader=_load_into_global)


def plugin_infos() -> list[PluginInfo]:
    """What happened to each installed plugin (loads them on first call)."""
    registry._ensure_loaded()
    return list(_infos)
