"""The base of every xuframe component."""

from __future__ import annotations

import abc
import inspect
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from xuframe._config import EmptyConfig, build_config
from xuframe.errors import ConfigError, InputError
from xuframe.types import DemoResult

__all__ = ["Component"]

C = TypeVar("C", bound="Component")


class Component(abc.ABC):
    """A named, configurable implementation of one of xuframe's interfaces.

    A concrete component sets two class attributes and, when it has options, a ``Config``:

    - ``name``: the registry name, lower case (``"ttfnet"``, ``"crown-ibp"``);
    - ``kind``: set by the interface it subclasses (``"detector"``, ``"verifier"``, ...);
    - ``Config``: a frozen attrs class of typed fields with defaults; see
      :func:`xuframe.config_field`.

    It is built from a mapping with :meth:`from_config` (or :func:`xuframe.create`),
    which rejects unknown keys and wrong types, and reads its options back from
    :attr:`config`. Components with weights are ``torch.nn.Module`` s and save and load
    through ``state_dict``.
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    Config: ClassVar[type[Any]] = EmptyConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__()  # cooperative: reaches torch.nn.Module.__init__ where mixed in
        self._config = build_config(type(self).Config, config, owner=type(self)._owner())

    @classmethod
    def _owner(cls) -> str:
        return f"{getattr(cls, 'kind', 'component')} {getattr(cls, 'name', cls.__qualname__)!r}"

    @classmethod
    def from_config(cls: type[C], config: Any = None, /, *args: Any) -> C:
        """Build the component from ``config`` (a mapping, a ``Config`` or None for defaults).

        ``args`` are the objects the constructor takes before ``config`` (a distiller's
        teacher and student). Raises :class:`~xuframe.errors.ConfigError` for an unknown
        key, a missing required key or a value of the wrong type, or a mapping among ``args``
        (config values go in ``config``, or as keywords to :func:`xuframe.create`), and
        :class:`~xuframe.errors.InputError` when ``args`` are too few or too many for the
        constructor (naming the arguments it needs).
        """
        cls._check_constructor_args(args)
        constructor: Any = cls  # subclasses put their own arguments before `config`
        built: C = constructor(*args, config=build_config(cls.Config, config, owner=cls._owner()))
        return built

    @classmethod
    def _check_constructor_args(cls, args: tuple[Any, ...]) -> None:
        """Refuse ``args`` that do not fit the constructor's arguments before ``config``."""
        try:
            signature = inspect.signature(cls)
        except (TypeError, ValueError):  # a constructor inspect cannot read: let it decide
            return
        params = list(signature.parameters.values())
        if "config" not in signature.parameters:
            return
        before = params[: [p.name for p in params].index("config")]
        if any(p.kind is p.VAR_POSITIONAL for p in before):
            return
        positional = [p for p in before if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = [p.name for p in positional if p.default is p.empty]
        how = f"xuframe.create({cls.kind!r}, {cls.name!r}, " + "".join(f"{n}, " for n in required)
        if len(args) > len(positional):
            extra = args[len(positional) :]
            if any(isinstance(a, Mapping) for a in extra):
                raise ConfigError(
                    f"{cls._owner()}: got a mapping as a positional argument; config values go "
                    f"as keywords: {how}key=value, ...)"
                )
            takes = (
                f"{len(positional)} positional argument(s) ({', '.join(p.name for p in positional)})"
                if positional
                else "no positional arguments"
            )
            raise InputError(
                f"{cls._owner()}: expected {takes} and keyword config values, got {len(args)} "
                f"positional argument(s): {how}**config)"
            )
        if len(args) < len(required):
            missing = required[len(args) :]
            raise InputError(
                f"{cls._owner()}: missing {', '.join(missing)}; it is built from "
                f"{', '.join(required)} and keyword config values: {how}**config)"
            )

    @property
    def config(self) -> Any:
        """The validated ``Config`` this component was built with (read-only)."""
        return self._config

    @classmethod
    def demo(cls, seed: int = 0) -> DemoResult | None:
        """Run a small built-in demonstration on embedded data, in seconds, and report numbers.

        ``xuframe demo`` calls this for every registered component. The default returns
        None, meaning "no demo"; built-in components all provide one.
        """
        return None
