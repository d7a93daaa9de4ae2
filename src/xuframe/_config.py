"""Component configurations: frozen attrs classes, validated from plain mappings.

A component's ``Config`` is a frozen attrs class whose fields carry type annotations,
defaults and a one-line ``doc`` (via :func:`config_field`). :func:`build_config` turns a
mapping (from Python, TOML or the CLI) into a ``Config``: it rejects unknown keys, missing
required keys and values of the wrong type with a :class:`~xuframe.errors.ConfigError`
that names the field, what was expected and what came.
"""

from __future__ import annotations

import difflib
import enum
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import attrs
import numpy as np

from xuframe.errors import ConfigError
from xuframe.validation import check_int

__all__ = [
    "ConfigField",
    "EmptyConfig",
    "build_config",
    "class_names",
    "config_field",
    "describe_config",
    "fraction",
    "int_between",
    "non_negative",
    "positive",
]

T = TypeVar("T")
_NOTHING: Any = attrs.NOTHING


def config_field(
    default: Any = _NOTHING,
    *,
    doc: str,
    validator: Callable[[Any, attrs.Attribute[Any], Any], None] | None = None,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """Declare a field of a component ``Config``, with the one-line doc that ``xuframe info`` shows.

    Use it inside a ``@attrs.frozen`` class::

        @attrs.frozen
        class Config:
            n_init: int = config_field(4, doc="restarts from different seeds", validator=positive)
    """
    if factory is not None:
        return attrs.field(factory=factory, validator=validator, metadata={"doc": doc})
    return attrs.field(default=default, validator=validator, metadata={"doc": doc})


def positive(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    """``Config`` field validator: the value must be > 0 (NaN is not)."""
    if not value > 0:
        raise ConfigError(f"{attribute.name} must be > 0, got {value}")


def non_negative(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    """``Config`` field validator: the value must be >= 0 (NaN is not)."""
    if not value >= 0:
        raise ConfigError(f"{attribute.name} must be >= 0, got {value}")


def fraction(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    """``Config`` field validator: the value must lie in [0, 1] (NaN does not)."""
    if not 0 <= value <= 1:
        raise ConfigError(f"{attribute.name} must be in [0, 1], got {value}")


def int_between(low: int, high: int) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """``Config`` field validator factory: the value must be an int (not a bool) in
    ``[low, high]``; ``validator=int_between(1, 16)``."""

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        check_int(value, attribute.name, min=low, max=high, error=ConfigError)

    return check


def class_names(_: Any, attribute: attrs.Attribute[Any], value: Sequence[Any]) -> None:
    """``Config`` field validator: at least one class name, each a non-empty string, no name
    twice."""
    if not value:
        raise ConfigError(f"{attribute.name}: expected at least one class name, got ()")
    for i, name in enumerate(value):
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{attribute.name}[{i}]: expected a non-empty name, got {name!r}")
    if len(set(value)) != len(value):
        twice = sorted({n for n in value if list(value).count(n) > 1})
        raise ConfigError(f"{attribute.name}: expected distinct names, got {twice} twice")


@attrs.frozen
class EmptyConfig:
    """The configuration of a component that has no options."""


@attrs.frozen
class ConfigField:
    """One field of a ``Config`` as ``xuframe info`` shows it."""

    name: str
    type: str
    default: Any
    required: bool
    doc: str


def _field_types(cls: type) -> dict[str, Any]:
    """The resolved annotation of each field; a field whose annotation cannot be resolved maps to Any."""
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):
        hints = {}
    return {f.name: hints.get(f.name, Any) for f in attrs.fields(cls)}


def _type_name(annotation: Any) -> str:
    if annotation is Any:
        return "Any"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _coerce(value: Any, annotation: Any) -> tuple[bool, Any]:
    """Check ``value`` against ``annotation``; return (ok, value converted where lossless)."""
    if annotation is Any or annotation is object:
        return True, value
    if annotation is None or annotation is type(None):
        return value is None, value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return value in args and all(type(value) is type(a) for a in args if a == value), value
    if origin is typing.Union or origin is types.UnionType:
        for arg in args:
            ok, converted = _coerce(value, arg)
            if ok:
                return True, converted
        return False, value
    if isinstance(value, np.ndarray) and value.ndim == 1 and origin in (tuple, list, Sequence):
        value = value.tolist()  # a 1-D array where a sequence is expected: its items, as Python
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return False, value
        if len(args) == 2 and args[1] is Ellipsis:
            items = [_coerce(v, args[0]) for v in value]
        elif args:
            if len(args) != len(value):
                return False, value
            items = [_coerce(v, a) for v, a in zip(value, args, strict=True)]
        else:
            items = [(True, v) for v in value]
        return all(ok for ok, _ in items), tuple(v for _, v in items)
    if origin in (list, Sequence):
        if not isinstance(value, (list, tuple)):
            return False, value
        items = [_coerce(v, args[0]) if args else (True, v) for v in value]
        out = [v for _, v in items]
        return all(ok for ok, _ in items), (out if origin is list else tuple(out))
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            return False, value
        kt, vt = args if args else (Any, Any)
        pairs = [(_coerce(k, kt), _coerce(v, vt)) for k, v in value.items()]
        ok = all(a[0] and b[0] for a, b in pairs)
        return ok, {a[1]: b[1] for a, b in pairs}
    if annotation is float:
        if isinstance(value, bool):
            return False, value
        if isinstance(value, (int, float)) or _is_numpy_scalar(value, "f", "i", "u"):
            return True, float(value)
        return False, value
    if annotation is int:
        if isinstance(value, bool):
            return False, value
        if isinstance(value, int) or _is_numpy_scalar(value, "i", "u"):
            return True, int(value)
        return False, value
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        if isinstance(value, annotation):
            return True, value
        try:
            return True, annotation(value)
        except ValueError:
            return False, value
    if isinstance(annotation, type):
        return isinstance(value, annotation), value
    if origin is not None and isinstance(origin, type):
        return isinstance(value, origin), value
    return True, value  # an annotation we cannot check (a TypeVar, a Protocol...): trust attrs


def _is_numpy_scalar(value: Any, *kinds: str) -> bool:
    dtype = getattr(value, "dtype", None)
    return getattr(value, "shape", None) == () and getattr(dtype, "kind", None) in kinds


def _non_finite(value: Any) -> float | None:
    """The first NaN or infinite float in ``value`` (a float, or floats inside tuples, lists and
    mapping values), or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else value
    if isinstance(value, (tuple, list)):
        items: Any = value
    elif isinstance(value, Mapping):
        items = value.values()
    else:
        return None
    for item in items:
        found = _non_finite(item)
        if found is not None:
            return found
    return None


def check_config_value(value: Any, annotation: Any, what: str, *, allow_inf: bool = False) -> Any:
    """``value`` checked against the type ``annotation`` (converted where lossless, as
    :func:`build_config` does for each field): a :class:`~xuframe.errors.ConfigError` naming
    ``what`` for a value of the wrong type, for NaN anywhere in it, and for inf unless
    ``allow_inf``."""
    ok, converted = _coerce(value, annotation)
    if not ok:
        raise ConfigError(
            f"{what} expects {_type_name(annotation)}, got {value!r} ({type(value).__name__})."
        )
    bad = _non_finite(converted)
    if bad is not None and (math.isnan(bad) or not allow_inf):
        where = "" if isinstance(converted, float) else f" in {converted!r}"
        raise ConfigError(f"{what}: expected a finite number, got {bad}{where}")
    return converted


def _infinite_default(field: attrs.Attribute[Any]) -> bool:
    """Does ``field`` default to an infinite float (inf meaning "no limit" there)?"""
    default = field.default
    return isinstance(default, float) and math.isinf(default)


def build_config(config_cls: type[T], value: Any, *, owner: str, prefix: str = "") -> T:
    """Validate ``value`` (a mapping, a ``config_cls`` instance or None) into a ``config_cls``.

    ``owner`` names the component in error messages; ``prefix`` is put before key names there
    (``"trainer."`` gives ``'trainer.lr'``), so a key in a nested config file is named by its path.

    Numbers: numpy integer and float scalars are accepted where ints and floats are (a 1-D
    numpy array where a tuple or list is); NaN is never accepted, and an infinite float only in
    a field whose default is infinite (where it means "no limit"), so ``tol=nan`` or
    ``lr=inf`` is a :class:`~xuframe.errors.ConfigError` here, not a failure later.
    """
    if value is None:
        value = {}
    if isinstance(value, config_cls):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{owner}: expected a mapping of config values or a {config_cls.__qualname__}, "
            f"got {type(value).__name__}"
        )
    fields = {f.name: f for f in attrs.fields(config_cls)}  # type: ignore[arg-type]
    unknown = [k for k in value if k not in fields]
    if unknown:
        key = unknown[0]
        hint = difflib.get_close_matches(str(key), list(fields), n=1)
        did_you_mean = f" Did you mean {prefix + hint[0]!r}?" if hint else ""
        expected = ", ".join(fields) if fields else "no keys (this component has no options)"
        raise ConfigError(
            f"{owner}: unknown config key {prefix + str(key)!r}.{did_you_mean} Expected one of: {expected}."
        )
    missing = [n for n, f in fields.items() if f.default is _NOTHING and n not in value]
    if missing:
        raise ConfigError(
            f"{owner}: missing required config key(s): {', '.join(prefix + m for m in missing)}."
        )
    annotations = _field_types(config_cls)
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        kwargs[key] = check_config_value(
            item,
            annotations[key],
            f"{owner}: config key {prefix + key!r}",
            allow_inf=_infinite_default(fields[key]),
        )
    try:
        return config_cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{owner}: invalid config: {exc}") from exc


def describe_config(config_cls: type) -> list[ConfigField]:
    """The fields of a ``Config`` class: name, type, default and doc, in declaration order."""
    annotations = _field_types(config_cls)
    out = []
    for f in attrs.fields(config_cls):
        if hasattr(f.default, "factory"):  # attrs.Factory
            default: Any = f.default.factory()
        else:
            default = f.default
        out.append(
            ConfigField(
                name=f.name,
                type=_type_name(annotations[f.name]),
                default=None if default is _NOTHING else default,
                required=default is _NOTHING,
                doc=str(f.metadata.get("doc", "")),
            )
        )
    return out
