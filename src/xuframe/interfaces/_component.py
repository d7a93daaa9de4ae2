"""The base of every xuframe component."""

from __future__ import annotations

import abc
from typing import Any, ClassVar, TypeVar

from xuframe._config import EmptyConfig, build_config
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
        key, a missing required key or a value of the wrong type.
        """
        constructor: Any = cls  # subclasses put their own arguments before `config`
        built: C = constructor(*args, config=build_config(cls.Config, config, owner=cls._owner()))
        return built

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
