"""Scatter-reduce along the first dimension, with torch-scatter when installed and torch otherwise.

Both backends give the same results (tested): rows of ``src`` with the same ``index`` are
reduced into one output row; output rows that receive nothing are 0.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

import torch

from xuframe.errors import InputError
from xuframe.validation import check_choice, check_int, check_memory, check_tensor

__all__ = ["Reduce", "ScatterBackend", "has_torch_scatter", "scatter"]

Reduce = Literal["sum", "mean", "max", "min"]
ScatterBackend = Literal["auto", "native", "torch-scatter"]
_NATIVE = {"sum": "sum", "mean": "mean", "max": "amax", "min": "amin"}


@functools.cache
def _torch_scatter() -> Any:
    try:
        import torch_scatter  # type: ignore[import-not-found, unused-ignore]
    except (
        ImportError
    ):  # the det3d extra is not installed, or torch-scatter was built for another torch
        return None
    return torch_scatter


def _check_reduce(reduce: object, backend: object, what: str) -> tuple[Reduce, ScatterBackend]:
    """``reduce`` and ``backend`` checked against their choices (:class:`InputError` naming
    ``what``)."""
    r: Reduce = check_choice(reduce, f"{what}(reduce)", list(_NATIVE))
    b: ScatterBackend = check_choice(
        backend, f"{what}(backend)", ["auto", "native", "torch-scatter"]
    )
    return r, b


def has_torch_scatter() -> bool:
    """Is torch-scatter importable (the ``det3d`` extra)?"""
    return _torch_scatter() is not None


def scatter(
    src: torch.Tensor,
    index: torch.Tensor,
    dim_size: int,
    reduce: Reduce = "sum",
    *,
    backend: ScatterBackend = "auto",
) -> torch.Tensor:
    """Reduce the rows of ``src`` ``(N, ...)`` into ``dim_size`` rows by ``index`` ``(N,)``.

    ``out[j] = reduce(src[i] for i with index[i] == j)``, and 0 where no ``i`` has
    ``index[i] == j``. ``backend="auto"`` uses torch-scatter when it is installed, torch's
    native ``scatter_reduce`` otherwise. Gradients flow to ``src`` with either backend.

    ``src`` is a real tensor (floating or integer) of finite values with at least one
    dimension, ``index`` an ``int64`` tensor of shape ``(N,)`` with values in
    ``0 .. dim_size - 1``, ``dim_size`` an int (Python or numpy) ``>= 0``. Raises
    :class:`~xuframe.errors.InputError` for anything else, for an unknown ``reduce`` or
    ``backend``, for the ``torch-scatter`` backend when it is not installed, and for an
    output that would need more than :func:`xuframe.validation.memory_limit`.
    """
    reduce, backend = _check_reduce(reduce, backend, "scatter")
    src = check_tensor(src, "scatter(src)", floating=False)
    if src.dim() < 1:
        raise InputError(f"scatter(src): expected a tensor (N, ...), got shape {tuple(src.shape)}")
    index = check_tensor(index, "scatter(index)", shape=(src.shape[0],), floating=False)
    if index.dtype != torch.int64:
        raise InputError(f"scatter(index): expected dtype torch.int64, got {index.dtype}")
    dim_size = check_int(dim_size, "scatter(dim_size)", min=0)
    row = math.prod(src.shape[1:]) * src.element_size()
    check_memory(float(dim_size) * row, f"scatter: an output of {dim_size} rows")
    if index.numel():
        low, high = torch.aminmax(index)
        if int(low) < 0 or int(high) >= dim_size:
            raise InputError(
                f"scatter(index): expected values in 0 .. {dim_size - 1}, "
                f"got values in [{int(low)}, {int(high)}]"
            )
    module = _torch_scatter() if backend != "native" else None
    if backend == "torch-scatter" and module is None:
        raise InputError(
            "scatter: backend 'torch-scatter' needs the det3d extra "
            "(pip install --no-build-isolation torch-scatter)"
        )
    if module is not None:
        out = module.scatter(src, index, dim=0, dim_size=dim_size, reduce=reduce)
        # max and min return (values, argmax)
        values: torch.Tensor = out[0] if isinstance(out, tuple) else out
        return values
    expanded = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
    out = src.new_zeros((dim_size, *src.shape[1:]))
    return out.scatter_reduce(0, expanded, src, reduce=_NATIVE[reduce], include_self=False)
