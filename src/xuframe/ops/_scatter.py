"""Scatter-reduce along the first dimension, with torch-scatter when installed and torch otherwise.

Both backends give the same results (tested): rows of ``src`` with the same ``index`` are
reduced into one output row; output rows that receive nothing are 0.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import torch

from xuframe.errors import InputError

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
    """
    if reduce not in _NATIVE:
        raise InputError(f"scatter: expected reduce in {sorted(_NATIVE)}, got {reduce!r}")
    if not isinstance(src, torch.Tensor) or src.dim() < 1:
        raise InputError(f"scatter: expected src as a tensor (N, ...), got {type(src).__name__}")
    if not isinstance(index, torch.Tensor) or index.dim() != 1 or index.shape[0] != src.shape[0]:
        raise InputError(
            f"scatter: expected index of shape ({src.shape[0]},), got "
            f"{tuple(index.shape) if isinstance(index, torch.Tensor) else type(index).__name__}"
        )
    if index.dtype != torch.int64:
        raise InputError(f"scatter: expected an int64 index, got {index.dtype}")
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= dim_size):
        raise InputError(f"scatter: expected index values in 0 .. {dim_size - 1}")
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
