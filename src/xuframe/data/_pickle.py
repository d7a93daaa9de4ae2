"""Reading pickles of numpy arrays and plain containers, and nothing else.

Datasets such as CIFAR and MovieScenes ship features as pickles. A pickle can name any
callable, so :func:`load_array_pickle` admits only what arrays need: a tampered file raises
:class:`~xuframe.errors.InputError` instead of running code.
"""

from __future__ import annotations

import io
import os
import pickle
from typing import Any

import numpy as np

from xuframe._files import describe_start, read_bytes
from xuframe.errors import InputError

__all__ = ["load_array_pickle"]

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
    ("builtins", "bytes"),
    ("__builtin__", "bytes"),  # the same, under Python 2's module name
}


class _Refused(pickle.UnpicklingError):
    """The pickle names a global outside the allowlist."""


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise _Refused(
                f"refusing to load {module}.{name}: only numpy arrays and plain containers "
                "are allowed"
            )
        if module.startswith("numpy.core") and hasattr(np, "_core"):  # numpy 1 names
            module = module.replace("numpy.core", "numpy._core", 1)
        return super().find_class(module, name)


def load_array_pickle(path: str | os.PathLike[str], what: str = "an array pickle") -> Any:
    """Unpickle ``path`` (Python 2 pickles too, strings as latin-1), admitting numpy arrays,
    numpy scalars and plain containers only.

    Raises :class:`~xuframe.errors.InputError` naming the file and ``what`` it was expected to
    be when it is missing or a folder, empty, truncated or not a pickle (with its first
    bytes), or names any other global (the message names it; nothing is called).
    """
    data = read_bytes(path, what)
    try:
        return _ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()
    except _Refused as exc:
        raise InputError(f"{path}: not {what}: {exc}") from None
    except Exception as exc:  # pickle raises many kinds on damaged or foreign bytes
        raise InputError(
            f"{path}: not {what} (a pickle), or it is truncated or corrupt: {describe_start(data)} "
            f"({type(exc).__name__}: {exc})"
        ) from exc
