"""The component registry: classes by kind and name, with checks on the way in."""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import attrs

from xuframe.errors import InputError, RegistrationError, UnknownComponentError
from xuframe.interfaces import INTERFACES, Component
from xuframe.validation import check_choice

__all__ = ["CLASS_CHECKS", "KINDS", "Registry", "interface_of", "is_frozen_attrs"]

C = TypeVar("C", bound=type[Component])

#: The component kinds, one per interface.
KINDS: tuple[str, ...] = tuple(i.kind for i in INTERFACES)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


def interface_of(cls: type) -> type[Component]:
    """The one interface ``cls`` implements; RegistrationError if none or several."""
    if not isinstance(cls, type):
        raise RegistrationError(f"expected a component class, got {cls!r} ({type(cls).__name__})")
    found = [i for i in INTERFACES if issubclass(cls, i)]
    if len(found) != 1:
        names = ", ".join(i.__name__ for i in INTERFACES)
        got = ", ".join(i.__name__ for i in found) or "none of them"
        raise RegistrationError(
            f"{cls.__qualname__}: expected a subclass of exactly one of {names}; it subclasses {got}"
        )
    return found[0]


def check_name(cls: type) -> None:
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise RegistrationError(
            f"{cls.__qualname__}: expected a class attribute `name` of its own, a lower-case string "
            f"like 'ttfnet' or 'crown-ibp', got {name!r}"
        )


def check_kind(cls: type) -> None:
    interface = interface_of(cls)
    if getattr(cls, "kind", None) != interface.kind:
        raise RegistrationError(
            f"{cls.__qualname__}: `kind` must stay {interface.kind!r} (from {interface.__name__}), "
            f"got {getattr(cls, 'kind', None)!r}"
        )


def check_not_abstract(cls: type) -> None:
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))  # type: ignore[attr-defined]
        raise RegistrationError(f"{cls.__qualname__}: abstract methods not implemented: {missing}")


def check_config_class(cls: type) -> None:
    config = getattr(cls, "Config", None)
    if not is_frozen_attrs(config):
        raise RegistrationError(
            f"{cls.__qualname__}: expected `Config` to be a frozen attrs class (@attrs.frozen), got {config!r}"
        )


#: What a class must satisfy to be registered, in the order they are checked.
CLASS_CHECKS = (check_kind, check_name, check_not_abstract, check_config_class)


def _check_class(cls: type) -> type[Component]:
    interface = interface_of(cls)
    for check in CLASS_CHECKS:
        check(cls)
    return interface


def is_frozen_attrs(cls: Any) -> bool:
    """Is ``cls`` an attrs class whose instances cannot be changed (``@attrs.frozen``)?"""
    setter = getattr(cls, "__setattr__", None)
    return (
        isinstance(cls, type)
        and attrs.has(cls)
        and getattr(setter, "__name__", "") == "_frozen_setattrs"
    )


class Registry:
    """Component classes by kind and name.

    The global registry behind :func:`xuframe.create` and :func:`xuframe.list_components`
    fills itself from the installed plugins on first use. A ``Registry()`` of your own starts
    empty unless given a ``loader`` (a callable run once, on first read, to fill it).
    """

    def __init__(self, loader: Callable[[Registry], None] | None = None) -> None:
        self._classes: dict[tuple[str, str], type[Component]] = {}
        self._origin: dict[tuple[str, str], str] = {}
        self._loader = loader
        self._loaded = loader is None
        self._lock = threading.RLock()
        self._current_plugin: str | None = None
        #: Why plugins failed, by plugin name (filled by the loader).
        self.failed_plugins: dict[str, str] = {}

    # -- writing -----------------------------------------------------------------------
    def add(self, cls: C, *, override: bool = False) -> C:
        """Register a component class (usable as a decorator); returns it unchanged.

        The kind comes from the interface it subclasses and the name from its ``name``
        class attribute. Raises :class:`~xuframe.errors.RegistrationError` if the class
        breaks the contract or the name is taken (unless ``override=True``).
        """
        interface = _check_class(cls)
        key = (interface.kind, cls.name)
        with self._lock:
            if key in self._classes and not override and self._classes[key] is not cls:
                owner = self._origin.get(key, "?")
                raise RegistrationError(
                    f"{key[0]} {key[1]!r} is already registered (by {owner}); "
                    "pass override=True to replace it"
                )
            self._classes[key] = cls
            self._origin[key] = self._current_plugin or cls.__module__
        return cls

    def remove(self, kind: str, name: str) -> None:
        """Unregister a component (no error if absent)."""
        with self._lock:
            self._classes.pop((kind, name), None)
            self._origin.pop((kind, name), None)

    @contextmanager
    def _registering_for(self, plugin: str) -> Iterator[None]:
        """Attribute additions to ``plugin``; roll them back if the block raises."""
        with self._lock:
            before = dict(self._classes), dict(self._origin)
            self._current_plugin = plugin
            try:
                yield
            except BaseException:
                self._classes, self._origin = before
                raise
            finally:
                self._current_plugin = None

    # -- reading -----------------------------------------------------------------------
    def _ensure_loaded(self) -> None:
        with self._lock:
            if self._loaded:
                return
            self._loaded = True  # set first: a plugin that reads the registry must not recurse
            assert self._loader is not None
            self._loader(self)

    def get(self, kind: str, name: str) -> type[Component]:
        """The class registered as ``name`` under ``kind``; UnknownComponentError if none."""
        self._ensure_loaded()
        _check_kind_arg(kind)
        _check_str_arg(name, "name", "kmeans")
        try:
            return self._classes[(kind, name)]
        except KeyError:
            known = self.names(kind)
            raise UnknownComponentError(
                kind,
                name,
                known,
                closest=_closest(name, known),
                failed_plugins=sorted(self.failed_plugins.items()),
            ) from None

    def origin(self, kind: str, name: str) -> str:
        """The plugin (or module) that registered ``kind/name``."""
        self.get(kind, name)
        return self._origin[(kind, name)]

    def find(self, name: str) -> list[type[Component]]:
        """Every registered class called ``name``, whatever its kind."""
        _check_str_arg(name, "name", "kmeans")
        self._ensure_loaded()
        return [cls for (_, n), cls in sorted(self._classes.items()) if n == name]

    def create(
        self, kind: str, name: str, /, *args: Any, weights: str | None = None, **config: Any
    ) -> Component:
        """Build ``kind/name`` from keyword config values (validated); ``args`` go to its
        constructor. ``weights`` names shipped pretrained weights (e.g. ``"synthetic"``): the
        component is then built with the config they were trained with, updated by
        ``config``, and loaded with them (see :func:`xuframe.pretrained_weights`)."""
        cls = self.get(kind, name)
        if weights is None:
            return cls.from_config(config, *args)
        from xuframe._pretrained import load_pretrained

        return load_pretrained(cls, weights, args, config)

    def names(self, kind: str) -> list[str]:
        """Sorted names registered under ``kind``."""
        _check_kind_arg(kind)
        self._ensure_loaded()
        return sorted(n for k, n in self._classes if k == kind)

    def list(self, kind: str | None = None, pattern: str | None = None) -> list[type[Component]]:
        """Registered classes, sorted by kind then name, optionally of one kind and matching a glob."""
        self._ensure_loaded()
        if kind is not None:
            _check_kind_arg(kind)
        if pattern is not None:
            _check_str_arg(pattern, "pattern", "crown*")
        return [
            cls
            for (k, n), cls in sorted(
                self._classes.items(), key=lambda kv: (KINDS.index(kv[0][0]), kv[0][1])
            )
            if (kind is None or k == kind) and (pattern is None or fnmatch.fnmatchcase(n, pattern))
        ]

    def __contains__(self, key: object) -> bool:
        self._ensure_loaded()
        return key in self._classes

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._classes)

    def __repr__(self) -> str:
        state = "loaded" if self._loaded else "not loaded yet"
        return f"<Registry {len(self._classes)} components, {state}>"


def _check_kind_arg(kind: Any) -> None:
    """Refuse a ``kind`` that is not a known kind: a non-str is an InputError listing the kinds,
    an unknown str an UnknownComponentError with the closest match."""
    if not isinstance(kind, str):
        check_choice(kind, "kind", KINDS)
    if kind not in KINDS:
        raise UnknownComponentError(
            "", kind, KINDS, closest=_closest(kind, KINDS), what="component kind"
        )


def _check_str_arg(value: Any, what: str, example: str) -> None:
    if not isinstance(value, str):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise InputError(
            f"{what}: expected a str such as {example!r}, got {type(value).__name__} {shown}"
        )


def _closest(name: str, options: Any) -> str | None:
    found = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return found[0] if found else None
