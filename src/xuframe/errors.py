"""The exceptions xuframe raises.

Every error xuframe raises on purpose derives from :class:`XuframeError`, so
``except xuframe.errors.XuframeError`` catches all of them. The subclasses also
derive from the closest built-in exception (``ValueError``, ``LookupError``,
``TypeError``) so that code written against the standard library keeps working.
Messages say what was expected and what came.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "XuframeError",
    "ConfigError",
    "InputError",
    "PluginError",
    "RegistrationError",
    "UnknownComponentError",
    "ConformanceError",
    "CheckpointError",
    "MissingExtraError",
    "XuframeWarning",
    "PluginLoadWarning",
]


class XuframeError(Exception):
    """Base class of every exception raised by xuframe."""


class ConfigError(XuframeError, ValueError):
    """A component configuration is invalid: an unknown key, a wrong type or a bad value."""


class InputError(XuframeError, ValueError):
    """Data given to xuframe has the wrong shape, dtype or type, holds NaN, or is empty."""


class PluginError(XuframeError):
    """A plugin failed to load or to register its components."""


class RegistrationError(PluginError, TypeError):
    """A class handed to :meth:`xuframe.Registry.add` does not satisfy the component contract."""


class UnknownComponentError(XuframeError, LookupError):
    """No component of the requested kind has the requested name.

    The message lists the known names of that kind, the closest match and the
    plugins that failed to load (one of them may have provided the name).
    """

    def __init__(
        self,
        kind: str,
        name: str,
        known: Sequence[str],
        *,
        closest: str | None = None,
        failed_plugins: Iterable[tuple[str, str]] = (),
        what: str = "component",
    ) -> None:
        self.kind = kind
        self.name = name
        self.known = tuple(known)
        self.closest = closest
        self.failed_plugins = tuple(failed_plugins)
        parts = [f"no {kind or what} named {name!r}."]
        if closest is not None:
            parts.append(f"Did you mean {closest!r}?")
        parts.append(
            f"Known {kind or what} names: {', '.join(self.known)}."
            if self.known
            else f"No {kind or what} is registered."
        )
        if self.failed_plugins:
            failed = "; ".join(f"{plugin} ({reason})" for plugin, reason in self.failed_plugins)
            parts.append(f"Plugins that failed to load: {failed}.")
        super().__init__(" ".join(parts))

    def __reduce__(self):  # type: ignore[no-untyped-def]  # keep the exception picklable
        return (
            _rebuild_unknown,
            (self.kind, self.name, self.known, self.closest, self.failed_plugins),
        )


def _rebuild_unknown(
    kind: str,
    name: str,
    known: Sequence[str],
    closest: str | None,
    failed: Iterable[tuple[str, str]],
) -> UnknownComponentError:
    return UnknownComponentError(kind, name, known, closest=closest, failed_plugins=failed)


class ConformanceError(XuframeError, AssertionError):
    """A component breaks the documented contract of its interface (see :mod:`xuframe.testing`)."""


class CheckpointError(InputError):
    """A checkpoint or other torch file is missing, truncated, corrupt, foreign, or holds objects
    that are not data. An :class:`InputError`, as every failure to read a file given to xuframe."""


class MissingExtraError(XuframeError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""

    def __init__(self, module: str, extra: str | None = None) -> None:
        self.module = module
        self.extra = extra
        how = f"pip install 'xuframe[{extra}]'" if extra else f"pip install {module.split('.')[0]}"
        super().__init__(f"this needs {module}, which is not installed: {how}")
        self.name = module


class XuframeWarning(UserWarning):
    """Base class of xuframe's warnings."""


class PluginLoadWarning(XuframeWarning):
    """A plugin failed to load and was skipped (set ``XUFRAME_STRICT_PLUGINS=1`` to raise instead)."""
